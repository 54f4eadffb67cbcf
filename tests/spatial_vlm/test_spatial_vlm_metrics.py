"""Answer parsing, Hit@Mask (multi and concat), L2, the summary and the ground-truth point rule."""

import numpy as np
import pytest
from PIL import Image

from mc_spatial_vlm.answers import parse_answer
from mc_spatial_vlm.build import gt_point, mark
from mc_spatial_vlm.data.x3 import infer_mask_path, scan_instances
from mc_spatial_vlm.metrics import METRIC_KEYS, concat_to_query, hit_at_mask, l2_error, summarize


@pytest.mark.parametrize("text,kind,point", [
    ("[(0.25, 0.75)]", "point", (0.25, 0.75)),
    ("The object is at [( 0.1 ,0.2 )] and also [(0.9, 0.9)]", "point", (0.1, 0.2)),
    ("answer: (0.3,0.4)", "point", (0.3, 0.4)),
    ("NOT_VISIBLE", "not_visible", None),
    ("it is not visible", "not_visible", None),
    ("I think [(0.5, 0.5)] ... actually NOT_VISIBLE", "not_visible", None),
    ("no idea", "unparseable", None),
    ("", "unparseable", None),
    ("[(.5, 1e-1)]", "point", (0.5, 0.1)),
])
def test_parse_answer(text, kind, point):
    a = parse_answer(text)
    assert a.kind == kind
    assert a.point == (pytest.approx(point) if point else None)


def test_hit_at_mask_multi_and_concat_by_hand():
    mask = np.zeros((10, 20), bool)
    mask[2:4, 10:12] = True  # rows 2-3, columns 10-11
    assert hit_at_mask((10.5 / 20, 2.5 / 10), mask)
    assert not hit_at_mask((9.5 / 20, 2.5 / 10), mask)
    assert hit_at_mask((0.55, 0.35), mask)  # column int(11.0)=11, row int(3.5)=3
    assert not hit_at_mask((0.6, 0.35), mask)  # column 12
    # concat: x_full = 0.5 + xR / 2; (xR, yR) = (0.55, 0.35) -> x_full = 0.775
    assert hit_at_mask((0.775, 0.35), mask, concat=True)
    # the same point read as a multi-image answer misses (column 15)
    assert not hit_at_mask((0.775, 0.35), mask)
    # left half: a miss even if the left-half coordinates would hit
    assert not hit_at_mask((0.275, 0.35), mask, concat=True)
    assert concat_to_query(0.49, 0.2) is None
    assert concat_to_query(0.5, 0.2) == (0.0, 0.2)
    assert concat_to_query(1.3, -0.2) == (1.0, 0.0)  # clamped
    edge = np.zeros((10, 20), bool)
    edge[9, 19] = True
    assert hit_at_mask((1.0, 1.0), edge) and hit_at_mask((1.2, 1.0), edge, concat=True)
    assert not hit_at_mask(None, mask)
    assert not hit_at_mask((float("nan"), 0.3), mask)
    assert l2_error((0.0, 0.0), (0.3, 0.4)) == pytest.approx(0.5)


