"""Import a patches npz made by the seed's `prep-dataset` notebook (or anything in its format).

That format: `train_data` / `test_data` (N, C, H, W), channel 0 the land-cover class (raw NLCD
codes 11..95 or contiguous indices), channel 1 (optional) elevation in metres, any dtype;
optional `train_coords` / `test_coords` (N, 2) lon, lat. No legend is stored, so the class
encoding must be decided: `codes` maps NLCD codes to this package's indices (11 -> 0 ... 95 -> 19),
`indices` keeps values 0..19 as indices in that order, `auto` picks `codes` when any class value
is 20 or more (indices never are) and `indices` otherwise.

The result is the npz `mc landcover prepare` writes (uint8 classes, elevation scaled to 0..255
with the metres kept in `{split}_elevation`, `legend_codes`, `info_json`), so every command reads it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mc_core.errors import BadInputError, UsageError
from mc_core.npz import open_npz
from mc_landcover.legend import CODES, NUM_CLASSES

CLASS_ENCODINGS = ("auto", "codes", "indices")
_CHUNK = 4096  # patches converted at a time (bounded temporary memory)


def _read_split(z, path: Path, split: str) -> tuple[np.ndarray, np.ndarray | None]:
    key = f"{split}_data"
    if key not in z.files:
        raise BadInputError(path, f"missing key {key!r} (has: {', '.join(z.files) or 'nothing'})")
    from mc_landcover.data.patches import read_array

    arr = read_array(z, key, path)
    if arr.ndim == 3:
        arr = arr[:, None]
    if arr.ndim != 4 or arr.shape[1] < 1:
        raise BadInputError(path, f"{key} must have shape (N, C, H, W), got {arr.shape}")
    if arr.shape[2] != arr.shape[3]:
        raise BadInputError(path, f"{key}: patches must be square, got {arr.shape[2]}x{arr.shape[3]}")
    if arr.dtype.kind not in "iuf":
        raise BadInputError(path, f"{key} must be numeric, got {arr.dtype}")
    coords = None
    if f"{split}_coords" in z.files:
        coords = np.asarray(read_array(z, f"{split}_coords", path), dtype=np.float64)
        if coords.shape != (len(arr), 2):
            raise BadInputError(path, f"{split}_coords must have shape ({len(arr)}, 2), got {coords.shape}")
    return arr, coords


def _class_values(arr: np.ndarray, path: Path, key: str) -> np.ndarray:
    """Channel 0 as int64, after checking it holds whole numbers."""
    cls = arr[:, 0]
    if cls.dtype.kind == "f":
        if not np.isfinite(cls).all() or (cls != np.round(cls)).any():
            raise BadInputError(path, f"{key} channel 0 must hold whole class numbers (found fractions or NaN)")
    return cls.astype(np.int64)


def _lookup(encoding: str) -> np.ndarray:
    """Value (0..255) -> class index, -1 where the value is not a class of `encoding`."""
    lut = np.full(256, -1, dtype=np.int16)
    if encoding == "codes":
        lut[CODES] = np.arange(NUM_CLASSES)
    else:
        lut[:NUM_CLASSES] = np.arange(NUM_CLASSES)
    return lut


def read_seed_npz(src: str | os.PathLike, *, classes: str = "auto", drop_unknown: bool = False,
                  progress=None):
    """`src` as PreparedPatches in this package's encoding (`nlcd.save_patches` writes it, atomically).

    Unknown class values (not a class of the chosen encoding, e.g. a nodata 0 or 255) are a
    BadInputError listing them, unless `drop_unknown` drops the patches that hold any.
    `progress` wraps an iterable of chunk starts (e.g. a progress bar).
    """
    from mc_landcover.data.nlcd import PreparedPatches

    src = Path(src)
    if classes not in CLASS_ENCODINGS:
        raise UsageError(f"classes must be one of {', '.join(CLASS_ENCODINGS)}, got {classes!r}")
    with open_npz(src) as z:
        if "legend_codes" in z.files:
            raise BadInputError(src, "already has legend_codes (written by `mc landcover prepare`); "
                                     "use it as it is")
        splits = {s: _read_split(z, src, s) for s in ("train", "test")}
    sizes = {arr.shape[2] for arr, _ in splits.values() if len(arr)}
    if len(sizes) > 1:
        raise BadInputError(src, f"train and test patches differ in size: {sorted(sizes)}")
    if not any(len(arr) for arr, _ in splits.values()):
        raise BadInputError(src, "train_data and test_data hold no patches")
    channels = {arr.shape[1] for arr, _ in splits.values()}
    if len(channels) > 1:
        raise BadInputError(src, f"train and test patches differ in channels: {sorted(channels)}")
    n_channels = channels.pop()

    if classes == "auto":
        top = max(float(arr[:, 0].max()) for arr, _ in splits.values() if len(arr))
        classes = "codes" if top >= NUM_CLASSES else "indices"  # NaN: "indices", then refused below
    lut = _lookup(classes)

    converted, dropped, unknown = {}, 0, {}
    for split, (arr, coords) in splits.items():
        key = f"{split}_data"
        idx = np.empty(arr.shape[:1] + arr.shape[2:], dtype=np.int16)
        starts = range(0, len(arr), _CHUNK)
        for i in progress(starts) if progress is not None else starts:
            vals = _class_values(arr[i:i + _CHUNK], src, key)
            inside = (vals >= 0) & (vals <= 255)
            idx[i:i + _CHUNK] = np.where(inside, lut[np.where(inside, vals, 0)], -1)
            for v, c in zip(*np.unique(vals[idx[i:i + _CHUNK] < 0], return_counts=True)):
                unknown[int(v)] = unknown.get(int(v), 0) + int(c)
        keep = (idx >= 0).all(axis=(1, 2))
        dropped += int((~keep).sum())
        elevation = arr[keep, 1].astype(np.float32) if n_channels > 1 else None
        converted[split] = (idx[keep].astype(np.uint8), None if coords is None else coords[keep], elevation)
    if unknown and not drop_unknown:
        listed = ", ".join(f"{v} ({c} pixels)" for v, c in sorted(unknown.items())[:10])
        raise BadInputError(src, f"class values that are not NLCD {classes}: {listed}"
                                 + (" ..." if len(unknown) > 10 else "")
                                 + "; --drop-unknown drops the patches holding them"
                                 + ("" if classes == "codes" else ", --classes codes reads raw NLCD codes"))
    if not any(len(m) for m, _, _ in converted.values()):
        raise BadInputError(src, "every patch holds an unknown class value; nothing is left to import")

    size = sizes.pop()
    data, elev, xy = {}, {}, {}
    for split, (maps, coords, elevation) in converted.items():
        data[split] = maps[:, None]
        xy[split] = coords if coords is not None else np.full((len(maps), 2), np.nan)
        elev[split] = elevation
    elev_range = None
    if n_channels > 1:
        both = np.concatenate([elev["train"].ravel(), elev["test"].ravel()])
        if not np.isfinite(both).all():
            raise BadInputError(src, "channel 1 (elevation) holds NaN or infinite values")
        lo, hi = float(both.min()), float(both.max())
        scale = 255.0 / max(hi - lo, 1e-6)
        for split in data:
            scaled = np.round((elev[split] - lo) * scale).astype(np.uint8)[:, None]
            data[split] = np.concatenate([data[split], scaled], axis=1)
        elev_range = [lo, hi]
    found = np.unique(np.concatenate([m.ravel() for m, _, _ in converted.values()]))
    info = {"source": str(src), "imported": "seed npz", "classes": classes, "size": int(size),
            "stride": None, "block": None, "dropped_patches": dropped,
            "unknown_values": {str(v): c for v, c in sorted(unknown.items())},
            "channels_in": int(n_channels), "channels_dropped": max(0, int(n_channels) - 2),
            "has_coords": {s: splits[s][1] is not None for s in splits},
            "codes_found": [int(c) for c in CODES[found]], "elevation_range": elev_range}
    return PreparedPatches(data["train"], data["test"], xy["train"], xy["test"],
                           elev["train"] if n_channels > 1 else None, elev["test"] if n_channels > 1 else None,
                           info)
