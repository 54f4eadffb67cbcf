"""Answer parsing (the seed's rules), Hit@Mask (multi and concat), L2, the summary (the seed's keys
and ours) and the ground-truth point rule, by hand."""

import random

import numpy as np
import pytest
from PIL import Image

from mc_spatial_vlm.answers import parse_gt, parse_prediction
from mc_spatial_vlm.build import gt_point, mark
from mc_spatial_vlm.data.x3 import infer_mask_path, read_mask, scan_instances
from mc_spatial_vlm.metrics import (
    SEED_METRIC_KEYS,
    STRICT_METRIC_KEYS,
    concat_to_query,
    hit_at_mask,
    l2_error,
    summarize,
)


@pytest.mark.parametrize("text,kind,point", [
    ("[(0.25, 0.75)]", "point", (0.25, 0.75)),
    ("The object is at [( 0.1 ,0.2 )] and also [(0.9, 0.9)]", "point", (0.1, 0.2)),  # two points: the first
    ("answer: (0.3,0.4)", "unparseable", None),         # no brackets
    ("[ (0.3, 0.4) ]", "unparseable", None),            # a space between [ and (
    ("NOT_VISIBLE", "not_visible", None),
    ("not_visible.", "not_visible", None),              # upper-cased before the search
    ("it is not visible", "unparseable", None),         # the seed needs the underscore
    ("NOT VISIBLE [(0.5, 0.5)]", "point", (0.5, 0.5)),
    ("I think [(0.5, 0.5)] ... actually NOT_VISIBLE", "not_visible", None),
    ("no idea", "unparseable", None),
    ("", "unparseable", None),
    (None, "unparseable", None),
    ("[(.5, 1.5)]", "point", (0.5, 1.5)),               # outside [0, 1] is still a point
    ("[(-0.5, 0.5)]", "unparseable", None),             # no sign
    ("[(1e-1, 0.5)]", "unparseable", None),             # no exponent
    ("[(1.2.3, 0.5)]", "unparseable", None),
])
def test_parse_prediction(text, kind, point):
    a = parse_prediction(text)
    assert a.kind == kind
    assert a.point == (pytest.approx(point) if point else None)


def test_parse_gt_needs_the_whole_text_for_not_visible():
    assert parse_gt("NOT_VISIBLE").kind == parse_gt("not_visible").kind == "not_visible"
    assert parse_gt("NOT_VISIBLE.").kind == "unparseable"  # a visible ground truth without a point
    assert parse_gt("[(0.125, 0.5)]").point == (0.125, 0.5)


def test_hit_at_mask_multi_and_concat_by_hand():
    mask = np.zeros((11, 21), bool)
    mask[2:4, 10:12] = True  # rows 2-3, columns 10-11
    # pixel = round(x * (W - 1)), half to even: x = 0.525 -> 10.5 -> 10; 0.575 -> 11.5 -> 12
    assert hit_at_mask((0.525, 0.25), mask)          # (10, round(2.5)=2)
    assert not hit_at_mask((0.575, 0.25), mask)      # column 12
    assert hit_at_mask((0.475, 0.25), mask)          # 9.5 -> 10 (half to even), not 9
    assert not hit_at_mask((0.42, 0.25), mask)       # 8.4 -> 8
    assert hit_at_mask((0.5, 0.3), mask)             # (10, 3)
    # concat: xR = (x_full - 0.5) * 2; x_full = 0.75 -> xR = 0.5 -> column 10
    assert hit_at_mask((0.75, 0.3), mask, concat=True)
    assert not hit_at_mask((0.75, 0.3), mask)        # read as multi-image: column 15
    assert not hit_at_mask((0.25, 0.3), mask, concat=True)  # left half: always a miss
    assert concat_to_query(0.49, 0.2) is None
    assert concat_to_query(0.5, 0.2) == (0.0, 0.2)
    assert concat_to_query(1.3, -0.2) == (1.0, 0.0)  # clamped
    edge = np.zeros((10, 20), bool)
    edge[9, 19] = True
    assert hit_at_mask((1.0, 1.0), edge) and hit_at_mask((7.0, 3.0), edge) and hit_at_mask((1.2, 1.0), edge, concat=True)
    assert not hit_at_mask(None, mask)
    assert hit_at_mask((float("inf"), 5.0), edge)    # "999...9" parses to inf: clamped, not a crash
    assert l2_error((0.0, 0.0), (0.3, 0.4)) == pytest.approx(0.5)


def _r(visible, kind, l2=None, hit_mask=None, hit=None, error=None):
    return {"gt_visible": visible, "pred_kind": kind, "l2": l2, "hit_mask": hit_mask, "hit": hit, "error": error}


