"""Primed context models (mc_codec.primed): exact against a plain loop, stored with checkpoints,
malformed files refused; and `mc codec train` trains the 2D-context model by default."""

import hashlib
import json

import numpy as np
import pytest
from PIL import Image

from mc_codec.primed import (
    NEIGHBOURHOODS,
    OFFSETS,
    ContextPrior,
    fit_context_prior,
    load_context_prior,
)


def _masks(seed, n, shape=(9, 11), k=4):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        base = rng.integers(0, k, (shape[0] // 3 + 1, shape[1] // 3 + 1))
        m = np.repeat(np.repeat(base, 3, 0), 3, 1)[: shape[0], : shape[1]]
        noise = rng.random(shape) < 0.1
        m = np.where(noise, rng.integers(0, k, shape), m)
        out.append(m.astype(np.uint8))
    return out


def _reference_bits(mask, train, v, n, alpha=0.5, backoff=2.0):
    """Per-pixel dictionary loop of the primed model (the module docstring's formulas)."""
    def ctx(m, y, x, names):
        h, w = m.shape
        return tuple(int(m[y + dy, x + dx]) if 0 <= y + dy < h and 0 <= x + dx < w else v
                     for dy, dx in (OFFSETS[nm] for nm in names))

    counts = {4: {}, 8: {}}
    for m in train:
        for y in range(m.shape[0]):
            for x in range(m.shape[1]):
                for nn in (4, 8):
                    key = (ctx(m, y, x, NEIGHBOURHOODS[nn]), int(m[y, x]))
                    counts[nn][key] = counts[nn].get(key, 0) + 1
    tot = {nn: {} for nn in (4, 8)}
    for nn in (4, 8):
        for (c, _), k in counts[nn].items():
            tot[nn][c] = tot[nn].get(c, 0) + k
    bits = 0.0
    for y in range(mask.shape[0]):
        for x in range(mask.shape[1]):
            s = int(mask[y, x])
            c4 = ctx(mask, y, x, NEIGHBOURHOODS[4])
            p4 = (counts[4].get((c4, s), 0) + alpha) / (tot[4].get(c4, 0) + alpha * v)
            p = p4
            if n == 8:
                c8 = ctx(mask, y, x, NEIGHBOURHOODS[8])
                p = (counts[8].get((c8, s), 0) + backoff * p4) / (tot[8].get(c8, 0) + backoff)
            bits -= np.log2(p)
            for nn, c in ((4, c4), (8, ctx(mask, y, x, NEIGHBOURHOODS[8]))):
                counts[nn][(c, s)] = counts[nn].get((c, s), 0) + 1
                tot[nn][c] = tot[nn].get(c, 0) + 1
    return bits


@pytest.mark.parametrize("n", [4, 8])
def test_primed_bits_match_the_reference_loop(n):
    train, test = _masks(0, 3), _masks(1, 2)
    prior = fit_context_prior(train, 5)
    for m in test:
        assert prior.bits(m, n) == pytest.approx(_reference_bits(m, train, 5, n), rel=1e-9)


def test_priming_helps_on_similar_masks_and_roundtrips(tmp_path):
    train, test = _masks(2, 6, (24, 30)), _masks(3, 3, (24, 30))
    from mc_codec.context_model import context_model_bits

    prior = fit_context_prior(train, 4)
    empty = sum(context_model_bits(m) for m in test)
    assert sum(prior.bits(m, 4) for m in test) < empty
    back = load_context_prior(prior.save(tmp_path / "p.npz"))
    assert back.vocab_size == 4 and back.images == 6
    for m in test:
        assert back.bits(m, 8) == prior.bits(m, 8)
    with pytest.raises(ValueError, match="vocabulary"):
        prior.bits(np.full((2, 2), 7, np.uint8))


def test_malformed_prior_files(tmp_path):
    from mc_core.errors import BadInputError

    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(BadInputError, match="cannot read"):
        load_context_prior(tmp_path / "junk.npz")
    np.savez(tmp_path / "unsorted.npz", vocab_size=np.int64(3), gaps4=np.array([5, 0, 1]),
             counts4=np.array([1, 1, 1]))
    with pytest.raises(BadInputError, match="sorted"):
        load_context_prior(tmp_path / "unsorted.npz")
    np.savez(tmp_path / "none.npz", vocab_size=np.int64(3))
    with pytest.raises(BadInputError, match="no 4-neighbour"):
        load_context_prior(tmp_path / "none.npz")
    from mc_codec.primed import write_checkpoint_priors

    (tmp_path / "ck" / "best").mkdir(parents=True)
    assert write_checkpoint_priors(tmp_path / "ck", tmp_path, [], 70000) is None  # keys beyond 64 bits
    ok = ContextPrior(3, {4: (np.array([1, 7]), np.array([2, 3]))})
    assert load_context_prior(ok.save(tmp_path / "ok.npz")).raw[4][1].tolist() == [2, 3]


def _mc(*args):
    from mc_core.testing import invoke

    return invoke("codec", *args)


@pytest.fixture()
def data(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    for i, m in enumerate(_masks(4, 4, (12, 16))):
        Image.fromarray(m).save(root / f"s_{i:03d}.png")
    return root


def _sha(p):
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_train_defaults_to_2d_context_and_stores_the_prior(data, tmp_path):
    common = ["--data-root", str(data), "--hidden-dim", "8", "--embed-dim", "4", "--epochs", "1",
              "--batch-size", "8", "-q", "--device", "cpu"]
    r = _mc("train", *common, "--out-dir", str(tmp_path / "dflt"))
    assert r.returncode == 0, r.stderr
    best = tmp_path / "dflt" / "checkpoints" / "best"
    assert json.loads((best / "config.json").read_text())["config"]["model"]["use_2d"] is True
    assert load_context_prior(best / "context_prior.npz").images == len(
        (tmp_path / "dflt" / "splits" / "train.txt").read_text().split())
    r = _mc("train", *common, "--out-dir", str(tmp_path / "flat"), "--no-2d-context", "--no-context-prior")
    assert r.returncode == 0, r.stderr
    cfg = json.loads((tmp_path / "flat" / "checkpoints" / "best" / "config.json").read_text())
    assert cfg["config"]["model"]["use_2d"] is False
    assert not list((tmp_path / "flat" / "checkpoints").rglob("context_prior.npz"))

    # a corrupt prior beside the weights: matrix refuses it in one line naming the file
    prior = best / "context_prior.npz"
    prior.write_bytes(prior.read_bytes()[:40])
    before = {p: _sha(p) for p in [*best.iterdir(), *data.iterdir()]}
    r = _mc("matrix", "--data-root", str(data), "--checkpoint", str(best), "--splits-dir",
            str(tmp_path / "dflt" / "splits"), "--split", "train", "--codecs", "png", "--jobs", "1",
            "--out-csv", str(tmp_path / "mx.csv"), "-q")
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr
    assert r.stderr.startswith(f"error: {prior}: ")
    assert before == {p: _sha(p) for p in [*best.iterdir(), *data.iterdir()]}
    assert not (tmp_path / "mx.csv").exists()
