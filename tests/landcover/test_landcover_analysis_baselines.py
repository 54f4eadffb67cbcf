"""Inpainting masks, baselines (mode, nearest, Potts) and metrics on tiny synthetic maps."""

import numpy as np
import pytest

from mc_core.errors import UsageError
from mc_landcover.inpaint import masks, metrics
from mc_landcover.inpaint.baselines import mode_fill, nearest_fill
from mc_landcover.inpaint.potts import PottsModel, fit_potts, potts_fill, potts_sample


def blob_maps(n, size, num_classes, rng, seeds=5):
    """Piecewise-constant maps: each pixel takes the class of its nearest random seed point."""
    yy, xx = np.mgrid[:size, :size]
    out = []
    for _ in range(n):
        cy, cx = rng.uniform(0, size, seeds), rng.uniform(0, size, seeds)
        lab = rng.integers(0, num_classes, seeds)
        d = (yy[..., None] - cy) ** 2 + (xx[..., None] - cx) ** 2
        out.append(lab[d.argmin(-1)])
    return np.stack(out)


def test_masks_ratio_and_shape():
    rng = np.random.default_rng(0)
    m = masks.interior_mask(32, 32, 0.25)
    assert m.sum() == 256 and not m[0].any() and not m[:, 0].any()  # centred 16x16, known border
    r = masks.random_mask(16, 16, 0.5, rng)
    assert r.sum() == 128
    a = masks.make_masks(3, 16, 16, "random", 0.3, np.random.default_rng(1))
    b = masks.make_masks(3, 16, 16, "random", 0.3, np.random.default_rng(1))
    assert (a == b).all() and not (a[0] == a[1]).all()
    assert masks.interior_mask(8, 8, 0.99).sum() < 64  # something stays known
    for bad in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(UsageError):
            masks.interior_mask(8, 8, bad)


def test_mode_and_nearest_fill():
    x = np.zeros((1, 6, 6), dtype=np.int64)
    x[0, :, 3:] = 2
    x[0, 0, 0] = 1
    hidden = np.zeros_like(x, dtype=bool)
    hidden[0, 2:4, 1:5] = True
    rng = np.random.default_rng(0)
    nn = nearest_fill(x, hidden, 3)
    # the left half is class 0, the right half class 2: nearest fill recovers both exactly
    assert (nn.argmax == x).all()
    mf = mode_fill(x, hidden, 3, rng)
    assert (mf.argmax[hidden] == np.bincount(x[~hidden]).argmax()).all()
    assert (mf.argmax[~hidden] == x[~hidden]).all()
    np.testing.assert_allclose(mf.probs.sum(-1), 1.0)


def test_potts_fit_recovers_coupling_and_beats_mode():
    rng = np.random.default_rng(0)
    train = blob_maps(60, 16, 4, rng)
    model = fit_potts(train, 4, rng=rng)
    assert model.beta > 1.0  # smooth maps: equal neighbours strongly favoured
    noise = rng.integers(0, 4, size=(60, 16, 16))
    assert abs(fit_potts(noise, 4).beta) < 0.2  # independent pixels: no coupling
    assert model.pseudo_log_likelihood(train) > PottsModel(model.field, 0.0).pseudo_log_likelihood(train)

    test = blob_maps(20, 16, 4, rng)
    hidden = masks.make_masks(20, 16, 16, "interior", 0.25, rng)
    pf = potts_fill(model, test, hidden, rng, sweeps=30, burn_in=10)
    assert (pf.sampled[~hidden] == test[~hidden]).all()
    acc_potts = metrics.inpaint_accuracy(pf.argmax, test, hidden)
    acc_mode = metrics.inpaint_accuracy(mode_fill(test, hidden, 4, rng).argmax, test, hidden)
    assert acc_potts > acc_mode
    samples = potts_sample(model, 4, 12, 12, rng, sweeps=20)
    assert samples.shape == (4, 12, 12) and samples.max() < 4


