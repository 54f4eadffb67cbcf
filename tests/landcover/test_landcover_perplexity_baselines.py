"""eval-perplexity's classical baselines: codecs and adaptive context models (per patch and primed
on the train split), checked against direct computations."""

import json
import lzma
import math

import numpy as np
import pytest

from mc_core.testing import invoke
from mc_landcover.analysis.baselines import all_baselines, codec_bits, context_model_bits
from mc_landcover.legend import CODES, NUM_CLASSES

SIZE = 6


def blobs(n, rng, classes=(1, 7, 8, 11)):
    yy, xx = np.mgrid[:SIZE, :SIZE]
    out = []
    for _ in range(n):
        cy, cx = rng.uniform(0, SIZE, 3), rng.uniform(0, SIZE, 3)
        lab = rng.choice(classes, 3)
        out.append(lab[((yy[..., None] - cy) ** 2 + (xx[..., None] - cx) ** 2).argmin(-1)])
    return np.stack(out).astype(np.uint8)


def direct_context_bits(test, prime, nbrs, c, alpha):
    """The same estimator by plain loops over tuples of neighbour classes (-1 outside the map)."""
    def ctx(x, r, q):
        return tuple(int(x[r + dr, q + dq]) if 0 <= r + dr < x.shape[0] and 0 <= q + dq < x.shape[1] else -1
                     for dr, dq in nbrs)

    base = {}
    for x in prime if prime is not None else []:
        for r in range(x.shape[0]):
            for q in range(x.shape[1]):
                base.setdefault(ctx(x, r, q), np.zeros(c))[x[r, q]] += 1
    bits = 0.0
    for x in test:
        counts = {k: v.copy() for k, v in base.items()}
        for r in range(x.shape[0]):
            for q in range(x.shape[1]):
                n = counts.setdefault(ctx(x, r, q), np.zeros(c))
                bits -= math.log2((n[x[r, q]] + alpha) / (n.sum() + alpha * c))
                n[x[r, q]] += 1
    return bits / test.size


WN = ((0, -1), (-1, 0))
WNNWNE = ((0, -1), (-1, 0), (-1, -1), (-1, 1))


def test_context_models_match_a_direct_computation():
    rng = np.random.default_rng(1)
    train, test = blobs(30, rng), blobs(5, rng)
    for kind, nbrs in (("wn", WN), ("wnnwne", WNNWNE)):
        for prime in (None, train):
            got = context_model_bits(test, kind=kind, num_classes=NUM_CLASSES, prime=prime, alpha=0.1)
            assert got == pytest.approx(direct_context_bits(test, prime, nbrs, NUM_CLASSES, 0.1), rel=1e-9)


def test_priming_on_the_same_kind_of_maps_helps_and_on_other_maps_does_not():
    rng = np.random.default_rng(2)
    train, test = blobs(200, rng), blobs(20, rng)
    noise = rng.integers(0, NUM_CLASSES, (200, SIZE, SIZE))
    scratch = context_model_bits(test, kind="wnnwne", num_classes=NUM_CLASSES)
    primed = context_model_bits(test, kind="wnnwne", num_classes=NUM_CLASSES, prime=train)
    misled = context_model_bits(test, kind="wnnwne", num_classes=NUM_CLASSES, prime=noise)
    assert primed < 0.6 * scratch
    assert misled > primed + 0.5
    with pytest.raises(ValueError, match="num_classes"):
        context_model_bits(test, num_classes=4)
    with pytest.raises(ValueError, match="alpha"):
        context_model_bits(test, num_classes=NUM_CLASSES, alpha=float("nan"))


def test_codec_bits_are_the_compressed_sizes():
    rng = np.random.default_rng(3)
    maps = blobs(8, rng)
    got = codec_bits(maps)
    xz = sum(len(lzma.compress(m.tobytes(), preset=9 | lzma.PRESET_EXTREME)) for m in maps) * 8 / maps.size
    assert got["xz-per-patch"] == pytest.approx(xz)
    assert set(got) == {f"{c}-{w}" for c in ("jpegxl", "webp", "xz") for w in ("per-patch", "all-patches")}
    # one file shares context across patches: never much worse, and a constant stack costs almost nothing
    const = codec_bits(np.full((8, SIZE, SIZE), 3, np.uint8))
    assert const["jpegxl-all-patches"] < got["jpegxl-all-patches"]
    assert all(v > 0 for v in got.values())


def test_eval_perplexity_reports_the_baselines_beside_the_model(tmp_path, example_plugin):
    from mc_example_plugin.landcover_model import CountLandcoverModel

    rng = np.random.default_rng(0)
    train, test = blobs(40, rng), blobs(10, rng)
    data = tmp_path / "d.npz"
    np.savez(data, train_data=train[:, None], test_data=test[:, None], train_coords=np.zeros((40, 2)),
             test_coords=np.zeros((10, 2)), legend_codes=CODES)
    ck = CountLandcoverModel(num_classes=NUM_CLASSES, size=SIZE, alpha=0.5).fit(train).save(tmp_path / "counts")
    out = tmp_path / "ppl.json"
    r = invoke("landcover", "eval-perplexity", "--checkpoint", ck, "--data", data, "--n", len(test), "--orders", 2,
               "--save-results", out, "--quiet")
    assert r.exit_code == 0, r.output
    res = json.loads(out.read_text())
    assert res["bits_per_pixel"] == res["random_orders"]["bits_per_pixel"]
    want = all_baselines(test, train, num_classes=NUM_CLASSES)
    assert res["baselines"] == pytest.approx(want)
    assert {"context-model-primed", "context-model-wn", "context-model-wnnwne", "jpegxl-per-patch",
            "jpegxl-all-patches", "xz-all-patches", "webp-per-patch"} <= set(res["baselines"])
    best = min(("context-model-primed", "context-model-primed-wn"), key=want.get)
    assert res["best_primed"] == best
    assert res["ratio_to_best_primed"] == pytest.approx(res["bits_per_pixel"] / want[best])
    assert "baseline context-model-primed" in r.output and "model / " in r.output
    r = invoke("landcover", "eval-perplexity", "--checkpoint", ck, "--data", data, "--n", 3, "--orders", 1,
               "--no-baselines", "--save-results", tmp_path / "p2.json", "--quiet")
    assert r.exit_code == 0 and "baselines" not in json.loads((tmp_path / "p2.json").read_text())
