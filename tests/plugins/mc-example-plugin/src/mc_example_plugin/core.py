"""The example plugin's dataset, model and metric (numpy only)."""

import numpy as np


def stripes(n: int = 4, size: int = 8, classes: int = 3) -> np.ndarray:
    """`n` label maps of `size`x`size` with horizontal stripes; class 0 is the most frequent."""
    rows = np.arange(size) % (classes + 1)
    rows[rows == classes] = 0
    maps = np.repeat(rows[:, None], size, axis=1)
    return np.stack([np.roll(maps, k, axis=0) for k in range(n)]).astype(np.uint8)


class MajorityModel:
    """Predicts the class that was most frequent in the training maps, everywhere."""

    def __init__(self):
        self.majority = None

    def fit(self, maps: np.ndarray) -> "MajorityModel":
        self.majority = int(np.bincount(np.asarray(maps).ravel()).argmax())
        return self

    def predict(self, maps: np.ndarray) -> np.ndarray:
        if self.majority is None:
            raise RuntimeError("fit the model first")
        return np.full_like(maps, self.majority)


def foreground_fraction(mask) -> float:
    return float((np.asarray(mask) != 0).mean())
