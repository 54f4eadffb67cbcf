"""The NLCD land-cover legend (codes 11..95, names, standard colours) and code <-> index maps.

Class codes map to contiguous indices 0..NUM_CLASSES-1 through this legend, never through whatever
`np.unique` finds in one file, so every data set and checkpoint agrees on what index 5 means.
"""

from __future__ import annotations

import numpy as np

# (code, name, (r, g, b)): the MRLC NLCD legend with its standard colours (Alaska-only classes included).
NLCD_CLASSES: list[tuple[int, str, tuple[int, int, int]]] = [
    (11, "Open Water", (70, 107, 159)),
    (12, "Perennial Ice/Snow", (209, 222, 248)),
    (21, "Developed, Open Space", (222, 197, 197)),
    (22, "Developed, Low Intensity", (217, 146, 130)),
    (23, "Developed, Medium Intensity", (235, 0, 0)),
    (24, "Developed, High Intensity", (171, 0, 0)),
    (31, "Barren Land (Rock/Sand/Clay)", (179, 172, 159)),
    (41, "Deciduous Forest", (104, 171, 95)),
    (42, "Evergreen Forest", (28, 95, 44)),
    (43, "Mixed Forest", (181, 197, 143)),
    (51, "Dwarf Scrub", (175, 150, 60)),
    (52, "Shrub/Scrub", (204, 184, 121)),
    (71, "Grassland/Herbaceous", (223, 223, 194)),
    (72, "Sedge/Herbaceous", (209, 209, 130)),
    (73, "Lichens", (163, 204, 81)),
    (74, "Moss", (130, 186, 158)),
    (81, "Pasture/Hay", (220, 217, 57)),
    (82, "Cultivated Crops", (171, 108, 40)),
    (90, "Woody Wetlands", (184, 217, 235)),
    (95, "Emergent Herbaceous Wetlands", (108, 159, 184)),
]

NUM_CLASSES = len(NLCD_CLASSES)
CODES = np.array([c for c, _, _ in NLCD_CLASSES], dtype=np.uint8)
NAMES = [n for _, n, _ in NLCD_CLASSES]
COLORS = np.array([rgb for _, _, rgb in NLCD_CLASSES], dtype=np.uint8)
DEVELOPED_INDICES = [i for i, (c, _, _) in enumerate(NLCD_CLASSES) if 21 <= c <= 24]
UNKNOWN_COLOR = (0, 0, 0)  # drawn for index -1 (not yet generated / hidden)

_CODE_TO_INDEX = np.full(256, -1, dtype=np.int16)
_CODE_TO_INDEX[CODES] = np.arange(NUM_CLASSES)


class UnknownCodeError(ValueError):
    """Raised when an array holds values that are not NLCD class codes."""

    def __init__(self, codes):
        self.codes = sorted(int(c) for c in codes)
        super().__init__(
            "values outside the NLCD legend: " + ", ".join(str(c) for c in self.codes[:20])
            + (" ..." if len(self.codes) > 20 else "")
        )


def codes_to_index(arr, *, ignore: int | None = None) -> np.ndarray:
    """NLCD codes -> contiguous indices (uint8). Raises UnknownCodeError listing unknown codes.

    `ignore` (e.g. the nodata value) is mapped to 255 instead of raising.
    """
    a = np.asarray(arr)
    if a.dtype.kind not in "iu":
        raise ValueError(f"class codes must be integers, got {a.dtype}")
    bad = (a < 0) | (a > 255)
    lut_idx = np.where(bad, 0, a).astype(np.int64)
    idx = _CODE_TO_INDEX[lut_idx]
    invalid = bad | (idx < 0)
    if ignore is not None:
        invalid &= a != ignore
    if invalid.any():
        raise UnknownCodeError(np.unique(a[invalid]))
    out = idx.astype(np.uint8)
    if ignore is not None:
        out[a == ignore] = 255
    return out


def index_to_codes(arr) -> np.ndarray:
    """Contiguous indices -> NLCD codes (uint8). Raises ValueError for indices out of range."""
    a = np.asarray(arr).astype(np.int64)
    if a.size and (a.min() < 0 or a.max() >= NUM_CLASSES):
        raise ValueError(f"class indices must lie in 0..{NUM_CLASSES - 1}")
    return CODES[a]


def colorize(index_map) -> np.ndarray:
    """(..., H, W) indices -> (..., H, W, 3) uint8 RGB in the standard NLCD colours; -1 is black."""
    a = np.asarray(index_map).astype(np.int64)
    if a.size and a.max() >= NUM_CLASSES:
        raise ValueError(f"class indices must lie in -1..{NUM_CLASSES - 1}")
    table = np.vstack([COLORS, np.array([UNKNOWN_COLOR], dtype=np.uint8)])
    return table[np.where(a < 0, NUM_CLASSES, a)]


def legend_dict() -> dict:
    """The legend as JSON-friendly data (stored in npz files and checkpoints)."""
    return {"codes": [int(c) for c in CODES], "names": NAMES, "colors": [list(map(int, c)) for c in COLORS]}
