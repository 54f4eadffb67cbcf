"""visualize: eval results drawn as a PNG grid (mask tint, ground-truth ring, predicted cross, caption)."""

import json

import numpy as np
import pytest
from PIL import Image

from mc_core.testing import invoke
from mc_spatial_vlm.visualize import MASK_TINT, PRED_COLOUR, draw_tile, selected, verdict


def run(*args):
    r = invoke("spatial-vlm", *args)
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture
def scene(tmp_path):
    """A black 40x20 query image with a 10x10 mask square at columns 20-29, rows 5-14."""
    black = np.zeros((20, 40, 3), np.uint8)
    Image.fromarray(black).save(tmp_path / "01_f_original.png")
    Image.fromarray(black).save(tmp_path / "ref_marked.png")
    mask = np.zeros((20, 40), np.uint8)
    mask[5:15, 20:30] = 255
    Image.fromarray(mask).save(tmp_path / "01_f_mask.png")
    return tmp_path


def result(scene, **kw):
    r = {"id": "val/s/uid_1/01->02", "pred_text": "[(0.100, 0.500)]", "pred_kind": "point",
         "pred_point": [0.1, 0.5], "gt_visible": True, "gt_point": [0.6125, 0.525], "l2": 0.51, "hit": False,
         "mask": str(scene / "01_f_mask.png"), "concat": False,
         "images": [str(scene / "ref_marked.png"), str(scene / "01_f_original.png")], "error": None}
    r.update(kw)
    return r


def test_verdicts_and_selection():
    assert verdict({"gt_visible": True, "hit": True}) == "HIT"
    assert verdict({"gt_visible": True, "hit": False, "pred_kind": "not_visible"}) == "MISS"
    assert verdict({"gt_visible": False, "pred_kind": "not_visible"}) == "NV OK"
    assert verdict({"gt_visible": False, "pred_kind": "point"}) == "NV WRONG"
    assert verdict({"gt_visible": True, "hit": False, "error": "FileNotFoundError: x"}) == "ERROR"
    err = {"gt_visible": True, "hit": False, "error": "boom"}
    assert selected(err, "wrong") and selected(err, "error") and not selected(err, "correct")
    ok = {"gt_visible": False, "pred_kind": "not_visible"}
    assert selected(ok, "correct") and not selected(ok, "wrong") and selected(ok, "all")


def test_tile_draws_mask_points_on_the_query_image(scene):
    # height 40: both 40x20 images become 80x40 panels, 4 px apart; the query panel spans x 84..163
    tile = np.asarray(draw_tile(result(scene), height=40)).astype(int)
    tint = np.rint(0.55 * 0 + 0.45 * MASK_TINT).astype(int)
    assert tuple(tile[20, 84 + 50]) == tuple(tint)  # query pixel (25, 10): inside the mask
    assert tuple(tile[20, 84 + 70]) == (0, 0, 0)  # query pixel (35, 10): outside it
    assert tuple(tile[20, 50]) == (0, 0, 0)  # the reference panel is never tinted
    assert tuple(tile[20, 84 + 8]) == PRED_COLOUR  # the cross at (0.1, 0.5) of the query
    gy, gx = 0.525 * 40, 84 + 0.6125 * 80  # the green ring around the ground truth
    ys, xs = np.nonzero((tile[:40, :, 1] > 200) & (tile[:40, :, 0] < 60))
    assert ys.size and np.hypot(ys - gy, xs - gx).max() < 6
    assert (tile[40:, :, 0] > 150).any()  # a red MISS caption


def test_concat_tile_tints_the_right_half_and_keeps_answers_where_they_point(scene):
    both = np.zeros((20, 80, 3), np.uint8)
    Image.fromarray(both).save(scene / "pair_concat.jpg")
    r = result(scene, images=[str(scene / "pair_concat.jpg")], concat=True, pred_point=[0.25, 0.5],
               gt_point=[0.5 + 0.6125 / 2, 0.525])
    tile = np.asarray(draw_tile(r, height=20)).astype(int)  # the concat image at its own size: 80x20
    tinted = (tile[:20, :, 2] > 80) & (tile[:20, :, 0] < 60)
    cols = np.nonzero(tinted.any(axis=0))[0]
    assert cols.min() >= 40 + 18 and cols.max() <= 40 + 31  # mask columns 20-29 of the right half
    assert tuple(tile[10, 20]) == PRED_COLOUR  # an answer on the left (reference) half is drawn there


