"""Object-centric segmentation metrics: foreground ARI and Hungarian-matched IoU.

Both take two integer arrays of the same shape (prediction, target) holding instance ids with
0 = background. Ids are arbitrary labels: only the grouping of pixels matters. Pass one frame
(H, W) for a per-frame score, or a whole video (T, H, W) for a score that also requires the same
object to keep the same id over time.
"""

from __future__ import annotations

import numpy as np

from mc_core.errors import UsageError


def _pair(pred, target) -> tuple[np.ndarray, np.ndarray]:
    p, t = np.asarray(pred), np.asarray(target)
    if p.shape != t.shape:
        raise UsageError(f"prediction shape {p.shape} differs from target shape {t.shape}")
    if not (np.issubdtype(p.dtype, np.integer) and np.issubdtype(t.dtype, np.integer)):
        raise UsageError(f"instance ids must be integers, got {p.dtype} and {t.dtype}")
    return p.reshape(-1).astype(np.int64), t.reshape(-1).astype(np.int64)


def _comb2(x: np.ndarray) -> float:
    x = x.astype(np.float64)
    return float((x * (x - 1) / 2).sum())


def adjusted_rand_index(pred, target) -> float:
    """Adjusted Rand index (Hubert & Arabie 1985) between two labelings of the same pixels.

    1 = identical groupings (up to renaming), about 0 = no better than chance. When both labelings
    are trivial in the same way (one group each, or every pixel its own group) it is 1.
    """
    p, t = _pair(pred, target)
    n = p.size
    if n == 0:
        return float("nan")
    _, p_idx = np.unique(p, return_inverse=True)
    _, t_idx = np.unique(t, return_inverse=True)
    table = np.bincount(t_idx * (p_idx.max() + 1) + p_idx,
                        minlength=(t_idx.max() + 1) * (p_idx.max() + 1))
    table = table.reshape(t_idx.max() + 1, p_idx.max() + 1)
    index = _comb2(table)
    a = _comb2(table.sum(1))
    b = _comb2(table.sum(0))
    total = n * (n - 1) / 2
    expected = a * b / total if total else 0.0
    maximum = (a + b) / 2
    if maximum == expected:
        return 1.0
    return float((index - expected) / (maximum - expected))


def fg_ari(pred, target) -> float:
    """Foreground ARI: the ARI over the pixels that are foreground (id != 0) in the target.

    How the prediction splits the target's foreground into objects is scored; what it does on
    background pixels is not (as in Slot Attention, Locatello et al. 2020). NaN when the target has
    no foreground.
    """
    p, t = _pair(pred, target)
    fg = t != 0
    if not fg.any():
        return float("nan")
    return adjusted_rand_index(p[fg], t[fg])


def iou_matrix(pred, target) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IoU of every (true object, predicted object) pair; ids 0 are background and excluded.

    Returns (iou[n_true, n_pred], true_ids, pred_ids).
    """
    p, t = _pair(pred, target)
    t_ids = np.unique(t[t != 0])
    p_ids = np.unique(p[p != 0])
    if t_ids.size == 0 or p_ids.size == 0:
        return np.zeros((t_ids.size, p_ids.size)), t_ids, p_ids
    ti = np.searchsorted(t_ids, t)
    pi = np.searchsorted(p_ids, p)
    both = (t != 0) & (p != 0)
    inter = np.bincount(ti[both] * p_ids.size + pi[both], minlength=t_ids.size * p_ids.size)
    inter = inter.reshape(t_ids.size, p_ids.size).astype(np.float64)
    t_area = np.bincount(ti[t != 0], minlength=t_ids.size).astype(np.float64)
    p_area = np.bincount(pi[p != 0], minlength=p_ids.size).astype(np.float64)
    union = t_area[:, None] + p_area[None, :] - inter
    return inter / union, t_ids, p_ids


def matched_iou(pred, target) -> float:
    """Mean IoU over the true objects after a one-to-one Hungarian matching to predicted objects.

    The matching maximises the total IoU (scipy's linear_sum_assignment); a true object left without
    a predicted partner scores 0, extra predicted objects are not penalised beyond that. Background
    (id 0) is not an object. NaN when the target has no objects.
    """
    from scipy.optimize import linear_sum_assignment

    iou, t_ids, p_ids = iou_matrix(pred, target)
    if t_ids.size == 0:
        return float("nan")
    if p_ids.size == 0:
        return 0.0
    rows, cols = linear_sum_assignment(iou, maximize=True)
    return float(iou[rows, cols].sum() / t_ids.size)
