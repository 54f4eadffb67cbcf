"""`import-npz`: patches npz in the seed's format (raw NLCD codes, float, elevation) -> this package's."""

import json

import numpy as np
import pytest

from mc_core.testing import invoke
from mc_landcover.data.patches import load_elevation, load_patch_array, load_patches
from mc_landcover.legend import CODES, codes_to_index


def run(*args):
    return invoke("landcover", *args)


def last_json(output):
    return json.loads([ln for ln in output.splitlines() if ln.startswith("{")][-1])


def seed_file(path, n_train=12, n_test=4, size=8, seed=0, dtype=np.float64, codes=(11, 21, 42, 52, 95)):
    """What the seed's notebook writes: (N, 2, H, W) with raw NLCD codes and elevation in metres."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        cls = np.array(codes)[rng.integers(0, len(codes), (n, size, size))]
        elev = rng.uniform(1200, 2600, (n, size, size))
        arrays[f"{split}_data"] = np.stack([cls, elev], axis=1).astype(dtype)
        arrays[f"{split}_coords"] = np.stack([rng.uniform(-113, -112, n), rng.uniform(37, 38, n)], 1)
    np.savez(path, **arrays)
    return arrays


def test_raw_codes_with_elevation_become_legend_indices(tmp_path):
    src, out = tmp_path / "data_8.npz", tmp_path / "mc_8.npz"
    arrays = seed_file(src)
    r = run("import-npz", src, "--out", out, "--quiet")
    assert r.exit_code == 0, r.output
    res = last_json(r.output)
    assert res["classes"] == "codes" and (res["n_train"], res["n_test"]) == (12, 4) and res["size"] == 8
    for split in ("train", "test"):
        raw = arrays[f"{split}_data"]
        assert (load_patches(out, split) == codes_to_index(raw[:, 0].astype(np.int64))).all()
        assert np.allclose(load_elevation(out, split), raw[:, 1], atol=1e-3)  # metres kept
    full = load_patch_array(out, "train")
    assert full.dtype == np.uint8 and full.shape == (12, 2, 8, 8)
    z = np.load(out)
    lo, hi = z["elevation_range"]
    both = np.concatenate([arrays["train_data"][:, 1].ravel(), arrays["test_data"][:, 1].ravel()])
    assert np.allclose((lo, hi), (both.min(), both.max()), atol=1e-3)
    # the scaled channel follows the metres: 0 at the lowest pixel of the data set, 255 at the highest
    scaled = np.concatenate([full[:, 1].ravel(), load_patch_array(out, "test")[:, 1].ravel()])
    assert scaled[both.argmin()] == 0 and scaled[both.argmax()] == 255
    assert np.abs(scaled - (both - lo) / (hi - lo) * 255).max() <= 0.5 + 1e-3
    assert (z["legend_codes"] == CODES).all() and np.allclose(z["train_coords"], arrays["train_coords"])
    info = json.loads(str(z["info_json"]))
    assert info["codes_found"] == [11, 21, 42, 52, 95] and info["source"] == str(src)
    assert (tmp_path / "mc_8_preview.png").read_bytes()[:4] == b"\x89PNG"
    # every command reads the result: a baseline inpainting evaluation on it
    ev = run("eval-inpaint", "--method", "nearest", "--data", out, "--n-images", 4, "--quiet",
             "--save-results", tmp_path / "ev.json")
    assert ev.exit_code == 0, ev.output


def test_indices_without_coords_are_kept(tmp_path):
    src, out = tmp_path / "idx.npz", tmp_path / "out.npz"
    rng = np.random.default_rng(1)
    train, test = rng.integers(0, 20, (5, 4, 4)).astype(np.uint8), rng.integers(0, 20, (3, 4, 4)).astype(np.uint8)
    train[0, 0, 0] = 19
    np.savez(src, train_data=train, test_data=test)  # (N, H, W): one channel, no coords
    r = run("import-npz", src, "--out", out, "--quiet")
    assert r.exit_code == 0, r.output
    assert last_json(r.output)["classes"] == "indices"
    assert (load_patches(out, "train") == train).all() and (load_patches(out, "test") == test).all()
    z = np.load(out)
    assert np.isnan(z["test_coords"]).all() and z["test_coords"].shape == (3, 2)
    assert load_elevation(out, "train") is None and load_patch_array(out, "train").shape == (5, 1, 4, 4)


def test_unknown_values_stop_or_drop_their_patches(tmp_path):
    src, out = tmp_path / "nodata.npz", tmp_path / "out.npz"
    arrays = seed_file(src, dtype=np.int32)
    arrays["train_data"][[2, 5], 0, 0, 0] = 0  # a nodata value in two train patches
    arrays["test_data"][1, 0, 3, 3] = 255
    np.savez(src, **arrays)
    r = run("import-npz", src, "--out", out)
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert str(src) in r.output and "0 (2 pixels), 255 (1 pixels)" in r.output and "--drop-unknown" in r.output
    assert not out.exists()
    r = run("import-npz", src, "--out", out, "--drop-unknown", "--quiet")
    assert r.exit_code == 0, r.output
    res = last_json(r.output)
    assert (res["n_train"], res["n_test"], res["dropped_patches"]) == (10, 3, 3)
    keep = np.setdiff1d(np.arange(12), [2, 5])
    z = np.load(out)
    assert np.allclose(z["train_coords"], arrays["train_coords"][keep])
    assert (load_patches(out, "train") == codes_to_index(arrays["train_data"][keep, 0])).all()


def test_wrong_encoding_is_explained(tmp_path):
    src = tmp_path / "codes.npz"
    seed_file(src)
    r = run("import-npz", src, "--out", tmp_path / "o.npz", "--classes", "indices")
    assert r.exit_code == 2 and "not NLCD indices" in r.output and "--classes codes" in r.output


@pytest.mark.parametrize("arrays, message", [
    ({"train_data": np.zeros((2, 1, 4, 4))}, "missing key 'test_data'"),
    ({"train_data": np.zeros((2, 1, 4, 6)), "test_data": np.zeros((1, 1, 4, 6))}, "must be square"),
    ({"train_data": np.full((2, 1, 4, 4), 41.5), "test_data": np.zeros((1, 1, 4, 4))}, "whole class numbers"),
    ({"train_data": np.zeros((2, 1, 4, 4)), "test_data": np.zeros((1, 1, 8, 8))}, "differ in size"),
    ({"train_data": np.zeros((2, 1, 4, 4)), "test_data": np.zeros((1, 1, 4, 4)),
      "train_coords": np.zeros((3, 2))}, "train_coords must have shape (2, 2)"),
    ({"train_data": np.zeros((0, 1, 4, 4)), "test_data": np.zeros((0, 1, 4, 4))}, "hold no patches"),
    ({"train_data": np.zeros((2, 1, 4, 4), np.uint8), "test_data": np.zeros((1, 1, 4, 4), np.uint8),
      "legend_codes": CODES}, "already has legend_codes"),
])
def test_bad_input_is_one_line_naming_the_file(tmp_path, arrays, message):
    src, out = tmp_path / "bad.npz", tmp_path / "out.npz"
    np.savez(src, **arrays)
    out.write_bytes(b"old")
    r = run("import-npz", src, "--out", out)
    assert r.exit_code == 2 and message in r.output and str(src) in r.output and "Traceback" not in r.output
    assert out.read_bytes() == b"old"  # nothing already written is lost


def test_unreadable_missing_and_same_path(tmp_path):
    bad = tmp_path / "x.npz"
    bad.write_bytes(b"not a zip")
    r = run("import-npz", bad, "--out", tmp_path / "o.npz")
    assert r.exit_code == 2 and "x.npz: is not a zip archive (npz file expected)" in r.output
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    r = run("import-npz", empty, "--out", tmp_path / "o.npz")  # np.load raises EOFError here
    assert r.exit_code == 2 and "empty.npz: is empty" in r.output
    r = run("import-npz", tmp_path / "missing.npz", "--out", tmp_path / "o.npz")
    assert r.exit_code == 2 and "missing.npz: npz file not found" in r.output
    seed_file(tmp_path / "s.npz")
    r = run("import-npz", tmp_path / "s.npz", "--out", tmp_path / "s.npz")
    assert r.exit_code == 2 and "this output is also an input" in r.output
