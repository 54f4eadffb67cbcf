"""Predictors: one interface (`predict(images, prompt, sample) -> answer text`) for models and baselines.

Baselines answer in the same text format as a model, so they go through the same parser and metrics:
- `center`: always the image centre (in concat samples, the centre of the right half);
- `not-visible`: always NOT_VISIBLE;
- `pixel-diff`: for two images of equal size (Task2B: original, inpainted), the centroid of the
  largest 4-connected region where they differ (snapped to the nearest region pixel when the centroid
  falls outside it); NOT_VISIBLE when nothing changed or the sample is not an image pair.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Protocol

import numpy as np

from mc_spatial_vlm.answers import NOT_VISIBLE, format_point


class Predictor(Protocol):
    name: str

    def predict(self, images: list[str], prompt: str, sample: dict[str, Any]) -> str: ...


class CenterPredictor:
    """Always the centre of the query image."""

    name = "center"

    def __init__(self, **_: Any):
        pass

    def predict(self, images: list[str], prompt: str, sample: dict[str, Any]) -> str:
        if len(images) == 1:  # concat: the centre of the right (query) half
            return format_point(0.75, 0.5)
        return format_point(0.5, 0.5)


class NotVisiblePredictor:
    """Always NOT_VISIBLE."""

    name = "not-visible"

    def __init__(self, **_: Any):
        pass

    def predict(self, images: list[str], prompt: str, sample: dict[str, Any]) -> str:
        return NOT_VISIBLE


def largest_component(changed: np.ndarray) -> np.ndarray | None:
    """Boolean mask of the largest 4-connected True region (None if there is none)."""
    h, w = changed.shape
    labels = np.zeros((h, w), dtype=np.int32)
    best, best_size, current = 0, 0, 0
    for y0, x0 in zip(*np.nonzero(changed)):
        if labels[y0, x0]:
            continue
        current += 1
        labels[y0, x0] = current
        queue = deque([(y0, x0)])
        size = 0
        while queue:
            y, x = queue.popleft()
            size += 1
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < h and 0 <= nx < w and changed[ny, nx] and not labels[ny, nx]:
                    labels[ny, nx] = current
                    queue.append((ny, nx))
        if size > best_size:
            best, best_size = current, size
    return labels == best if best else None


class PixelDiffPredictor:
    """Centroid of the largest changed region between two images of the same view."""

    name = "pixel-diff"

    def __init__(self, threshold: float = 30.0, **_: Any):
        self.threshold = threshold

    def predict(self, images: list[str], prompt: str, sample: dict[str, Any]) -> str:
        from mc_spatial_vlm.data.x3 import read_rgb

        if len(images) != 2:
            return NOT_VISIBLE
        a = read_rgb(images[0]).astype(np.int32)
        b = read_rgb(images[1]).astype(np.int32)
        if a.shape != b.shape:
            return NOT_VISIBLE
        changed = np.abs(a - b).sum(axis=-1) > self.threshold
        region = largest_component(changed)
        if region is None:
            return NOT_VISIBLE
        ys, xs = np.nonzero(region)
        cy, cx = ys.mean(), xs.mean()
        iy, ix = int(round(cy)), int(round(cx))
        if not region[min(iy, region.shape[0] - 1), min(ix, region.shape[1] - 1)]:
            k = int(np.argmin((ys - cy) ** 2 + (xs - cx) ** 2))
            cy, cx = float(ys[k]), float(xs[k])
        h, w = region.shape
        return format_point((cx + 0.5) / w, (cy + 0.5) / h)


BASELINES = {"center": CenterPredictor, "not-visible": NotVisiblePredictor, "pixel-diff": PixelDiffPredictor}


def make_predictor(model: str, **kwargs: Any) -> Predictor:
    """A baseline by name, or `hf-vlm` for a local model folder (`model` itself or `model_path`)."""
    import os

    from mc_core.errors import UsageError

    if model in BASELINES:
        return BASELINES[model](**kwargs)
    path = kwargs.pop("model_path", None)
    if model == "hf-vlm":
        if not path:
            raise UsageError("hf-vlm is used for any model folder: give the folder itself as --model DIR")
        model = path
    if os.path.isdir(model):
        from mc_spatial_vlm.models.hf_vlm import HFVLMPredictor

        return HFVLMPredictor(model, **kwargs)
    raise UsageError(f"--model {model!r} is neither a baseline ({', '.join(BASELINES)}) nor a model folder")
