"""Metrics of the spatial tasks: Hit@Mask (multi-image and concat), L2 error and the summary.

Coordinates are normalised to [0, 1] with the pixel-centre convention: pixel column `i` of an
image `W` wide covers x in [i/W, (i+1)/W), so a point maps to column `min(int(x * W), W - 1)`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

METRIC_KEYS = ("total", "gt_not_visible", "visible_gt", "not_visible_accuracy", "mean_l2_error",
               "std_l2_error", "median_l2_error", "success_002", "success_005", "success_010",
               "hit_at_mask", "hit_at_mask_count", "hit_at_mask_total")
SUCCESS_THRESHOLDS = {"success_002": 0.02, "success_005": 0.05, "success_010": 0.10}


def concat_to_query(x_full: float, y_full: float) -> tuple[float, float] | None:
    """Concat (side-by-side) coordinates to the right-half query image; None if the point is on the left."""
    if x_full < 0.5:
        return None
    xr = min(max((x_full - 0.5) * 2.0, 0.0), 1.0)
    return xr, min(max(y_full, 0.0), 1.0)


def point_in_mask(x: float, y: float, mask: np.ndarray) -> bool:
    """Whether normalised (x, y) falls on a mask>0 pixel; points outside [0,1] are clamped."""
    h, w = mask.shape[:2]
    if not (math.isfinite(x) and math.isfinite(y)):
        return False
    col = min(max(int(x * w), 0), w - 1)
    row = min(max(int(y * h), 0), h - 1)
    return bool(mask[row, col])


def hit_at_mask(point: tuple[float, float] | None, mask: np.ndarray, *, concat: bool = False) -> bool:
    """Hit@Mask of one prediction. `concat`: `point` is in full concat coordinates."""
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
    """Euclidean distance between two normalised points."""
    return float(math.hypot(pred[0] - gt[0], pred[1] - gt[1]))


def summarize(results: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The seed's metrics from per-sample results.

    Each result needs `gt_visible` (bool), `pred_kind` ("point"/"not_visible"/"unparseable"/"error"),
    `l2` (float or None) and `hit` (bool or None). Definitions:
    - not_visible_accuracy: fraction of NOT_VISIBLE ground truths answered NOT_VISIBLE (None if none);
    - mean/std/median_l2_error over visible ground truths answered with a point (None if none);
    - success_0xx: fraction of visible ground truths whose L2 <= threshold (no point = failure);
    - hit_at_mask: hits / visible ground truths (no point, unreadable mask or error = miss).
    """
    results = list(results)
    vis = [r for r in results if r["gt_visible"]]
    nv = [r for r in results if not r["gt_visible"]]
    l2s = np.array([r["l2"] for r in vis if r.get("l2") is not None], dtype=float)
    hits = sum(1 for r in vis if r.get("hit"))
    out: dict[str, Any] = {
        "total": len(results),
        "gt_not_visible": len(nv),
        "visible_gt": len(vis),
        "not_visible_accuracy": (sum(r["pred_kind"] == "not_visible" for r in nv) / len(nv)) if nv else None,
        "mean_l2_error": float(l2s.mean()) if l2s.size else None,
        "std_l2_error": float(l2s.std()) if l2s.size else None,
        "median_l2_error": float(np.median(l2s)) if l2s.size else None,
    }
    for key, thr in SUCCESS_THRESHOLDS.items():
        ok = sum(1 for r in vis if r.get("l2") is not None and r["l2"] <= thr + 1e-12)
        out[key] = ok / len(vis) if vis else None
    out["hit_at_mask"] = hits / len(vis) if vis else None
    out["hit_at_mask_count"] = hits
    out["hit_at_mask_total"] = len(vis)
    assert tuple(out) == METRIC_KEYS
    return out
