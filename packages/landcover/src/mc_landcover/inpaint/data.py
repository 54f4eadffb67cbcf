"""Loading test/train maps for the analysis commands (index maps, (N, H, W) int64)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mc_core.errors import BadInputError


def load_maps(path, split: str = "test", *, allow_empty: bool = False) -> np.ndarray:
    """(N, H, W) class-index maps of one split of a patches npz made by `mc landcover prepare`."""
    p = Path(path)
    if not p.is_file():
        raise BadInputError(p, "no such file (make one with `mc landcover prepare`)")
    from mc_landcover.data.patches import load_patches

    maps = load_patches(p, split=split)
    maps = np.asarray(maps).astype(np.int64)
    if maps.ndim != 3:
        raise BadInputError(p, f"{split} maps have shape {maps.shape}, expected (N, H, W)")
    if maps.shape[0] == 0 and not allow_empty:
        raise BadInputError(p, f"the {split} set is empty")
    return maps


def select_maps(maps: np.ndarray, n: int | None, size: int | None, rng: np.random.Generator,
                path=None) -> np.ndarray:
    """Up to `n` maps chosen at random (all when n is None), centre-cropped to size x size."""
    if size is not None:
        h, w = maps.shape[1:]
        if size > min(h, w):
            raise BadInputError(path, f"size {size} is larger than the {h}x{w} maps")
        top, left = (h - size) // 2, (w - size) // 2
        maps = maps[:, top:top + size, left:left + size]
    if n is not None and n < maps.shape[0]:
        maps = maps[np.sort(rng.choice(maps.shape[0], size=n, replace=False))]
    return maps
