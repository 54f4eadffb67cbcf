"""Non-learned baselines for moving-shapes style videos.

- ``all-background``: every pixel background (no objects).
- ``median-cc``: background = per-pixel temporal median of the video; foreground = pixels whose
  colour differs from it by more than a threshold; objects = connected components per frame,
  linked over time to the component of the previous frame they overlap most.
- ``farthest-cc``: the same with the depth-based background estimate (colour of the farthest surface
  seen at each pixel), which has no ghosts of slow objects; needs depth.
- ``farthest-depth-cc``: the same components, but foreground by depth alone: pixels nearer than the
  farthest surface seen there by more than ``DEPTH_THRESHOLD`` (0.1 of the 0..1 depth range). The
  control for learned-cc, whose foreground map uses depth too. (Adding the depth rule to the colour
  rule instead, "colour or depth", gave the same foreground IoU and scores on our benchmark: the
  colour rule's misses lie where an object covers a pixel in every frame, and there the farthest
  depth is the object's own too.)
- ``learned-cc``: foreground = a pretrained learned background module's foreground logit above 0
  (its checkpoint is the baseline's ``bg_checkpoint``), the same components and linking
  (:func:`linked_components`).

Each is registered for the loci commands (``task="loci"``) as a :class:`~mc_loci.VideoSegmenter`
built from a config (the classes below), e.g.
``mc_core.factory.create_model("median-cc", {"threshold": 20}, task="loci")``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

BASELINES = ("all-background", "median-cc", "farthest-cc", "farthest-depth-cc")
# the foreground rules of the cc baselines: a colour difference to the background above COLOUR_THRESHOLD
# (of 255) in some channel; for farthest-depth-cc, a depth nearer than the background's by more than
# DEPTH_THRESHOLD (0..1 depth units; set from the colour rule's 30/255 ~ 0.12, not tuned)
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


def colour_foreground(rgb: np.ndarray, bg: np.ndarray, threshold: float = COLOUR_THRESHOLD) -> np.ndarray:
    """Foreground (T,H,W) bool: a colour difference to the background ((H,W,3) or (T,H,W,3), 0..255)
    above `threshold` in some channel."""
    return np.abs(rgb.astype(np.float32) - bg).max(axis=-1) > threshold


def depth_foreground(depth: np.ndarray, bg_depth: np.ndarray, threshold: float = DEPTH_THRESHOLD) -> np.ndarray:
    """Foreground (T,H,W) bool: a depth nearer than the background's ((H,W) or (T,H,W)) by more than
    `threshold`."""
    return (np.asarray(bg_depth, np.float32) - np.asarray(depth, np.float32)) > threshold


def median_cc(rgb: np.ndarray, *, threshold: float = COLOUR_THRESHOLD, min_area: int = 6,
              bg: np.ndarray | None = None) -> np.ndarray:
    """Instance ids (T,H,W) from colour difference to the background (default: the temporal median;
    (H,W,3) or per frame (T,H,W,3)) + connected components."""
    if bg is None:
        bg = median_background(rgb)
    return linked_components(colour_foreground(rgb, bg, threshold), min_area=min_area)


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
        return linked_components(depth_foreground(depth, bg_depth))
    raise ValueError(f"unknown baseline {name!r} (choose from {', '.join(BASELINES)})")


# -- the baselines as registered VideoSegmenters (mc_loci.interface) -------------------------------

def _check_number(name: str, value: Any, *, positive: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v < 0 or (positive and v == 0):
        raise ValueError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, got {value!r}")
    return v


def _check_min_area(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"min_area must be an integer >= 1, got {value!r}")
    return int(value)


def _depth_of(video: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    depth = video.get("depth")
    if depth is None:
        raise ValueError(f"{name} needs depth but the video has no 'depth' array")
    return np.asarray(depth)


class AllBackground:
    """``all-background``: every pixel background (no objects)."""

    requires_checkpoint = False
    needs_depth = False
    name = "all-background"

    def segment(self, video: Mapping[str, np.ndarray]) -> np.ndarray:
        return all_background(np.asarray(video["rgb"]))


class MedianCC:
    """``median-cc``: colour difference to the temporal median, connected components linked over time."""

    requires_checkpoint = False
    needs_depth = False
    name = "median-cc"

    def __init__(self, threshold: float = COLOUR_THRESHOLD, min_area: int = 6):
        self.threshold = _check_number("threshold", threshold)
        self.min_area = _check_min_area(min_area)

    def segment(self, video: Mapping[str, np.ndarray]) -> np.ndarray:
        return median_cc(np.asarray(video["rgb"]), threshold=self.threshold, min_area=self.min_area)


class FarthestCC(MedianCC):
    """``farthest-cc``: colour difference to the farthest-surface background (needs depth)."""

    needs_depth = True
    name = "farthest-cc"

    def segment(self, video: Mapping[str, np.ndarray]) -> np.ndarray:
        rgb = np.asarray(video["rgb"])
        bg, _ = estimate_background(rgb, _depth_of(video, self.name), "farthest")
        return median_cc(rgb, bg=bg, threshold=self.threshold, min_area=self.min_area)


class FarthestDepthCC:
    """``farthest-depth-cc``: nearer than the farthest surface by more than ``threshold`` (depth only)."""

    requires_checkpoint = False
    needs_depth = True
    name = "farthest-depth-cc"

    def __init__(self, threshold: float = DEPTH_THRESHOLD, min_area: int = 6):
        self.threshold = _check_number("threshold", threshold)
        self.min_area = _check_min_area(min_area)

    def segment(self, video: Mapping[str, np.ndarray]) -> np.ndarray:
        depth = _depth_of(video, self.name)
        _, bg_depth = estimate_background(np.asarray(video["rgb"]), depth, "farthest")
        return linked_components(depth_foreground(depth, bg_depth, self.threshold), min_area=self.min_area)


class LearnedCC:
    """``learned-cc``: components of a pretrained ``loci-background`` module's foreground map
    (logit > 0); ``bg_checkpoint`` is that module's checkpoint (``mc loci pretrain-bg``)."""

    requires_checkpoint = False
    name = "learned-cc"

    def __init__(self, bg_checkpoint: str, min_area: int = 6):
        from mc_loci.models.background import load_background

        if not bg_checkpoint:
            raise ValueError("learned-cc needs bg_checkpoint (a loci-background checkpoint)")
        self.bg_checkpoint = str(bg_checkpoint)
        self.min_area = _check_min_area(min_area)
        self.module = load_background(bg_checkpoint)

    @property
    def needs_depth(self) -> bool:
        return bool(self.module.config.depth_input)

    def to(self, device: Any) -> LearnedCC:
        self.module = self.module.to(device)
        return self

    def segment(self, video: Mapping[str, np.ndarray]) -> np.ndarray:
        from mc_loci.models.background import learned_cc

        return learned_cc(self.module, video, self.module.device, min_area=self.min_area)
