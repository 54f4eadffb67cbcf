"""Row-wise run-length tokens of a label map, and the 2D context each token sees.

A mask (H, W) of integer class ids becomes, row by row, a list of runs ``(class, length)``:
the maximal stretches of equal ids, left to right. Runs never have length 0 and two
neighbouring runs of a row never share a class, so the tokens are exact and lossless.

Each run's length is coded as a *length symbol* (see :func:`length_symbols`):

* ``0 .. 2*NEAR`` ("near"): ``length = d_above + (symbol - NEAR)``, where ``d_above`` is the distance
  from the run start to the next class transition in the row above (the row end counts as a
  transition). Runs that end where the run above ends cost almost nothing.
* ``NUM_NEAR + b`` ("bucket b"): ``2**b <= length < 2**(b+1)``; the offset ``length - 2**b`` follows as
  ``b`` uniformly coded bits (the *mantissa*).

The encoder uses a near symbol whenever the length lies within ``NEAR`` of ``d_above``, else a bucket.

2D context (``use_2d=True``): each token also sees, from the row above, aligned with the run start x:
``above_cls`` (class above x), ``after_cls`` (class just after the next transition above x),
``d_bucket`` (log2 bucket of ``d_above``), ``trans_above`` (1 when a run starts above x too),
and two flags ``prev_eq_above`` / ``prev_eq_after`` (the previous run's class equals those).
Every token sees ``rem_bucket`` (log2 bucket of the pixels left in the row). The first row of every
*band* (``band_height`` rows, default 64) sees no row above, so bands can be decoded in parallel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NEAR = 3
NUM_NEAR = 2 * NEAR + 1
NUM_BUCKETS = 17  # widths up to 2**17 - 1
NUM_LEN_SYMBOLS = NUM_NEAR + NUM_BUCKETS
MAX_WIDTH = 2**NUM_BUCKETS - 1
NUM_DIST_BUCKETS = NUM_BUCKETS + 1  # log2 bucket of a distance 0..MAX_WIDTH
DEFAULT_BAND_HEIGHT = 64
NONE = -1  # "no class" (no row above / no transition) and "start of row" markers

# Feature columns of a token (all int64); see the module docstring.
FEATURES = ("prev_cls", "prev_len", "above_cls", "after_cls", "d_bucket", "trans_above",
            "prev_eq_above", "prev_eq_after", "rem_bucket")
NUM_FEATURES = len(FEATURES)


def log2_bucket(d: np.ndarray | int) -> np.ndarray:
    """0 for 0, else floor(log2(d)) + 1 (so 1 -> 1, 2..3 -> 2, 4..7 -> 3, ...)."""
    d = np.asarray(d, dtype=np.int64)
    out = np.zeros(d.shape, dtype=np.int64)
    pos = d > 0
    out[pos] = np.floor(np.log2(d[pos])).astype(np.int64) + 1
    # guard float rounding at exact powers of two
    out[pos] -= (1 << (out[pos] - 1)) > d[pos]
    out[pos] += (1 << out[pos]) <= d[pos]
    return np.minimum(out, NUM_DIST_BUCKETS - 1)


def row_runs(row: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of one row: (starts, classes, lengths), int64."""
    row = np.asarray(row)
    w = row.shape[0]
    change = np.flatnonzero(row[1:] != row[:-1]) + 1
    starts = np.concatenate([[0], change]).astype(np.int64)
    lengths = np.diff(np.concatenate([starts, [w]])).astype(np.int64)
    return starts, row[starts].astype(np.int64), lengths


