"""A2D2 semantic labels (RGB colour PNGs) to single-channel class-id masks.

The A2D2 data set stores semantic labels as RGB PNGs under
`camera_lidar_semantic/<sequence>/label/cam_<camera>/*.png`, with a colour legend in its own
`class_list.json` (`{"#ff0000": "Car 1", ...}`, 55 colours). This module reads that legend,
assigns class ids (one per colour in the legend's order, or one per base name with numbered
variants such as "Car 1".."Car 4" merged into "Car") and converts label images to id masks.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mc_core.errors import BadInputError

_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")
_VARIANT = re.compile(r"^(.*\S)\s+\d+$")


@dataclass(frozen=True)
class Legend:
    """Colour-to-id table: `codes[i]` (0xRRGGBB, ascending) maps to `ids[i]`; `names[id]`."""

    codes: np.ndarray          # int64, sorted
    ids: np.ndarray            # uint8/uint16, aligned with codes
    names: list[str]           # id -> class name
    colours: list[list[str]]   # id -> the hex colours mapped to it

    def table(self, ignore_id: int | None = None) -> dict[str, dict]:
        out = {str(i): {"name": n, "colours": c} for i, (n, c) in enumerate(zip(self.names, self.colours))}
        if ignore_id is not None:
            out[str(ignore_id)] = {"name": "ignore (colour not in the legend)", "colours": []}
        return out


def find_class_list(a2d2_root: str | os.PathLike) -> Path:
    """The data set's `class_list.json`: at the root or in `camera_lidar_semantic/`."""
    root = Path(a2d2_root)
    for cand in (root / "class_list.json", root / "camera_lidar_semantic" / "class_list.json"):
        if cand.is_file():
            return cand
    raise BadInputError(root, "no class_list.json (looked in the root and in camera_lidar_semantic/)")


def base_name(name: str) -> str:
    """`Car 2` -> `Car`; names without a trailing number are unchanged."""
    m = _VARIANT.match(name.strip())
    return m.group(1) if m else name.strip()


