"""`prepare --format zarr` with sharded writers gives the same patches as the npz prepare, and
`open_patches` reads the store lazily."""

import numpy as np

from mc_landcover.data.patches import open_patches


def _rows(a):
    a = np.asarray(a)
    return sorted(map(bytes, a.reshape(len(a), -1)))


def test_sharded_zarr_store_holds_the_npz_patches(mc, tmp_path):
    npz, store = tmp_path / "a.npz", tmp_path / "s.zarr"
    assert mc("landcover", "prepare", "--size", "16", "--out", str(npz), "--quiet").returncode == 0
    for i in ("1", "0"):  # shards in any order fill disjoint parts of one store
        r = mc("landcover", "prepare", "--size", "16", "--out", str(store), "--num-shards", "2",
               "--shard-index", i, "--quiet")
        assert r.returncode == 0, r.stderr
    for split in ("train", "test"):
        a, z = open_patches(npz, split), open_patches(store, split)
        assert z.shape == a.shape
        assert _rows(z[np.arange(len(z))]) == _rows(a)
