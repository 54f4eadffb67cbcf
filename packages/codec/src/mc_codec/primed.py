"""Context models whose counts start from a training split ("primed"): the strong count baselines.

The adaptive context model of :mod:`mc_codec.context_model` starts every mask with empty counts.
A *primed* model starts from the counts of every (context, class) pair seen in the training masks
and then adapts to the mask being coded, exactly like the empty-start one:

    p(s | c) = (n0(c, s) + n(c, s) + alpha) / (n0(c) + n(c) + alpha * V)

`n0` are the training counts, `n` the counts of earlier pixels of this mask, `V` the vocabulary
(class ids 0..V-1; the row/column outside the image reads as the id V). Two neighbourhoods:

* ``4``: W, N, NW, NE (the JBIG-style template, as the empty-start model);
* ``8``: W, N, NW, NE, WW, NN, NWW, NEE. Its contexts are sparse, so an 8-neighbour context backs
  off to the 4-neighbour estimate (a Dirichlet prior of strength `backoff`):
  ``p8(s | c8) = (N8(c8, s) + backoff * p4(s | c4)) / (N8(c8) + backoff)``, N8 = primed + adaptive.

Both are ideal code lengths (no bitstream), vectorised like the empty-start model: the running
in-mask counts come from a stable sort (rank inside a group = earlier occurrences), the primed
counts from a binary search in the sorted table of training keys.

:class:`ContextPrior` holds both tables; :func:`fit_context_prior` builds it from masks, and
``save``/:func:`load_context_prior` keep it as ``context_prior.npz`` beside a checkpoint's weights
(``mc codec train`` writes it, so ``mc codec matrix --checkpoint`` reports the primed rows).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mc_codec.context_model import _earlier_counts

PRIOR_FILE = "context_prior.npz"
NEIGHBOURHOODS = {4: ("W", "N", "NW", "NE"), 8: ("W", "N", "NW", "NE", "WW", "NN", "NWW", "NEE")}
# (dy, dx) of each neighbour, relative to the pixel
OFFSETS = {"W": (0, -1), "N": (-1, 0), "NW": (-1, -1), "NE": (-1, 1), "WW": (0, -2), "NN": (-2, 0),
           "NWW": (-1, -2), "NEE": (-1, 2)}
ALPHA = 0.5
BACKOFF = 2.0


def _fits(vocab_size: int, n: int) -> bool:
    return (vocab_size + 1) ** n * vocab_size < 2 ** 62


def context_keys(mask: np.ndarray, vocab_size: int, n: int) -> np.ndarray:
    """Per pixel (raster order, int64) the code of its `n`-neighbour context."""
    ids = np.asarray(mask).astype(np.int64)
    h, w = ids.shape
    pad = np.full((h + 2, w + 4), vocab_size, dtype=np.int64)
    pad[2:, 2:-2] = ids
    code = np.zeros(h * w, dtype=np.int64)
    for name in NEIGHBOURHOODS[n]:
        dy, dx = OFFSETS[name]
        code = code * (vocab_size + 1) + pad[2 + dy:2 + dy + h, 2 + dx:2 + dx + w].ravel()
    return code


@dataclass
class _Table:
    keys: np.ndarray     # sorted unique context * V + symbol
    counts: np.ndarray   # their counts
    ctx: np.ndarray      # sorted unique contexts
    ctx_counts: np.ndarray

    @classmethod
    def build(cls, keys: np.ndarray, counts: np.ndarray, vocab_size: int) -> _Table:
        ctx, inv = np.unique(keys // vocab_size, return_inverse=True)
        return cls(keys, counts, ctx, np.bincount(inv.ravel(), weights=counts, minlength=len(ctx)).astype(np.int64))

    @staticmethod
    def _lookup(table_keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
        if not len(table_keys):
            return np.zeros(len(query), np.int64)
        i = np.searchsorted(table_keys, query).clip(0, len(table_keys) - 1)
        return np.where(table_keys[i] == query, values[i], 0)

    def counts_of(self, key: np.ndarray) -> np.ndarray:
        return self._lookup(self.keys, self.counts, key)

    def totals_of(self, ctx: np.ndarray) -> np.ndarray:
        return self._lookup(self.ctx, self.ctx_counts, ctx)


class ContextPrior:
    """Training counts of the 4- and 8-neighbour context models (see the module docstring)."""

    def __init__(self, vocab_size: int, tables: dict[int, tuple[np.ndarray, np.ndarray]], images: int = 0):
        self.vocab_size = int(vocab_size)
        self.images = int(images)
        self.raw = {n: (np.asarray(k, np.int64), np.asarray(c, np.int64)) for n, (k, c) in tables.items()}
        self.tables = {n: _Table.build(k, c, self.vocab_size) for n, (k, c) in self.raw.items()}

    @property
    def neighbourhoods(self) -> list[int]:
        return sorted(self.tables)

    def code_lengths(self, mask: np.ndarray, n: int = 4, *, alpha: float = ALPHA,
                     backoff: float = BACKOFF) -> np.ndarray:
        """Per-pixel ideal code lengths in bits (H, W) under the primed `n`-neighbour model."""
        mask = np.asarray(mask)
        if mask.ndim != 2 or mask.dtype.kind not in "ui":
            raise ValueError(f"mask must be a 2-D array of class ids, got {mask.dtype} {mask.shape}")
        if n not in self.tables:
            raise ValueError(f"n must be one of {self.neighbourhoods}, got {n}")
        if mask.size == 0:
            return np.zeros(mask.shape)
        v = self.vocab_size
        if int(mask.max()) >= v:
            raise ValueError(f"mask holds class id {int(mask.max())}, beyond the prior's vocabulary ({v})")
        sym = mask.ravel().astype(np.int64)
        c4 = context_keys(mask, v, 4)
        t4 = self.tables[4]
        p4 = ((t4.counts_of(c4 * v + sym) + _earlier_counts(c4 * v + sym) + alpha)
              / (t4.totals_of(c4) + _earlier_counts(c4) + alpha * v))
        if n == 4:
            return (-np.log2(p4)).reshape(mask.shape)
        c8 = context_keys(mask, v, 8)
        t8 = self.tables[8]
        n_cs = t8.counts_of(c8 * v + sym) + _earlier_counts(c8 * v + sym)
        n_c = t8.totals_of(c8) + _earlier_counts(c8)
        p8 = (n_cs + backoff * p4) / (n_c + backoff)
        return (-np.log2(p8)).reshape(mask.shape)

    def bits(self, mask: np.ndarray, n: int = 4, **kw) -> float:
        """Ideal code length in bits of `mask` under the primed `n`-neighbour model."""
        return float(self.code_lengths(mask, n, **kw).sum())

    def save(self, path: str | os.PathLike) -> Path:
        from mc_core.atomic import atomic_path

        path = Path(path)
        arrays = {"vocab_size": np.int64(self.vocab_size), "images": np.int64(self.images)}
        for n, (k, c) in self.raw.items():  # keys as gaps: small numbers, they compress well
            arrays[f"gaps{n}"] = _small(np.diff(k, prepend=0))
            arrays[f"counts{n}"] = _small(c)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
        return path


def _small(a: np.ndarray) -> np.ndarray:
    """`a` (non-negative) in the smallest unsigned type that holds it."""
    top = int(a.max()) if len(a) else 0
    for dt in (np.uint8, np.uint16, np.uint32):
        if top <= np.iinfo(dt).max:
            return a.astype(dt)
    return a.astype(np.int64)


def fit_context_prior(masks, vocab_size: int, neighbourhoods=(4, 8)) -> ContextPrior:
    """Count every (context, class) pair of `masks` (an iterable of 2-D id arrays, ids below
    `vocab_size`) for each neighbourhood that fits 64-bit keys at this vocabulary."""
    v = int(vocab_size)
    if v < 2:
        raise ValueError(f"vocab_size must be at least 2, got {vocab_size}")
    ns = [n for n in neighbourhoods if _fits(v, n)]
    parts: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {n: [] for n in ns}
    images = 0

    def merge(n: int) -> None:
        keys, inv = np.unique(np.concatenate([k for k, _ in parts[n]]), return_inverse=True)
        counts = np.bincount(inv.ravel(), weights=np.concatenate([c for _, c in parts[n]]), minlength=len(keys))
        parts[n] = [(keys, counts.astype(np.int64))]

    for mask in masks:
        mask = np.asarray(mask)
        if mask.size == 0:
            continue
        if int(mask.max()) >= v:
            raise ValueError(f"a mask holds class id {int(mask.max())}, beyond vocab_size={v}")
        images += 1
        sym = mask.ravel().astype(np.int64)
        for n in ns:
            parts[n].append(np.unique(context_keys(mask, v, n) * v + sym, return_counts=True))
            if len(parts[n]) >= 64:
                merge(n)
    acc = {}
    for n in ns:
        if parts[n]:
            merge(n)
            acc[n] = parts[n][0]
        else:
            acc[n] = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    return ContextPrior(v, acc, images)


def load_context_prior(path: str | os.PathLike) -> ContextPrior:
    """Read a ``context_prior.npz``; a malformed file is a one-line BadInputError naming it."""
    from mc_core.errors import BadInputError

    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as exc:  # zip, npy or OS errors: all mean an unreadable file
        raise BadInputError(path, f"cannot read the context prior ({type(exc).__name__})") from None
    try:
        v = int(data["vocab_size"])
        tables = {}
        for n in NEIGHBOURHOODS:
            if f"gaps{n}" in data:
                g, c = data[f"gaps{n}"], data[f"counts{n}"]
                if g.dtype.kind not in "ui" or c.dtype.kind not in "ui" or g.shape != c.shape or g.ndim != 1:
                    raise ValueError("gaps and counts must be equal-length integer vectors")
                if not _fits(v, n):
                    raise ValueError(f"vocab_size {v} is too large for {n}-neighbour keys")
                if len(g) and (g[0] < 0 or np.any(g[1:] <= 0) or np.any(c < 0)
                               or float(g.astype(np.float64).sum()) >= (v + 1) ** n * v):
                    raise ValueError("keys must be sorted, unique and in range, counts non-negative")
                k = np.cumsum(g.astype(np.int64))
                c = c.astype(np.int64)
                tables[n] = (k, c)
        if 4 not in tables or v < 2:
            raise ValueError("no 4-neighbour table")
    except (KeyError, ValueError, TypeError) as exc:
        raise BadInputError(path, f"malformed context prior ({exc})") from None
    return ContextPrior(v, tables, int(data.get("images", 0)))


_CACHE: dict[str, ContextPrior] = {}


def checkpoint_prior(checkpoint_dir: str | os.PathLike) -> ContextPrior | None:
    """The context prior stored with a checkpoint folder, or None when it has none (kept in
    memory per file and modification time)."""
    p = Path(checkpoint_dir) / PRIOR_FILE
    if not p.is_file():
        return None
    key = f"{p.resolve()}@{p.stat().st_mtime_ns}"
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = load_context_prior(p)
    return _CACHE[key]


def fit_train_prior(folder: str | os.PathLike, rel_paths: list[str], vocab_size: int) -> ContextPrior | None:
    """The prior fitted on the masks `folder/rel_paths`; None when the vocabulary is too large
    for 64-bit 4-neighbour keys (above about 5000 classes)."""
    from mc_codec.data.masks import read_mask

    if not _fits(int(vocab_size), 4):
        return None
    return fit_context_prior((read_mask(Path(folder) / r) for r in rel_paths), vocab_size)


def write_checkpoint_priors(checkpoints_dir: str | os.PathLike, folder: str | os.PathLike,
                            rel_paths: list[str], vocab_size: int) -> ContextPrior | None:
    """Fit the prior on the masks `folder/rel_paths` and store it in every checkpoint folder
    (``last``, ``best``, ``final``) under `checkpoints_dir` (for checkpoints made without it);
    None when there is none."""
    targets = [d for d in (Path(checkpoints_dir) / n for n in ("last", "best", "final")) if d.is_dir()]
    prior = fit_train_prior(folder, rel_paths, vocab_size) if targets else None
    if prior is None:
        return None
    for d in targets:
        prior.save(d / PRIOR_FILE)
    return prior
