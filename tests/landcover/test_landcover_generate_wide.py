"""`generate-wide`: maps larger than the model's window by sliding-window outpainting."""

import json

import numpy as np
import pytest
import torch
import yaml

from mc_core.checkpoint import save_checkpoint
from mc_core.testing import invoke
from mc_landcover.legend import CODES
from mc_landcover.models.randar import RandAR
from mc_landcover.wide import seam_pairs, window_grid, window_starts

torch.set_num_threads(1)
SIZE = 4
MODEL_CFG = {"size": SIZE, "n_layer": 1, "n_embd": 16, "n_head": 2, "mlp_ratio": 2.0}
CLASSES = (3, 10)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A model of maps that are one class throughout (3 or 10, equally often): a map continued
    across window edges stays one class; independent tiles mix the two."""
    tmp = tmp_path_factory.mktemp("lc_wide")
    torch.manual_seed(0)
    model = RandAR(MODEL_CFG)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    for _ in range(150):
        cls = torch.tensor(CLASSES)[torch.randint(0, 2, (32,), generator=g)]
        loss = model.loss(cls[:, None, None].expand(32, SIZE, SIZE), generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    (tmp / "m.yaml").write_text(yaml.safe_dump({"model": MODEL_CFG}))
    save_checkpoint(tmp / "ckpt", model.state_dict(), model="randar", config={"model": MODEL_CFG})
    return tmp / "ckpt"


def wide(tmp_path, ckpt, name, *args):
    arr = tmp_path / f"{name}.npz"
    r = invoke("landcover", "generate-wide", "--checkpoint", ckpt, "--device", "cpu", "--temperature", 0.5,
               "--out", tmp_path / f"{name}.png", "--save-array", arr, "--quiet", *args)
    assert r.exit_code == 0, r.output
    result = json.loads([ln for ln in r.stdout.splitlines() if ln.startswith("{")][-1])
    return result, np.load(arr)


def n_classes(maps):
    return [len(np.unique(m)) for m in maps]


def test_window_geometry():
    assert window_starts(16, 4, 2) == [0, 2, 4, 6, 8, 10, 12]
    assert window_starts(10, 4, 1) == [0, 3, 6]
    assert window_starts(11, 4, 1) == [0, 3, 6, 7]  # the last window ends flush with the edge
    assert window_starts(4, 4, 0) == [0]
    assert seam_pairs(16, 4, 0) == [4, 8, 12]
    assert seam_pairs(10, 4, 1) == [4, 7]
    assert window_grid(8, 10, 4, 1)[:4] == [(0, 0), (0, 3), (0, 6), (3, 0)]
    for length, overlap in ((16, 2), (11, 1), (37, 3)):
        starts = window_starts(length, 4, overlap)
        covered = np.zeros(length, bool)
        for s in starts:
            covered[s:s + 4] = True
        assert covered.all() and all(b - a <= 4 - overlap for a, b in zip(starts, starts[1:]))
    with pytest.raises(ValueError):
        window_starts(3, 4, 0)
    with pytest.raises(ValueError):
        window_starts(8, 4, 4)


def test_overlap_continues_the_map_and_tiles_do_not(tmp_path, checkpoint):
    res, z = wide(tmp_path, checkpoint, "strip", "--width", 16, "--overlap", 2, "--n", 8, "--seed", 1)
    maps = z["maps"]
    assert maps.shape == (8, SIZE, 16) and res["windows"] == 7 and res["overlap"] == 2
    assert n_classes(maps) == [1] * 8  # every map one class, across all 6 window edges
    assert set(np.unique(maps)) <= set(CLASSES) and set(np.unique(maps)) == set(CLASSES)
    assert (z["codes"] == CODES[maps]).all()
    _, tiles = wide(tmp_path, checkpoint, "tiles", "--width", 16, "--overlap", 0, "--n", 8, "--seed", 1)
    assert sum(k > 1 for k in n_classes(tiles["maps"])) >= 4  # 4 independent tiles: mixed classes


def test_two_dimensional_canvas_and_reveal_order(tmp_path, checkpoint):
    res, z = wide(tmp_path, checkpoint, "square", "--width", 10, "--height", 10, "--overlap", 1, "--n", 3,
                  "--seed", 2)
    maps, reveal = z["maps"], z["reveal"]
    assert maps.shape == (3, 10, 10) and res["windows"] == 9 and n_classes(maps) == [1, 1, 1]
    # one pixel per step: every pixel revealed exactly once, steps 0..99
    assert all(sorted(r.ravel().tolist()) == list(range(100)) for r in reveal) and res["steps"] == 100
    assert (reveal[0] != reveal[1]).any()  # each map its own random order inside a window
    # windows row by row: every pixel of a window's fresh part comes after all earlier windows
    assert [tuple(w) for w in z["windows"]] == window_grid(10, 10, SIZE, 1)
    for e in seam_pairs(10, SIZE, 1):
        assert reveal[0, :4, :e].max() < reveal[0, :4, e:].min()
        assert reveal[0, :e, :].max() < reveal[0, e:, :].min()


def test_parallel_steps_per_window_gif_and_seed(tmp_path, checkpoint):
    from PIL import Image

    gif = tmp_path / "w.gif"
    res, z = wide(tmp_path, checkpoint, "a", "--width", 16, "--steps", 3, "--seed", 5, "--n", 2,
                  "--animation", gif, "--frames", 10, "--scale", 2)
    assert res["overlap"] == SIZE // 2 and res["steps"] == 7 * 3  # 3 decoding steps in each of 7 windows
    assert z["reveal"].max() == 20 and z["reveal"].min() == 0
    with Image.open(gif) as im:
        assert im.n_frames == 10 and im.size == (16 * 2 + 4, 2 + 2 * (SIZE * 2 + 2))
        im.seek(0)
        first = np.asarray(im.convert("RGB"))
        im.seek(im.n_frames - 1)
        last = np.asarray(im.convert("RGB"))
    inner = (slice(2, 2 + SIZE * 2), slice(2, 2 + 16 * 2))
    assert (first[inner] == 0).all() and (last[inner] != 0).any(axis=-1).all()  # empty -> full
    png = np.asarray(Image.open(tmp_path / "a.png"))
    assert png.shape[:2] == (2 + 2 * (SIZE * 2 + 2), 16 * 2 + 4)
    _, again = wide(tmp_path, checkpoint, "b", "--width", 16, "--steps", 3, "--seed", 5, "--n", 2)
    assert (again["maps"] == z["maps"]).all() and (again["reveal"] == z["reveal"]).all()


def test_progress_bar_over_windows(tmp_path, checkpoint, monkeypatch):
    monkeypatch.delenv("MC_QUIET", raising=False)
    monkeypatch.setenv("MC_PROGRESS_DELAY", "0")
    args = ["generate-wide", "--checkpoint", checkpoint, "--width", 12, "--overlap", 0, "--steps", 2,
            "--out", tmp_path / "p.png"]
    loud = invoke("landcover", *args)
    assert loud.exit_code == 0 and "generate-wide" in loud.stderr and "/3 " in loud.stderr and "window" in loud.stderr
    quiet = invoke("landcover", *args, "--quiet")
    assert quiet.exit_code == 0 and "generate-wide" not in quiet.stderr


@pytest.mark.parametrize("args, message", [
    (["--width", 3], "width 3 is smaller than the model's window 4"),
    (["--width", 8, "--height", 2], "height 2 is smaller"),
    (["--width", 8, "--overlap", 4], "overlap must lie in 0..3"),
    (["--width", 8, "--overlap", -1], "overlap must lie in 0..3"),
    (["--width", 8, "--steps", 0], "steps must be at least 1"),
    (["--width", 8, "--frames", 1], "frames must be at least 2"),
])
def test_bad_usage_is_one_line_exit_2(tmp_path, checkpoint, args, message):
    out = tmp_path / "keep.png"
    out.write_bytes(b"old")
    r = invoke("landcover", "generate-wide", "--checkpoint", checkpoint, "--out", out, *args)
    assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output
    assert out.read_bytes() == b"old"  # nothing already written is lost


def test_missing_checkpoint_names_it(tmp_path):
    r = invoke("landcover", "generate-wide", "--checkpoint", tmp_path / "nope", "--width", 8)
    assert r.exit_code == 2 and "nope" in r.output and "Traceback" not in r.output
