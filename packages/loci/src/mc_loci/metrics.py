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


# -- Loci-Segmented's own evaluation (its keys mean what they mean there) -----------------------

def binary_masks(labels, *, what: str = "target") -> np.ndarray:
    """A stack of binary object masks (M, ...) from instance ids (0 = background, one mask per id
    present, in id order) or, given a bool/0-1 stack already, that stack (masks may overlap)."""
    a = np.asarray(labels)
    if a.dtype == bool:
        return a
    if not np.issubdtype(a.dtype, np.integer):
        raise UsageError(f"{what} must hold integer instance ids or a bool mask stack, got {a.dtype}")
    ids = np.unique(a[a != 0])
    return a[None] == ids.reshape((-1,) + (1,) * a.ndim)


def _stacks(pred, target) -> tuple[np.ndarray, np.ndarray]:
    """(pred masks (N, P), target masks (M, P)) over the same P pixels; `pred` holds instance ids,
    `target` ids of pred's shape or a bool stack (M, *pred.shape)."""
    p = np.asarray(pred)
    if not np.issubdtype(p.dtype, np.integer):
        raise UsageError(f"instance ids must be integers, got {p.dtype}")
    t = np.asarray(target)
    if t.dtype != bool and t.shape != p.shape:
        raise UsageError(f"prediction shape {p.shape} differs from target shape {t.shape}")
    if t.dtype == bool and t.shape[1:] != p.shape:
        raise UsageError(f"target mask stack {t.shape} does not fit prediction shape {p.shape}")
    pm = binary_masks(p, what="prediction").reshape(-1, p.size)
    tm = binary_masks(t).reshape(-1, p.size)
    return pm, tm


def loci_iou_counts(pred, target) -> tuple[float, int]:
    """One frame's share of Loci-Segmented's ``iou``: (sum of matched IoUs, number of true objects).

    As its evaluation does: predicted objects and true objects are matched one-to-one by the
    Hungarian method maximising the *intersection* (its choice for the review benchmark), each
    matched pair adds its IoU, and the count is the number of non-empty true masks; a true object
    left without a partner adds 0. ``target`` is instance ids of ``pred``'s shape or a bool stack
    (M, H, W) (true masks may overlap). Summed over all frames of a data set and divided, it is
    ``iou`` (:func:`loci_iou`).
    """
    from scipy.optimize import linear_sum_assignment

    pm, tm = _stacks(pred, target)
    active = tm.any(axis=1)
    n_true = int(active.sum())
    if pm.shape[0] == 0 or tm.shape[0] == 0:
        return 0.0, n_true
    pf, tf = pm.astype(np.float64), tm.astype(np.float64)
    inter = pf @ tf.T                                        # (N, M)
    union = pf.sum(1)[:, None] + tf.sum(1)[None, :] - inter
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    rows, cols = linear_sum_assignment(inter, maximize=True)
    return float(iou[rows, cols].sum()), n_true


def loci_iou(pred, target) -> float:
    """Loci-Segmented's ``iou`` over frames: ``pred`` (T, H, W) ids, ``target`` (T, H, W) ids or a
    list of T bool stacks (M_t, H, W). Per frame :func:`loci_iou_counts`; the IoU sums of all frames
    divided by the number of true objects of all frames. A single frame (H, W) is one frame. NaN
    when no frame has a true object."""
    p = np.asarray(pred)
    if p.ndim == 2:
        p, target = p[None], [target]
    total, count = 0.0, 0
    for pf, tf in zip(p, target, strict=True):
        s, n = loci_iou_counts(pf, tf)
        total, count = total + s, count + n
    return total / count if count else float("nan")


def loci_fg_ari(pred, target) -> float:
    """The foreground ARI of Loci-Segmented's own code (its ``fg_ari``), which differs from the
    standard one (:func:`fg_ari`).

    The contingency table counts true-object x predicted-object overlaps (predicted background is
    no column), but the pair total is taken over *all* true-foreground pixels, so foreground that
    the model calls background stays in the total and lowers the score. Where the total or the
    denominator is 0 (fewer than 2 foreground pixels, or trivial groupings) the score is 1, as
    there. ``target``: ids of ``pred``'s shape or a bool stack (M, *pred.shape) (overlapping masks
    count a pixel once per mask, as there). Give a whole video (T, H, W) (stack (M, T, H, W)) for
    the score over time, where ids must persist (its ``seq_fg_ari``).
    """
    pm, tm = _stacks(pred, target)
    table = tm.astype(np.float64) @ pm.astype(np.float64).T     # (M, N)
    n = float(tm.sum())

    def c2(x):
        x = np.asarray(x, dtype=np.float64)
        return float((x * (x - 1) / 2).sum())

    total = c2(n)
    a, b = c2(table.sum(1)), c2(table.sum(0))
    expected = a * b / total if total else 0.0
    diff = (a + b) / 2 - expected
    if total == 0 or diff == 0:
        return 1.0
    return float((c2(table) - expected) / diff)
