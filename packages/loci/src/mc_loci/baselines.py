"""Non-learned baselines for moving-shapes style videos.

- ``all-background``: every pixel background (no objects).
- ``median-cc``: background = per-pixel temporal median of the video; foreground = pixels whose
  colour differs from it by more than a threshold; objects = connected components per frame,
  linked over time to the component of the previous frame they overlap most.
"""

from __future__ import annotations

import numpy as np

BASELINES = ("all-background", "median-cc")


def median_background(rgb: np.ndarray) -> np.ndarray:
    """Per-pixel temporal median of a video (T,H,W,3) uint8 -> (H,W,3) float32 in 0..255."""
    return np.median(rgb.astype(np.float32), axis=0)


def all_background(rgb: np.ndarray) -> np.ndarray:
    return np.zeros(rgb.shape[:3], np.int64)


def median_cc(rgb: np.ndarray, *, threshold: float = 30.0, min_area: int = 6) -> np.ndarray:
    """Instance ids (T,H,W) from colour difference to the temporal median + connected components."""
    from scipy import ndimage

    bg = median_background(rgb)
    diff = np.abs(rgb.astype(np.float32) - bg).max(axis=-1) > threshold
    out = np.zeros(rgb.shape[:3], np.int64)
    next_id = 1
    prev = None
    for t in range(rgb.shape[0]):
        comp, n = ndimage.label(diff[t])
        sizes = np.bincount(comp.ravel(), minlength=n + 1)
        frame = np.zeros_like(out[t])
        taken: set[int] = set()
        # link big components first
        for c in sorted(range(1, n + 1), key=lambda c: -sizes[c]):
            if sizes[c] < min_area:
                continue
            where = comp == c
            new = None
            if prev is not None:
                ids, counts = np.unique(prev[where], return_counts=True)
                for i in ids[np.argsort(-counts)]:
                    if i != 0 and i not in taken:
                        new = int(i)
                        break
            if new is None:
                new, next_id = next_id, next_id + 1
            taken.add(new)
            frame[where] = new
        out[t] = frame
        prev = frame
    return out


def run_baseline(name: str, rgb: np.ndarray) -> np.ndarray:
    if name == "all-background":
        return all_background(rgb)
    if name == "median-cc":
        return median_cc(rgb)
    raise ValueError(f"unknown baseline {name!r} (choose from {', '.join(BASELINES)})")