def mask_to_runs(mask: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per row: (classes, lengths)."""
    mask = _check_mask(mask)
    return [row_runs(r)[1:] for r in mask]


def runs_to_mask(runs: list[tuple[np.ndarray, np.ndarray]], width: int, dtype=np.uint8) -> np.ndarray:
    """Inverse of :func:`mask_to_runs`."""
    out = np.empty((len(runs), width), dtype=dtype)
    for i, (cls, ln) in enumerate(runs):
        ln = np.asarray(ln, dtype=np.int64)
        if ln.sum() != width or (ln <= 0).any():
            raise ValueError(f"row {i}: run lengths {ln.tolist()[:8]}... do not fill width {width}")
        out[i] = np.repeat(np.asarray(cls), ln)
    return out


def length_symbols(lengths: np.ndarray, d_above: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(symbol, mantissa_bits, mantissa) for each run length; see the module docstring."""
    lengths = np.asarray(lengths, dtype=np.int64)
    delta = lengths - np.asarray(d_above, dtype=np.int64)
    near = np.abs(delta) <= NEAR
    b = np.floor(np.log2(np.maximum(lengths, 1))).astype(np.int64)
    b -= (1 << b) > lengths
    b += (1 << (b + 1)) <= lengths
    sym = np.where(near, delta + NEAR, NUM_NEAR + b)
    bits = np.where(near, 0, b)
    mant = np.where(near, 0, lengths - (1 << b))
    return sym.astype(np.int64), bits.astype(np.int64), mant.astype(np.int64)


def symbol_length(sym: int, d_above: int, mantissa: int = 0) -> int:
    if sym < NUM_NEAR:
        return int(d_above + sym - NEAR)
    b = sym - NUM_NEAR
    return int((1 << b) + mantissa)


@dataclass
class RowTokens:
    """Tokens of one row: features (n, NUM_FEATURES), class targets, length symbols, mantissas."""

    features: np.ndarray
    classes: np.ndarray
    len_syms: np.ndarray
    mant_bits: np.ndarray
    mantissa: np.ndarray


def above_context(above: np.ndarray | None, xs: np.ndarray, width: int,
                  a_starts: np.ndarray | None = None):
    """(above_cls, after_cls, d_above, trans_above) at run starts `xs` given the row above (or None).

    `a_starts`: the run starts of `above` when already known."""
    xs = np.asarray(xs, dtype=np.int64)
    if above is None:
        n = xs.shape[0]
        return (np.full(n, NONE, np.int64), np.full(n, NONE, np.int64), width - xs,
                np.zeros(n, np.int64))
    if a_starts is None:
        a_starts = row_runs(above)[0]
    idx = np.searchsorted(a_starts, xs, side="right")
    nxt = np.where(idx < a_starts.shape[0], a_starts[np.minimum(idx, a_starts.shape[0] - 1)], width)
    above_cls = above[xs].astype(np.int64)
    after_cls = np.where(nxt < width, above[np.minimum(nxt, width - 1)].astype(np.int64), NONE)
    trans = np.zeros(xs.shape[0], np.int64)
    trans[np.isin(xs, a_starts)] = 1
    return above_cls, after_cls, nxt - xs, trans


def row_tokens(row: np.ndarray, above: np.ndarray | None, use_2d: bool = True) -> RowTokens:
    """Tokens and features of one row given the decoded row above (None at a band start)."""
    w = row.shape[0]
    xs, cls, ln = row_runs(row)
    above_cls, after_cls, d_above, trans = above_context(above, xs, w)
    syms, bits, mant = length_symbols(ln, d_above)
    n = xs.shape[0]
    f = np.empty((n, NUM_FEATURES), dtype=np.int64)
    f[:, 0] = np.concatenate([[NONE], cls[:-1]])
    f[:, 1] = np.concatenate([[NONE], syms[:-1]])
    if use_2d:
        f[:, 2] = above_cls
        f[:, 3] = after_cls
        f[:, 4] = log2_bucket(d_above)
        f[:, 5] = trans
        f[:, 6] = (f[:, 0] == above_cls) & (above_cls != NONE)
        f[:, 7] = (f[:, 0] == after_cls) & (after_cls != NONE)
    else:
        f[:, 2:8] = 0
        f[:, 2:4] = NONE
    f[:, 8] = log2_bucket(w - xs)
    return RowTokens(f, cls, syms, bits, mant)


def mask_tokens(mask: np.ndarray, use_2d: bool = True,
                band_height: int = DEFAULT_BAND_HEIGHT) -> list[RowTokens]:
    """Tokens of every row; the first row of each band sees no row above."""
    mask = _check_mask(mask)
    out = []
    for r in range(mask.shape[0]):
        above = None if (r % band_height == 0 or not use_2d) else mask[r - 1]
        out.append(row_tokens(mask[r], above, use_2d))
    return out


def _check_mask(mask: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.shape[0] == 0 or mask.shape[1] == 0:
        raise ValueError(f"expected a non-empty 2D mask, got shape {mask.shape}")
    if mask.shape[1] > MAX_WIDTH:
        raise ValueError(f"mask width {mask.shape[1]} exceeds {MAX_WIDTH}")
    if not np.issubdtype(mask.dtype, np.integer):
        raise ValueError(f"expected integer class ids, got {mask.dtype}")
    return mask


def mask_token_arrays(mask: np.ndarray, use_2d: bool = True, band_height: int = DEFAULT_BAND_HEIGHT):
    """Vectorised :func:`mask_tokens` for the whole mask at once.

    Returns (features (N, F), classes, len_syms, mant_bits, mantissa, row_ptr (H+1,)), rows concatenated.
    """
    mask = _check_mask(mask)
    h, w = mask.shape
    m = mask.astype(np.int64, copy=False)
    start = np.ones((h, w), bool)
    start[:, 1:] = m[:, 1:] != m[:, :-1]
    rr, xx = np.nonzero(start)  # row-major: sorted by row then x
    n = rr.shape[0]
    row_ptr = np.searchsorted(rr, np.arange(h + 1), side="left").astype(np.int64)
    cls = m[rr, xx]
    nxt_start = np.empty(n, np.int64)
    nxt_start[:-1] = xx[1:]
    nxt_start[-1] = w
    last_in_row = np.zeros(n, bool)
    last_in_row[row_ptr[1:] - 1] = True
    ln = np.where(last_in_row, w, nxt_start) - xx
    first_in_row = np.zeros(n, bool)
    first_in_row[row_ptr[:-1][row_ptr[:-1] < n]] = True
    has_above = use_2d & (rr % band_height != 0)
    # next transition in the row above, strictly right of x
    key = rr * (w + 1) + xx
    above_key = (rr + 1) * (w + 1) + xx  # starts of row r, seen from row r+1
    idx = np.searchsorted(above_key, key, side="right")
    cand = np.where(idx < n, above_key[np.minimum(idx, n - 1)], -1)
    same_row = (cand >= 0) & (cand < (rr + 1) * (w + 1))
    nxt = np.where(same_row, cand - rr * (w + 1), w)
    d_above = np.where(has_above, nxt - xx, w - xx)
    ra = np.maximum(rr - 1, 0)
    above_cls = np.where(has_above, m[ra, xx], NONE)
    after_cls = np.where(has_above & (nxt < w), m[ra, np.minimum(nxt, w - 1)], NONE)
    trans = np.where(has_above, start[ra, xx], False).astype(np.int64)
    syms, bits, mant = length_symbols(ln, d_above)
    prev_cls = np.where(first_in_row, NONE, np.concatenate([[NONE], cls[:-1]]))
    prev_len = np.where(first_in_row, NONE, np.concatenate([[NONE], syms[:-1]]))
    f = np.empty((n, NUM_FEATURES), np.int64)
    f[:, 0] = prev_cls
    f[:, 1] = prev_len
    if use_2d:
        f[:, 2] = above_cls
        f[:, 3] = after_cls
        f[:, 4] = log2_bucket(d_above)
        f[:, 5] = trans
        f[:, 6] = (prev_cls == above_cls) & (above_cls != NONE)
        f[:, 7] = (prev_cls == after_cls) & (after_cls != NONE)
    else:
        f[:, 2:8] = 0
        f[:, 2:4] = NONE
    f[:, 8] = log2_bucket(w - xx)
    return f, cls, syms, bits, mant, row_ptr
