"""Reader of the x3 layout: `{split}/{scene_id}/uid_{uid}/{view:02d}_{frame}_{kind}.png`.

`kind` is `original`, `inpainted`, `mask` and `mask_dialated` (the data set's spelling; the
correct `mask_dilated` is accepted too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mc_core.errors import BadInputError

FILE_RE = re.compile(r"^(\d{2})_(.+?)_(original|inpainted|mask_dialated|mask_dilated|mask)\.png$")
DILATED_KINDS = ("mask_dialated", "mask_dilated")


@dataclass
class View:
    """One view (frame) of one object instance."""

    view: int
    frame: str
    original: Path | None = None
    inpainted: Path | None = None
    mask: Path | None = None
    mask_dilated: Path | None = None

    @property
    def stem(self) -> str:
        return f"{self.view:02d}_{self.frame}"

    def mask_path(self, use_dilated: bool) -> Path | None:
        if use_dilated and self.mask_dilated is not None:
            return self.mask_dilated
        return self.mask


@dataclass
class Instance:
    """One object instance (`uid_*` folder) with its views sorted by view index."""

    split: str
    scene_id: str
    uid: str
    path: Path
    views: list[View] = field(default_factory=list)


def scan_instances(root: str | Path, split: str) -> list[Instance]:
    """All instances of a split, sorted by scene and uid. A missing split gives an empty list."""
    base = Path(root) / split
    if not base.is_dir():
        return []
    out = []
    for scene_dir in sorted(p for p in base.iterdir() if p.is_dir()):
        for uid_dir in sorted(p for p in scene_dir.iterdir() if p.is_dir() and p.name.startswith("uid_")):
            views: dict[tuple[int, str], View] = {}
            for f in sorted(uid_dir.iterdir()):
                m = FILE_RE.match(f.name)
                if not m:
                    continue
                key = (int(m.group(1)), m.group(2))
                v = views.setdefault(key, View(view=key[0], frame=key[1]))
                kind = m.group(3)
                if kind in DILATED_KINDS:
                    v.mask_dilated = f.resolve()
                else:
                    setattr(v, kind, f.resolve())
            inst = Instance(split, scene_dir.name, uid_dir.name[len("uid_"):], uid_dir.resolve(),
                            [views[k] for k in sorted(views)])
            for v in inst.views:
                if v.original is None:
                    raise BadInputError(uid_dir / f"{v.stem}_original.png", "missing original image")
                if v.mask is None and v.mask_dilated is None:
                    raise BadInputError(uid_dir / f"{v.stem}_mask.png", "missing mask")
            out.append(inst)
    return out


def read_mask(path: str | Path, expect_size: tuple[int, int] | None = None,
              image_path: str | Path | None = None) -> np.ndarray:
    """A boolean mask (mask > 0 on the first channel). `expect_size` is (width, height)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            size = im.size
            arr = np.asarray(im)
    except FileNotFoundError:
        raise BadInputError(path, "mask file not found") from None
    except OSError as e:
        raise BadInputError(path, f"cannot read mask: {e}") from None
    if expect_size is not None and size != tuple(expect_size):
        raise BadInputError(path, f"mask is {size[0]}x{size[1]} but its image {image_path or ''} is "
                                  f"{expect_size[0]}x{expect_size[1]}".replace("  ", " "))
    if arr.ndim == 3:
        arr = arr[..., 0]
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
    """The mask of a query image, in the seed's order; None when no candidate exists.

    `_original.png` / `_inpainted.png` -> `_mask_dialated.png` -> (`_mask_dilated.png`) -> `_mask.png`;
    any other `.png` -> `<stem>_mask_dialated.png` -> `<stem>_mask.png`.
    """
    q = str(query)
    for suffix in ("_original.png", "_inpainted.png"):
        if q.endswith(suffix):
            base = q[: -len(suffix)]
            break
    else:
        if not q.endswith(".png"):
            return None
        base = q[: -len(".png")]
    for cand in (base + "_mask_dialated.png", base + "_mask_dilated.png", base + "_mask.png"):
        if Path(cand).is_file():
            return Path(cand)
    return None
