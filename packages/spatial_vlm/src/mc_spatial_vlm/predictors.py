"""Predictors: one interface (`predict(images, prompt, sample) -> answer text`) for models and baselines.

Baselines answer in the same text format as a model, so they go through the same parser and metrics:
- `center`: always the image centre (in concat samples, the centre of the right half);
- `not-visible`: always NOT_VISIBLE;
- `pixel-diff`: for two images of equal size (Task2B: original, inpainted), the centroid of the
  largest 4-connected region where they differ (summed absolute RGB difference above `threshold`),
  snapped to the nearest region pixel when the centroid falls outside it; NOT_VISIBLE when nothing
  changed or the sample is not an image pair.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mc_spatial_vlm.answers import NOT_VISIBLE, format_point
from mc_spatial_vlm.interface import Predictor


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


def _row_runs(changed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Horizontal runs of True pixels: (row, start column, end column exclusive), in row-major order."""
    h, w = changed.shape
    padded = np.zeros((h, w + 2), dtype=np.int8)
    padded[:, 1:-1] = changed
    step = np.diff(padded, axis=1)  # +1 where a run starts, -1 one past where it ends
    rows, starts = np.nonzero(step == 1)
    _, ends = np.nonzero(step == -1)
    return rows, starts, ends


def _touching_run_pairs(rows, starts, ends, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (a, b) of runs in consecutive rows (b one row below a) that share a column."""
    stride = width + 2  # keys row * stride + column are sorted like the runs
    start_keys, end_keys = rows * stride + starts, rows * stride + ends
    below = (rows + 1) * stride
    first = np.searchsorted(end_keys, below + starts, side="right")  # first run below ending after a starts
    stop = np.searchsorted(start_keys, below + ends, side="left")  # first run below starting at/after a's end
    counts = np.maximum(stop - first, 0)
    a = np.repeat(np.arange(rows.size), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return a, np.repeat(first, counts) + offsets


def largest_component(changed: np.ndarray) -> np.ndarray | None:
    """Boolean mask of the largest 4-connected True region (None if there is none).

    Works on horizontal runs rather than pixels: runs in consecutive rows that share a column are
    joined (union-find over runs, vectorised run finding), so the cost follows the number of runs.
    A tie goes to the region that comes first in row-major order.
    """
    changed = np.asarray(changed, dtype=bool)
    if changed.ndim != 2:
        raise ValueError(f"expected a 2-D mask, got shape {changed.shape}")
    rows, starts, ends = _row_runs(changed)
    if rows.size == 0:
        return None
    parent = np.arange(rows.size)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in zip(*_touching_run_pairs(rows, starts, ends, changed.shape[1])):
        ra, rb = root(int(a)), root(int(b))
        if ra != rb:  # the earlier run stays the root, so a region is named by its first run
            parent[max(ra, rb)] = min(ra, rb)
    roots = parent
    while True:  # pointer jumping until every run points at its region's root
        nxt = roots[roots]
        if np.array_equal(nxt, roots):
            break
        roots = nxt
    sizes = np.bincount(roots, weights=ends - starts)
    best = int(np.argmax(sizes))  # the first of equal sizes: the earliest region
    out = np.zeros_like(changed)
    for r, s, e in zip(rows[roots == best], starts[roots == best], ends[roots == best]):
        out[r, s:e] = True
    return out


class PixelDiffPredictor:
    """Centroid of the largest changed region between two images of the same view."""

    name = "pixel-diff"

    def __init__(self, threshold: float = 30.0, **_: Any):
        from mc_core.errors import UsageError

        if not threshold >= 0:
            raise UsageError(f"threshold must be a number >= 0, got {threshold}")
        self.threshold = float(threshold)

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


PREDICTOR_TASK = "spatial-vlm"
PREDICTOR_OPTIONS = ("device", "max_new_tokens", "chat_template", "image_aspect_ratio", "image_size", "threshold",
                     "model_path")


def _accepted(target: Any, options: dict[str, Any]) -> dict[str, Any]:
    """The options `target`'s constructor names (all of them when it takes **kwargs)."""
    import inspect

    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return dict(options)
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return dict(options)
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return {k: v for k, v in options.items() if k in names}


def resolve_model(model: str) -> tuple[str, str | None]:
    """(registry name, model folder or None): a registered name as is; an existing folder is `hf-vlm`."""
    import os

    from mc_core import registries

    if model in registries().models.names(task=PREDICTOR_TASK):
        return model, None
    if os.path.isdir(model):
        return "hf-vlm", os.path.abspath(model)
    return model, None


def make_predictor(model: str, **options: Any) -> Predictor:
    """A predictor built through the registry: a registered name (task "spatial-vlm": the
    baselines, `hf-vlm`, any installed plugin's), or a local Hugging Face model folder (`hf-vlm`).

    `options` (see `PREDICTOR_OPTIONS`) go to the target's constructor where it names them. A model
    that does not answer samples (`Predictor`) is refused (exit 2).
    """
    from mc_core.errors import UsageError
    from mc_core.factory import create_model, model_entry

    name, folder = resolve_model(model)
    if folder is not None:
        options = {**options, "model_path": folder}
    if name == "hf-vlm" and not options.get("model_path"):
        raise UsageError("model 'hf-vlm' needs a model folder: give the folder itself as the model")
    entry = model_entry(name, task=PREDICTOR_TASK)
    config = _accepted(entry.load(), {k: v for k, v in options.items() if v is not None or k == "chat_template"})
    return create_model(name, config, task=PREDICTOR_TASK, protocol=Predictor)


def predictor_run_key(model: str, options: dict[str, Any]) -> str:
    """What identifies a predictor's answers for `eval`'s restart file: the model (a folder by its
    absolute path) and the options that change answers."""
    name, folder = resolve_model(model)
    keep = {k: options.get(k) for k in ("max_new_tokens", "chat_template", "image_aspect_ratio", "image_size")}
    if name == "pixel-diff":
        keep = {"threshold": options.get("threshold")}
    return f"{name}|{folder or ''}|{sorted(keep.items())}"
