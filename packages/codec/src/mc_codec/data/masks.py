"""Class-id mask PNGs: find them, read and write them, and split them deterministically.

A mask is a 2-D array of integer class ids stored as a single-channel PNG: 8-bit (`L` or a
palette image whose indices are the ids) or 16-bit (`I;16`, or `I` with values below 65536).
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np

from mc_core.errors import BadInputError

SPLIT_NAMES = ("train", "val", "test")


def find_masks(data_root: str | os.PathLike, subdir: str | None = None) -> list[str]:
    """Sorted relative POSIX paths (relative to `data_root/subdir`, see :func:`folder_of`) of
    every `.png` below it."""
    folder = folder_of(data_root, subdir)
    if not folder.is_dir():
        raise BadInputError(folder, "folder not found")
    found = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.suffix.lower() == ".png" and p.is_file() and not p.name.startswith(".")
    )
    if not found:
        raise BadInputError(folder, "no .png masks found (searched recursively)")
    return found


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """Read a single-channel class-id PNG as a (H, W) uint8 or uint16 array."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as img:
            fmt, mode = img.format, img.mode
            if fmt != "PNG":
                raise BadInputError(path, f"not a PNG file (found {fmt or 'unknown format'})")
            if mode in ("LA", "PA", "La"):
                raise BadInputError(path, f"image with an alpha channel (mode {mode}) where "
                                          "single-channel class ids are expected")
            if mode in ("RGB", "RGBA", "RGBa", "CMYK", "YCbCr", "HSV", "LAB", "RGBX"):
                raise BadInputError(
                    path, f"RGB image where class ids are expected (mode {mode}); "
                    "convert colours to ids first (e.g. `mc codec prepare-a2d2`)")
            img.load()
            if mode in ("L", "P"):
                arr = np.asarray(img, dtype=np.uint8)
            elif mode == "1":
                arr = np.asarray(img, dtype=np.uint8)
            elif mode.startswith("I;16"):
                arr = np.asarray(img).astype(np.uint16)
            elif mode == "I":
                arr32 = np.asarray(img)
                if arr32.size and (arr32.min() < 0 or arr32.max() >= 65536):
                    raise BadInputError(path, "class ids outside 0..65535")
                arr = arr32.astype(np.uint16)
            else:
                raise BadInputError(path, f"unsupported PNG mode {mode} for a class-id mask")
    except BadInputError:
        raise
    except FileNotFoundError:
        raise BadInputError(path, "file not found") from None
    except IsADirectoryError:
        raise BadInputError(path, "is a folder, not a PNG file") from None
    except UnidentifiedImageError:
        raise BadInputError(path, "not a readable image (corrupt or not a PNG)") from None
    except Image.DecompressionBombError as exc:
        raise BadInputError(path, f"image too large to read safely ({exc})") from None
    except (OSError, SyntaxError, ValueError, zlib.error, EOFError) as exc:
        raise BadInputError(path, f"corrupt or unreadable PNG ({exc})") from None
    if arr.ndim != 2:
        raise BadInputError(path, f"expected a 2-D mask, got shape {arr.shape}")
    return np.ascontiguousarray(arr)


def write_mask(path: str | os.PathLike, mask: np.ndarray) -> None:
    """Write a (H, W) integer mask as a PNG atomically: 8-bit when max < 256, else 16-bit."""
    from PIL import Image

    from mc_core.atomic import atomic_path

    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {mask.shape}")
    if mask.dtype.kind not in "uib":
        raise ValueError(f"mask must hold integer class ids, got dtype {mask.dtype}")
    if mask.size and (int(mask.min()) < 0 or int(mask.max()) > 65535):
        raise ValueError("class ids must lie in 0..65535")
    if mask.size == 0 or int(mask.max()) < 256:
        img = Image.fromarray(np.ascontiguousarray(mask, dtype=np.uint8))
    else:
        img = Image.fromarray(np.ascontiguousarray(mask, dtype=np.uint16))
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG", optimize=True)


def sequence_of(rel_path: str) -> str:
    """The sequence a frame belongs to: the file-name prefix before the last `_`.

    `0001TP_006690.png` -> `0001TP`; a name without `_` is its own sequence. The folder is kept
    so that frames with the same prefix in different folders stay apart.
    """
    p = Path(rel_path)
    stem = p.stem
    prefix = stem.rsplit("_", 1)[0] if "_" in stem else stem
    parent = p.parent.as_posix()
    return prefix if parent in ("", ".") else f"{parent}/{prefix}"


