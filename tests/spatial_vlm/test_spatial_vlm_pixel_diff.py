"""pixel-diff: the largest 4-connected changed region (run-based labelling) and --diff-threshold."""

import json

import numpy as np
import pytest
from PIL import Image

from mc_core.testing import invoke
from mc_spatial_vlm.predictors import largest_component


def flood_fill_largest(changed):
    """Reference: label pixel by pixel with an explicit stack; the first of equal sizes wins."""
    h, w = changed.shape
    seen = np.zeros((h, w), bool)
    best = None
    for y0 in range(h):
        for x0 in range(w):
            if not changed[y0, x0] or seen[y0, x0]:
                continue
            region = np.zeros((h, w), bool)
            stack = [(y0, x0)]
            seen[y0, x0] = True
            while stack:
                y, x = stack.pop()
                region[y, x] = True
                for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                    if 0 <= ny < h and 0 <= nx < w and changed[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        stack.append((ny, nx))
            if best is None or region.sum() > best.sum():
                best = region
    return best


def test_largest_component_by_hand():
    u = np.array([[1, 0, 0, 1, 1],
                  [1, 0, 0, 0, 1],
                  [1, 1, 1, 1, 1],
                  [0, 0, 0, 0, 0],
                  [1, 1, 1, 1, 0]], bool)  # a U joined only at the bottom: one region of 10
    assert (largest_component(u) == np.vstack([u[:3], np.zeros((2, 5), bool)])).all()
    diagonal = np.eye(4, dtype=bool)  # diagonal neighbours are not 4-connected: four regions of 1
    only = largest_component(diagonal)
    assert only.sum() == 1 and only[0, 0]  # a tie goes to the first region in row-major order
    tie = np.zeros((3, 7), bool)
    tie[2, 0:3] = True
    tie[0, 4:7] = True  # equal sizes: the one whose first pixel comes first (row 0) wins
    assert (largest_component(tie) == (np.arange(7) >= 4)[None] * (np.arange(3) == 0)[:, None]).all()
    assert largest_component(np.zeros((3, 3), bool)) is None
    full = np.ones((2, 6), bool)
    assert largest_component(full).all()


def test_largest_component_matches_flood_fill_on_random_masks():
    rng = np.random.default_rng(7)
    for _ in range(150):
        h, w = rng.integers(1, 25, size=2)
        m = rng.random((h, w)) < rng.uniform(0.2, 0.7)
        got, want = largest_component(m), flood_fill_largest(m)
        assert (got is None and want is None) or (got == want).all()


def test_diff_threshold_picks_the_region_that_changed_enough(tmp_path):
    original = np.zeros((20, 20, 3), np.uint8)
    inpainted = original.copy()
    inpainted[2:5, 2:5] = 100  # the removed object: summed difference 300 over 9 pixels
    inpainted[10:16, 10:16] = 15  # faint re-rendering noise: summed difference 45 over 36 pixels
    mask = np.zeros((20, 20), np.uint8)
    mask[2:5, 2:5] = 255
    Image.fromarray(original).save(tmp_path / "01_f_original.png")
    Image.fromarray(inpainted).save(tmp_path / "01_f_inpainted.png")
    Image.fromarray(mask).save(tmp_path / "01_f_mask.png")
    sample = {"id": "s", "image": [str(tmp_path / "01_f_original.png"), str(tmp_path / "01_f_inpainted.png")],
              "query_original": str(tmp_path / "01_f_inpainted.png"),
              "conversations": [{"from": "human", "value": "where?"}, {"from": "gpt", "value": "[(0.175, 0.175)]"}]}
    data = tmp_path / "t2b.json"
    data.write_text(json.dumps([sample]))

    def answer(*extra):
        out = tmp_path / "o.json"
        r = invoke("spatial-vlm", "eval", "--model", "pixel-diff", "--data-json", data, "--output-json", out,
                   "-q", *extra)
        assert r.exit_code == 0, r.stderr
        return json.loads(out.read_text())["results"][0]

    noisy = answer()  # default 30: the faint but larger region wins
    assert noisy["pred_point"] == pytest.approx([13 / 20, 13 / 20]) and not noisy["hit"]
    strict = answer("--diff-threshold", "100")
    assert strict["pred_point"] == pytest.approx([3.5 / 20, 3.5 / 20]) and strict["hit"]
    assert answer("--diff-threshold", "300")["pred_kind"] == "not_visible"  # nothing changed by more than 300
    r = invoke("spatial-vlm", "eval", "--model", "pixel-diff", "--data-json", data, "--output-json",
               tmp_path / "x.json", "--diff-threshold", "-1")
    assert r.exit_code == 2 and "--diff-threshold" in r.stderr and not (tmp_path / "x.json").exists()
