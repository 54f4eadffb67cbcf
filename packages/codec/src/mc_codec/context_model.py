"""A JBIG-style adaptive context model for label maps: ideal code length, vectorised.

Each pixel, in raster order, is predicted from its causal neighbours W (left), N (above),
NW and NE; pixels outside the image read as a special "outside" value. The context is the
tuple of their ids. For every context the model keeps adaptive counts of the symbols seen
so far and predicts with the Krichevsky-Trofimov estimator over the K classes present in the mask:

    p(s | c) = (n(c, s) + alpha) / (n(c) + alpha * K),   alpha = 1/2

(`alpha=1` is Laplace's rule). The ideal code length is the sum of -log2 p over all pixels. The
class table (which K ids occur) is not counted; a decoder needs it as side information, like the
shape. A mask with a single class costs 0 bits.

Because the estimate for a pixel depends only on earlier occurrences of the same context, the
running counts are computed without a per-pixel loop: pixels are grouped by context (and by
context and symbol) with a stable sort, so that the rank of a pixel inside its group is exactly
the number of earlier occurrences.
"""

from __future__ import annotations

import numpy as np

NEIGHBOURS = ("W", "N", "NW", "NE")


def _dense_ids(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Ids renumbered 0..K-1 in ascending order, and K."""
    if mask.dtype in (np.uint8, np.uint16, np.bool_):
        flat = mask.ravel().astype(np.intp)
        present = np.bincount(flat) > 0
        lut = np.cumsum(present) - 1
        return lut[flat].reshape(mask.shape).astype(np.int64), int(present.sum())
    classes, dense = np.unique(mask, return_inverse=True)
    return dense.reshape(mask.shape).astype(np.int64), len(classes)


def _neighbour_planes(dense: np.ndarray, outside: int) -> list[np.ndarray]:
    h, w = dense.shape
    pad = np.full((h + 1, w + 2), outside, dtype=np.int64)
    pad[1:, 1:-1] = dense
    west = pad[1:, 0:-2]
    north = pad[:-1, 1:-1]
    north_west = pad[:-1, 0:-2]
    north_east = pad[:-1, 2:]
    return [west, north, north_west, north_east]


def _context_index(planes: list[np.ndarray], base: int) -> np.ndarray:
    """A dense integer per distinct neighbour tuple (flattened, raster order)."""
    flat = [p.ravel() for p in planes]
    if base ** len(flat) < 2 ** 62:
        code = np.zeros_like(flat[0])
        for p in flat:
            code = code * base + p
        return code
    _, inv = np.unique(np.stack(flat, axis=1), axis=0, return_inverse=True)
    return inv.ravel().astype(np.int64)


def _earlier_counts(keys: np.ndarray) -> np.ndarray:
    """For each position i: how many j < i have keys[j] == keys[i]."""
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    n = len(keys)
    starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
    group_start = np.repeat(starts, np.diff(np.r_[starts, n]))
    ranks = np.empty(n, dtype=np.int64)
    ranks[order] = np.arange(n) - group_start
    return ranks


def context_model_code_lengths(mask: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Per-pixel ideal code lengths in bits, shape (H, W)."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {mask.shape}")
    if mask.dtype.kind not in "uib":
        raise ValueError(f"mask must hold integer ids, got {mask.dtype}")
    if mask.size == 0:
        return np.zeros(mask.shape)
    dense, k = _dense_ids(mask)
    if k == 1:
        return np.zeros(mask.shape)
    ctx = _context_index(_neighbour_planes(dense, outside=k), base=k + 1)
    sym = dense.ravel()
    if (k + 1) ** 4 * k >= 2 ** 62:
        # re-index contexts densely so that (context, symbol) fits in int64 whatever K is
        _, ctx = np.unique(ctx, return_inverse=True)
        ctx = ctx.ravel().astype(np.int64)
    n_ctx = _earlier_counts(ctx)
    n_ctx_sym = _earlier_counts(ctx * k + sym)
    p = (n_ctx_sym + alpha) / (n_ctx + alpha * k)
    return (-np.log2(p)).reshape(mask.shape)


def context_model_bits(mask: np.ndarray, alpha: float = 0.5) -> float:
    """Ideal code length in bits of `mask` under the adaptive W/N/NW/NE context model."""
    return float(context_model_code_lengths(mask, alpha=alpha).sum())


def context_model_bits_reference(mask: np.ndarray, alpha: float = 0.5) -> float:
    """A plain per-pixel loop computing the same quantity (slow; for tests on small masks)."""
    mask = np.asarray(mask)
    h, w = mask.shape
    classes = sorted(set(mask.ravel().tolist()))
    k = len(classes)
    if k <= 1:
        return 0.0
    outside = object()

    def at(y, x):
        return mask[y, x].item() if 0 <= y < h and 0 <= x < w else outside

    counts: dict = {}
    totals: dict = {}
    bits = 0.0
    for y in range(h):
        for x in range(w):
            c = (at(y, x - 1), at(y - 1, x), at(y - 1, x - 1), at(y - 1, x + 1))
            c = tuple("out" if v is outside else v for v in c)
            s = mask[y, x].item()
            p = (counts.get((c, s), 0) + alpha) / (totals.get(c, 0) + alpha * k)
            bits -= np.log2(p)
            counts[(c, s)] = counts.get((c, s), 0) + 1
            totals[c] = totals.get(c, 0) + 1
    return bits