def load_legend(path: str | os.PathLike, *, merge_variants: bool = False) -> Legend:
    """Read an A2D2 `class_list.json` and assign ids in the file's order."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInputError(path, "file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(path, f"not a readable JSON legend ({exc})") from None
    if not isinstance(raw, dict) or not raw:
        raise BadInputError(path, "expected a non-empty JSON object mapping '#rrggbb' colours to class names")
    names: list[str] = []
    colours: list[list[str]] = []
    index: dict[str, int] = {}
    code_to_id: dict[int, int] = {}
    for colour, name in raw.items():
        m = _HEX.match(str(colour).strip())
        if not m or not isinstance(name, str) or not name.strip():
            raise BadInputError(path, f"bad legend entry {colour!r}: {name!r} (expected '#rrggbb': 'name')")
        code = int(m.group(1), 16)
        if code in code_to_id:
            raise BadInputError(path, f"colour #{m.group(1).lower()} is listed twice")
        key = base_name(name) if merge_variants else name.strip()
        if key not in index:
            index[key] = len(names)
            names.append(key)
            colours.append([])
        code_to_id[code] = index[key]
        colours[index[key]].append(f"#{m.group(1).lower()}")
    codes = np.array(sorted(code_to_id), dtype=np.int64)
    dtype = np.uint8 if len(names) <= 255 else np.uint16
    ids = np.array([code_to_id[c] for c in codes], dtype=dtype)
    return Legend(codes=codes, ids=ids, names=names, colours=colours)


def read_rgb_label(path: str | os.PathLike) -> np.ndarray:
    """An A2D2 colour label PNG as (H, W, 3) uint8."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as img:
            if img.mode in ("L", "I", "I;16", "1", "F"):
                raise BadInputError(path, f"single-channel image (mode {img.mode}) where RGB colour labels are expected")
            rgb = np.asarray(img.convert("RGB"))
    except BadInputError:
        raise
    except UnidentifiedImageError:
        raise BadInputError(path, "not a readable image (corrupt or not a PNG)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise BadInputError(path, f"corrupt or unreadable image ({exc})") from None
    return rgb


def colours_to_ids(rgb: np.ndarray, legend: Legend, *, ignore_id: int | None = None,
                   source: str | os.PathLike | None = None) -> np.ndarray:
    """Map an (H, W, 3) colour label to ids; unknown colours -> `ignore_id`, or an error with counts."""
    rgb = np.asarray(rgb)
    code = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    pos = np.searchsorted(legend.codes, code)
    pos_c = np.minimum(pos, len(legend.codes) - 1)
    known = legend.codes[pos_c] == code
    out_dtype = legend.ids.dtype
    if ignore_id is not None and ignore_id > np.iinfo(out_dtype).max:
        out_dtype = np.uint16
    ids = legend.ids[pos_c].astype(out_dtype)
    if not known.all():
        if ignore_id is None:
            unknown, counts = np.unique(code[~known], return_counts=True)
            order = np.argsort(-counts)
            listed = ", ".join(f"#{int(unknown[i]):06x} ({int(counts[i])} px)" for i in order[:8])
            more = f" and {len(unknown) - 8} more" if len(unknown) > 8 else ""
            raise BadInputError(source, f"{len(unknown)} colour(s) not in the legend: {listed}{more} "
                                        "(use --unknown-to-ignore to map them to the ignore id)")
        ids[~known] = ignore_id
    return ids


def label_files(a2d2_root: str | os.PathLike, camera: str) -> list[tuple[str, Path]]:
    """(sequence, path) of every label PNG of `camera`, sorted."""
    base = Path(a2d2_root) / "camera_lidar_semantic"
    if not base.is_dir():
        raise BadInputError(base, "folder not found (expected the A2D2 camera_lidar_semantic/ tree)")
    cam = camera if camera.startswith("cam_") else f"cam_{camera}"
    found = []
    for seq in sorted(p for p in base.iterdir() if p.is_dir()):
        folder = seq / "label" / cam
        if folder.is_dir():
            found.extend((seq.name, f) for f in sorted(folder.glob("*.png")) if not f.name.startswith("."))
    if not found:
        raise BadInputError(base, f"no label PNGs found under */label/{cam}/")
    return found


def output_name(sequence: str, label_path: Path) -> str:
    """Relative output path of one converted label: `<sequence>/<file name>`."""
    return f"{sequence}/{label_path.name}"


def convert_a2d2(a2d2_root: str | os.PathLike, out_root: str | os.PathLike, *, camera: str = "front_center",
                 out_subdir: str = "warped_masks", class_list: str | os.PathLike | None = None,
                 merge_variants: bool = False, ignore_id: int | None = None, overwrite: bool = False,
                 num_shards: int = 1, shard_index: int = 0, progress=None) -> dict:
    """Convert A2D2 RGB semantic labels to class-id PNGs (what `mc codec prepare-a2d2` runs).

    Writes ``out_root/out_subdir/<sequence>/<name>.png`` and the id table
    ``out_root/class_names.json``; existing outputs are skipped unless `overwrite`. `ignore_id`
    (None: an unknown colour is an error) is the id for colours missing from the legend.
    """
    from mc_codec.data.masks import write_mask
    from mc_core.atomic import write_json
    from mc_core.errors import UsageError
    from mc_core.paths import check_outputs
    from mc_core.shards import shard_slice

    legend_path = Path(class_list) if class_list else find_class_list(a2d2_root)
    legend = load_legend(legend_path, merge_variants=merge_variants)
    if ignore_id is not None and ignore_id < len(legend.names):
        raise UsageError(f"ignore_id {ignore_id} collides with a class id (the legend has ids "
                         f"0..{len(legend.names) - 1})")
    table = {"legend": str(legend_path), "merge_variants": merge_variants,
             "ignore_id": ignore_id, "classes": legend.table(ignore_id)}
    out_root = Path(out_root)
    table_path = out_root / "class_names.json"
    files = shard_slice(label_files(a2d2_root, camera), num_shards, shard_index)
    out_dir = out_root / out_subdir
    targets = [out_dir / output_name(seq, path) for seq, path in files]
    check_outputs([legend_path, *(p for _, p in files)], [table_path, *targets])
    if table_path.is_file() and not overwrite:
        try:
            old = json.loads(table_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise BadInputError(table_path, f"unreadable id table ({exc}); use --overwrite") from None
        if old.get("classes") != table["classes"]:
            raise BadInputError(table_path, "existing masks were written with a different id table "
                                            "(other legend or flags); use --overwrite or a new --out-root")
    write_json(table_path, table)
    done = skipped = 0
    pairs = list(zip(files, targets))
    for (_seq, path), target in (progress(pairs) if progress else pairs):
        if target.is_file() and not overwrite:
            skipped += 1
            continue
        ids = colours_to_ids(read_rgb_label(path), legend, ignore_id=ignore_id, source=path)
        write_mask(target, ids)
        done += 1
    return {"converted": done, "skipped": skipped, "classes": len(legend.names), "out_dir": str(out_dir),
            "table": str(table_path)}
