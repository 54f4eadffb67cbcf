"""A rule-based predictor for `mc spatial-vlm eval` (numpy and Pillow only): it implements the
`mc_spatial_vlm.Predictor` interface, `predict(images, prompt, sample) -> answer text`, without
importing mc_spatial_vlm.

- Difference grounding (the prompt speaks of an inpainted image): the median pixel of the region
  where the two images differ (summed absolute RGB difference above `diff_threshold`), snapped to
  the nearest changed pixel; NOT_VISIBLE when nothing changed.
- Cross-view correspondence (two images, the first with the object tinted red at opacity
  `alpha`): the object's colour is the mean of the tinted pixels with the tint taken out; the answer
  is the median of the query pixels within `tolerance` of that colour, snapped to the nearest such
  pixel; NOT_VISIBLE when fewer than `min_pixels` match (or nothing is tinted).
- Anything else (a concat image): NOT_VISIBLE.
"""

from __future__ import annotations

from typing import Any

import numpy as np

RED = np.array([255.0, 0.0, 0.0])


def _rgb(path: str) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float64)


def _median_point(sel: np.ndarray) -> str:
    ys, xs = np.nonzero(sel)
    my, mx = np.median(ys), np.median(xs)
    k = int(np.argmin((ys - my) ** 2 + (xs - mx) ** 2))
    h, w = sel.shape
    return f"[({(xs[k] + 0.5) / w:.3f}, {(ys[k] + 0.5) / h:.3f})]"


class ExamplePredictor:
    """Colour matching for Task1, image differencing for Task2B (see the module docstring)."""

    def __init__(self, alpha: float = 0.45, tolerance: float = 45.0, min_pixels: int = 4,
                 diff_threshold: float = 40.0):
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"alpha must be in [0, 1), got {alpha}")
        if not (tolerance > 0 and diff_threshold >= 0 and min_pixels >= 1):
            raise ValueError("tolerance must be > 0, diff_threshold >= 0 and min_pixels >= 1")
        self.alpha, self.tolerance = float(alpha), float(tolerance)
        self.min_pixels, self.diff_threshold = int(min_pixels), float(diff_threshold)

    def predict(self, images: list[str], prompt: str, sample: dict[str, Any]) -> str:
        if len(images) != 2:
            return "NOT_VISIBLE"
        a, b = _rgb(images[0]), _rgb(images[1])
        if "inpainted" in prompt.lower():
            if a.shape != b.shape:
                return "NOT_VISIBLE"
            changed = np.abs(a - b).sum(axis=-1) > self.diff_threshold
            return _median_point(changed) if changed.any() else "NOT_VISIBLE"
        tinted = (a[..., 0] - np.maximum(a[..., 1], a[..., 2])) > 255.0 * self.alpha * 0.8
        if tinted.sum() < self.min_pixels:
            return "NOT_VISIBLE"
        colour = ((a[tinted] - self.alpha * RED) / (1.0 - self.alpha)).mean(axis=0)
        close = np.linalg.norm(b - colour, axis=-1) < self.tolerance
        if close.sum() < self.min_pixels:
            return "NOT_VISIBLE"
        return _median_point(close)
