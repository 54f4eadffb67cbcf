"""Reader of the x3 layout: `{split}/{scene_id}/uid_{uid}/{view:02d}_{frame}_{kind}.png`.

`kind` is `original`, `inpainted`, `mask` and `mask_dialated` (the data set's spelling). The splits
are `train/` and `validation/` (the seed's pipeline); `val/` is read when there is no `validation/`.
Views are 01..05, read as the seed's builder reads them: for view `k` the first (sorted)
`{k:02d}_*_original.png`, `..._inpainted.png` and mask (`_mask_dialated.png` when the dilated mask
is wanted, else `_mask.png`; the other one when the wanted one is missing; the spelling
`_mask_dilated.png` last). A view without an original or without a mask is skipped (as the seed
does), with a warning naming it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mc_core.errors import BadInputError

VIEWS = (1, 2, 3, 4, 5)
# split name in the JSON file names -> the folders that hold it, in order of preference
SPLIT_FOLDERS = {"train": ("train",), "val": ("validation", "val")}

Warn = Callable[[str], None]


def stderr_warning(message: str) -> None:
    sys.stderr.write(f"warning: {message}\n")


@dataclass
class View:
    """One view (frame) of one object instance."""

    view: int
    frame: str
    original: Path
    inpainted: Path | None = None
    mask: Path | None = None

    @property
    def stem(self) -> str:
        return f"{self.view:02d}_{self.frame}"


@dataclass
class Instance:
    """One object instance (`uid_*` folder) with its views in view order."""

    split: str       # "train" or "val": the name in the JSON files
    folder: str      # the split folder it was read from: "train", "validation" or "val"
    scene_id: str
    uid: str
    path: Path
    views: list[View] = field(default_factory=list)


def frame_id(name: str) -> str:
    """The frame of a file name `01_004130_original.png` -> `004130` (the seed's rule)."""
    parts = name.split("_")
    return parts[1] if len(parts) >= 3 else "unknown"


def _first(uid_dir: Path, pattern: str) -> Path | None:
    found = sorted(uid_dir.glob(pattern))
    return found[0] if found else None


def find_mask(uid_dir: Path, k: int, use_dilated: bool) -> Path | None:
    """The mask file of view `k`: the wanted kind, else the other, else `_mask_dilated.png`."""
    kinds = ("mask_dialated", "mask") if use_dilated else ("mask", "mask_dialated")
    for kind in (*kinds, "mask_dilated"):
        p = _first(uid_dir, f"{k:02d}_*_{kind}.png")
        if p is not None:
            return p
    return None


def split_folder(root: str | Path, split: str) -> Path | None:
    """The folder holding `split` ("train" or "val") under `root`, or None."""
    for name in SPLIT_FOLDERS[split]:
        if (Path(root) / name).is_dir():
            return Path(root) / name
    return None


def scan_instances(root: str | Path, split: str, *, use_dilated: bool = True,
                   warn: Warn | None = stderr_warning) -> list[Instance]:
    """All instances of a split, sorted by scene and uid (the seed's order). A missing split gives []."""
    base = split_folder(root, split)
    if base is None:
        return []
    out = []
    for scene_dir in sorted(p for p in base.iterdir() if p.is_dir()):
        for uid_dir in sorted(p for p in scene_dir.iterdir() if p.is_dir() and p.name.startswith("uid_")):
            views = []
            for k in VIEWS:
                original = _first(uid_dir, f"{k:02d}_*_original.png")
                if original is None:
                    if warn and any(uid_dir.glob(f"{k:02d}_*.png")):
                        warn(f"{uid_dir}: view {k:02d} has no *_original.png; skipped")
                    continue
                mask = find_mask(uid_dir, k, use_dilated)
                if mask is None:
                    if warn:
                        warn(f"{uid_dir}: view {k:02d} has no mask (*_mask.png or *_mask_dialated.png); skipped")
                    continue
                inpainted = _first(uid_dir, f"{k:02d}_*_inpainted.png")
                views.append(View(k, frame_id(original.name), original.resolve(),
                                  inpainted.resolve() if inpainted is not None else None, mask))
            out.append(Instance(split, base.name, scene_dir.name, uid_dir.name.replace("uid_", ""),
                                uid_dir.resolve(), views))
    return out


def read_mask(path: str | Path, expect_size: tuple[int, int] | None = None,
              image_path: str | Path | None = None) -> np.ndarray:
    """A boolean mask: grey level > 0, the grey level as the seed reads it (luma of a colour mask;
    the high byte of a 16-bit one). `expect_size` is (width, height)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            size = im.size
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(im).astype(np.int64) >> 8
            else:
                arr = np.asarray(im.convert("L"))
    except FileNotFoundError:
        raise BadInputError(path, "mask file not found") from None
    except OSError as e:
        raise BadInputError(path, f"cannot read mask: {e}") from None
    if expect_size is not None and size != tuple(expect_size):
        where = f" {image_path}" if image_path else ""
        raise BadInputError(path, f"mask is {size[0]}x{size[1]} but its image{where} is "
                                  f"{expect_size[0]}x{expect_size[1]}")
    return arr > 0


def read_rgb(path: str | Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except FileNotFoundError:
        raise BadInputError(path, "image file not found") from None
    except OSError as e:
        raise BadInputError(path, f"cannot read image: {e}") from None


def image_size(path: str | Path) -> tuple[int, int]:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.size
    except FileNotFoundError:
        raise BadInputError(path, "image file not found") from None
    except OSError as e:
        raise BadInputError(path, f"cannot read image: {e}") from None


def infer_mask_path(query: str | Path) -> Path | None:
    """The mask of a query image, by the seed's evaluator's rule; None when no candidate exists.

    In the file name, `_original.png` (else `_inpainted.png`, else `.png`) is replaced by
    `_mask_dialated.png`, then by `_mask.png`; the first that exists is the mask.
    """
    q = Path(query)
    name = q.name
    # the seed's rule: the first matching suffix, else ".png" (a name without it is left as it is,
    # so a .jpg query is its own "mask", as in the seed)
    suffix = next((sfx for sfx in ("_original.png", "_inpainted.png") if name.endswith(sfx)), ".png")
    for cand in (q.with_name(name.replace(suffix, "_mask_dialated.png")), q.with_name(name.replace(suffix, "_mask.png"))):
        if cand.exists():
            return cand
    return None