def test_summary_hand_computed_with_not_visible_edge_cases():
    res = [
        {"gt_visible": True, "pred_kind": "point", "l2": 0.01, "hit": True},
        {"gt_visible": True, "pred_kind": "point", "l2": 0.04, "hit": False},
        {"gt_visible": True, "pred_kind": "point", "l2": 0.30, "hit": True},
        {"gt_visible": True, "pred_kind": "not_visible", "l2": None, "hit": False},   # said NV on a visible one
        {"gt_visible": True, "pred_kind": "unparseable", "l2": None, "hit": False},   # counted, never skipped
        {"gt_visible": False, "pred_kind": "not_visible", "l2": None, "hit": None},
        {"gt_visible": False, "pred_kind": "point", "l2": None, "hit": None},
        {"gt_visible": False, "pred_kind": "error", "l2": None, "hit": None},
    ]
    m = summarize(res)
    assert tuple(m) == METRIC_KEYS
    assert (m["total"], m["gt_not_visible"], m["visible_gt"]) == (8, 3, 5)
    assert m["not_visible_accuracy"] == pytest.approx(1 / 3)
    assert m["mean_l2_error"] == pytest.approx(0.35 / 3)
    assert m["median_l2_error"] == pytest.approx(0.04)
    assert m["std_l2_error"] == pytest.approx(np.std([0.01, 0.04, 0.30]))
    assert m["success_002"] == pytest.approx(1 / 5)
    assert m["success_005"] == pytest.approx(2 / 5)
    assert m["success_010"] == pytest.approx(2 / 5)
    assert (m["hit_at_mask"], m["hit_at_mask_count"], m["hit_at_mask_total"]) == (pytest.approx(2 / 5), 2, 5)
    only_nv = summarize([{"gt_visible": False, "pred_kind": "not_visible", "l2": None, "hit": None}])
    assert only_nv["not_visible_accuracy"] == 1.0 and only_nv["hit_at_mask"] is None
    assert only_nv["mean_l2_error"] is None and only_nv["hit_at_mask_total"] == 0
    assert summarize([])["total"] == 0


def test_gt_point_bbox_centre_or_seeded_random_mask_pixel():
    m = np.zeros((10, 10), bool)
    m[2:5, 4:9] = True  # bbox x 4..8, y 2..4 -> centre (6, 3) inside
    assert gt_point(m, 0, "k") == (6.5 / 10, 3.5 / 10)
    ring = np.zeros((11, 11), bool)
    ring[1, 1:10] = ring[9, 1:10] = ring[1:10, 1] = ring[1:10, 9] = True  # centre (5, 5) is outside
    pts = {gt_point(ring, s, "k") for s in range(20)}
    assert len(pts) > 1  # drawn at random
    for x, y in pts:
        assert ring[int(y * 11), int(x * 11)]  # always on the mask
    assert gt_point(ring, 3, "k") == gt_point(ring, 3, "k")  # seeded
    assert gt_point(np.zeros((4, 4), bool), 0, "k") is None


def test_mark_overlay_alpha():
    img = np.full((2, 2, 3), 100, np.uint8)
    m = np.array([[True, False], [False, False]])
    out = mark(img, m, 0.45)
    assert tuple(out[0, 0]) == (round(0.55 * 100 + 0.45 * 255), 55, 55)
    assert tuple(out[1, 1]) == (100, 100, 100)


def _png(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def test_layout_reader_both_spellings_and_mask_inference_order(tmp_path):
    rgb = np.zeros((4, 6, 3), np.uint8)
    msk = np.zeros((4, 6), np.uint8)
    d = tmp_path / "val" / "s0" / "uid_7"
    _png(d / "01_0001_original.png", rgb)
    _png(d / "01_0001_inpainted.png", rgb)
    _png(d / "01_0001_mask.png", msk)
    _png(d / "01_0001_mask_dialated.png", msk)
    _png(d / "02_0002_original.png", rgb)
    _png(d / "02_0002_mask.png", msk)
    _png(d / "02_0002_mask_dilated.png", msk)
    (inst,) = scan_instances(tmp_path, "val")
    assert (inst.scene_id, inst.uid, [v.view for v in inst.views]) == ("s0", "7", [1, 2])
    assert inst.views[0].mask_dilated.name == "01_0001_mask_dialated.png"
    assert inst.views[1].mask_dilated.name == "02_0002_mask_dilated.png"
    assert inst.views[0].mask.name == "01_0001_mask.png"
    assert infer_mask_path(d / "01_0001_original.png").name == "01_0001_mask_dialated.png"
    assert infer_mask_path(d / "01_0001_inpainted.png").name == "01_0001_mask_dialated.png"
    (d / "01_0001_mask_dialated.png").unlink()
    assert infer_mask_path(d / "01_0001_original.png").name == "01_0001_mask.png"
    _png(tmp_path / "x" / "view_mask.png", msk)
    assert infer_mask_path(tmp_path / "x" / "view.png").name == "view_mask.png"
    assert infer_mask_path(tmp_path / "x" / "other.png") is None