def test_summary_hand_computed_seed_keys_and_ours():
    res = [
        _r(True, "point", 0.01, True, True),
        _r(True, "point", 0.04, False, False),
        _r(True, "point", 0.30, True, True),
        _r(True, "point", 0.02, None, False),             # no mask found: out of the seed's Hit@Mask
        _r(True, "not_visible", hit=False),               # said NV on a visible one
        _r(True, "unparseable", hit=False),
        _r(True, "unparseable", hit=False, error="FileNotFoundError: x"),
        _r(False, "not_visible"),
        _r(False, "point"),
        _r(False, "unparseable"),
    ]
    m = summarize(res)
    assert tuple(m) == SEED_METRIC_KEYS + STRICT_METRIC_KEYS
    assert (m["total"], m["gt_not_visible"], m["visible_gt"]) == (10, 3, 7)
    assert m["not_visible_accuracy"] == pytest.approx(1 / 3)
    l2 = np.array([0.01, 0.04, 0.30, 0.02], np.float32)
    assert m["mean_l2_error"] == float(l2.mean()) and m["std_l2_error"] == float(l2.std())
    assert m["median_l2_error"] == float(np.median(l2))
    assert (m["success_002"], m["success_005"], m["success_010"]) == (2 / 7, 3 / 7, 3 / 7)
    assert (m["hit_at_mask"], m["hit_at_mask_count"], m["hit_at_mask_total"]) == (2 / 3, 2, 3)
    assert m["hit_at_mask_strict"] == 2 / 7
    assert (m["pred_not_visible"], m["unparseable_answers"], m["failed_samples"]) == (2, 3, 1)
    only_nv = summarize([_r(False, "not_visible")])
    assert only_nv["not_visible_accuracy"] == 1.0
    assert (only_nv["hit_at_mask"], only_nv["success_002"], only_nv["hit_at_mask_total"]) == (0.0, 0.0, 0)
    assert only_nv["hit_at_mask_strict"] is None and only_nv["mean_l2_error"] is None
    only_vis = summarize([_r(True, "unparseable", hit=False)])
    assert only_vis["not_visible_accuracy"] == 0.0 and only_vis["not_visible_accuracy_strict"] is None
    assert summarize([])["total"] == 0


def test_gt_point_float_box_centre_or_seeded_random_mask_pixel():
    m = np.zeros((10, 10), bool)
    m[2:5, 4:8] = True  # box x 4..7, y 2..4 -> float centre (5.5, 3), round(5.5) = 6 is in the mask
    rng = random.Random(0)
    assert gt_point(m, rng) == (6.0 / 10, 3.5 / 10)
    assert rng.random() == random.Random(0).random()  # no draw was made
    ring = np.zeros((11, 11), bool)
    ring[1, 1:10] = ring[9, 1:10] = ring[1:10, 1] = ring[1:10, 9] = True  # centre (5, 5) is outside
    on = list(zip(*np.nonzero(ring)))  # row-major
    r = random.Random(3)
    y, x = on[random.Random(3).randrange(len(on))]
    assert gt_point(ring, r) == ((x + 0.5) / 11, (y + 0.5) / 11)
    pts = {gt_point(ring, r) for _ in range(20)}  # one stream: each call draws again
    assert len(pts) > 1
    assert gt_point(np.zeros((4, 4), bool), random.Random(0)) is None


def test_mark_overlay_alpha_truncates_as_the_seed():
    img = np.full((2, 2, 3), 100, np.uint8)
    m = np.array([[True, False], [False, False]])
    out = mark(img, m, 0.45)
    assert tuple(out[0, 0]) == (int(0.55 * 100 + 0.45 * 255), int(100 * 0.55), int(100 * 0.55))  # 169, 55, 55
    assert tuple(out[1, 1]) == (100, 100, 100)


def _png(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def test_layout_reader_and_mask_inference_order(tmp_path):
    rgb = np.zeros((4, 6, 3), np.uint8)
    msk = np.zeros((4, 6), np.uint8)
    d = tmp_path / "validation" / "s0" / "uid_7"
    _png(d / "01_0001_original.png", rgb)
    _png(d / "01_0001_inpainted.png", rgb)
    _png(d / "01_0001_mask.png", msk)
    _png(d / "01_0001_mask_dialated.png", msk)
    _png(d / "02_0002_original.png", rgb)
    _png(d / "02_0002_mask.png", msk)
    _png(d / "03_0003_original.png", rgb)    # no mask: skipped with a warning
    _png(d / "06_0006_original.png", rgb)    # views are 01..05
    _png(d / "06_0006_mask.png", msk)
    warnings = []
    (inst,) = scan_instances(tmp_path, "val", use_dilated=True, warn=warnings.append)
    assert (inst.folder, inst.scene_id, inst.uid, [v.view for v in inst.views]) == ("validation", "s0", "7", [1, 2])
    assert inst.views[0].mask.name == "01_0001_mask_dialated.png"
    assert inst.views[1].mask.name == "02_0002_mask.png"  # the fallback
    assert inst.views[1].inpainted is None
    assert len(warnings) == 1 and "view 03 has no mask" in warnings[0]
    (plain,) = scan_instances(tmp_path, "val", use_dilated=False, warn=None)
    assert plain.views[0].mask.name == "01_0001_mask.png"
    assert infer_mask_path(d / "01_0001_original.png").name == "01_0001_mask_dialated.png"
    assert infer_mask_path(d / "01_0001_inpainted.png").name == "01_0001_mask_dialated.png"
    (d / "01_0001_mask_dialated.png").unlink()
    assert infer_mask_path(d / "01_0001_original.png").name == "01_0001_mask.png"
    _png(tmp_path / "x" / "view_mask.png", msk)
    assert infer_mask_path(tmp_path / "x" / "view.png").name == "view_mask.png"
    assert infer_mask_path(tmp_path / "x" / "other.png") is None


def test_masks_are_read_as_grey_level_like_the_seed(tmp_path):
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[0, 0] = (0, 0, 255)      # blue: luma 29 > 0 (the first channel alone would say 0)
    rgb[0, 1] = (1, 0, 0)        # luma rounds to 0
    _png(tmp_path / "m.png", rgb)
    assert read_mask(tmp_path / "m.png").tolist() == [[True, False, False], [False, False, False]]


def test_mask_of_a_query_without_png_suffix_is_the_query_itself_as_in_the_seed(tmp_path, seed_ref):
    jpg = tmp_path / "view.jpg"
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(jpg)
    assert infer_mask_path(jpg) == jpg == seed_ref.ref_mask_for(str(jpg))
    assert infer_mask_path(tmp_path / "none.jpg") is None