def _eval(demo_tasks, tmp_path, model="center", name="t1_val_multi"):
    out = tmp_path / f"{model}_{name}.json"
    code, _, err = run("eval", "--model", model, "--data-json", demo_tasks / f"{name}.json", "--output-json", out,
                       "-q")
    assert code == 0, err
    return out


@pytest.fixture(scope="module")
def demo_tasks(tmp_path_factory):
    from mc_spatial_vlm.build import build_tasks
    from mc_spatial_vlm.data.demo import make_demo_data

    root = tmp_path_factory.mktemp("viz")
    make_demo_data(root / "data", train_scenes=0, val_scenes=1, objects_per_scene=2, width=48, height=40, seed=2)
    build_tasks(root / "data", root / "tasks", seed=0)
    return root / "tasks"


def test_cli_draws_the_selected_samples(demo_tasks, tmp_path):
    ev = _eval(demo_tasks, tmp_path)
    results = json.loads(ev.read_text())["results"]
    wrong = sum(1 for r in results if verdict(r) not in ("HIT", "NV OK"))
    assert 0 < wrong < len(results)
    png = tmp_path / "wrong.png"
    code, out, err = run("visualize", "--eval-json", ev, "--out-png", png, "--show", "wrong", "--columns", "2",
                         "--tile-height", "40", "-q")
    assert code == 0, err
    assert f"drew {min(wrong, 24)} samples" in out
    with Image.open(png) as im:
        rows = -(-min(wrong, 24) // 2)
        assert im.format == "PNG" and im.height > rows * 40
    code, out, _ = run("visualize", "--eval-json", ev, "--out-png", tmp_path / "two.png", "--max-samples", "2",
                       "--columns", "5", "-q")
    assert code == 0 and "drew 2 samples" in out


def test_cli_uses_the_task_json_for_results_without_image_paths(demo_tasks, tmp_path):
    ev = _eval(demo_tasks, tmp_path, model="pixel-diff", name="t2b_val_multi")
    data = json.loads(ev.read_text())
    for r in data["results"]:
        del r["images"]  # as written by an older eval
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    png = tmp_path / "o.png"
    code, _, err = run("visualize", "--eval-json", old, "--out-png", png)
    assert code == 2 and str(old) in err and "--data-json" in err and not png.exists()
    code, _, err = run("visualize", "--eval-json", old, "--out-png", png, "--data-json",
                       demo_tasks / "t1_val_multi.json")
    assert code == 2 and "t1_val_multi.json" in err and "pass the task JSON that eval ran on" in err
    assert not png.exists()
    code, out, err = run("visualize", "--eval-json", old, "--out-png", png, "--data-json",
                         demo_tasks / "t2b_val_multi.json", "-q")
    assert code == 0, err
    assert png.is_file()
    # pixel-diff gets every Task2B sample right: nothing wrong to draw, nothing written
    code, out, err = run("visualize", "--eval-json", ev, "--out-png", tmp_path / "none.png", "--show", "wrong")
    assert code == 0 and "nothing to draw" in out and not (tmp_path / "none.png").exists()


def test_cli_bad_eval_json(tmp_path):
    png = tmp_path / "o.png"
    png.write_bytes(b"an earlier picture")
    for content, problem in (("{oops", "malformed JSON"), ('{"metrics": {}}', "not an eval output")):
        bad = tmp_path / "bad.json"
        bad.write_text(content)
        code, _, err = run("visualize", "--eval-json", bad, "--out-png", png)
        assert code == 2 and str(bad) in err and problem in err and "Traceback" not in err
        assert png.read_bytes() == b"an earlier picture"
    code, _, err = run("visualize", "--eval-json", tmp_path / "missing.json", "--out-png", png)
    assert code == 2 and "missing.json" in err and "not found" in err
