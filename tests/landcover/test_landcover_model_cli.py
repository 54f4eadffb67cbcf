"""prepare / train / generate through the real `mc` entry point on tiny synthetic rasters."""

import json

import numpy as np
import pytest

from mc_core.testing import invoke

torch = pytest.importorskip("torch")
torch.set_num_threads(1)


def run(*args):
    """`mc landcover ARGS` in-process through the real entry point (one-line errors, exit codes)."""
    return invoke("landcover", *args)


def last_json(output):
    return json.loads([ln for ln in output.splitlines() if ln.startswith("{")][-1])


def write_tif(path, arr, dtype=None, nodata=255, count=1):
    import rasterio
    from rasterio.transform import Affine

    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = arr[None]
    with rasterio.open(path, "w", driver="GTiff", width=arr.shape[2], height=arr.shape[1], count=arr.shape[0],
                       dtype=dtype or arr.dtype, crs="EPSG:32612", nodata=nodata,
                       transform=Affine(30, 0, 300000, 0, -30, 4150000)) as dst:
        dst.write(arr.astype(dtype or arr.dtype))
    return path


def blob_codes(h, w, seed=0, codes=(11, 42, 52, 21)):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    cy, cx = rng.uniform(0, h, 12), rng.uniform(0, w, 12)
    lab = np.array(codes)[rng.integers(0, len(codes), 12)]
    return lab[((yy[..., None] - cy) ** 2 + (xx[..., None] - cx) ** 2).argmin(-1)].astype(np.uint8)


@pytest.fixture()
def raster(tmp_path):
    a = blob_codes(64, 48)
    a[:8, :8] = 255  # nodata corner
    return write_tif(tmp_path / "lc.tif", a)


