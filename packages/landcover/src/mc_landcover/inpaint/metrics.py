"""Inpainting metrics over the hidden pixels, with confidence intervals over images.

Per image: argmax accuracy, sampled accuracy, log loss (nats) and class-proportion error (total
variation distance between the class histogram of the sampled fill and of the truth, over the
hidden pixels). Pooled over all hidden pixels: per-class and macro F1 of the argmax fill.
"""

from __future__ import annotations

import math

import numpy as np

from mc_core.errors import UsageError


def mean_interval(values, level: float = 0.95) -> dict:
    """Mean with a Student-t confidence interval over independent per-image values."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    n = int(v.size)
    if n == 0:
        return {"mean": float("nan"), "low": float("nan"), "high": float("nan"), "n": 0}
    mean = float(v.mean())
    if n == 1:
        return {"mean": mean, "low": float("nan"), "high": float("nan"), "n": 1}
    from scipy.stats import t

    half = float(t.ppf(0.5 + level / 2, n - 1) * v.std(ddof=1) / math.sqrt(n))
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": n}


def _check(pred, target, hidden):
    pred, target = np.asarray(pred), np.asarray(target)
    if pred.shape != target.shape:
        raise UsageError(f"prediction shape {pred.shape} differs from target shape {target.shape}")
    hidden = np.ones(target.shape, bool) if hidden is None else np.asarray(hidden, bool)
    if hidden.shape != target.shape:
        raise UsageError(f"mask shape {hidden.shape} differs from target shape {target.shape}")
    return pred, target, hidden


def inpaint_accuracy(pred, target, hidden=None) -> float:
    """Fraction of hidden pixels (all pixels when no mask) whose filled class equals the truth."""
    pred, target, hidden = _check(pred, target, hidden)
    if not hidden.any():
        return float("nan")
    return float((pred[hidden] == target[hidden]).mean())


def class_proportion_error(pred, target, hidden=None, num_classes: int | None = None) -> float:
    """Total variation distance (0..1) between the class proportions of pred and target (hidden pixels)."""
    pred, target, hidden = _check(pred, target, hidden)
    p, t = pred[hidden].astype(np.int64).ravel(), target[hidden].astype(np.int64).ravel()
    if t.size == 0:
        return float("nan")
    n = int(num_classes or max(p.max(), t.max()) + 1)
    hp = np.bincount(p, minlength=n) / p.size
    ht = np.bincount(t, minlength=n) / t.size
    return float(0.5 * np.abs(hp - ht).sum())


def f1_per_class(pred, target, num_classes: int) -> np.ndarray:
    """F1 of each class over the given pixels; NaN for a class absent from both."""
    p = np.asarray(pred, dtype=np.int64).ravel()
    t = np.asarray(target, dtype=np.int64).ravel()
    cm = np.bincount(t * num_classes + p, minlength=num_classes ** 2).reshape(num_classes, num_classes)
    tp = np.diag(cm).astype(np.float64)
    denom = cm.sum(0) + cm.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, 2 * tp / denom, np.nan)


def evaluate_infill(truth: np.ndarray, hidden: np.ndarray, probs: np.ndarray, argmax: np.ndarray,
                    sampled: np.ndarray, num_classes: int, class_names: list[str] | None = None,
                    level: float = 0.95) -> dict:
    """All inpainting metrics for a batch: per-image means with intervals, pooled F1."""
    truth = np.asarray(truth, dtype=np.int64)
    hidden = np.asarray(hidden, bool)
    n = truth.shape[0]
    acc, sacc, nll, cpe = [], [], [], []
    for i in range(n):
        m = hidden[i]
        if not m.any():
            continue
        acc.append(inpaint_accuracy(argmax[i], truth[i], m))
        sacc.append(inpaint_accuracy(sampled[i], truth[i], m))
        p_true = np.take_along_axis(probs[i][m], truth[i][m][:, None], axis=-1)[:, 0]
        nll.append(float(-np.log(np.clip(p_true, 1e-12, None)).mean()))
        cpe.append(class_proportion_error(sampled[i], truth[i], m, num_classes))
    f1 = f1_per_class(argmax[hidden], truth[hidden], num_classes)
    names = class_names or [str(c) for c in range(num_classes)]
    nll_nats = mean_interval(nll, level)
    return {
        "n_images": len(acc),
        "n_hidden_pixels": int(hidden.sum()),
        "confidence_level": level,
        "accuracy": mean_interval(acc, level),
        "sampled_accuracy": mean_interval(sacc, level),
        "log_loss_nats": nll_nats,
        "log_loss_bits": {k: (v / math.log(2) if k != "n" else v) for k, v in nll_nats.items()},
        "class_proportion_error": mean_interval(cpe, level),
        "macro_f1": float(np.nanmean(f1)) if np.isfinite(f1).any() else float("nan"),
        "f1_per_class": {names[c]: (None if np.isnan(f1[c]) else float(f1[c])) for c in range(num_classes)},
    }


def paired_difference(truth: np.ndarray, hidden: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray,
                      num_classes: int, *, level: float = 0.95, n_boot: int = 1000, seed: int = 0) -> dict:
    """Fill a minus fill b on the same images and masks: accuracy (per-image differences, Student-t
    interval) and pooled macro F1 (the images resampled with replacement, `n_boot` times, percentile
    interval)."""
    if n_boot < 10:
        raise ValueError(f"n_boot must be at least 10, got {n_boot}")
    truth, hidden = np.asarray(truth, np.int64), np.asarray(hidden, bool)
    keep = hidden.reshape(len(truth), -1).any(1)
    truth, hidden, pred_a, pred_b = truth[keep], hidden[keep], np.asarray(pred_a)[keep], np.asarray(pred_b)[keep]
    acc = [inpaint_accuracy(pred_a[i], truth[i], hidden[i]) - inpaint_accuracy(pred_b[i], truth[i], hidden[i])
           for i in range(len(truth))]
    t_px = [truth[i][hidden[i]] for i in range(len(truth))]
    a_px = [pred_a[i][hidden[i]] for i in range(len(truth))]
    b_px = [pred_b[i][hidden[i]] for i in range(len(truth))]

    def macro(idx, preds):
        f1 = f1_per_class(np.concatenate([preds[i] for i in idx]), np.concatenate([t_px[i] for i in idx]),
                          num_classes)
        return float(np.nanmean(f1)) if np.isfinite(f1).any() else float("nan")

    allidx = np.arange(len(truth))
    diff = macro(allidx, a_px) - macro(allidx, b_px)
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(truth), len(truth))
        boots.append(macro(idx, a_px) - macro(idx, b_px))
    lo, hi = np.nanpercentile(boots, [50 * (1 - level), 50 * (1 + level)])
    return {"accuracy": mean_interval(acc, level),
            "macro_f1": {"mean": diff, "low": float(lo), "high": float(hi), "n": len(truth)}}
