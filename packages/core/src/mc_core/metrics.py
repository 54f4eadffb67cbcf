"""Generic metrics for label maps, registered by the core plugin.

All take integer arrays of the same shape (prediction, target) and an optional `ignore_index`.
"""

from __future__ import annotations

import numpy as np

from mc_core.errors import UsageError


def _flat(pred, target, ignore_index: int | None):
    p = np.asarray(pred)
    t = np.asarray(target)
    if p.shape != t.shape:
        raise UsageError(f"prediction shape {p.shape} differs from target shape {t.shape}")
    p, t = p.reshape(-1), t.reshape(-1)
    if ignore_index is not None:
        keep = t != ignore_index
        p, t = p[keep], t[keep]
    return p.astype(np.int64), t.astype(np.int64)


def confusion_matrix(pred, target, num_classes: int | None = None, ignore_index: int | None = None) -> np.ndarray:
    """Counts[c_true, c_pred] over all (non-ignored) pixels."""
    p, t = _flat(pred, target, ignore_index)
    if p.size and (p.min() < 0 or t.min() < 0):
        raise UsageError("class ids must be non-negative")
    n = int(num_classes if num_classes is not None else max(p.max(initial=-1), t.max(initial=-1)) + 1)
    if p.size and max(p.max(), t.max()) >= n:
        raise UsageError(f"class id {max(p.max(), t.max())} is outside num_classes={n}")
    return np.bincount(t * n + p, minlength=n * n).reshape(n, n)


def pixel_accuracy(pred, target, ignore_index: int | None = None) -> float:
    """Fraction of pixels whose predicted class equals the target class."""
    p, t = _flat(pred, target, ignore_index)
    return float((p == t).mean()) if p.size else float("nan")


def mean_iou(pred, target, num_classes: int | None = None, ignore_index: int | None = None) -> float:
    """Mean intersection-over-union over the classes present in the prediction or the target."""
    cm = confusion_matrix(pred, target, num_classes, ignore_index)
    inter = np.diag(cm).astype(np.float64)
    union = cm.sum(0) + cm.sum(1) - np.diag(cm)
    present = union > 0
    return float((inter[present] / union[present]).mean()) if present.any() else float("nan")


def dice(pred, target, num_classes: int | None = None, ignore_index: int | None = None) -> float:
    """Mean Dice (F1) coefficient over the classes present in the prediction or the target."""
    cm = confusion_matrix(pred, target, num_classes, ignore_index)
    inter = np.diag(cm).astype(np.float64)
    denom = cm.sum(0) + cm.sum(1)
    present = denom > 0
    return float((2 * inter[present] / denom[present]).mean()) if present.any() else float("nan")
