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


def rollout_success(states, grasp, tolerance: float | None = None) -> float:
    """1.0 if a robot-state trajectory (T, 10) succeeds at the sim's task: the gripper closes within
    `tolerance` (default the task's 2 cm) of the grasp position `grasp` (3,); else 0.0. The rollout
    command scores episodes with the same check, and every scripted demo scores 1.0."""
    from mc_pointflow.sim.scene import GRASP_TOLERANCE, first_grasp

    s, g = np.asarray(states, dtype=np.float64), np.asarray(grasp, dtype=np.float64).reshape(-1)
    if s.ndim != 2 or s.shape[1] < 10 or g.shape != (3,):
        raise UsageError(f"expected states (T, 10) and a grasp position (3,), got {s.shape} and {g.shape}")
    tol = GRASP_TOLERANCE if tolerance is None else float(tolerance)
    return 0.0 if first_grasp(s, g, tol) is None else 1.0


def wilson_interval(successes: int, trials: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval of a success rate (95% by default); (0, 1) when there are no trials."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    lo = 0.0 if successes <= 0 else max(0.0, centre - half)
    hi = 1.0 if successes >= trials else min(1.0, centre + half)
    return float(lo), float(hi)
