"""Metrics of the spatial tasks: the seed's 13 keys, exactly as its evaluator computes them, and ours.

The seed's keys (RoboRefer-FineTuning `tools/eval_spatial_tasks.py`), from per-sample results:

- `total`, `gt_not_visible` (ground-truth answer text is NOT_VISIBLE), `visible_gt` (the rest,
  including a ground truth whose text holds no point);
- `not_visible_accuracy`: NOT_VISIBLE ground truths answered NOT_VISIBLE / `gt_not_visible`;
- `mean/std/median_l2_error`: over visible ground truths with a point whose answer has a point,
  in the answer's own coordinates (so a concat answer, over the whole image, is compared with the
  concat ground truth as the builder writes it, over the query image); computed in float32 as the
  seed does; null when there is none;
- `success_002/005/010`: L2 <= 0.02/0.05/0.10 over `visible_gt`;
- `hit_at_mask = hit_at_mask_count / hit_at_mask_total`, where the total counts only the visible
  ground truths whose answer has a point and whose query mask was found and read (a concat answer
  with `x < 0.5` is a miss; else `x = (x - 0.5) * 2`, both clamped to [0, 1]); a point maps to
  pixel `(round(x * (W - 1)), round(y * (H - 1)))`, clamped;
- a ratio with an empty denominator is 0.0 (the L2 statistics: null).

Ours, beside them (the stricter view):

- `hit_at_mask_strict`: hits / `visible_gt`: every visible ground truth counts, so an answer without
  a point, NOT_VISIBLE, a missing mask or a failed sample is a miss (null when `visible_gt` is 0);
- `not_visible_accuracy_strict`: as the seed's, but null when there is no NOT_VISIBLE ground truth;
- `pred_not_visible` (answers NOT_VISIBLE), `unparseable_answers` (answers with neither
  NOT_VISIBLE nor a point, failed samples included), `failed_samples` (a missing image, a predictor
  failure, a malformed sample).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

SEED_METRIC_KEYS = ("total", "gt_not_visible", "visible_gt", "not_visible_accuracy", "mean_l2_error",
                    "std_l2_error", "median_l2_error", "success_002", "success_005", "success_010",
                    "hit_at_mask", "hit_at_mask_count", "hit_at_mask_total")
METRIC_KEYS = SEED_METRIC_KEYS  # the name earlier releases used
STRICT_METRIC_KEYS = ("hit_at_mask_strict", "not_visible_accuracy_strict", "pred_not_visible",
                      "unparseable_answers", "failed_samples")
SUCCESS_THRESHOLDS = {"success_002": 0.02, "success_005": 0.05, "success_010": 0.10}


def concat_to_query(x_full: float, y_full: float) -> tuple[float, float] | None:
    """Concat (side-by-side) coordinates to the right-half query image; None if the point is on the left."""
    if x_full < 0.5:
        return None
    xr = min(max((x_full - 0.5) * 2.0, 0.0), 1.0)
    return xr, min(max(y_full, 0.0), 1.0)


def _pixel(v: float, size: int) -> int:
    scaled = v * (size - 1)
    if math.isnan(scaled):
        return 0
    if math.isinf(scaled):
        return size - 1 if scaled > 0 else 0
    return max(0, min(size - 1, int(round(scaled))))  # Python's round: half to even, as the seed


def point_in_mask(x: float, y: float, mask: np.ndarray) -> bool:
    """Whether normalised (x, y) falls on a mask > 0 pixel, mapped as the seed maps it (clamped)."""
    h, w = mask.shape[:2]
    return bool(mask[_pixel(y, h), _pixel(x, w)] > 0)


def hit_at_mask(point: tuple[float, float] | None, mask: np.ndarray, *, concat: bool = False) -> bool:
    """Hit@Mask of one answer. `concat`: `point` is over the whole side-by-side image."""
    if point is None:
        return False
    x, y = point
    if concat:
        q = concat_to_query(x, y)
        if q is None:
            return False
        x, y = q
    return point_in_mask(x, y, mask)


def l2_error(pred: tuple[float, float], gt: tuple[float, float]) -> float:
    """Euclidean distance between two normalised points (the seed's sqrt of the summed squares)."""
    return float(math.sqrt((pred[0] - gt[0]) ** 2 + (pred[1] - gt[1]) ** 2))


def _ratio(num: int, den: int, empty: float | None) -> float | None:
    return num / den if den > 0 else empty


def summarize(results: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The seed's 13 keys, then ours (see the module docstring), from per-sample results.

    Each result needs `gt_visible` (bool: the ground truth is not NOT_VISIBLE), `pred_kind`
    ("point"/"not_visible"/"unparseable"), `l2` (float or None), `hit_mask` (the seed's: bool, or
    None when not counted), `hit` (ours: bool for visible ground truths) and `error`.
    """
    results = list(results)
    vis = [r for r in results if r["gt_visible"]]
    nv = [r for r in results if not r["gt_visible"]]
    correct_nv = sum(1 for r in nv if r["pred_kind"] == "not_visible")
    l2s = [r["l2"] for r in vis if r.get("l2") is not None]
    out: dict[str, Any] = {"total": len(results), "gt_not_visible": len(nv), "visible_gt": len(vis),
                           "not_visible_accuracy": float(_ratio(correct_nv, len(nv), 0.0))}
    if l2s:
        arr = np.array(l2s, dtype=np.float32)  # the seed's dtype: its figures are float32 statistics
        out.update(mean_l2_error=float(arr.mean()), std_l2_error=float(arr.std()),
                   median_l2_error=float(np.median(arr)))
    else:
        out.update(mean_l2_error=None, std_l2_error=None, median_l2_error=None)
    for key, thr in SUCCESS_THRESHOLDS.items():
        out[key] = float(_ratio(sum(1 for v in l2s if v <= thr), len(vis), 0.0))
    counted = [r for r in vis if r.get("hit_mask") is not None]
    hits = sum(1 for r in counted if r["hit_mask"])
    out.update(hit_at_mask=float(_ratio(hits, len(counted), 0.0)), hit_at_mask_count=hits,
               hit_at_mask_total=len(counted))
    assert tuple(out) == SEED_METRIC_KEYS
    out["hit_at_mask_strict"] = _ratio(sum(1 for r in vis if r.get("hit")), len(vis), None)
    out["not_visible_accuracy_strict"] = _ratio(correct_nv, len(nv), None)
    out["pred_not_visible"] = sum(1 for r in results if r["pred_kind"] == "not_visible")
    out["unparseable_answers"] = sum(1 for r in results if r["pred_kind"] == "unparseable")
    out["failed_samples"] = sum(1 for r in results if r.get("error"))
    return out
