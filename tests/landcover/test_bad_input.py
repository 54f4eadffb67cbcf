"""Bad input and hostile arguments, one table: exit 2, a one-line `error: ...` (naming the file
where a file is at fault), no traceback, and every input and earlier output unchanged."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from mc_core.testing import invoke
from mc_landcover.legend import CODES

torch = pytest.importorskip("torch")
SIZE = 8


def write_tif(path, arr, dtype=None, nodata=255, tiled=False):
    import rasterio
    from rasterio.transform import Affine

    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = arr[None]
    extra = {"tiled": True, "blockxsize": 16, "blockysize": 16} if tiled else {}
    with rasterio.open(path, "w", driver="GTiff", width=arr.shape[2], height=arr.shape[1], count=arr.shape[0],
                       dtype=dtype or arr.dtype, crs="EPSG:32612", nodata=nodata,
                       transform=Affine(30, 0, 300000, 0, -30, 4150000), **extra) as dst:
        dst.write(arr.astype(dtype or arr.dtype))
    return path


def codes(h, w, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    cy, cx = rng.uniform(0, h, 12), rng.uniform(0, w, 12)
    lab = np.array([11, 42, 52, 21])[rng.integers(0, 4, 12)]
    return lab[((yy[..., None] - cy) ** 2 + (xx[..., None] - cx) ** 2).argmin(-1)].astype(np.uint8)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from mc_core.checkpoint import save_checkpoint
    from mc_landcover.models.randar import RandAR

    d = tmp_path_factory.mktemp("lc_bad")
    rng = np.random.default_rng(0)
    maps = rng.choice([2, 7, 8, 11], size=(24, SIZE, SIZE)).astype(np.uint8)
    np.savez(d / "d.npz", train_data=maps[:16, None], test_data=maps[16:, None], train_coords=np.zeros((16, 2)),
             test_coords=np.zeros((8, 2)), legend_codes=CODES)
    torch.manual_seed(0)
    cfg = {"size": SIZE, "n_layer": 1, "n_embd": 16, "n_head": 2}
    save_checkpoint(d / "ck", RandAR(cfg).state_dict(), model="randar", config={"model": cfg})
    write_tif(d / "r.tif", codes(64, 64))
    write_tif(d / "rgb.tif", np.stack([codes(64, 64)] * 3))
    write_tif(d / "float.tif", codes(64, 64).astype(np.float32), nodata=None)
    full = write_tif(d / "full.tif", codes(256, 256, seed=1), tiled=True).read_bytes()
    (d / "truncated.tif").write_bytes(full[: len(full) // 2])
    np.savez(d / "object.npz", train_data=np.array([None, 1], dtype=object), test_data=np.zeros((2, 1, 8, 8)))
    (d / "res.json").write_text(json.dumps({"method": "mode", "mask_type": "interior", "mask_ratio": 0.25,
                                            "metrics": {"accuracy": {"mean": 0.5, "low": 0.4, "high": 0.6}}}))
    (d / "text.txt").write_text("hello world\n" * 10)
    (d / "old.png").write_bytes(b"an earlier output")
    (d / "sweep_interior.json").write_bytes((d / "d.npz").read_bytes())  # data named like a sweep summary
    bad_cfg = d / "ck_badcfg"
    save_checkpoint(bad_cfg, RandAR(cfg).state_dict(), model="randar", config={"model": cfg})
    info = json.loads((bad_cfg / "config.json").read_text())
    info["config"] = ["not", "a", "mapping"]
    (bad_cfg / "config.json").write_text(json.dumps(info))
    return d


# (id, arguments with {d} for the files folder, what the message says, the file it names or None)
CASES = [
    ("prepare-out-is-raster", "prepare --raster {d}/r.tif --size 8 --out {d}/r.tif", "also an input", "r.tif"),
    ("prepare-preview-is-raster", "prepare --raster {d}/r.tif --size 8 --out {d}/new.npz --preview {d}/r.tif",
     "also an input", "r.tif"),
    ("prepare-truncated-tiff", "prepare --raster {d}/truncated.tif --size 8 --out {d}/t.npz", "truncated.tif", None),
    ("prepare-rgb-elevation", "prepare --raster {d}/r.tif --elevation {d}/rgb.tif --size 8 --out {d}/e.npz",
     "single-band elevation", "rgb.tif"),
    ("prepare-float-class-map", "prepare --raster {d}/float.tif --size 8 --out {d}/f.npz", "float32", "float.tif"),
    ("prepare-test-fraction-nan", "prepare --raster {d}/r.tif --size 8 --out {d}/n.npz --test-fraction nan",
     "not a finite number", None),
    ("import-onto-itself", "import-npz {d}/d.npz --out {d}/d.npz", "also an input", "d.npz"),
    ("import-object-arrays", "import-npz {d}/object.npz --out {d}/o.npz", "object.npz", None),
    ("eval-inpaint-results-onto-data", "eval-inpaint --method mode --data {d}/d.npz --save-results {d}/d.npz",
     "also an input", "d.npz"),
    ("eval-inpaint-panels-onto-data",
     "eval-inpaint --method mode --data {d}/d.npz --visualize --visualize-out {d}/d.npz", "also an input", "d.npz"),
    ("eval-inpaint-ratio-nan", "eval-inpaint --method mode --data {d}/d.npz --mask-ratio nan", "finite", None),
    ("eval-inpaint-temperature-inf", "eval-inpaint --checkpoint {d}/ck --data {d}/d.npz --temperature inf",
     "finite", None),
    ("perplexity-results-onto-data", "eval-perplexity --checkpoint {d}/ck --data {d}/d.npz --save-results {d}/d.npz",
     "also an input", "d.npz"),
    ("perplexity-results-into-checkpoint",
     "eval-perplexity --checkpoint {d}/ck --data {d}/d.npz --save-results {d}/ck/config.json",
     "lies inside an input", "config.json"),
    ("perplexity-results-new-file-in-checkpoint",
     "eval-perplexity --checkpoint {d}/ck --data {d}/d.npz --save-results {d}/ck/new.json", "lies inside an input",
     "new.json"),
    ("perplexity-orders-unbounded", "eval-perplexity --checkpoint {d}/ck --data {d}/d.npz --orders 100000000",
     "--orders", None),
    ("perplexity-config-not-mapping", "eval-perplexity --checkpoint {d}/ck_badcfg --data {d}/d.npz",
     "must be a mapping", "config.json"),
    ("generate-temperature-nan", "generate --checkpoint {d}/ck --temperature nan --out {d}/old.png", "finite", None),
    ("generate-bad-checkpoint-keeps-old-output", "generate --checkpoint {d}/ck_badcfg --out {d}/old.png",
     "must be a mapping", "config.json"),
    ("generate-n-unbounded", "generate --checkpoint {d}/ck --n 1000000000 --out {d}/g.png", "--n", None),
    ("generate-out-onto-weights", "generate --checkpoint {d}/ck --out {d}/ck/model.safetensors",
     "lies inside an input", "model.safetensors"),
    ("generate-wide-unbounded", "generate-wide --checkpoint {d}/ck --width 10000000 --out {d}/w.png", "limit", None),
    ("generate-wide-scale-unbounded", "generate-wide --checkpoint {d}/ck --width 16 --scale 100000 --out {d}/w.png",
     "scale must lie in 1..64", None),
    ("sample-chain-array-onto-data",
     "sample-chain --checkpoint {d}/ck --init data --data {d}/d.npz --t 2 --save-array {d}/d.npz", "also an input",
     "d.npz"),
    ("prob-dev-out-onto-data", "prob-dev --checkpoint {d}/ck --data {d}/d.npz --out {d}/d.npz", "also an input",
     "d.npz"),
    ("sweep-summary-onto-data", "inpaint-sweep --data {d}/sweep_interior.json --methods mode --ratios 0.5 "
     "--mask-types interior --out-dir {d}", "also an input", "sweep_interior.json"),
    ("plot-onto-results", "plot-inpaint {d}/res.json --out {d}/res.json", "also an input", "res.json"),
    ("compare-information-onto-text",
     "compare-information --data {d}/d.npz --text-path {d}/text.txt --save-results {d}/text.txt", "also an input",
     "text.txt"),
    ("train-n-embd-unbounded",
     "train --config tiny --data {d}/d.npz --out-dir {d}/run --set model.size=8 --set model.n_embd=1000000",
     "n_embd", None),
    ("train-lr-inf", "train --config tiny --data {d}/d.npz --out-dir {d}/run --set train.lr=.inf", "finite", None),
    ("train-unknown-key", "train --config tiny --data {d}/d.npz --out-dir {d}/run --set model.n_embed=32",
     "did you mean", None),
    ("train-data-without-keys", "train --config tiny --data {d}/object.npz --out-dir {d}/run --set model.size=8",
     "object.npz", None),
]


def checksums(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("args, needle, named", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_exit_2_one_line_and_changes_nothing(files, args, needle, named):
    before = checksums(files)
    quiet = [] if args.startswith(("plot", "compare")) else ["--quiet"]
    r = invoke("landcover", *args.format(d=files).split(), *quiet)
    out = r.output.strip()
    assert r.exit_code == 2, out
    assert len(out.splitlines()) == 1 and out.startswith("error: ") and "Traceback" not in out, out
    assert needle in out, out
    if named:
        assert out.startswith(f"error: {files}/") and named in out.split(": ")[1], out
    assert checksums(files) == before  # no input or earlier output changed, nothing new written


def test_a_killed_prepare_leaves_no_temporary_behind(tmp_path):
    """A SIGKILLed run cannot remove its temporary npz; the next run of the same output does."""
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".d.npz.mc-tmp-{int(dead.stdout)}-abcd.npz"
    stale.write_bytes(b"half a file")
    r = invoke("landcover", "prepare", "--size", 16, "--max-patches", 20, "--out", tmp_path / "d.npz", "--quiet")
    assert r.exit_code == 0, r.output
    assert not stale.exists() and (tmp_path / "d.npz").exists()
    assert not [p for p in tmp_path.iterdir() if ".mc-tmp-" in p.name]
