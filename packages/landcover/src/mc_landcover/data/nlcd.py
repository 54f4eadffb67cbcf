"""Cut square patches from an NLCD class raster into a train/test npz, window by window.

The raster is never read whole: it is tiled into square *blocks* (several patches wide), each
block is read on its own (a rasterio window), and each block goes entirely to train or to test,
so no test patch overlaps a train patch. Patches holding nodata (or pixels outside the raster)
are dropped. Codes map to indices through the package's NLCD legend.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mc_core.errors import BadInputError, UsageError
from mc_landcover.legend import CODES, UnknownCodeError, codes_to_index

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


def prepare_patches(raster: str | os.PathLike | None = None, *, size: int = 32, stride: int | None = None,
                    block: int | None = None, test_fraction: float = 0.1, seed: int = 0,
                    elevation: str | os.PathLike | None = None, max_patches: int | None = None,
                    progress_desc: str | None = "prepare") -> PreparedPatches:
    import rasterio
    from rasterio.vrt import WarpedVRT
    from rasterio.warp import Resampling, transform as warp_transform
    from rasterio.windows import Window

    from mc_core.progress import progress

    path = Path(raster) if raster is not None else SAMPLE_RASTER
    if size < 2:
        raise UsageError(f"--size must be at least 2, got {size}")
    stride = stride or size
    if stride < 1:
        raise UsageError(f"--stride must be positive, got {stride}")
    if not 0.0 <= test_fraction < 1.0:
        raise UsageError(f"--test-fraction must lie in [0, 1), got {test_fraction}")
    block = block or 4 * size
    if block < size:
        raise UsageError(f"--block ({block}) must be at least the patch size ({size})")
    if elevation is not None and not Path(elevation).exists():
        raise BadInputError(elevation, "elevation file not found")

    with _open_raster(path) as src:
        check_class_raster(src, path)
        if size > src.height or size > src.width:
            raise BadInputError(path, f"patch size {size} is larger than the raster ({src.height}x{src.width})")
        nodata = src.nodata
        nodata = int(nodata) if nodata is not None and float(nodata).is_integer() else None
        blocks = list(block_windows(src.height, src.width, block))
        rng = np.random.default_rng(seed)
        n_test = int(round(test_fraction * len(blocks)))
        if test_fraction > 0 and n_test == 0 and len(blocks) > 1:
            n_test = 1
        if n_test >= len(blocks) and len(blocks) > 0 and test_fraction > 0:
            n_test = len(blocks) - 1
        is_test = np.zeros(len(blocks), dtype=bool)
        is_test[rng.permutation(len(blocks))[:n_test]] = True

        dem = vrt = None
        if elevation is not None:
            dem = _open_raster(Path(elevation))
            if dem.count < 1:
                raise BadInputError(elevation, "elevation raster has no band")
            if dem.crs is None or src.crs is None:
                raise BadInputError(elevation if dem.crs is None else path, "raster has no CRS")
            vrt = WarpedVRT(dem, crs=src.crs, transform=src.transform, width=src.width, height=src.height,
                            resampling=Resampling.bilinear, src_nodata=dem.nodata, nodata=np.nan,
                            dtype="float32")
        out = {False: ([], [], []), True: ([], [], [])}
        seen_codes: set[int] = set()
        dropped = 0
        try:
            it = progress(list(zip(blocks, is_test)), desc=progress_desc or "", unit="block",
                          quiet=None if progress_desc else True)
            for (r, c, h, w), test in it:
                if h < size or w < size:
                    continue
                win = Window(c, r, w, h)
                a = src.read(1, window=win)
                try:
                    idx = codes_to_index(a, ignore=nodata)
                except UnknownCodeError as exc:
                    raise BadInputError(path, f"classes outside the NLCD legend: {', '.join(map(str, exc.codes))}") from None
                valid = idx != 255
                if not valid.any():
                    continue
                seen_codes.update(int(v) for v in np.unique(a[valid]))
                el = vrt.read(1, window=win) if vrt is not None else None
                maps, coords, elev = out[bool(test)]
                for pr in range(0, h - size + 1, stride):
                    for pc in range(0, w - size + 1, stride):
                        if not valid[pr:pr + size, pc:pc + size].all():
                            dropped += 1
                            continue
                        if el is not None:
                            e = el[pr:pr + size, pc:pc + size]
                            if not np.isfinite(e).all():
                                dropped += 1
                                continue
                            elev.append(e.astype(np.float32))
                        maps.append(idx[pr:pr + size, pc:pc + size])
                        cy, cx = r + pr + size / 2.0, c + pc + size / 2.0
                        t = src.transform
                        coords.append((t.a * cx + t.b * cy + t.c, t.d * cx + t.e * cy + t.f))
                if max_patches and len(out[False][0]) + len(out[True][0]) >= max_patches:
                    break
        finally:
            if vrt is not None:
                vrt.close()
                dem.close()

        def finish(test: bool):
            maps, coords, elev = out[test]
            arr = np.stack(maps)[:, None] if maps else np.zeros((0, 1, size, size), np.uint8)
            xy = np.array(coords, dtype=np.float64).reshape(-1, 2)
            if len(xy) and src.crs is not None:
                lon, lat = warp_transform(src.crs, "EPSG:4326", xy[:, 0].tolist(), xy[:, 1].tolist())
                xy = np.stack([lon, lat], axis=1)
            elif src.crs is None:
                xy = np.full((len(xy), 2), np.nan)
            e = np.stack(elev) if elev else (np.zeros((0, size, size), np.float32) if vrt is not None else None)
            return arr, xy, e

        train, train_xy, train_el = finish(False)
        test, test_xy, test_el = finish(True)
        crs = src.crs.to_string() if src.crs is not None else ""
    if len(train) + len(test) == 0:
        raise BadInputError(path, f"no {size}x{size} patch without nodata was found")
    if train_el is not None:
        both = np.concatenate([train_el.ravel(), test_el.ravel()])
        lo, hi = (float(both.min()), float(both.max())) if both.size else (0.0, 1.0)
        scale = 255.0 / max(hi - lo, 1e-6)
        train = np.concatenate([train, np.round((train_el - lo) * scale).astype(np.uint8)[:, None]], axis=1)
        test = np.concatenate([test, np.round((test_el - lo) * scale).astype(np.uint8)[:, None]], axis=1)
        elev_range = [lo, hi]
    else:
        elev_range = None
    info = {"raster": str(path), "crs": crs, "size": size, "stride": stride, "block": block,
            "n_blocks": len(blocks), "n_test_blocks": int(is_test.sum()), "dropped_patches": dropped,
            "codes_found": sorted(seen_codes), "elevation_range": elev_range, "seed": seed}
    return PreparedPatches(train, test, train_xy, test_xy, train_el, test_el, info)


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
