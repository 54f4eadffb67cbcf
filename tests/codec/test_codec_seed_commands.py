"""The seed's (MasksComp README) commands run as written: `python tools/<script>.py` becomes
`mc codec <command>`, /path/to/data a tiny generated data set, and model sizes tiny."""

import csv

import numpy as np
import pytest
from PIL import Image


def _mc(*args):
    from mc_core.testing import invoke

    return invoke("codec", *args)


def _read_csv(p):
    with open(p, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture()
def data(tmp_path):
    """/path/to/data with masks in warped_masks/ (as the seed's A2D2 layout)."""
    rng = np.random.default_rng(4)
    root = tmp_path / "data"
    for i in range(8):
        base = rng.integers(0, 4, (3, 4))
        m = np.repeat(np.repeat(base, 4, 0), 5, 1).astype(np.uint8)
        (root / "warped_masks" / f"seq{i % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(m).save(root / "warped_masks" / f"seq{i % 2}" / f"f_{i:03d}.png")
    return root


def _learns(run):
    """Validation bits per pixel after the last epoch below the first (equal without the optimizer)."""
    evals = [float(x["eval_val_bpp"]) for x in _read_csv(run / "metrics.csv") if x["eval_val_bpp"]]
    return len(evals) >= 2 and evals[-1] < evals[0]


def test_cache_then_train_then_eval_as_written(data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    d = str(data)
    # python tools/cache_row_tokens.py ...
    r = _mc("cache", "--data-root", d, "--subdir", "warped_masks", "--cache-dir", f"{d}/cache_rle_row_v1",
            "--manifest-out", f"{d}/cache_rle_row_v1/manifest.csv", "--include-above-features",
            "--compress", "npz", "--verify", "2")
    assert r.returncode == 0, r.stderr
    assert len(_read_csv(data / "cache_rle_row_v1" / "manifest.csv")) == 8
    # python tools/train_lm_entropy.py ... --row-cache-dir ... --epochs 5 (the model takes the
    # cache's 2D context: the seed trains "the same model/loss code path" from the cache)
    r = _mc("train", "--data-root", d, "--subdir", "warped_masks", "--out-dir", "output/lm_rle_cached",
            "--row-cache-dir", f"{d}/cache_rle_row_v1", "--epochs", "5", "--hidden-dim", "8", "--embed-dim", "4",
            "-q")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "output/lm_rle_cached/checkpoints/best/model.safetensors").is_file()
    assert _learns(tmp_path / "output/lm_rle_cached")
    # python tools/eval_lm_entropy.py ... --checkpoint output/lm_rle_cached/checkpoints/best.pt
    r = _mc("eval", "--data-root", d, "--checkpoint", "output/lm_rle_cached/checkpoints/best.pt",
            "--split", "val", "--splits-dir", "output/lm_rle_cached/splits", "--row-cache-dir",
            f"{d}/cache_rle_row_v1", "--out-csv", "output/lm_val_metrics_cached.csv")
    assert r.returncode == 0, r.stderr
    rows = _read_csv(tmp_path / "output/lm_val_metrics_cached.csv")
    assert rows and all(float(x["bits_per_pixel"]) > 0 for x in rows)


def test_baseline_msdzip_and_matrix_as_written(data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    d = str(data)
    # the seed's --subdir defaults to warped_masks (used when the data root has it)
    r = _mc("train", "--data-root", d, "--out-dir", "output/lm_rle_baseline",
            "--epochs", "5", "--batch-size", "64", "--use-2d-context", "--hidden-dim", "8", "--embed-dim", "4",
            "-q")
    assert r.returncode == 0, r.stderr
    assert _learns(tmp_path / "output/lm_rle_baseline")
    r = _mc("train", "--data-root", d, "--out-dir", "output/lm_msdzip",
            "--arch", "msdzip", "--timesteps", "4", "--vocab-dim", "4", "--hidden-dim", "8", "--ffn-dim", "8",
            "--layers", "1", "-q")
    assert r.returncode == 0, r.stderr
    assert _learns(tmp_path / "output/lm_msdzip")
    # PYTHONPATH=$(pwd) python tools/run_lm_codec_matrix.py ... --checkpoint .../best.pt
    r = _mc("matrix", "--data-root", d, "--subdir", "warped_masks",
            "--checkpoint", "output/lm_msdzip/checkpoints/best.pt", "--splits-dir", "output/lm_msdzip/splits",
            "--out-csv", "output/lm_msdzip/lm_matrix.csv", "--codecs", "png", "-j", "1", "-q")
    assert r.returncode == 0, r.stderr
    mx = _read_csv(tmp_path / "output/lm_msdzip/lm_matrix.csv")
    assert all(x["lossless"] == "True" for x in mx if x["codec"] == "learned") and "msdzip" in r.stdout