def _read_split_file(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(path, f"cannot read split file ({exc})") from None
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def make_splits(
    rel_paths: list[str],
    splits_dir: str | os.PathLike,
    *,
    seed: int = 0,
    val_frac: float = 0.1,
    test_frac: float = 0.1,
    by_sequence: bool = False,
    data_dir: str | os.PathLike | None = None,
) -> dict[str, list[str]]:
    """Deterministic train/val/test split of `rel_paths`, kept in `splits_dir`.

    When `splits_dir` already holds `train.txt`, `val.txt` and `test.txt` they are used as given
    (every listed file must be among `rel_paths`, or exist under `data_dir` when it is given).
    Otherwise the split is drawn with `seed` and written atomically. With `by_sequence`, all
    frames of a sequence (see `sequence_of`) land in the same split.
    """
    from mc_core.atomic import write_text

    splits_dir = Path(splits_dir)
    files = {name: splits_dir / f"{name}.txt" for name in SPLIT_NAMES}
    present = [name for name, f in files.items() if f.is_file()]
    if present:
        if len(present) != len(SPLIT_NAMES):
            missing = [f"{n}.txt" for n in SPLIT_NAMES if n not in present]
            raise BadInputError(splits_dir, f"incomplete split folder: missing {', '.join(missing)}")
        known = set(rel_paths)
        out: dict[str, list[str]] = {}
        for name in SPLIT_NAMES:
            entries = _read_split_file(files[name])
            for entry in entries:
                norm = os.path.normpath(entry)
                if os.path.isabs(entry) or norm == ".." or norm.startswith(".." + os.sep):
                    raise BadInputError(files[name], f"lists {entry!r}, a path outside the data folder")
                exists = entry in known or (
                    data_dir is not None and (Path(data_dir) / entry).is_file())
                if not exists:
                    raise BadInputError(files[name], f"lists {entry!r}, which is not among the masks")
            out[name] = entries
        return out

    if not 0 <= val_frac < 1 or not 0 <= test_frac < 1 or val_frac + test_frac >= 1:
        raise ValueError("val_frac and test_frac must be in [0, 1) and sum to less than 1")
    paths = sorted(set(rel_paths))
    if by_sequence:
        groups: dict[str, list[str]] = {}
        for p in paths:
            groups.setdefault(sequence_of(p), []).append(p)
        units = [groups[k] for k in sorted(groups)]
    else:
        units = [[p] for p in paths]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(units))
    total = len(paths)
    n_test = int(round(total * test_frac))
    n_val = int(round(total * val_frac))
    out = {name: [] for name in SPLIT_NAMES}
    for idx in order:
        unit = units[idx]
        if len(out["test"]) < n_test:
            out["test"].extend(unit)
        elif len(out["val"]) < n_val:
            out["val"].extend(unit)
        else:
            out["train"].extend(unit)
    for name in SPLIT_NAMES:
        out[name].sort()
        write_text(files[name], "".join(f"{p}\n" for p in out[name]))
    return out


def folder_of(data_root: str | os.PathLike, subdir: str | None = None) -> Path:
    """The folder of masks: `data_root/subdir`; `subdir` None means ``warped_masks`` when
    `data_root` has that folder (the seed's layout and default), else `data_root` itself;
    "" is always `data_root`."""
    from mc_codec.data.paths import DEFAULT_SUBDIR

    root = Path(data_root)
    if subdir is None:
        subdir = DEFAULT_SUBDIR if (root / DEFAULT_SUBDIR).is_dir() else ""
    return root / subdir if subdir else root


def splits_for(data_root: str | os.PathLike, subdir: str, splits_dir: str | os.PathLike, *,
               seed: int = 0, by_sequence: bool = False) -> dict[str, list[str]]:
    """The train/val/test split of the masks under `data_root/subdir`, kept in `splits_dir`
    (:func:`make_splits`: reused when present, else drawn with `seed`)."""
    folder = folder_of(data_root, subdir)
    return make_splits(find_masks(data_root, subdir), splits_dir, seed=seed, by_sequence=by_sequence,
                       data_dir=folder)


def split_files(splits_dir: str | os.PathLike) -> list[Path]:
    """The three split files of `splits_dir` (train.txt, val.txt, test.txt)."""
    return [Path(splits_dir) / f"{name}.txt" for name in SPLIT_NAMES]
