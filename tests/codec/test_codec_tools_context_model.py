"""The adaptive W/N/NW/NE context model (ideal code length) against a slow reference."""

import math

import numpy as np
import pytest

from mc_codec.context_model import (
    context_model_bits,
    context_model_bits_reference,
    context_model_code_lengths,
)
from mc_codec.samples import generate_street_like


@pytest.mark.parametrize("seed", range(6))
def test_matches_reference_on_random_masks(seed):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(1, 14, 2)
    k = int(rng.integers(1, 6))
    mask = rng.integers(0, k, (h, w)).astype(np.uint8)
    # add structure: copy rows so contexts repeat
    if h > 2:
        mask[1::2] = mask[0::2][: mask[1::2].shape[0]]
    assert context_model_bits(mask) == pytest.approx(context_model_bits_reference(mask), rel=1e-9, abs=1e-9)
    assert context_model_bits(mask, alpha=1.0) == pytest.approx(
        context_model_bits_reference(mask, alpha=1.0), rel=1e-9, abs=1e-9)


def test_matches_reference_on_street_and_16_bit():
    mask = generate_street_like(2, height=24, width=30)
    assert context_model_bits(mask) == pytest.approx(context_model_bits_reference(mask), rel=1e-9)
    m16 = mask.astype(np.uint16) * 5000 + 7
    assert context_model_bits(m16) == pytest.approx(context_model_bits(mask), rel=1e-12)


def test_edge_cases():
    assert context_model_bits(np.full((9, 9), 4, np.uint8)) == 0.0
    assert context_model_bits(np.zeros((0, 5), np.uint8)) == 0.0
    # the first pixel of a 2-class mask costs exactly one bit (no history, KT over 2 symbols)
    lengths = context_model_code_lengths(np.array([[0, 1]], np.uint8))
    assert lengths[0, 0] == pytest.approx(1.0)
    # 1xN and Nx1
    row = np.array([[0, 1, 0, 1, 1, 0]], np.uint8)
    assert context_model_bits(row) == pytest.approx(context_model_bits_reference(row))
    assert context_model_bits(row.T.copy()) == pytest.approx(context_model_bits_reference(row.T.copy()))


def test_adapts_to_structure():
    street = generate_street_like(4)
    bits = context_model_bits(street)
    noise = np.random.default_rng(0).permutation(street.ravel()).reshape(street.shape)
    counts = np.bincount(street.ravel()) / street.size
    entropy = -sum(p * math.log2(p) for p in counts if p > 0)
    # structured maps cost far less than the entropy of their class histogram per pixel; a
    # shuffled map with the same histogram costs about that entropy
    assert bits / street.size < 0.1 * entropy
    assert context_model_bits(noise) / noise.size > 0.9 * entropy


def test_many_classes_path_matches_reference():
    # over 6000 distinct 16-bit ids: the context codes are re-indexed to stay within int64
    rng = np.random.default_rng(5)
    mask = rng.integers(0, 65536, (160, 100)).astype(np.uint16)
    mask[80:] = mask[:80]
    k = len(np.unique(mask))
    assert (k + 1) ** 4 * k >= 2 ** 62
    assert context_model_bits(mask) == pytest.approx(context_model_bits_reference(mask), rel=1e-9)
    as_int64 = mask.astype(np.int64)
    assert context_model_bits(as_int64) == pytest.approx(context_model_bits(mask), rel=1e-12)
