"""Per-image row tokens for training and evaluation, read lazily from mask PNGs or a row cache.

Neither source holds the whole data set in memory: `tokens(i)` derives (or loads) one image's
tokens when asked, and the batch iterator only keeps a small group of images at a time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mc_codec.tokens import DEFAULT_BAND_HEIGHT, NUM_FEATURES, mask_token_arrays


@dataclass
class ImageTokens:
    """All tokens of one image, rows concatenated; row r is `row_ptr[r]:row_ptr[r+1]`."""

    features: np.ndarray  # (N, NUM_FEATURES) int
    classes: np.ndarray   # (N,)
    len_syms: np.ndarray  # (N,)
    mant_bits: np.ndarray  # (N,)
    row_ptr: np.ndarray   # (H+1,)
    height: int
    width: int
    max_id: int

    @property
    def num_tokens(self) -> int:
        return int(self.classes.shape[0])

    def rows(self):
        for r in range(self.height):
            s, e = self.row_ptr[r], self.row_ptr[r + 1]
            yield self.features[s:e], self.classes[s:e], self.len_syms[s:e]


def image_tokens(mask: np.ndarray, use_2d: bool, band_height: int = DEFAULT_BAND_HEIGHT) -> ImageTokens:
    f, cls, syms, bits, _, row_ptr = mask_token_arrays(mask, use_2d=use_2d, band_height=band_height)
    return ImageTokens(
        features=f.astype(np.int32), classes=cls.astype(np.int32), len_syms=syms.astype(np.int8),
        mant_bits=bits.astype(np.int8), row_ptr=row_ptr,
        height=int(mask.shape[0]), width=int(mask.shape[1]), max_id=int(np.asarray(mask).max()),
    )


class MaskSource:
    """Tokens derived on demand from mask PNGs under `folder`."""

    def __init__(self, folder: str | os.PathLike, rel_paths: list[str], use_2d: bool,
                 band_height: int = DEFAULT_BAND_HEIGHT):
        self.folder = Path(folder)
        self.rel_paths = list(rel_paths)
        self.use_2d = use_2d
        self.band_height = band_height

    def __len__(self) -> int:
        return len(self.rel_paths)

    def mask(self, i: int) -> np.ndarray:
        from mc_codec.data.masks import read_mask

        return read_mask(self.folder / self.rel_paths[i])

    def tokens(self, i: int) -> ImageTokens:
        return image_tokens(self.mask(i), self.use_2d, self.band_height)

    def max_id(self) -> int:
        return max(int(self.mask(i).max()) for i in range(len(self)))


def pad_rows(rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]]):
    """Rows -> padded torch tensors (feats (B,T,F), classes (B,T), len_syms (B,T)); pads are -100."""
    import torch

    t = max(r[1].shape[0] for r in rows)
    b = len(rows)
    feats = np.zeros((b, t, NUM_FEATURES), np.int64)
    cls = np.full((b, t), -100, np.int64)
    lsym = np.full((b, t), -100, np.int64)
    for i, (f, c, s) in enumerate(rows):
        n = c.shape[0]
        feats[i, :n] = f
        cls[i, :n] = c
        lsym[i, :n] = s
    return torch.from_numpy(feats), torch.from_numpy(cls), torch.from_numpy(lsym)


def iterate_batches(source, indices, batch_rows: int, rng: np.random.Generator, group: int = 16):
    """Shuffled batches of rows; only `group` images are held at once (flat memory)."""
    order = rng.permutation(np.asarray(indices))
    for g in range(0, len(order), group):
        rows = []
        for i in order[g:g + group]:
            rows.extend(source.tokens(int(i)).rows())
        perm = rng.permutation(len(rows))
        for s in range(0, len(perm), batch_rows):
            yield pad_rows([rows[j] for j in perm[s:s + batch_rows]])


def token_source(folder: str | os.PathLike, rel_paths: list[str], use_2d: bool,
                 row_cache_dir: str | os.PathLike | None = None):
    """Tokens of the images `rel_paths`: from the row cache when `row_cache_dir` is given (made
    by `mc codec cache`), else derived from the PNGs under `folder`."""
    from mc_core import registries

    datasets = registries().datasets  # the registered token sources: row-cache, mask-folder
    if row_cache_dir:
        return datasets.create("row-cache", cache_dir=row_cache_dir, rel_paths=rel_paths, use_2d=use_2d)
    return datasets.create("mask-folder", folder=folder, rel_paths=rel_paths, use_2d=use_2d)
