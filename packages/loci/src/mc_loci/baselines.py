"""Non-learned baselines for moving-shapes style videos.

- ``all-background``: every pixel background (no objects).
- ``median-cc``: background = per-pixel temporal median of the video; foreground = pixels whose
  colour differs from it by more than a threshold; objects = connected components per frame,
  linked over time to the component of the previous frame they overlap most.
- ``farthest-cc``: the same with the depth-based background estimate (colour of the farthest surface
  seen at each pixel), which has no ghosts of slow objects; needs depth.
- ``farthest-depth-cc``: the same as farthest-cc, but a pixel is also foreground where its depth is
  nearer than the farthest surface seen there by more than ``depth_threshold`` (0.1 of the 0..1
  depth range): the control that uses depth for the foreground map as the learned module does.
- ``learned-cc`` (in ``mc loci eval``/``segment`` with ``--bg-checkpoint``): foreground = the learned
  background module's foreground logit above 0, the same components and linking
  (:func:`linked_components`).
"""

from __future__ import annotations

import numpy as np

BASELINES = ("all-background", "median-cc", "farthest-cc", "farthest-depth-cc")
# the foreground rule of the cc baselines: a colour difference to the background above COLOUR_THRESHOLD
# (of 255) in some channel, and for farthest-depth-cc also a depth nearer than the background's by more
# than DEPTH_THRESHOLD (0..1 depth units; fixed from the colour rule's 30/255 ~ 0.12, not tuned)
COLOUR_THRESHOLD = 30.0
DEPTH_THRESHOLD = 0.1


def median_background(rgb: np.ndarray) -> np.ndarray:
    """Per-pixel temporal median of a video (T,H,W,3) uint8 -> (H,W,3) float32 in 0..255."""
    return np.median(rgb.astype(np.float32), axis=0)


BACKGROUND_ESTIMATES = ("median", "farthest")


def estimate_background(rgb: np.ndarray, depth: np.ndarray | None = None, method: str = "median"
                        ) -> tuple[np.ndarray, np.ndarray | None]:
    """Static background of a video: colour (H,W,3) float32 in 0..255 and depth (H,W) (None without
    depth).

    - ``median``: per-pixel temporal median of colour and depth. Wrong wherever an object covers a
      pixel in half of the frames or more (slow or large objects leave a ghost in it).
    - ``farthest``: per pixel, the colour of the frame where the depth is largest (the background is
      behind every object, so this is right wherever the pixel is uncovered in at least one frame);
      needs depth, falls back to the median without it.
    """
    if method not in BACKGROUND_ESTIMATES:
        raise ValueError(f"unknown background estimate {method!r} (choose from {', '.join(BACKGROUND_ESTIMATES)})")
    if depth is None:
        return median_background(rgb), None
    depth = np.asarray(depth, dtype=np.float32)
    if method == "median":
        return median_background(rgb), np.median(depth, axis=0)
    idx = depth.argmax(axis=0)  # (H,W)
    colour = np.take_along_axis(rgb, idx[None, :, :, None], axis=0)[0].astype(np.float32)
    return colour, depth.max(axis=0)


def all_background(rgb: np.ndarray) -> np.ndarray:
    return np.zeros(rgb.shape[:3], np.int64)


def foreground_map(rgb: np.ndarray, bg: np.ndarray, *, threshold: float = COLOUR_THRESHOLD,
                   depth: np.ndarray | None = None, bg_depth: np.ndarray | None = None,
                   depth_threshold: float = DEPTH_THRESHOLD) -> np.ndarray:
    """Foreground (T,H,W) bool of a video against a background colour (H,W,3) or (T,H,W,3) in
    0..255: a colour difference above `threshold` in some channel, or, given depth (T,H,W) and the
    background's depth bg_depth ((H,W) or (T,H,W)), a depth nearer than the background's by more
    than `depth_threshold`."""
    fg = np.abs(rgb.astype(np.float32) - bg).max(axis=-1) > threshold
    if depth is not None and bg_depth is not None:
        fg |= (np.asarray(bg_depth, np.float32) - np.asarray(depth, np.float32)) > depth_threshold
    return fg


def median_cc(rgb: np.ndarray, *, threshold: float = COLOUR_THRESHOLD, min_area: int = 6,
              bg: np.ndarray | None = None) -> np.ndarray:
    """Instance ids (T,H,W) from colour difference to the background (default: the temporal median;
    (H,W,3) or per frame (T,H,W,3)) + connected components."""
    if bg is None:
        bg = median_background(rgb)
    return linked_components(foreground_map(rgb, bg, threshold=threshold), min_area=min_area)


def linked_components(foreground: np.ndarray, *, min_area: int = 6) -> np.ndarray:
    """Instance ids (T,H,W) from a foreground map (T,H,W) bool: connected components per frame (of at
    least `min_area` pixels), each linked to the previous frame's id it overlaps most (biggest
    components first), or given a new id."""
    from scipy import ndimage

    diff = np.asarray(foreground, dtype=bool)
    out = np.zeros(diff.shape, np.int64)
    next_id = 1
    prev = None
    for t in range(diff.shape[0]):
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


def run_baseline(name: str, rgb: np.ndarray, depth: np.ndarray | None = None) -> np.ndarray:
    if name == "all-background":
        return all_background(rgb)
    if name == "median-cc":
        return median_cc(rgb)
    if name in ("farthest-cc", "farthest-depth-cc"):
        if depth is None:
            raise ValueError(f"{name} needs depth")
        bg, bg_depth = estimate_background(rgb, depth, "farthest")
        if name == "farthest-cc":
            return median_cc(rgb, bg=bg)
        return linked_components(foreground_map(rgb, bg, depth=depth, bg_depth=bg_depth))
    raise ValueError(f"unknown baseline {name!r} (choose from {', '.join(BASELINES)})")
