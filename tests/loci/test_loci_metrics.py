"""fg-ari and matched-iou against hand-computed cases."""

import math

import numpy as np
import pytest

from mc_core.errors import UsageError
from mc_loci.metrics import adjusted_rand_index, fg_ari, matched_iou


def test_ari_known_value():
    # contingency [[2,0],[0,1],[0,1]] as rows=pred? compute by hand:
    # target [0,0,1,1], pred [0,0,1,2]: sum C(nij,2)=1, a=C(2,2)+C(2,2)=2, b=C(2,2)=1
    # expected = 2*1/6 = 1/3, max = 1.5 -> (1-1/3)/(1.5-1/3) = 4/7
    assert adjusted_rand_index([0, 0, 1, 2], [0, 0, 1, 1]) == pytest.approx(4 / 7)


def test_ari_is_invariant_to_renaming_and_symmetric():
    t = np.array([1, 1, 2, 2, 3, 3, 3])
    p = np.array([5, 5, 9, 9, 7, 7, 9])
    assert adjusted_rand_index(p, t) == pytest.approx(adjusted_rand_index(t, p))
    assert adjusted_rand_index(t * 10 + 1, t) == 1.0


def test_ari_trivial_partitions():
    assert adjusted_rand_index([3, 3, 3], [1, 1, 1]) == 1.0
    # one predicted group for two true groups: no better than chance
    assert adjusted_rand_index([0, 0, 0, 0], [1, 1, 2, 2]) == pytest.approx(0.0)


def test_fg_ari_ignores_background_pixels():
    target = np.array([[0, 0, 1, 1], [0, 0, 2, 2]])
    good = np.array([[7, 3, 4, 4], [9, 9, 5, 5]])  # background pixels labelled anything
    assert fg_ari(good, target) == 1.0
    merged = np.array([[0, 0, 4, 4], [0, 0, 4, 4]])
    assert fg_ari(merged, target) == pytest.approx(0.0)
    assert math.isnan(fg_ari(good, np.zeros_like(target)))


def test_matched_iou_hand_computed():
    target = np.array([[1, 1, 1, 1, 0, 2, 2, 0]])
    # pred object 5 covers 3 of object 1's 4 pixels (IoU 3/4); pred 6 covers object 2 and one bg
    # pixel (IoU 2/3); pred 8 is an extra object matched to nothing
    pred = np.array([[5, 5, 5, 0, 8, 6, 6, 6]])
    assert matched_iou(pred, target) == pytest.approx((3 / 4 + 2 / 3) / 2)


def test_matched_iou_is_one_to_one():
    target = np.array([1, 1, 2, 2])
    pred = np.array([3, 3, 3, 3])  # one prediction cannot serve two objects: IoU 1/2 + 0
    assert matched_iou(pred, target) == pytest.approx(0.25)
    assert matched_iou(np.zeros(4, int), target) == 0.0
    assert math.isnan(matched_iou(pred, np.zeros(4, int)))


def test_matched_iou_prefers_the_best_total_assignment():
    # greedy on the biggest IoU would pair (1,a) and leave 2 poorly served; Hungarian does better
    target = np.array([1, 1, 1, 2, 2, 0])
    pred = np.array([10, 10, 11, 11, 11, 0])
    iou_1_10, iou_1_11 = 2 / 3, 1 / 5
    iou_2_10, iou_2_11 = 0.0, 2 / 3
    best = max(iou_1_10 + iou_2_11, iou_1_11 + iou_2_10) / 2
    assert matched_iou(pred, target) == pytest.approx(best)


def test_metrics_reject_mismatched_shapes_and_float_ids():
    with pytest.raises(UsageError):
        fg_ari(np.zeros((2, 2), int), np.zeros((2, 3), int))
    with pytest.raises(UsageError):
        matched_iou(np.zeros(3), np.zeros(3, int))


def test_metrics_are_registered():
    from mc_core.plugins import get_manager

    metrics = get_manager().registries.by_kind("metrics")
    assert metrics.get("fg-ari") is fg_ari
    assert metrics.get("matched-iou") is matched_iou
