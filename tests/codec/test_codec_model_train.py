"""train / eval / cache / matrix through the CLI on tiny data, and their bad-input errors."""

import csv
import json

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


def _train(data, out, *extra, epochs=1):
    return _mc("train", "--data-root", str(data), "--subdir", "masks", "--hidden-dim", "8", "--embed-dim", "4",
               "--use-2d-context", "-q", "--device", "cpu", "--out-dir", str(out), "--epochs", str(epochs),
               "--batch-size", "4", *extra)


def _weights(ck):
    from safetensors.numpy import load_file

    return load_file(str(ck / "model.safetensors"))


def _epoch_means(rows, spe):
    """Mean logged training loss of the first and the last epoch, and the first and last eval."""
    first = [float(r["loss"]) for r in rows if int(r["step"]) <= spe]
    last = [float(r["loss"]) for r in rows if int(r["step"]) > int(rows[-1]["step"]) - spe]
    evals = [float(r["eval_val_bpp"]) for r in rows if r.get("eval_val_bpp")]
    return np.mean(first), np.mean(last), evals[0], evals[-1]


@pytest.mark.parametrize("optimizer_steps", [True, False])
def test_train_loss_falls_only_with_the_optimizer(data, tmp_path, monkeypatch, optimizer_steps):
    """Bits per token and validation bits per pixel fall over 4 epochs; with the optimizer's
    step removed they do not (so this test would catch a loop that never updates the model)."""
    import torch

    if not optimizer_steps:
        monkeypatch.setattr(torch.optim.AdamW, "step", lambda self, *a, **k: None)
    out = tmp_path / "run"
    r = _train(data, out, epochs=4)
    assert r.returncode == 0, r.stderr
    spe = json.loads((out / "checkpoints" / "final" / "config.json").read_text())["meta"]["steps_per_epoch"]
    first, last, eval0, eval1 = _epoch_means(_read_csv(out / "metrics.csv"), spe)
    falls = last < 0.9 * first and eval1 < 0.9 * eval0
    assert falls == optimizer_steps, (first, last, eval0, eval1)


def test_train_eval_resume_cache_matrix(data, tmp_path):
    out = tmp_path / "run"
    r = _train(data, out, epochs=1)
    assert r.returncode == 0, r.stderr
    for f in ["checkpoints/best/model.safetensors", "checkpoints/last/state.safetensors",
              "checkpoints/final/config.json", "metrics.csv", "loss.png", "train_log.json",
              "splits/train.txt", "splits/test.txt"]:
        assert (out / f).exists(), f
    cfg = json.loads((out / "checkpoints" / "final" / "config.json").read_text())
    assert cfg["model"] == "rle-lm" and cfg["config"]["model"]["vocab_size"] == 4
    spe = cfg["meta"]["steps_per_epoch"]
    assert int(_read_csv(out / "metrics.csv")[-1]["step"]) == spe
    # a run is already here: refused without --resume; --resume continues exactly
    r = _train(data, out, epochs=2)
    assert r.returncode == 2 and "--resume" in r.stderr and "Traceback" not in r.stderr
    r = _train(data, out, "--resume", epochs=2)
    assert r.returncode == 0, r.stderr
    rows = _read_csv(out / "metrics.csv")
    assert int(rows[-1]["step"]) == 2 * spe
    evals = [float(x["eval_val_bpp"]) for x in rows if x["eval_val_bpp"]]
    assert len(evals) == 2 and evals[1] < evals[0]            # it learns (equal without the optimizer)
    r = _train(data, tmp_path / "straight", epochs=2)
    assert r.returncode == 0, r.stderr
    a, b = _weights(out / "checkpoints" / "final"), _weights(tmp_path / "straight" / "checkpoints" / "final")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)

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
    assert {"learned", "learned-ideal", "png", "zstd", "context-model-ideal", "context-model-primed",
            "context-model-8-primed"} <= {x["codec"] for x in mx}
    # the primed rows come from the counts stored with the checkpoint: the matrix codes the
    # training split here, so priming on it must beat the empty start
    bits = {c: sum(float(x["bytes"]) for x in mx if x["codec"] == c)
            for c in ("context-model-ideal", "context-model-primed")}
    assert bits["context-model-primed"] < bits["context-model-ideal"]
    assert all((out / "checkpoints" / n / "context_prior.npz").is_file() for n in ("best", "last", "final"))
    assert all(x["lossless"] == "True" for x in mx if x["codec"] == "learned")
    assert (tmp_path / "mx.png").exists() and "learned" in r.stdout
    # one worker process or two: the same rows (sizes and losslessness; timings differ)
    r = _mc("matrix", "--data-root", str(data), "--subdir", "masks", "--checkpoint",
            str(out / "checkpoints" / "best"), "--splits-dir", str(out / "splits"), "--split", "train",
            "--out-csv", str(tmp_path / "mx2.csv"), "--codecs", "png,zstd", "-q", "--jobs", "2")
    assert r.returncode == 0, r.stderr
    key = lambda rows: [(x["image"], x["codec"], x["bytes"], x["lossless"]) for x in rows]  # noqa: E731
    assert key(_read_csv(tmp_path / "mx2.csv")) == key(mx)


def test_train_flags_of_the_one_loop(data, tmp_path):
    import torch

    r = _train(data, tmp_path / "fresh", "--resume")
    assert r.returncode == 2 and "nothing to resume" in r.stderr and "Traceback" not in r.stderr
    if not torch.cuda.is_available():
        r = _train(data, tmp_path / "gpu", "--device", "cuda")
        assert r.returncode == 2 and "cuda" in r.stderr.lower() and "Traceback" not in r.stderr
    r = _train(data, tmp_path / "nan", "--lr", "1e30")
    assert r.returncode == 1 and "non-finite" in r.stderr and "Traceback" not in r.stderr
    r = _train(data, tmp_path / "inf", "--lr", "inf")
    assert r.returncode == 2 and "finite" in r.stderr
    r = _train(data, tmp_path / "short", "--max-minutes", "0.0001", epochs=50)
    assert r.returncode == 0, r.stderr
    log = json.loads((tmp_path / "short" / "train_log.json").read_text())["result"]
    assert log["stopped"] == "time-budget" and (tmp_path / "short" / "checkpoints" / "final").is_dir()


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
            "--epochs", "3", "--use-2d-context", "-q")
    assert r.returncode == 0, r.stderr
    evals = [float(x["eval_val_bpp"]) for x in _read_csv(out / "metrics.csv") if x["eval_val_bpp"]]
    assert len(evals) == 3 and evals[-1] < evals[0]           # it learns (equal without the optimizer)
    ck = str(out / "checkpoints" / "best")
    r = _mc("matrix", "--data-root", str(data), "--subdir", "masks", "--checkpoint", ck, "--arch", "msdzip",
            "--splits-dir", str(out / "splits"), "--split", "train", "--out-csv", str(tmp_path / "m.csv"),
            "--codecs", "png", "-q")
    assert r.returncode == 0, r.stderr
    r = _mc("matrix", "--data-root", str(data), "--subdir", "masks", "--checkpoint", ck, "--arch", "rle-lm",
            "--splits-dir", str(out / "splits"), "--out-csv", str(tmp_path / "m2.csv"))
    assert r.returncode == 2 and "msdzip" in r.stderr
