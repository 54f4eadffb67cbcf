"""Sharded `prepare`: each shard writes a part file; `prepare-merge` assembles the data set.

Shard i of n visits the raster blocks i, i+n, i+2n, ... (`mc_core.options.shard_slice`) and writes
`<out stem>.shard-<i>-of-<n>.npz` beside `--out`. The part holds the patches of its blocks in raw
form (class indices, lon/lat, elevation in metres) and per block what the final npz needs (patches
dropped, classes seen), so the merge rebuilds exactly the npz an unsharded run writes: patches in
block order, the `--max-patches` cut-off, the elevation scaling over the whole data set.

Part keys: `maps` (K, H, W) uint8, `coords` (K, 2) float64, `patch_block` (K,) int64, `elevation`
(K, H, W) float32 (with an elevation raster), `visited` / `visited_dropped` (B,) int64,
`visited_classes` (B, 20) bool, `block_is_test` (n_blocks,) bool, `legend_codes`, `meta_json`
(settings, the identity of the inputs, crs, shard index and count).
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from mc_core.errors import BadInputError
from mc_landcover.data.nlcd import ExtractedBlocks, PreparedPatches, PrepareSettings, assemble_patches
from mc_landcover.legend import CODES

PART_FORMAT = "mc-landcover-prepare-part/1"


def part_path(out: str | os.PathLike, shard_index: int, num_shards: int) -> Path:
    out = Path(out)
    return out.with_name(f"{out.stem}.shard-{shard_index}-of-{num_shards}.npz")


def _meta(part: ExtractedBlocks, shard_index: int, num_shards: int) -> dict:
    return {"format": PART_FORMAT, "settings": asdict(part.settings), "inputs": part.settings.identity(),
            "crs": part.crs, "shard_index": shard_index, "num_shards": num_shards}


def save_part(part: ExtractedBlocks, path: str | os.PathLike, shard_index: int, num_shards: int) -> Path:
    """Write one shard's part atomically (a crash leaves no part under the final name)."""
    from mc_core.atomic import atomic_write

    arrays = {"maps": part.maps, "coords": part.coords, "patch_block": part.patch_block,
              "visited": part.visited, "visited_dropped": part.visited_dropped,
              "visited_classes": part.visited_classes, "block_is_test": part.block_is_test,
              "legend_codes": CODES, "meta_json": np.array(json.dumps(_meta(part, shard_index, num_shards)))}
    if part.elevation is not None:
        arrays["elevation"] = part.elevation
    path = Path(path)
    with atomic_write(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    return path


def read_part_meta(path: str | os.PathLike) -> dict | None:
    """The metadata of a part file, or None when it is missing or unreadable (then it is redone)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta_json"]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    return meta if isinstance(meta, dict) and meta.get("format") == PART_FORMAT else None


def part_is_done(path: str | os.PathLike, settings: PrepareSettings, shard_index: int, num_shards: int) -> bool:
    """Whether `path` already holds this shard of this very run (same settings and inputs)."""
    meta = read_part_meta(path)
    return meta is not None and meta["inputs"] == settings.identity() and meta["settings"] == asdict(settings) \
        and (meta["shard_index"], meta["num_shards"]) == (shard_index, num_shards)


def load_part(path: str | os.PathLike) -> tuple[ExtractedBlocks, dict]:
    path = Path(path)
    if not path.exists():
        raise BadInputError(path, "shard part not found")
    meta = read_part_meta(path)
    if meta is None:
        raise BadInputError(path, "not a shard part written by `mc landcover prepare --num-shards`")
    try:
        with np.load(path, allow_pickle=False) as z:
            if not np.array_equal(z["legend_codes"], CODES):
                raise BadInputError(path, "written with a different class legend than this package's")
            part = ExtractedBlocks(
                settings=PrepareSettings(**meta["settings"]), crs=meta["crs"],
                block_is_test=z["block_is_test"], visited=z["visited"], visited_dropped=z["visited_dropped"],
                visited_classes=z["visited_classes"], patch_block=z["patch_block"], maps=z["maps"],
                coords=z["coords"], elevation=z["elevation"] if "elevation" in z.files else None)
    except (KeyError, TypeError) as exc:
        raise BadInputError(path, f"incomplete shard part ({exc})") from None
    return part, meta


def merge_parts(out: str | os.PathLike, num_shards: int) -> tuple[PreparedPatches, list[Path]]:
    """Assemble the data set from the parts of shards 0..num_shards-1 of `out` (checks they belong together)."""
    paths = [part_path(out, i, num_shards) for i in range(num_shards)]
    missing = [str(i) for i, p in enumerate(paths) if not p.exists()]
    if missing:
        raise BadInputError(paths[int(missing[0])],
                            f"shard part missing: shard(s) {', '.join(missing)} of {num_shards} have not finished")
    parts, first = [], None
    for i, path in enumerate(paths):
        part, meta = load_part(path)
        if (meta["shard_index"], meta["num_shards"]) != (i, num_shards):
            raise BadInputError(path, f"holds shard {meta['shard_index']} of {meta['num_shards']}, "
                                      f"expected {i} of {num_shards}")
        key = (meta["settings"] | {"raster": None, "elevation": None}, meta["inputs"])
        if first is None:
            first = key
        elif key != first:
            raise BadInputError(path, f"made with other settings or inputs than {paths[0].name}; "
                                      "rerun the shards with the same arguments")
        parts.append(part)
    return assemble_patches(parts), paths
