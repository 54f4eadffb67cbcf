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


# -- Loci-Segmented's evaluation --------------------------------------------------------------

def test_fg_ari_agrees_with_sklearn_on_foreground_pixels():
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(0)
    for _ in range(20):
        target = rng.integers(0, 5, size=(3, 9, 9))
        pred = rng.integers(0, 4, size=(3, 9, 9))
        pred[target == 2] = 7  # some structure, so scores are not all near 0
        fg = target != 0
        assert fg_ari(pred, target) == pytest.approx(adjusted_rand_score(target[fg], pred[fg]), abs=1e-12)
        assert fg_ari(pred[0], target[0]) == pytest.approx(
            adjusted_rand_score(target[0][fg[0]], pred[0][fg[0]]), abs=1e-12)


def test_loci_fg_ari_keeps_foreground_predicted_as_background_in_the_total():
    from sklearn.metrics import adjusted_rand_score

    from mc_loci.metrics import loci_fg_ari

    target = np.array([1, 1, 2, 2, 0, 0])
    # a pixel of object 2 predicted background: the standard score drops, Loci-Segmented's does not
    # (table [[2,0],[0,1]]: sum C = 1, a = b = 1, total C(4,2) = 6 -> (1 - 1/6) / (1 - 1/6) = 1)
    pred = np.array([1, 1, 2, 0, 0, 0])
    assert loci_fg_ari(pred, target) == pytest.approx(1.0)
    assert fg_ari(pred, target) == pytest.approx(4 / 7)
    # without predicted background on the foreground both are the standard ARI
    rng = np.random.default_rng(1)
    t = rng.integers(0, 4, size=(8, 8))
    p = rng.integers(1, 4, size=(8, 8))
    assert loci_fg_ari(p, t) == pytest.approx(adjusted_rand_score(t[t != 0], p[t != 0]))
    # hand case where the kept pixels lower it: target [1,1,1,2,2,2], pred [1,1,0,2,2,1]
    # table [[2,0],[1,2]] -> sum C = 2, a(rows 2,3) = 1+3 = 4, b(cols 3,2) = 3+1 = 4, total = 15
    # expected = 16/15, (2 - 16/15) / (4 - 16/15) = (14/15) / (44/15) = 14/44
    assert loci_fg_ari([1, 1, 0, 2, 2, 1], [1, 1, 1, 2, 2, 2]) == pytest.approx(14 / 44)
    # its edge cases score 1, as there: all predicted background, fewer than 2 foreground pixels
    assert loci_fg_ari(np.zeros_like(t), t) == 1.0
    assert loci_fg_ari([0, 3], [0, 1]) == 1.0


def test_loci_iou_sums_over_all_objects_of_all_frames():
    from mc_loci.metrics import loci_iou, loci_iou_counts

    one = np.zeros((4, 4), np.int64)
    one[:2, :2] = 1
    three = one.copy()
    three[2:, :2] = 2
    three[:2, 2:] = 3
    assert loci_iou_counts(one, one) == (1.0, 1)
    # one of three objects found exactly: the two others unmatched, count 0
    assert loci_iou_counts(one, three) == (1.0, 3)
    # over frames: (1 + 1) / (1 + 3), not the mean of the frames' (1 + 1/3) / 2
    assert loci_iou(np.stack([one, one]), np.stack([one, three])) == pytest.approx(0.5)
    # half of an object: IoU 0.5; a prediction of nothing: 0; no true object: NaN
    half = np.zeros((4, 4), np.int64)
    half[:1, :2] = 5
    assert loci_iou(half, one) == pytest.approx(0.5)
    assert loci_iou(np.zeros_like(one), one) == 0.0
    assert math.isnan(loci_iou(one, np.zeros_like(one)))
    # overlapping true masks (a stack, as in Loci-Segmented's files) are each an object
    stack = np.stack([one == 1, np.ones((4, 4), bool)])
    s, n = loci_iou_counts(one, stack)
    assert n == 2 and s == pytest.approx(1.0)   # matched to the mask it equals; the other is unmatched


def test_loci_iou_matches_on_intersection_as_the_seed():
    from mc_loci.metrics import loci_iou_counts

    # true X = pixels 0..9, true Y = 20..23; pred B = 0..1 (2 of X), pred A = 2..49 (8 of X, all of Y).
    # Intersection matching (the seed's): A-X (8) + B-Y (0) = 8 beats A-Y (4) + B-X (2) = 6, so the IoU
    # sum is A-X's 8/50; matching on IoU would take A-Y (4/48) + B-X (2/10) = 0.283 instead.
    pred = np.zeros(60, np.int64)
    target = np.zeros(60, np.int64)
    target[:10] = 1
    target[20:24] = 2
    pred[:2] = 2
    pred[2:50] = 1
    s, n = loci_iou_counts(pred, target)
    assert n == 2 and s == pytest.approx(8 / 50)


def test_loci_metrics_take_mask_stacks_as_the_seeds_files_hold_them():
    from mc_loci.metrics import binary_masks, loci_fg_ari, loci_iou_counts

    rng = np.random.default_rng(3)
    target = rng.integers(0, 4, size=(2, 6, 6))
    pred = rng.integers(0, 3, size=(2, 6, 6))
    stack = binary_masks(target)                 # (M, T, H, W), one mask per id
    assert stack.shape[0] == len(np.unique(target[target != 0]))
    assert loci_fg_ari(pred, stack) == pytest.approx(loci_fg_ari(pred, target))
    assert loci_iou_counts(pred[0], binary_masks(target[0])) == pytest.approx(loci_iou_counts(pred[0], target[0]))
    with pytest.raises(UsageError, match="does not fit"):
        loci_fg_ari(pred, stack[:, :1])
