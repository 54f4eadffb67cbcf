"""Classical inpainting baselines: mode fill and nearest-neighbour fill.

Every method returns an `Infill`: per-pixel class probabilities (used for log loss), the argmax
fill and one sampled fill, each as full (B, H, W) maps whose known pixels equal the input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Probability mass a deterministic fill leaves to the other classes, so its log loss is finite.
DETERMINISTIC_EPS = 0.01


@dataclass
class Infill:
    probs: np.ndarray    # (B, H, W, C) float: p(class) for each pixel (meaningful at hidden pixels)
    argmax: np.ndarray   # (B, H, W) int: most probable class at hidden pixels, truth elsewhere
    sampled: np.ndarray  # (B, H, W) int: one joint sample at hidden pixels, truth elsewhere


def _smoothed_one_hot(idx: np.ndarray, num_classes: int, eps: float = DETERMINISTIC_EPS) -> np.ndarray:
    probs = np.full(idx.shape + (num_classes,), eps / max(num_classes - 1, 1), dtype=np.float64)
    np.put_along_axis(probs, idx[..., None].astype(np.int64), 1.0 - eps, axis=-1)
    return probs


def class_frequencies(maps: np.ndarray, num_classes: int, alpha: float = 1.0) -> np.ndarray:
    """Class frequencies over all pixels of `maps`, with add-`alpha` smoothing."""
    counts = np.bincount(np.asarray(maps, dtype=np.int64).ravel(), minlength=num_classes)[:num_classes]
    counts = counts.astype(np.float64) + alpha
    return counts / counts.sum()


def mode_fill(x: np.ndarray, hidden: np.ndarray, num_classes: int, rng: np.random.Generator,
              prior: np.ndarray | None = None) -> Infill:
    """Fill each map's hidden pixels with the most frequent class among its known pixels.

    Probabilities are the known pixels' class histogram (add-one smoothed, or `prior` when a map has
    no known pixel); the sampled fill draws each hidden pixel independently from that histogram.
    """
    x = np.asarray(x, dtype=np.int64)
    b, h, w = x.shape
    probs = np.empty((b, h, w, num_classes))
    argmax = x.copy()
    sampled = x.copy()
    for i in range(b):
        known = x[i][~hidden[i]]
        if known.size:
            p = class_frequencies(known, num_classes, alpha=1.0)
        else:
            p = prior if prior is not None else np.full(num_classes, 1.0 / num_classes)
        probs[i] = p
        argmax[i][hidden[i]] = int(np.argmax(p))
        sampled[i][hidden[i]] = rng.choice(num_classes, size=int(hidden[i].sum()), p=p)
    return Infill(probs, argmax, sampled)


def nearest_fill(x: np.ndarray, hidden: np.ndarray, num_classes: int,
                 prior: np.ndarray | None = None) -> Infill:
    """Fill each hidden pixel with the class of the nearest known pixel (Euclidean distance transform).

    Deterministic: the sampled fill equals the argmax fill; probabilities put 1 - eps on that class.
    """
    from scipy.ndimage import distance_transform_edt

    x = np.asarray(x, dtype=np.int64)
    out = x.copy()
    for i in range(x.shape[0]):
        if hidden[i].all():
            # nothing known: fall back to the most frequent class of `prior` (training frequencies)
            out[i] = int(np.argmax(prior)) if prior is not None else 0
            continue
        if not hidden[i].any():
            continue
        _, (rows, cols) = distance_transform_edt(hidden[i], return_indices=True)
        out[i] = x[i][rows, cols]
    return Infill(_smoothed_one_hot(out, num_classes), out, out.copy())