def test_prepare_writes_npz_with_separate_blocks(tmp_path, raster):
    out = tmp_path / "d.npz"
    r = run("prepare", "--raster", raster, "--size", 8, "--block", 16, "--test-fraction", 0.25, "--out", out,
            "--quiet")
    assert r.exit_code == 0, r.output
    info = last_json(r.output)
    z = np.load(out)
    tr, te = z["train_data"], z["test_data"]
    assert tr.dtype == np.uint8 and tr.shape[1:] == (1, 8, 8) and te.shape[1:] == (1, 8, 8)
    # 12 blocks of 16x16, 4 patches each; the nodata corner drops one patch
    assert len(tr) + len(te) == 12 * 4 - 1 == info["n_train"] + info["n_test"]
    assert info["dropped_patches"] == 1
    assert len(te) in (3 * 4, 3 * 4 - 1)  # 3 of 12 blocks held out (one may hold the nodata corner)
    assert tr.max() < 20 and list(z["legend_codes"][:2]) == [11, 12]
    # lon/lat in UTM zone 12: around -113..-111 E
    assert z["train_coords"].shape == (len(tr), 2) and (-115 < z["train_coords"][:, 0]).all()
    # no test patch shares a 16x16 block with a train patch (centres mapped back to pixels)
    import rasterio
    from rasterio.warp import transform as warp

    def blocks(coords):
        xs, ys = warp("EPSG:4326", "EPSG:32612", coords[:, 0].tolist(), coords[:, 1].tolist())
        with rasterio.open(raster) as src:
            rc = [src.index(x, y) for x, y in zip(xs, ys)]
        return {(r // 16, c // 16) for r, c in rc}
    tr_blocks, te_blocks = blocks(z["train_coords"]), blocks(z["test_coords"])
    assert len(te_blocks) == 3 and len(tr_blocks) == 9 and not tr_blocks & te_blocks
    assert (tmp_path / "d_preview.png").exists()


def test_prepare_with_elevation(tmp_path, raster):
    dem = write_tif(tmp_path / "dem.tif", np.linspace(1000, 2000, 64 * 48).reshape(64, 48).astype(np.float32),
                    nodata=-9999)
    out = tmp_path / "d.npz"
    r = run("prepare", "--raster", raster, "--elevation", dem, "--size", 8, "--out", out, "--quiet")
    assert r.exit_code == 0, r.output
    z = np.load(out)
    assert z["train_data"].shape[1] == 2
    assert z["train_elevation"].min() >= 999 and z["train_elevation"].max() <= 2001
    assert z["train_data"][:, 1].max() > 200  # scaled to 0..255


@pytest.mark.parametrize("case,needle", [
    ("float", "float32"), ("rgb", "3 bands"), ("unknown", "outside the NLCD legend: 99"),
    ("elevation", "elevation file not found"), ("big", "larger than the raster"),
])
def test_prepare_bad_input(tmp_path, raster, case, needle):
    args = ["--raster", raster, "--size", 8]
    if case == "float":
        args[1] = write_tif(tmp_path / "f.tif", blob_codes(16, 16).astype(np.float32), nodata=None)
    elif case == "rgb":
        args[1] = write_tif(tmp_path / "rgb.tif", np.stack([blob_codes(16, 16)] * 3))
    elif case == "unknown":
        a = blob_codes(16, 16)
        a[3, 3] = 99
        args[1] = write_tif(tmp_path / "u.tif", a)
    elif case == "elevation":
        args += ["--elevation", tmp_path / "missing_dem.tif"]
    elif case == "big":
        args[3] = 100
    r = run("prepare", *args, "--out", tmp_path / "x.npz", "--quiet")
    assert r.exit_code == 2, r.output
    assert needle in r.output and "Traceback" not in r.output
    assert r.output.strip().startswith("error: ") and len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "x.npz").exists()


def test_npz_without_expected_keys(tmp_path):
    from mc_core.errors import BadInputError
    from mc_landcover.data.patches import load_patches

    bad = tmp_path / "bad.npz"
    np.savez(bad, something=np.zeros(3))
    with pytest.raises(BadInputError, match="missing key 'test_data'"):
        load_patches(bad)
    r = run("train", "--config", "tiny", "--data", bad, "--out-dir", tmp_path / "o", "--quiet")
    assert r.exit_code == 2 and "missing key 'train_data'" in r.output


@pytest.mark.e2e
def test_train_resume_generate(tmp_path, raster):
    data = tmp_path / "d.npz"
    assert run("prepare", "--raster", raster, "--size", 8, "--stride", 4, "--out", data, "--quiet").exit_code == 0
    out = tmp_path / "run"
    common = ["--config", "tiny", "--data", data, "--out-dir", out, "--set", "model.size=8",
              "--set", "train.batch_size=8", "--set", "train.warmup_steps=2", "--set", "train.n_vis=4",
              "--set", "train.gen_steps=4", "--set", "train.log_every=2", "--device", "cpu", "--quiet"]
    r = run("train", *common, "--max-steps", 4, "--set", "train.vis_every=2", "--set", "train.ckpt_every=2")
    assert r.exit_code == 0, r.output
    res = last_json(r.output)
    assert res["steps"] == 4 and np.isfinite(res["test_bits_per_pixel"])
    for kind in ("gen", "gt", "pred"):
        assert (out / f"{kind}_000002.png").exists() and (out / f"{kind}_000004.png").exists()
    cfg = json.loads((out / "checkpoints" / "final" / "config.json").read_text())
    assert cfg["model"] == "randar" and cfg["config"]["model"]["size"] == 8
    assert cfg["meta"]["step"] == 4 and len(cfg["meta"]["data_sha256"]) == 64
    # resume continues from step 4 to 6 with the saved optimizer state
    r = run("train", *common, "--max-steps", 6, "--resume")
    assert r.exit_code == 0, r.output
    assert last_json(r.output)["steps"] == 6
    log = json.loads((out / "train_log.json").read_text())
    assert [h["step"] for h in log["history"]] == [2, 4, 6]

    ck = out / "checkpoints" / "final"
    png, gif = tmp_path / "s.png", tmp_path / "g.gif"
    r = run("generate", "--checkpoint", ck, "--n", 4, "--steps", 3, "--out", png, "--animation", gif,
            "--nrows", 2, "--ncols", 2, "--seed", 1, "--device", "cpu", "--save-array", tmp_path / "s.npz")
    assert r.exit_code == 0, r.output
    from PIL import Image

    assert Image.open(png).size[0] > 16
    with Image.open(gif) as im:
        assert im.n_frames == 4  # empty map + 3 decoding steps
    maps = np.load(tmp_path / "s.npz")["maps"]
    assert maps.shape == (4, 8, 8)
    r2 = run("generate", "--checkpoint", ck, "--n", 4, "--steps", 3, "--out", tmp_path / "t.png", "--seed", 1,
             "--device", "cpu", "--save-array", tmp_path / "t.npz")
    assert r2.exit_code == 0 and np.array_equal(np.load(tmp_path / "t.npz")["maps"], maps)
    # a checkpoint that does not match the config
    r = run("generate", "--config", "tiny", "--checkpoint", ck, "--out", tmp_path / "u.png", "--device", "cpu")
    assert r.exit_code == 2 and "does not match the config" in r.output
    r = run("generate", "--checkpoint", ck, "--size", 16, "--out", tmp_path / "u.png", "--device", "cpu")
    assert r.exit_code == 2 and "size 16 differs" in r.output


def test_prepare_defaults_to_the_embedded_sample(tmp_path):
    out = tmp_path / "s.npz"
    r = run("prepare", "--size", 32, "--out", out, "--quiet")
    assert r.exit_code == 0, r.output
    z = np.load(out)
    assert z["train_data"].shape[1:] == (1, 32, 32) and len(z["test_data"]) > 0
    lon, lat = z["train_coords"].mean(0)
    assert -113.5 < lon < -112.5 and 36.8 < lat < 37.8  # Zion National Park


def test_bad_usage_is_one_line(tmp_path):
    r = run("train", "--config", "no_such_config", "--out-dir", tmp_path / "o")
    assert r.exit_code == 2 and "no such config file or shipped config" in r.output
    r = run("generate", "--checkpoint", tmp_path / "missing", "--out", tmp_path / "x.png")
    assert r.exit_code == 2 and "checkpoint not found" in r.output
    assert "Traceback" not in r.output


def test_raster_order_option():
    from mc_landcover.models.randar import RandAR, RandARConfig

    m = RandAR(RandARConfig(size=4, n_layer=1, n_embd=16, n_head=2, order="raster"))
    assert torch.equal(m.training_order(2), torch.arange(16).expand(2, -1))
    m2 = RandAR(RandARConfig(size=4, n_layer=1, n_embd=16, n_head=2))
    o = m2.training_order(2, torch.Generator().manual_seed(0))
    assert not torch.equal(o, torch.arange(16).expand(2, -1)) and torch.equal(o.sort(1).values, torch.arange(16).expand(2, -1))
    with pytest.raises(ValueError):
        RandARConfig.from_dict({"order": "spiral"})