def test_metrics_values():
    t = np.array([[0, 0, 1, 1]])
    p = np.array([[0, 1, 1, 1]])
    assert metrics.inpaint_accuracy(p, t) == 0.75
    assert metrics.class_proportion_error(p, t) == pytest.approx(0.25)
    f1 = metrics.f1_per_class(p, t, 3)
    assert f1[0] == pytest.approx(2 / 3) and f1[1] == pytest.approx(0.8) and np.isnan(f1[2])
    ci = metrics.mean_interval([1.0, 2.0, 3.0])
    assert ci["mean"] == 2.0 and ci["low"] < 2.0 < ci["high"]
    truth = np.array([[[0, 1], [1, 1]]])
    hidden = np.array([[[True, True], [False, False]]])
    probs = np.zeros((1, 2, 2, 2))
    probs[..., 0] = 0.5
    probs[..., 1] = 0.5
    res = metrics.evaluate_infill(truth, hidden, probs, truth, truth, 2)
    assert res["log_loss_bits"]["mean"] == pytest.approx(1.0)
    assert res["accuracy"]["mean"] == 1.0 and res["macro_f1"] == 1.0



def test_registered_metrics_and_landscape_stats():
    from mc_core.plugins import get_manager
    from mc_landcover.analysis.landscape import compare_stats, landscape_stats

    metrics_reg = get_manager().registries.metrics
    acc = metrics_reg.get("inpaint-accuracy")
    t = np.array([[0, 0], [1, 1]])
    p = np.array([[0, 1], [1, 1]])
    assert acc(p, t, np.array([[False, True], [True, True]])) == pytest.approx(2 / 3)
    assert metrics_reg.get("class-proportion-error")(p, t) == pytest.approx(0.25)

    m = np.zeros((1, 4, 4), int)
    m[0, :, 2:] = 1
    m[0, 0, 0] = 2
    s = landscape_stats(m, 3)
    assert s["n_patches"]["mean"] == 3 and s["mean_patch_area"]["mean"] == pytest.approx(16 / 3)
    # unequal neighbour pairs: 4 across the vertical boundary + 2 around the corner pixel
    assert s["edge_density"]["mean"] == pytest.approx(6 / 16)
    np.testing.assert_allclose(s["class_proportions"], [7 / 16, 8 / 16, 1 / 16])
    same = compare_stats(s, s)
    assert same["class_proportion_tv"] == 0 and same["edge_density_rel_error"] == 0
    both = metrics_reg.get("landscape-stats")(np.zeros((1, 4, 4), int), m)
    assert both["distance"]["class_proportion_tv"] == pytest.approx(9 / 16)
    assert both["generated"]["n_patches"]["mean"] == 1


def test_information_content():
    from mc_landcover.analysis.information import (
        compression_stats,
        conditional_entropy,
        map_bigram_entropy,
        text_bigram_entropy,
    )

    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, 10000)
    assert conditional_entropy(a, a) == pytest.approx(0.0, abs=1e-9)  # fully determined
    assert conditional_entropy(a[:-1], a[1:]) == pytest.approx(2.0, abs=0.02)  # independent uniform
    stripes = np.tile(np.arange(8) % 2, (3, 8, 1))  # columns alternate: rows are constant vertically
    h = map_bigram_entropy(stripes)
    assert h["conditional_entropy_vertical_bits"] == pytest.approx(0.0, abs=1e-9)
    assert h["conditional_entropy_horizontal_bits"] == pytest.approx(0.0, abs=1e-9)
    assert h["unigram_entropy_bits"] == pytest.approx(1.0)
    assert text_bigram_entropy(b"abababab")["conditional_entropy_bits"] == pytest.approx(0.0, abs=1e-9)
    c = compression_stats(bytes(1000))
    assert c["xz_ratio"] < 0.2 and c["deflate_ratio"] < 0.05 and c["raw_bytes"] == 1000
