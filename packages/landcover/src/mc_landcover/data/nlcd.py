"""Cut square patches from an NLCD class raster into a train/test npz, window by window.

The raster is never read whole: it is tiled into square *blocks* (several patches wide), each
block is read on its own (a rasterio window), and each block goes entirely to train or to test,
so no test patch overlaps a train patch. Patches holding nodata (or pixels outside the raster)
are dropped. Codes map to indices through the package's NLCD legend.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mc_core.errors import BadInputError, UsageError
from mc_landcover.legend import CODES, NUM_CLASSES, UnknownCodeError, codes_to_index

SAMPLE_RASTER = Path(__file__).resolve().parent.parent / "sample" / "zion_nlcd2011_384.tif"


@dataclass
class PreparedPatches:
    train: np.ndarray  # (N, C, H, W) uint8
    test: np.ndarray
    train_coords: np.ndarray  # (N, 2) lon, lat
    test_coords: np.ndarray
    train_elevation: np.ndarray | None = None  # (N, H, W) float32 metres
    test_elevation: np.ndarray | None = None
    info: dict = field(default_factory=dict)


def _open_raster(path: Path):
    import rasterio
    from rasterio.errors import RasterioIOError

    if not path.exists():
        raise BadInputError(path, "file not found")
    try:
        return rasterio.open(path)
    except RasterioIOError as exc:
        raise BadInputError(path, f"not a readable raster ({str(exc).splitlines()[0]})") from None


def _read_window(src, window, path: Path) -> np.ndarray:
    """Band 1 inside `window`; a truncated or damaged file is bad input naming it (exit 2)."""
    from rasterio.errors import RasterioError

    try:
        return src.read(1, window=window)
    except RasterioError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise BadInputError(path, f"cannot read the raster (truncated or damaged?): {first}") from None


def check_class_raster(src, path: Path) -> None:
    if src.count != 1:
        raise BadInputError(path, f"expected a single-band class map, got {src.count} bands (an RGB image?)")
    dtype = np.dtype(src.dtypes[0])
    if dtype.kind not in "iu":
        raise BadInputError(path, f"expected integer NLCD class codes, got {dtype} values (not a class map)")


def block_windows(height: int, width: int, block: int):
    """(row, col, h, w) of the blocks tiling the raster (edge blocks may be smaller)."""
    for r in range(0, height, block):
        for c in range(0, width, block):
            yield r, c, min(block, height - r), min(block, width - c)


@dataclass
class PrepareSettings:
    """What a `prepare` run was asked for, with defaults resolved (the same in every shard)."""

    raster: str  # as given (recorded in the npz info)
    elevation: str | None
    size: int
    stride: int
    block: int
    test_fraction: float
    seed: int
    max_patches: int | None

    def identity(self) -> dict:
        """What two shards must agree on to be parts of one data set (inputs by path, size and mtime)."""
        return {"raster": _file_identity(self.raster), "elevation": _file_identity(self.elevation),
                "size": self.size, "stride": self.stride, "block": self.block,
                "test_fraction": self.test_fraction, "seed": self.seed, "max_patches": self.max_patches}


def _file_identity(path: str | None) -> list | None:
    if path is None:
        return None
    p = Path(path).resolve()
    try:
        st = p.stat()
    except OSError:
        return [str(p)]
    return [str(p), st.st_size, int(st.st_mtime)]


def prepare_settings(raster: str | os.PathLike | None = None, *, size: int = 32, stride: int | None = None,
                     block: int | None = None, test_fraction: float = 0.1, seed: int = 0,
                     elevation: str | os.PathLike | None = None,
                     max_patches: int | None = None) -> PrepareSettings:
    """Check the arguments of `prepare` and resolve their defaults (nothing is read yet)."""
    path = Path(raster) if raster is not None else SAMPLE_RASTER
    if size < 2:
        raise UsageError(f"size must be at least 2, got {size}")
    stride = stride or size
    if stride < 1:
        raise UsageError(f"stride must be positive, got {stride}")
    if not 0.0 <= test_fraction < 1.0:
        raise UsageError(f"test_fraction must lie in [0, 1), got {test_fraction}")
    block = block or 4 * size
    if block < size:
        raise UsageError(f"block ({block}) must be at least the patch size ({size})")
    if elevation is not None and not Path(elevation).exists():
        raise BadInputError(elevation, "elevation file not found")
    return PrepareSettings(str(path), None if elevation is None else str(elevation), size, stride, block,
                           test_fraction, seed, max_patches)


@dataclass
class ExtractedBlocks:
    """Patches cut from the blocks one process visited (all blocks, or one shard's), not yet assembled.

    Blocks are visited in ascending index; a process stops after the block at which its own patch
    count reaches `max_patches`. Every visited block is listed, also those that gave no patch, so
    `assemble_patches` can apply the cut-off of an unsharded run exactly.
    """

    settings: PrepareSettings
    crs: str  # "" when the raster has none
    block_is_test: np.ndarray  # (n_blocks,) bool: the train/test split of ALL blocks
    visited: np.ndarray  # (B,) int64 block indices, ascending
    visited_dropped: np.ndarray  # (B,) int64 patches dropped (nodata) in each visited block
    visited_classes: np.ndarray  # (B, NUM_CLASSES) bool: legend classes among the block's valid pixels
    patch_block: np.ndarray  # (K,) int64 block of each patch
    maps: np.ndarray  # (K, size, size) uint8 class indices
    coords: np.ndarray  # (K, 2) float64 lon, lat of patch centres (NaN without a CRS)
    elevation: np.ndarray | None  # (K, size, size) float32 metres, with an elevation raster


def held_out_blocks(height: int, width: int, block: int, test_fraction: float, seed: int) -> np.ndarray:
    """(n_blocks,) bool, blocks in row-major order: which are held out (the npz `prepare`'s split)."""
    n_blocks = math.ceil(height / block) * math.ceil(width / block)
    rng = np.random.default_rng(seed)
    n_test = int(round(test_fraction * n_blocks))
    if test_fraction > 0 and n_test == 0 and n_blocks > 1:
        n_test = 1
    if n_test >= n_blocks and n_blocks > 0 and test_fraction > 0:
        n_test = n_blocks - 1
    is_test = np.zeros(n_blocks, dtype=bool)
    is_test[rng.permutation(n_blocks)[:n_test]] = True
    return is_test


def split_blocks(height: int, width: int, block: int, test_fraction: float, seed: int):
    """The blocks tiling the raster and which of them are held out for testing (seeded)."""
    return list(block_windows(height, width, block)), held_out_blocks(height, width, block, test_fraction, seed)


def extract_blocks(settings: PrepareSettings, *, num_shards: int = 1, shard_index: int = 0,
                   progress_desc: str | None = "prepare") -> ExtractedBlocks:
    """Cut the patches of one shard's blocks (every num_shards-th block from shard_index)."""
    from rasterio.vrt import WarpedVRT
    from rasterio.warp import Resampling
    from rasterio.warp import transform as warp_transform
    from rasterio.windows import Window

    from mc_core.progress import progress
    from mc_core.shards import shard_slice

    s = settings
    size, stride = s.size, s.stride
    path = Path(s.raster)
    with _open_raster(path) as src:
        check_class_raster(src, path)
        if size > src.height or size > src.width:
            raise BadInputError(path, f"patch size {size} is larger than the raster ({src.height}x{src.width})")
        nodata = src.nodata
        nodata = int(nodata) if nodata is not None and float(nodata).is_integer() else None
        blocks, is_test = split_blocks(src.height, src.width, s.block, s.test_fraction, s.seed)
        mine = shard_slice(list(range(len(blocks))), num_shards, shard_index)

        dem = vrt = None
        if s.elevation is not None:
            dem = _open_raster(Path(s.elevation))
            if dem.count != 1:
                dem.close()
                raise BadInputError(s.elevation, f"expected a single-band elevation raster (DEM), got {dem.count} "
                                                 "bands (an RGB image?)")
            if np.dtype(dem.dtypes[0]).kind not in "iuf":
                dem.close()
                raise BadInputError(s.elevation, f"elevation must be numeric, got {dem.dtypes[0]} values")
            if dem.crs is None or src.crs is None:
                raise BadInputError(s.elevation if dem.crs is None else path, "raster has no CRS")
            vrt = WarpedVRT(dem, crs=src.crs, transform=src.transform, width=src.width, height=src.height,
                            resampling=Resampling.bilinear, src_nodata=dem.nodata, nodata=np.nan,
                            dtype="float32")
        visited, visited_dropped, visited_classes = [], [], []
        patch_block, maps, coords, elev = [], [], [], []
        t = src.transform
        try:
            it = progress(mine, desc=progress_desc or "", unit="block", quiet=None if progress_desc else True)
            for b in it:
                r, c, h, w = blocks[b]
                visited.append(b)
                visited_dropped.append(0)
                visited_classes.append(np.zeros(NUM_CLASSES, dtype=bool))
                if h < size or w < size:
                    continue
                win = Window(c, r, w, h)
                a = _read_window(src, win, path)
                try:
                    idx = codes_to_index(a, ignore=nodata)
                except UnknownCodeError as exc:
                    raise BadInputError(path, f"classes outside the NLCD legend: {', '.join(map(str, exc.codes))}") from None
                valid = idx != 255
                if not valid.any():
                    continue
                visited_classes[-1][np.unique(idx[valid])] = True
                el = _read_window(vrt, win, Path(s.elevation)) if vrt is not None else None
                for pr in range(0, h - size + 1, stride):
                    for pc in range(0, w - size + 1, stride):
                        if not valid[pr:pr + size, pc:pc + size].all():
                            visited_dropped[-1] += 1
                            continue
                        if el is not None:
                            e = el[pr:pr + size, pc:pc + size]
                            if not np.isfinite(e).all():
                                visited_dropped[-1] += 1
                                continue
                            elev.append(e.astype(np.float32))
                        maps.append(idx[pr:pr + size, pc:pc + size])
                        patch_block.append(b)
                        cy, cx = r + pr + size / 2.0, c + pc + size / 2.0
                        coords.append((t.a * cx + t.b * cy + t.c, t.d * cx + t.e * cy + t.f))
                if s.max_patches and len(maps) >= s.max_patches:
                    break
        finally:
            if vrt is not None:
                vrt.close()
                dem.close()

        xy = np.array(coords, dtype=np.float64).reshape(-1, 2)
        if src.crs is None:
            xy = np.full((len(xy), 2), np.nan)
        elif len(xy):
            lon, lat = warp_transform(src.crs, "EPSG:4326", xy[:, 0].tolist(), xy[:, 1].tolist())
            xy = np.stack([lon, lat], axis=1)
        crs = src.crs.to_string() if src.crs is not None else ""
    return ExtractedBlocks(
        settings=s, crs=crs, block_is_test=is_test,
        visited=np.array(visited, dtype=np.int64),
        visited_dropped=np.array(visited_dropped, dtype=np.int64),
        visited_classes=np.array(visited_classes, dtype=bool).reshape(-1, NUM_CLASSES),
        patch_block=np.array(patch_block, dtype=np.int64),
        maps=np.stack(maps) if maps else np.zeros((0, size, size), np.uint8),
        coords=xy,
        elevation=(np.stack(elev) if elev else np.zeros((0, size, size), np.float32)) if vrt is not None else None,
    )


def _gather(arrays: list[np.ndarray], index: np.ndarray) -> np.ndarray:
    """Rows `index` of the concatenation of `arrays`, without building the concatenation."""
    if len(arrays) == 1:
        return arrays[0][index]
    out = np.empty((len(index),) + arrays[0].shape[1:], dtype=arrays[0].dtype)
    start = 0
    for a in arrays:
        sel = (index >= start) & (index < start + len(a))
        out[sel] = a[index[sel] - start]
        start += len(a)
    return out


def assemble_patches(parts: list[ExtractedBlocks]) -> PreparedPatches:
    """The data set of an unsharded run from the blocks of all shards (or of the one process).

    Patches are put back in block order; with `max_patches`, blocks after the one at which the
    running count reaches it are dropped, as an unsharded run would have stopped there. The
    elevation channel is scaled over the range of the patches kept. Patch arrays are copied
    once, straight into the train and test arrays.
    """
    s = parts[0].settings
    size, path = s.size, Path(s.raster)
    block_is_test = parts[0].block_is_test
    n_blocks = len(block_is_test)
    visited = np.concatenate([p.visited for p in parts])
    order = np.argsort(visited, kind="stable")
    visited = visited[order]
    if len(np.unique(visited)) != len(visited):
        raise BadInputError(path, "shard parts overlap (a block appears in two parts)")
    dropped = np.concatenate([p.visited_dropped for p in parts])[order]
    classes = np.concatenate([p.visited_classes for p in parts])[order]
    patch_block = np.concatenate([p.patch_block for p in parts])
    final_order = np.argsort(patch_block, kind="stable")  # block order; within a block, as cut

    sorted_blocks = patch_block[final_order]
    per_block = np.searchsorted(sorted_blocks, visited, side="right") - np.searchsorted(sorted_blocks, visited)
    keep_blocks = n_blocks  # every block, unless --max-patches was reached
    reached = np.nonzero(np.cumsum(per_block) >= s.max_patches)[0] if s.max_patches else []
    if len(reached):
        keep_blocks = int(reached[0]) + 1
    if not np.array_equal(visited[:keep_blocks], np.arange(keep_blocks)):
        raise BadInputError(path, "shard parts are incomplete: some blocks were visited by no part")
    kept = final_order[:int(per_block[:keep_blocks].sum())]
    if len(kept) == 0:
        raise BadInputError(path, f"no {size}x{size} patch without nodata was found")
    in_test = block_is_test[patch_block[kept]]
    train_rows, test_rows = kept[~in_test], kept[in_test]

    maps = [p.maps for p in parts]
    train, test = _gather(maps, train_rows)[:, None], _gather(maps, test_rows)[:, None]
    coords = [p.coords for p in parts]
    train_xy, test_xy = _gather(coords, train_rows), _gather(coords, test_rows)
    train_el = test_el = elev_range = None
    if s.elevation is not None:
        elev = [p.elevation for p in parts]
        train_el, test_el = _gather(elev, train_rows), _gather(elev, test_rows)
        both = np.concatenate([train_el.ravel(), test_el.ravel()])
        lo, hi = (float(both.min()), float(both.max())) if both.size else (0.0, 1.0)
        scale = 255.0 / max(hi - lo, 1e-6)
        train = np.concatenate([train, np.round((train_el - lo) * scale).astype(np.uint8)[:, None]], axis=1)
        test = np.concatenate([test, np.round((test_el - lo) * scale).astype(np.uint8)[:, None]], axis=1)
        elev_range = [lo, hi]
    info = {"raster": s.raster, "crs": parts[0].crs, "size": size, "stride": s.stride, "block": s.block,
            "n_blocks": n_blocks, "n_test_blocks": int(block_is_test.sum()),
            "dropped_patches": int(dropped[:keep_blocks].sum()),
            "codes_found": [int(c) for c in CODES[classes[:keep_blocks].any(axis=0)]],
            "elevation_range": elev_range, "seed": s.seed}
    return PreparedPatches(train, test, train_xy, test_xy, train_el, test_el, info)


def prepare_patches(raster: str | os.PathLike | None = None, *, size: int = 32, stride: int | None = None,
                    block: int | None = None, test_fraction: float = 0.1, seed: int = 0,
                    elevation: str | os.PathLike | None = None, max_patches: int | None = None,
                    progress_desc: str | None = "prepare") -> PreparedPatches:
    """All patches of a raster in one process (see `mc_landcover.data.shards` to split the work)."""
    settings = prepare_settings(raster, size=size, stride=stride, block=block, test_fraction=test_fraction,
                                seed=seed, elevation=elevation, max_patches=max_patches)
    return assemble_patches([extract_blocks(settings, progress_desc=progress_desc)])


def save_patches(prepared: PreparedPatches, out: str | os.PathLike) -> Path:
    """Write the npz atomically (keys documented in `mc_landcover.data.patches`)."""
    import json

    from mc_core.atomic import atomic_write

    arrays = {
        "train_data": prepared.train, "test_data": prepared.test,
        "train_coords": prepared.train_coords, "test_coords": prepared.test_coords,
        "legend_codes": CODES, "info_json": np.array(json.dumps(prepared.info)),
    }
    if prepared.train_elevation is not None:
        arrays["train_elevation"] = prepared.train_elevation
        arrays["test_elevation"] = prepared.test_elevation
        arrays["elevation_range"] = np.array(prepared.info["elevation_range"], dtype=np.float64)
    out = Path(out)
    with atomic_write(out, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    return out
