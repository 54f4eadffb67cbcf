"""`prepare --num-shards/--shard-index` + `prepare-merge` give the npz of an unsharded run."""

import numpy as np
import pytest

from mc_core.testing import invoke


def run(*args):
    return invoke("landcover", *args)


def write_tif(path, arr, nodata=255):
    import rasterio
    from rasterio.transform import Affine

    arr = np.asarray(arr)[None]
    with rasterio.open(path, "w", driver="GTiff", width=arr.shape[2], height=arr.shape[1], count=1,
                       dtype=arr.dtype, crs="EPSG:32612", nodata=nodata,
                       transform=Affine(30, 0, 300000, 0, -30, 4150000)) as dst:
        dst.write(arr)
    return path


def classes(h, w, seed=0):
    """A class map with blobs of four NLCD codes, a nodata corner and a nodata strip."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    cy, cx = rng.uniform(0, h, 12), rng.uniform(0, w, 12)
    lab = np.array([11, 42, 52, 21], dtype=np.uint8)[rng.integers(0, 4, 12)]
    a = lab[((yy[..., None] - cy) ** 2 + (xx[..., None] - cx) ** 2).argmin(-1)]
    a[:8, :8] = 255
    a[40:43, 20:30] = 255
    return a


@pytest.fixture()
def rasters(tmp_path):
    lc = write_tif(tmp_path / "lc.tif", classes(64, 48))
    dem = np.linspace(1000, 2000, 64 * 48).reshape(64, 48).astype(np.float32)
    dem += np.random.default_rng(1).normal(0, 5, dem.shape).astype(np.float32)
    return lc, write_tif(tmp_path / "dem.tif", dem, nodata=-9999)


def assert_same_npz(a, b):
    za, zb = np.load(a), np.load(b)
    assert za.files == zb.files
    for k in za.files:
        assert za[k].dtype == zb[k].dtype and za[k].shape == zb[k].shape, k
        assert np.array_equal(za[k], zb[k], equal_nan=za[k].dtype.kind == "f"), k


def prepare_sharded(out, num_shards, args, order=None):
    for i in order or range(num_shards):
        r = run("prepare", *args, "--out", out, "--num-shards", num_shards, "--shard-index", i, "--quiet")
        assert r.exit_code == 0, r.output
        assert not out.exists()  # a shard writes only its own part
    r = run("prepare-merge", "--out", out, "--num-shards", num_shards, "--quiet")
    assert r.exit_code == 0, r.output
    return r


@pytest.mark.parametrize("num_shards,extra", [
    (3, ["--block", 16, "--test-fraction", 0.25]),
    (2, ["--stride", 4, "--elevation", "DEM"]),  # elevation scaled over the whole data set
    (4, ["--block", 16, "--elevation", "DEM", "--max-patches", 9]),  # cut-off inside a block of shard 2
    (7, ["--test-fraction", 0.3]),  # more shards than blocks: some parts are empty
])
def test_sharded_prepare_equals_unsharded(tmp_path, rasters, num_shards, extra):
    lc, dem = rasters
    args = ["--raster", lc, "--size", 8, *[dem if a == "DEM" else a for a in extra]]
    whole = tmp_path / "whole.npz"
    r = run("prepare", *args, "--out", whole, "--quiet")
    assert r.exit_code == 0, r.output
    z = np.load(whole)
    assert len(z["train_data"]) > 0 and len(z["test_data"]) > 0 or "--max-patches" in extra

    out = tmp_path / "sharded.npz"
    prepare_sharded(out, num_shards, args, order=reversed(range(num_shards)))  # any finishing order
    assert_same_npz(whole, out)
    parts = sorted(p.name for p in tmp_path.glob("sharded.shard-*"))
    assert parts == sorted(f"sharded.shard-{i}-of-{num_shards}.npz" for i in range(num_shards))
    assert (tmp_path / "sharded_preview.png").exists()
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_sharded_embedded_sample_and_remove_parts(tmp_path):
    whole, out = tmp_path / "whole.npz", tmp_path / "s.npz"
    assert run("prepare", "--size", 32, "--out", whole, "--quiet").exit_code == 0
    r = prepare_sharded(out, 3, ["--size", 32])
    assert_same_npz(whole, out)
    r = run("prepare-merge", "--out", out, "--num-shards", 3, "--remove-parts", "--quiet")
    assert r.exit_code == 0, r.output
    assert not list(tmp_path.glob("s.shard-*")) and out.exists()


def test_shard_rerun_skips_a_complete_part_and_redoes_a_stale_one(tmp_path, rasters):
    lc, _ = rasters
    out = tmp_path / "d.npz"
    args = ["prepare", "--raster", lc, "--size", 8, "--block", 16, "--out", out, "--num-shards", 2]
    r = run(*args, "--shard-index", 0, "--quiet")
    assert r.exit_code == 0 and '"skipped": false' in r.stdout
    part = tmp_path / "d.shard-0-of-2.npz"
    mtime = part.stat().st_mtime_ns
    r = run(*args, "--shard-index", 0, "--quiet")
    assert r.exit_code == 0 and '"skipped": true' in r.stdout and part.stat().st_mtime_ns == mtime
    r = run(*args, "--shard-index", 0, "--overwrite", "--quiet")
    assert r.exit_code == 0 and '"skipped": false' in r.stdout
    # other arguments: the part is redone, not reused
    r = run(*args, "--shard-index", 0, "--seed", 5, "--quiet")
    assert r.exit_code == 0 and '"skipped": false' in r.stdout
    # a truncated part (e.g. copied half-way) is redone
    part.write_bytes(part.read_bytes()[:100])
    r = run(*args, "--shard-index", 0, "--seed", 5, "--quiet")
    assert r.exit_code == 0 and '"skipped": false' in r.stdout
    # shard 1 made with another seed than shard 0: the merge refuses, nothing is written
    assert run(*args, "--shard-index", 1, "--quiet").exit_code == 0
    r = run("prepare-merge", "--out", out, "--num-shards", 2)
    assert r.exit_code == 2 and "other settings or inputs" in r.output and not out.exists()
    assert len(r.output.strip().splitlines()) == 1
    assert run(*args, "--shard-index", 1, "--seed", 5, "--quiet").exit_code == 0
    assert run("prepare-merge", "--out", out, "--num-shards", 2, "--quiet").exit_code == 0
    whole = tmp_path / "whole.npz"
    assert run("prepare", "--raster", lc, "--size", 8, "--block", 16, "--seed", 5, "--out", whole,
               "--quiet").exit_code == 0
    assert_same_npz(whole, out)


def one_line_error(r, needle):
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], r.output
    assert "Traceback" not in r.output


@pytest.mark.parametrize("shard_args,needle", [
    (["--num-shards", 2, "--shard-index", 2], "--shard-index 2 must be below --num-shards 2"),
    (["--num-shards", 3, "--shard-index", 7], "--shard-index 7 must be below --num-shards 3"),
    (["--shard-index", 1], "--shard-index 1 must be below --num-shards 1"),
    (["--num-shards", 0], "--num-shards"),
    (["--num-shards", 2, "--shard-index", -1], "--shard-index"),
    (["--num-shards", "two"], "--num-shards"),
    (["--num-shards", 2, "--preview", "p.png"], "--preview"),
])
def test_bad_shard_arguments(tmp_path, rasters, shard_args, needle):
    lc, _ = rasters
    r = run("prepare", "--raster", lc, "--size", 8, "--out", tmp_path / "d.npz", *shard_args, "--quiet")
    one_line_error(r, needle)
    assert list(tmp_path.glob("d.*")) == [] and not (tmp_path / "p.png").exists()


def test_merge_bad_usage(tmp_path, rasters):
    lc, _ = rasters
    out = tmp_path / "d.npz"
    assert run("prepare", "--raster", lc, "--size", 8, "--out", out, "--num-shards", 3, "--shard-index", 1,
               "--quiet").exit_code == 0
    one_line_error(run("prepare-merge", "--out", out, "--num-shards", 3), "shard(s) 0, 2 of 3 have not finished")
    one_line_error(run("prepare-merge", "--out", out, "--num-shards", 1), "--num-shards")
    # a part renamed to another shard's name, and a file that is no part, are caught
    (tmp_path / "d.shard-1-of-3.npz").rename(tmp_path / "d.shard-0-of-2.npz")
    np.savez(tmp_path / "d.shard-1-of-2.npz", maps=np.zeros((1, 8, 8), np.uint8))
    one_line_error(run("prepare-merge", "--out", out, "--num-shards", 2), "holds shard 1 of 3, expected 0 of 2")
    (tmp_path / "d.shard-1-of-2.npz").rename(tmp_path / "d.shard-0-of-2.npz")
    (tmp_path / "d.shard-1-of-2.npz").write_bytes(b"not an npz")
    one_line_error(run("prepare-merge", "--out", out, "--num-shards", 2), "not a shard part")
    assert not out.exists()
