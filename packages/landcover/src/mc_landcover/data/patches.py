"""Patch data sets in npz: `train_data`/`test_data` (N, C, H, W) uint8, channel 0 = class index.

Also `train_coords`/`test_coords` (N, 2) lon/lat of patch centres and `legend_codes` (the NLCD
codes of indices 0..C-1, so a file says which legend it was written with).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mc_core.errors import BadInputError
from mc_landcover.legend import CODES, NUM_CLASSES

SPLITS = ("train", "test")


def _open(npz_path: str | os.PathLike):
    from mc_core.npz import open_npz

    return open_npz(npz_path, "patches npz")


def read_array(z, key: str, path: str | os.PathLike) -> np.ndarray:
    """Array `key` of an open npz; an object array or a damaged member is bad input naming the file."""
    import zipfile

    try:
        return z[key]
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise BadInputError(path, f"{key} holds Python objects (object arrays are refused: no pickle is "
                                      "ever loaded)") from None
        raise BadInputError(path, f"{key} cannot be read ({str(exc).splitlines()[0]})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise BadInputError(path, f"{key} cannot be read (damaged: {type(exc).__name__})") from None


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def load_patch_array(npz_path: str | os.PathLike, split: str = "test") -> np.ndarray:
    """The full (N, C, H, W) uint8 array of a split (class channel plus any extra channels)."""
    _check_split(split)
    with _open(npz_path) as z:
        key = f"{split}_data"
        if key not in z.files:
            raise BadInputError(npz_path, f"missing key {key!r} (has: {', '.join(z.files) or 'nothing'})")
        arr = read_array(z, key, npz_path)
        if "legend_codes" in z.files and not np.array_equal(read_array(z, "legend_codes", npz_path), CODES):
            raise BadInputError(npz_path, "written with a different class legend than this package's NLCD legend")
    if arr.ndim == 3:
        arr = arr[:, None]
    if arr.ndim != 4 or arr.shape[1] < 1:
        raise BadInputError(npz_path, f"{key} must have shape (N, C, H, W), got {arr.shape}")
    if arr.shape[2] != arr.shape[3]:
        raise BadInputError(npz_path, f"{key}: patches must be square, got {arr.shape[2]}x{arr.shape[3]}")
    if arr.dtype.kind not in "iu":
        raise BadInputError(npz_path, f"{key} must hold integer class indices, got {arr.dtype}")
    if arr.size and int(arr[:, 0].max()) >= NUM_CLASSES:
        raise BadInputError(npz_path, f"{key}: class indices must lie in 0..{NUM_CLASSES - 1}, "
                                      f"found {int(arr[:, 0].max())}")
    return arr


def load_patches(npz_path: str | os.PathLike, split: str = "test") -> np.ndarray:
    """(N, H, W) uint8 class-index maps of one split."""
    return np.ascontiguousarray(load_patch_array(npz_path, split)[:, 0]).astype(np.uint8)


def load_coords(npz_path: str | os.PathLike, split: str = "test") -> np.ndarray:
    """(N, 2) float64 lon/lat of the patch centres of one split."""
    _check_split(split)
    with _open(npz_path) as z:
        key = f"{split}_coords"
        if key not in z.files:
            raise BadInputError(npz_path, f"missing key {key!r}")
        return np.asarray(read_array(z, key, npz_path), dtype=np.float64)


def load_elevation(npz_path: str | os.PathLike, split: str = "test") -> np.ndarray | None:
    """(N, H, W) elevation channel when the file has one (raw values in `{split}_elevation`), else None."""
    _check_split(split)
    with _open(npz_path) as z:
        key = f"{split}_elevation"
        return np.asarray(read_array(z, key, npz_path), dtype=np.float32) if key in z.files else None


class NLCDPatches:
    """NLCD patches of one split of an npz written by `mc landcover prepare`.

    Items are (H, W) uint8 class-index maps; `coords[i]` is the lon/lat of patch i's centre.
    """

    def __init__(self, path: str | os.PathLike, split: str = "train"):
        self.path = Path(path)
        self.split = split
        self.maps = load_patches(path, split)
        try:
            self.coords = load_coords(path, split)
        except BadInputError:
            self.coords = None

    def __len__(self) -> int:
        return len(self.maps)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.maps[i]

    @property
    def size(self) -> int:
        return int(self.maps.shape[-1])


def open_patches(path: str | os.PathLike, split: str = "train"):
    """The (N, H, W) class maps of one split: the array of an npz, or a lazy view of a zarr store
    written by `prepare --format zarr` (indexing it reads only the chunks asked for)."""
    from mc_landcover.data.zarr_store import ZarrPatches, is_zarr_store

    _check_split(split)
    if Path(path).is_dir():
        if not is_zarr_store(path):
            raise BadInputError(path, "a folder that is not a zarr patch store (no zarr.json)")
        return ZarrPatches(path, split)
    return load_patches(path, split)


def patches_fingerprint(path: str | os.PathLike) -> str:
    """The data hash of a patch set: of the npz file, or of a zarr store's metadata and done markers."""
    from mc_core.checkpoint import fingerprint_files
    from mc_landcover.data.zarr_store import is_zarr_store, store_fingerprint

    return store_fingerprint(path) if is_zarr_store(path) else fingerprint_files([path])
