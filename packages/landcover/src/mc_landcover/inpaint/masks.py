"""Masks for inpainting experiments. A mask is a bool array that is True where a pixel is HIDDEN."""

from __future__ import annotations

import math

import numpy as np

from mc_core.errors import UsageError

MASK_TYPES = ("interior", "random")


def check_ratio(ratio: float) -> float:
    ratio = float(ratio)
    if not (0.0 < ratio < 1.0) or math.isnan(ratio):
        raise UsageError(f"mask ratio must lie strictly between 0 and 1, got {ratio}")
    return ratio


def interior_mask(height: int, width: int, ratio: float) -> np.ndarray:
    """A centred rectangle covering about `ratio` of the map, so the known pixels surround it.

    The rectangle keeps the map's aspect ratio; it covers at least one pixel and leaves at least
    one pixel known.
    """
    ratio = check_ratio(ratio)
    mh = min(height, max(1, round(height * math.sqrt(ratio))))
    mw = min(width, max(1, round(ratio * height * width / mh)))
    if mh * mw >= height * width:  # keep one row known
        mh = height - 1 if height > 1 else mh
        mw = min(width, mw)
    top, left = (height - mh) // 2, (width - mw) // 2
    mask = np.zeros((height, width), dtype=bool)
    mask[top:top + mh, left:left + mw] = True
    return mask


def random_mask(height: int, width: int, ratio: float, rng: np.random.Generator) -> np.ndarray:
    """round(ratio * H * W) pixels chosen uniformly at random (at least one hidden, one known)."""
    ratio = check_ratio(ratio)
    n = height * width
    k = min(n - 1, max(1, round(ratio * n)))
    mask = np.zeros(n, dtype=bool)
    mask[rng.choice(n, size=k, replace=False)] = True
    return mask.reshape(height, width)


def make_masks(n: int, height: int, width: int, mask_type: str, ratio: float,
               rng: np.random.Generator) -> np.ndarray:
    """(n, H, W) bool masks, True = hidden. Interior masks are the same for every image."""
    if mask_type == "interior":
        return np.broadcast_to(interior_mask(height, width, ratio), (n, height, width)).copy()
    if mask_type == "random":
        return np.stack([random_mask(height, width, ratio, rng) for _ in range(n)]) if n else \
            np.zeros((0, height, width), bool)
    raise UsageError(f"unknown mask type {mask_type!r}; choose one of {', '.join(MASK_TYPES)}")
