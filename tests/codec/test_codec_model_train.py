"""train / eval / cache / matrix through the CLI on tiny data, and their bad-input errors."""

import csv

import numpy as np
import pytest
from PIL import Image


def _mc(*args):
    """Run `mc codec ...` in-process (as the `mc` script does)."""
    from mc_core.testing import invoke

    return invoke("codec", *args)


@pytest.fixture()
def data(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "data" / "masks"
    for i in range(6):
        base = rng.integers(0, 4, (3, 4))
        m = np.repeat(np.repeat(base, 4, 0), 4, 1).astype(np.uint8)
        (root / "seq").mkdir(parents=True, exist_ok=True)
        Image.fromarray(m).save(root / "seq" / f"a_{i:03d}.png")
    return tmp_path / "data"


def _read_csv(p):
    with open(p, newline="") as fh:
        return list(csv.DictReader(fh))


def test_train_eval_resume_cache_matrix(data, tmp_path):
    out = tmp_path / "run"
    common = ["--data-root", str(data), "--subdir", "masks", "--hidden-dim", "8", "--embed-dim", "4",
              "--use-2d-context", "-q", "--device", "cpu"]
    r = _mc("train", *common, "--out-dir", str(out), "--epochs", "1", "--batch-size", "4")
    assert r.returncode == 0, r.stderr
    for f in ["checkpoints/best/model.safetensors", "checkpoints/last/state.safetensors",
              "metrics.csv", "loss_curve.png", "splits/train.txt", "splits/test.txt"]:
        assert (out / f).exists(), f
    assert len(_read_csv(out / "metrics.csv")) == 1
    r = _mc("train", *common, "--out-dir", str(out), "--epochs", "2", "--batch-size", "4", "--resume")
    assert r.returncode == 0, r.stderr
    assert [row["epoch"] for row in _read_csv(out / "metrics.csv")] == ["1", "2"]

    r = _mc("eval", "--data-root", str(data), "--subdir", "masks", "--checkpoint",
            str(out / "checkpoints" / "best"), "--split", "train", "--splits-dir", str(out / "splits"),
            "--out-csv", str(tmp_path / "ev.csv"), "-q")
    assert r.returncode == 0, r.stderr
    rows = _read_csv(tmp_path / "ev.csv")
    assert rows and all(float(x["bits_per_pixel"]) > 0 for x in rows)

    cache = tmp_path / "cache"
    r = _mc("cache", "--data-root", str(data), "--subdir", "masks", "--cache-dir", str(cache),
            "--include-above-features", "--verify", "2", "-q")
    assert r.returncode == 0, r.stderr
    assert len(_read_csv(cache / "manifest.csv")) == 6
    r = _mc("eval", "--data-root", str(data), "--subdir", "masks", "--checkpoint",
            str(out / "checkpoints" / "best"), "--split", "train", "--splits-dir", str(out / "splits"),
            "--out-csv", str(tmp_path / "ev2.csv"), "--row-cache-dir", str(cache), "-q")
    assert r.returncode == 0, r.stderr
    a = [float(x["bits"]) for x in rows]
    b = [float(x["bits"]) for x in _read_csv(tmp_path / "ev2.csv")]
    assert np.allclose(a, b)
    # a cache whose files no longer match the data
    next(cache.rglob("*.npz")).unlink()
    r = _mc("eval", "--data-root", str(data), "--subdir", "masks", "--checkpoint",
            str(out / "checkpoints" / "best"), "--split", "train", "--splits-dir", str(out / "splits"),
            "--out-csv", str(tmp_path / "ev3.csv"), "--row-cache-dir", str(cache))
    assert r.returncode == 2 and "cache" in r.stderr

    r = _mc("matrix", "--data-root", str(data), "--subdir", "masks", "--checkpoint",
            str(out / "checkpoints" / "best"), "--splits-dir", str(out / "splits"), "--split", "train",
            "--out-csv", str(tmp_path / "mx.csv"), "--codecs", "png,zstd", "-q", "--jobs", "1")
    assert r.returncode == 0, r.stderr
    mx = _read_csv(tmp_path / "mx.csv")
    assert {"learned", "learned-ideal", "png", "zstd", "context-model-ideal"} <= {x["codec"] for x in mx}
    assert all(x["lossless"] == "True" for x in mx if x["codec"] == "learned")
    assert (tmp_path / "mx.png").exists() and "learned" in r.stdout
    # one worker process or two: the same rows (sizes and losslessness; timings differ)
    r = _mc("matrix", "--data-root", str(data), "--subdir", "masks", "--checkpoint",
            str(out / "checkpoints" / "best"), "--splits-dir", str(out / "splits"), "--split", "train",
            "--out-csv", str(tmp_path / "mx2.csv"), "--codecs", "png,zstd", "-q", "--jobs", "2")
    assert r.returncode == 0, r.stderr
    key = lambda rows: [(x["image"], x["codec"], x["bytes"], x["lossless"]) for x in rows]  # noqa: E731
    assert key(_read_csv(tmp_path / "mx2.csv")) == key(mx)


def test_bad_inputs(tmp_path):
    (tmp_path / "empty").mkdir()
    r = _mc("train", "--data-root", str(tmp_path / "empty"), "--out-dir", str(tmp_path / "o"))
    assert r.returncode == 2 and "empty" in r.stderr
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    r = _mc("cache", "--data-root", str(tmp_path / "bad"), "--cache-dir", str(tmp_path / "c"))
    assert r.returncode == 2 and "x.png" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.e2e
def test_default_matrix_on_shipped_samples(tmp_path):
    from mc_codec.samples import sample_root

    test = (sample_root() / "splits" / "test.txt").read_text().split()
    picks = [next(p for p in test if p.startswith("street")), next(p for p in test if p.startswith("nlcd"))]
    sp = tmp_path / "splits"
    sp.mkdir()
    for name in ("train", "val"):
        (sp / f"{name}.txt").write_text("")
    (sp / "test.txt").write_text("\n".join(picks) + "\n")
    # the shipped default model on two of the shipped samples (no --checkpoint)
    r = _mc("matrix", "--data-root", str(sample_root() / "masks"), "--splits-dir", str(sp),
            "--out-csv", str(tmp_path / "m.csv"), "--codecs", "png", "-q")
    assert r.returncode == 0, r.stderr
    summary = {line.split()[0]: line.split() for line in r.stdout.splitlines()[2:] if line.strip()}
    assert "learned" in summary and summary["learned"][-1] == "yes"
    assert float(summary["learned"][1]) < float(summary["png"][1])


def test_msdzip_train_and_matrix(data, tmp_path):
    out = tmp_path / "ms"
    r = _mc("train", "--data-root", str(data), "--subdir", "masks", "--out-dir", str(out), "--arch", "msdzip",
            "--timesteps", "4", "--vocab-dim", "4", "--hidden-dim", "8", "--ffn-dim", "8", "--layers", "1",
            "--epochs", "1", "--use-2d-context", "-q")
    assert r.returncode == 0, r.stderr
    ck = str(out / "checkpoints" / "best")
    r = _mc("matrix", "--data-root", str(data), "--subdir", "masks", "--checkpoint", ck, "--arch", "msdzip",
            "--splits-dir", str(out / "splits"), "--split", "train", "--out-csv", str(tmp_path / "m.csv"),
            "--codecs", "png", "-q")
    assert r.returncode == 0, r.stderr
    r = _mc("matrix", "--data-root", str(data), "--subdir", "masks", "--checkpoint", ck, "--arch", "rle-lm",
            "--splits-dir", str(out / "splits"), "--out-csv", str(tmp_path / "m2.csv"))
    assert r.returncode == 2 and "msdzip" in r.stderr
