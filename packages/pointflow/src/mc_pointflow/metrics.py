"""Metrics on attention masks (values in [0, 1]; binarised at `threshold`)."""

from __future__ import annotations

import numpy as np
from mc_core.errors import UsageError


def _pair(pred, target):
    p, t = np.asarray(pred, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if p.shape != t.shape:
        raise UsageError(f"prediction shape {p.shape} differs from target shape {t.shape}")
    return p, t


def attention_iou(pred, target, threshold: float = 0.5) -> float:
    """Intersection over union of the attended points (mask >= threshold); 1.0 when both are empty."""
    p, t = _pair(pred, target)
    p, t = p >= threshold, t >= threshold
    union = np.logical_or(p, t).sum()
    return float(np.logical_and(p, t).sum() / union) if union else 1.0


def attention_coverage(mask, threshold: float = 0.5) -> float:
    """Fraction of points attended (mask >= threshold)."""
    m = np.asarray(mask, dtype=np.float64)
    return float((m >= threshold).mean()) if m.size else float("nan")
