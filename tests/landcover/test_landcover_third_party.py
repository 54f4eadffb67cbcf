"""A third-party model (the example plugin's count-based `example-counts-landcover`) runs through
the built-in `mc landcover eval-perplexity`: the registry builds it from its checkpoint."""

import hashlib
import json
import math

import numpy as np
import pytest

from mc_core.testing import invoke
from mc_landcover.legend import CODES, NUM_CLASSES

torch = pytest.importorskip("torch")
SIZE = 6


def blobs(n, rng, classes=(1, 7, 8, 11)):
    yy, xx = np.mgrid[:SIZE, :SIZE]
    out = []
    for _ in range(n):
        cy, cx = rng.uniform(0, SIZE, 3), rng.uniform(0, SIZE, 3)
        lab = rng.choice(classes, 3)
        out.append(lab[((yy[..., None] - cy) ** 2 + (xx[..., None] - cx) ** 2).argmin(-1)])
    return np.stack(out).astype(np.uint8)


def direct_raster_bits(train, test, alpha):
    """Bits per pixel of the naive-Bayes neighbour model in raster order, by plain loops."""
    c = NUM_CLASSES
    n = np.zeros(c)
    m = np.zeros((c, c))
    for x in train:
        for r in range(SIZE):
            for q in range(SIZE):
                n[x[r, q]] += 1
                for rr, qq in ((r + 1, q), (r - 1, q), (r, q + 1), (r, q - 1)):
                    if 0 <= rr < SIZE and 0 <= qq < SIZE:
                        m[x[r, q], x[rr, qq]] += 1
    cond = (m + alpha) / (m.sum(1, keepdims=True) + c * alpha)
    total = 0.0
    for x in test:
        for r in range(SIZE):
            for q in range(SIZE):
                score = np.log(n + alpha)
                for rr, qq in ((r - 1, q), (r, q - 1)):  # the neighbours visited before, in raster order
                    if rr >= 0 and qq >= 0:
                        score = score + np.log(cond[:, x[rr, qq]])
                logp = score - np.logaddexp.reduce(score)
                total -= logp[x[r, q]]
    return total / (len(test) * SIZE * SIZE * math.log(2))


def sha(p):
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture()
def counts_checkpoint(tmp_path, example_plugin):
    from mc_example_plugin.landcover_model import CountLandcoverModel

    rng = np.random.default_rng(0)
    train, test = blobs(40, rng), blobs(10, rng)
    data = tmp_path / "d.npz"
    np.savez(data, train_data=train[:, None], test_data=test[:, None], train_coords=np.zeros((40, 2)),
             test_coords=np.zeros((10, 2)), legend_codes=CODES)
    ck = CountLandcoverModel(num_classes=NUM_CLASSES, size=SIZE, alpha=0.5).fit(train).save(tmp_path / "counts")
    return data, ck, train, test


def test_eval_perplexity_runs_a_third_party_count_model(tmp_path, counts_checkpoint):
    data, ck, train, test = counts_checkpoint
    cfg = json.loads((ck / "config.json").read_text())
    assert cfg["model"] == "example-counts-landcover" and cfg["config"]["model"]["size"] == SIZE
    out = tmp_path / "ppl.json"
    r = invoke("landcover", "eval-perplexity", "--gpt-ckpt", ck, "--data", data, "--n", len(test), "--orders", 3,
               "--save-results", out, "--quiet")
    assert r.exit_code == 0, r.output
    res = json.loads(out.read_text())
    raster = res["raster_order"]["bits_per_pixel"]
    assert raster == pytest.approx(direct_raster_bits(train, test, 0.5), rel=1e-5)
    uniform = math.log2(NUM_CLASSES)
    ro = res["random_orders"]
    assert ro["bits_per_pixel"] < 0.6 * uniform and raster < 0.6 * uniform
    assert len(ro["per_order_bits_per_pixel"]) == 3
    # a random order sees up to four neighbours of most pixels, raster order only two
    assert ro["bits_per_pixel"] < raster + 0.05
    assert f"{raster:.4f} bits/pixel" in r.output


def test_commands_that_need_more_than_a_likelihood_refuse_it(tmp_path, counts_checkpoint):
    data, ck, _, _ = counts_checkpoint
    before = {p: sha(p) for p in (data, ck / "model.safetensors", ck / "config.json")}
    r = invoke("landcover", "eval-inpaint", "--checkpoint", ck, "--data", data, "--n-images", 2)
    assert r.exit_code == 2, r.output
    line = r.output.strip()
    assert len(line.splitlines()) == 1 and line.startswith(f"error: {ck}: ")
    assert "does not implement LandcoverModel" in line and "predict_masked" in line and "Traceback" not in line
    r = invoke("landcover", "generate", "--checkpoint", ck, "--out", tmp_path / "g.png")
    assert r.exit_code == 2 and "does not implement LandcoverSampler" in r.output
    assert not (tmp_path / "g.png").exists()
    assert before == {p: sha(p) for p in before}


def test_without_the_plugin_the_checkpoint_is_a_one_line_error(tmp_path):
    ck = tmp_path / "counts"
    from mc_core.checkpoint import save_checkpoint

    save_checkpoint(ck, {"class_counts": torch.zeros(20)}, model="example-counts-landcover",
                    config={"model": {"size": SIZE}})
    data = tmp_path / "d.npz"
    np.savez(data, train_data=np.zeros((2, 1, SIZE, SIZE), np.uint8), test_data=np.zeros((2, 1, SIZE, SIZE), np.uint8))
    r = invoke("landcover", "eval-perplexity", "--checkpoint", ck, "--data", data)
    assert r.exit_code == 2 and "example-counts-landcover" in r.output and "plugin" in r.output
    assert len(r.output.strip().splitlines()) == 1
