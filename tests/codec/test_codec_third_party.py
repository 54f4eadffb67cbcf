"""A codec model from another plugin (the example plugin's count model) through the built-in
commands: train, compress/decompress (bit-exact), matrix and eval; and a model that does not
implement CodecModel is refused."""

import csv
import hashlib
import json

import numpy as np
import pytest
from PIL import Image

from mc_core.testing import invoke


def _mc(*args):
    return invoke("codec", *args)


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_csv(p):
    with open(p, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture()
def data(tmp_path):
    rng = np.random.default_rng(3)
    root = tmp_path / "data" / "masks"
    root.mkdir(parents=True)
    for i in range(8):
        base = rng.integers(0, 5, (4, 5))
        m = np.repeat(np.repeat(base, 5, 0), 6, 1).astype(np.uint8)
        Image.fromarray(m).save(root / f"s{i}_{i:03d}.png")
    return tmp_path / "data"


@pytest.fixture()
def trained(example_plugin, data, tmp_path):
    out = tmp_path / "counts"
    r = _mc("train", "--data-root", str(data), "--subdir", "masks", "--out-dir", str(out),
            "--arch", "example-counts-codec", "--epochs", "3", "--batch-size", "8", "--use-2d-context",
            "--model-arg", "prior=2.0", "-q")
    assert r.returncode == 0, r.stderr
    return out


def test_third_party_model_is_a_train_choice(example_plugin):
    r = _mc("train", "--help")
    assert r.returncode == 0 and "example-counts-codec" in r.stdout


def test_train_compress_decompress_matrix_eval(trained, data, tmp_path):
    ck = trained / "checkpoints" / "final"
    cfg = json.loads((ck / "config.json").read_text())
    assert cfg["model"] == "example-counts-codec" and cfg["config"]["model"] == {"vocab_size": 5, "use_2d": True,
                                                                       "prior": 2.0}
    rows = _read_csv(trained / "metrics.csv")
    losses = [float(r["loss"]) for r in rows]
    evals = [float(r["eval_val_bpp"]) for r in rows if r["eval_val_bpp"]]
    assert np.mean(losses[-2:]) < 0.8 * np.mean(losses[:2])   # counts accumulate: the code gets shorter
    assert evals[-1] < evals[0]
    # the learned smoothing strength moved away from its start (the gradient trains it)
    from safetensors.numpy import load_file

    assert not np.allclose(load_file(str(ck / "model.safetensors"))["log_prior"], np.log(2.0))

    masks = data / "masks"
    before = {p.name: _sha(p) for p in masks.iterdir()}
    r = _mc("compress", str(masks), str(tmp_path / "z"), "--checkpoint", str(ck), "-j", "1", "-q")
    assert r.returncode == 0, r.stderr
    r = _mc("decompress", str(tmp_path / "z"), str(tmp_path / "back"), "--checkpoint", str(ck), "-j", "1", "-q")
    assert r.returncode == 0, r.stderr
    for p in masks.iterdir():
        assert np.array_equal(np.array(Image.open(tmp_path / "back" / p.name)), np.array(Image.open(p)))
    assert {p.name: _sha(p) for p in masks.iterdir()} == before
    # the same bytes again (deterministic integer frequencies)
    r = _mc("compress", str(masks / "s0_000.png"), str(tmp_path / "again.mcz"), "--checkpoint", str(ck))
    assert r.returncode == 0 and (tmp_path / "again.mcz").read_bytes() == (tmp_path / "z" / "s0_000.mcz").read_bytes()

    r = _mc("matrix", "--data-root", str(data), "--subdir", "masks", "--checkpoint", str(ck),
            "--splits-dir", str(trained / "splits"), "--split", "train", "--out-csv", str(tmp_path / "m.csv"),
            "--codecs", "png", "-j", "1", "-q")
    assert r.returncode == 0, r.stderr
    mx = _read_csv(tmp_path / "m.csv")
    assert {"learned", "learned-ideal", "png"} <= {x["codec"] for x in mx}
    assert all(x["lossless"] == "True" for x in mx if x["codec"] == "learned")
    assert "example-counts-codec" in r.stdout

    r = _mc("eval", "--data-root", str(data), "--subdir", "masks", "--checkpoint", str(ck), "--split", "val",
            "--splits-dir", str(trained / "splits"), "--out-csv", str(tmp_path / "ev.csv"), "-q")
    assert r.returncode == 0, r.stderr
    ev = _read_csv(tmp_path / "ev.csv")
    # the eval's bits per pixel is the one the training loop logged for the final checkpoint
    bpp = sum(float(x["bits"]) for x in ev) / sum(int(x["height"]) * int(x["width"]) for x in ev)
    assert bpp == pytest.approx(evals[-1], rel=1e-5)


def test_a_model_without_the_interface_is_refused(trained, data, tmp_path, monkeypatch):
    from mc_codec.coding import api
    from mc_example_plugin.codec_model import CountCodecModel

    monkeypatch.setattr(api, "_CACHE", {})
    monkeypatch.delattr(CountCodecModel, "coding_stepper")
    png = data / "masks" / "s0_000.png"
    before = _sha(png)
    r = _mc("compress", str(png), str(tmp_path / "x.mcz"), "--checkpoint", str(trained / "checkpoints" / "final"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().startswith("error: ") and len(r.stderr.strip().splitlines()) == 1
    assert "does not implement CodecModel" in r.stderr and "coding_stepper" in r.stderr
    assert not (tmp_path / "x.mcz").exists() and _sha(png) == before


def test_faulty_frequencies_are_a_clear_error(trained, data, tmp_path, monkeypatch):
    from mc_codec.coding import api
    from mc_example_plugin.codec_model import CountStepper

    monkeypatch.setattr(api, "_CACHE", {})
    monkeypatch.setattr(CountStepper, "class_freqs", lambda self, ctx: np.zeros((ctx.shape[0], self.v)))
    r = _mc("compress", str(data / "masks" / "s0_000.png"), str(tmp_path / "x.mcz"),
            "--checkpoint", str(trained / "checkpoints" / "final"))
    assert r.returncode == 2 and "frequencies must be integers" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x.mcz").exists()
