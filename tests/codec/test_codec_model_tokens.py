"""Row-RLE tokens: exact, lossless, and the vectorised tokenizer equals the per-row reference."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mc_codec.tokens import (
    NEAR,
    NUM_NEAR,
    length_symbols,
    mask_to_runs,
    mask_token_arrays,
    mask_tokens,
    runs_to_mask,
    symbol_length,
)

masks = st.tuples(st.integers(1, 12), st.integers(1, 40), st.integers(1, 6)).flatmap(
    lambda t: arrays(np.uint16, (t[0], t[1]), elements=st.integers(0, t[2] - 1)))


@settings(max_examples=120, deadline=None)
@given(masks)
def test_rle_roundtrip_random(mask):
    runs = mask_to_runs(mask)
    for cls, ln in runs:
        assert (ln > 0).all() and (cls[1:] != cls[:-1]).all()
    assert np.array_equal(runs_to_mask(runs, mask.shape[1], mask.dtype), mask)


@settings(max_examples=60, deadline=None)
@given(masks, st.booleans(), st.sampled_from([1, 2, 3, 64]))
def test_vectorised_tokens_match_reference(mask, use_2d, band):
    rows = mask_tokens(mask, use_2d, band)
    f, cls, syms, bits, mant, ptr = mask_token_arrays(mask, use_2d, band)
    assert np.array_equal(np.concatenate([r.features for r in rows]), f)
    assert np.array_equal(np.concatenate([r.classes for r in rows]), cls)
    assert np.array_equal(np.concatenate([r.len_syms for r in rows]), syms)
    assert np.array_equal(np.concatenate([r.mantissa for r in rows]), mant)
    assert ptr[-1] == cls.shape[0] and ptr.shape[0] == mask.shape[0] + 1


@pytest.mark.parametrize("mask", [
    np.arange(17, dtype=np.uint8)[None, :],                 # 1xN, every pixel different
    np.arange(9, dtype=np.uint8)[:, None],                  # Nx1
    np.full((5, 7), 3, np.uint8),                           # one class
    np.array([[0, 65535, 40000], [65535, 65535, 1]], np.uint16),  # 16-bit ids
    (np.arange(4096) // 7 % 5).astype(np.uint8)[None, :].repeat(2, 0),  # rows of 4096 pixels
])
def test_rle_edge_cases(mask):
    assert np.array_equal(runs_to_mask(mask_to_runs(mask), mask.shape[1], mask.dtype), mask)
    f, cls, syms, bits, mant, ptr = mask_token_arrays(mask)
    assert cls.shape[0] == sum(len(c) for c, _ in mask_to_runs(mask))


@given(st.integers(1, 5000), st.integers(0, 5000))
def test_length_symbols_invert(length, d_above):
    sym, bits, mant = length_symbols(np.array([length]), np.array([d_above]))
    assert symbol_length(int(sym[0]), d_above, int(mant[0])) == length
    near = abs(length - d_above) <= NEAR
    assert (sym[0] < NUM_NEAR) == near
    assert 0 <= mant[0] < (1 << bits[0]) or bits[0] == 0


def test_2d_context_features():
    mask = np.array([[0, 0, 1, 1, 1, 2],
                     [0, 0, 0, 1, 1, 2]], np.uint8)
    f, cls, syms, *_ = mask_token_arrays(mask, use_2d=True)
    # row 1 runs start at x=0 (class 0) and x=3 (class 1) and x=5 (class 2)
    row1 = f[3:]
    assert row1[0, 2] == 0 and row1[0, 3] == 1        # above class 0; after the transition at x=2: 1
    assert row1[1, 2] == 1 and row1[1, 3] == 2        # x=3: above 1, next transition above at 5 -> 2
    assert row1[1, 5] == 0 and row1[2, 5] == 1        # a run starts above x=5 but not above x=3
    assert row1[1, 6] == 0                             # previous class 0 != above class 1
    # run 0 of row 1 has length 3 where the run above ends at 2: a "near" symbol (delta +1)
    assert syms[3] == NEAR + 1
