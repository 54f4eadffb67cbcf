"""Most-confident-first decoding of inpainting fills (`decode="confident"`), with a stand-in model
whose conditionals are known: a pixel copies its known left neighbour (sure), else guesses class 0."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mc_landcover.inpaint.randar_fill import confident_decode  # noqa: E402

C = 5


class CopyLeft:
    num_classes = C
    size = 6

    def __init__(self):
        self.calls = 0

    def predict_masked(self, x, known):
        self.calls += 1
        b, h, w = x.shape
        logits = torch.zeros(b, h, w, C)
        logits[..., 0] = 1.0  # weak guess: class 0
        left_known = torch.zeros_like(known)
        left_known[:, :, 1:] = known[:, :, :-1]
        left = torch.zeros_like(x)
        left[:, :, 1:] = x[:, :, :-1]
        sure = torch.nn.functional.one_hot(left, C).float() * 20.0
        return torch.where(left_known[..., None], sure, logits)


def test_confident_first_propagates_what_it_decoded_and_marginal_does_not():
    x = torch.full((2, 6, 6), 3, dtype=torch.long)
    known = torch.zeros(2, 6, 6, dtype=torch.bool)
    known[:, :, 0] = True  # only the first column is visible
    model = CopyLeft()
    out = confident_decode(model, x * known, known, pixels_per_step=6)
    assert torch.equal(out, x)  # the column is copied rightwards pixel by pixel
    assert model.calls == math.ceil(30 / 6)  # one pass per step
    marginal = model.predict_masked(x * known, known).argmax(-1)
    assert (marginal[:, :, 2:] == 0).all()  # one pass: only the column next to the known one is right


def test_known_pixels_stay_and_uneven_hidden_counts_are_handled():
    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.integers(0, C, (3, 6, 6)))
    known = torch.as_tensor(rng.random((3, 6, 6)) < np.array([0.2, 0.6, 0.95])[:, None, None])
    out = confident_decode(CopyLeft(), x, known, pixels_per_step=4)
    assert torch.equal(out[known], x[known])
    left_known = torch.zeros_like(known)
    left_known[:, :, 1:] = known[:, :, :-1]
    first = (~known) & left_known  # a hidden pixel right of a known one is decoded first, as a copy
    left = torch.zeros_like(x)
    left[:, :, 1:] = x[:, :, :-1]
    assert torch.equal(out[first], left[first])


def test_paired_difference_sees_a_better_fill_and_not_an_equal_one():
    from mc_landcover.inpaint.metrics import paired_difference

    rng = np.random.default_rng(0)
    truth = rng.integers(0, C, (40, 6, 6))
    hidden = rng.random((40, 6, 6)) < 0.5
    good = np.where(rng.random(truth.shape) < 0.8, truth, (truth + 1) % C)
    poor = np.where(rng.random(truth.shape) < 0.5, truth, (truth + 1) % C)
    d = paired_difference(truth, hidden, good, poor, C, n_boot=200)
    assert d["accuracy"]["low"] > 0.15 and d["macro_f1"]["low"] > 0.1
    assert d["macro_f1"]["low"] <= d["macro_f1"]["mean"] <= d["macro_f1"]["high"]
    same = paired_difference(truth, hidden, good, good, C, n_boot=50)
    assert same["accuracy"]["mean"] == 0 and same["macro_f1"]["high"] == 0
    with pytest.raises(ValueError, match="n_boot"):
        paired_difference(truth, hidden, good, poor, C, n_boot=1)
