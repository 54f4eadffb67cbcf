"""The data commands as library calls: `prepare` (patches of a raster, whole or one shard),
`prepare_merge` (the shards' parts into one npz) and `import_npz` (the seed's npz format).

Each checks its outputs against its inputs before anything is written
(:func:`mc_core.paths.check_outputs`) and removes temporaries that a killed earlier run of the same
output left behind."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mc_core.errors import UsageError

__all__ = ["FORMATS", "import_npz", "patch_format", "prepare", "prepare_merge", "preview_path", "write_patches"]


def preview_path(out: str | os.PathLike, preview: str | os.PathLike | None = None) -> Path:
    out = Path(out)
    return Path(preview) if preview else out.with_name(out.stem + "_preview.png")


def write_patches(prepared, out: str | os.PathLike, preview: str | os.PathLike | None = None,
                  **extra: Any) -> dict[str, Any]:
    """The npz, its preview PNG (up to 16 patches in NLCD colours) and the summary dict."""
    from mc_core.progress import info
    from mc_landcover.data.nlcd import save_patches
    from mc_landcover.viz import save_grid_png

    out = Path(out)
    save_patches(prepared, out)
    preview = preview_path(out, preview)
    sample = prepared.train if len(prepared.train) else prepared.test
    pick = sample[:: max(1, len(sample) // 16)][:16, 0]
    save_grid_png(pick, preview)
    size = prepared.info["size"]
    info(f"wrote {out}: {len(prepared.train)} train and {len(prepared.test)} test patches of {size}x{size}; "
         f"preview {preview}")
    return {"out": str(out), "preview": str(preview), "n_train": len(prepared.train), "n_test": len(prepared.test),
            **{k: prepared.info[k] for k in ("size", "stride", "block", "dropped_patches")}, **extra}


FORMATS = ("auto", "npz", "zarr")


def patch_format(out: str | os.PathLike, format: str = "auto") -> str:
    """"npz" or "zarr": `format`, or for "auto" what the name of `out` says (.zarr: zarr)."""
    if format not in FORMATS:
        raise UsageError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    if format == "auto":
        return "zarr" if Path(out).suffix == ".zarr" else "npz"
    return format


def _clean_stale(*targets: str | os.PathLike | None) -> None:
    from mc_core.atomic import remove_stale_temporaries

    for t in targets:
        if t is not None and Path(t).parent.is_dir():
            remove_stale_temporaries(t)


def prepare(raster: str | os.PathLike | None = None, *, out: str | os.PathLike, size: int = 32,
            elevation: str | os.PathLike | None = None, test_fraction: float = 0.1, stride: int | None = None,
            block: int | None = None, max_patches: int | None = None, preview: str | os.PathLike | None = None,
            num_shards: int = 1, shard_index: int = 0, overwrite: bool = False, seed: int = 0,
            format: str = "auto") -> dict[str, Any]:
    """Cut square patches of `raster` (default: the shipped NLCD sample) into the npz `out`; with
    `num_shards` > 1, only shard `shard_index`'s blocks into its part file (see `data.shards`).

    `format` "zarr" (or "auto" with an `out` ending in .zarr) writes one chunked zarr store instead,
    which every shard fills in place (see `data.zarr_store`); there is nothing to merge."""
    from mc_core.paths import check_outputs
    from mc_core.progress import info
    from mc_core.shards import check_shard
    from mc_landcover.data.nlcd import assemble_patches, extract_blocks, prepare_settings

    check_shard(num_shards, shard_index)
    out = Path(out)
    settings = prepare_settings(raster, size=size, stride=stride, block=block, test_fraction=test_fraction,
                                seed=seed, elevation=elevation, max_patches=max_patches)
    inputs = [settings.raster, elevation]
    fmt = patch_format(out, format)
    if fmt == "zarr":
        from mc_landcover.data.zarr_store import prepare_zarr

        if preview:
            raise UsageError("--preview is not written with --format zarr")
        check_outputs(inputs, [out])
        return prepare_zarr(settings, out, num_shards=num_shards, shard_index=shard_index, overwrite=overwrite,
                            progress_desc=f"prepare {shard_index + 1}/{num_shards}")
    if num_shards == 1:
        check_outputs(inputs, [out, preview_path(out, preview)])
        _clean_stale(out)
        return write_patches(assemble_patches([extract_blocks(settings)]), out, preview)
    from mc_landcover.data.shards import part_is_done, part_path, save_part

    if preview:
        raise UsageError("a preview goes with `prepare-merge` when num_shards > 1")
    part = part_path(out, shard_index, num_shards)
    check_outputs(inputs, [part])
    _clean_stale(part)
    skipped = not overwrite and part_is_done(part, settings, shard_index, num_shards)
    if skipped:
        info(f"{part} is already complete with these arguments; skipped (overwrite redoes it)")
        n_blocks = n_patches = None
    else:
        extracted = extract_blocks(settings, num_shards=num_shards, shard_index=shard_index,
                                   progress_desc=f"prepare {shard_index + 1}/{num_shards}")
        save_part(extracted, part, shard_index, num_shards)
        n_blocks, n_patches = len(extracted.visited), len(extracted.maps)
        info(f"wrote {part}: {n_patches} patches from {n_blocks} blocks (shard {shard_index} of {num_shards}); "
             f"merge with: mc landcover prepare-merge --out {out} --num-shards {num_shards}")
    return {"part": str(part), "shard_index": shard_index, "num_shards": num_shards, "skipped": skipped,
            "n_blocks": n_blocks, "n_patches": n_patches}


def prepare_merge(out: str | os.PathLike, num_shards: int, *, preview: str | os.PathLike | None = None,
                  remove_parts: bool = False) -> dict[str, Any]:
    """Merge parts 0..num_shards-1 of a sharded `prepare` into `out` (equal to an unsharded run)."""
    from mc_core.paths import check_outputs
    from mc_core.progress import info
    from mc_landcover.data.shards import merge_parts, part_path

    if num_shards < 2:
        raise UsageError(f"num_shards must be at least 2 to merge, got {num_shards}")
    out = Path(out)
    check_outputs([part_path(out, i, num_shards) for i in range(num_shards)], [out, preview_path(out, preview)])
    _clean_stale(out)
    prepared, paths = merge_parts(out, num_shards)
    summary = write_patches(prepared, out, preview, parts=num_shards)
    if remove_parts:
        for p in paths:
            p.unlink(missing_ok=True)
        info(f"removed {len(paths)} part files")
    return summary


def import_npz(src: str | os.PathLike, out: str | os.PathLike, *, classes: str = "auto", drop_unknown: bool = False,
               preview: str | os.PathLike | None = None) -> dict[str, Any]:
    """Convert a patches npz in the seed's format into what `prepare` writes (see `data.seed_npz`)."""
    from mc_core.paths import check_outputs
    from mc_core.progress import progress
    from mc_landcover.data.seed_npz import read_seed_npz

    out = Path(out)
    check_outputs([src], [out, preview_path(out, preview)])
    _clean_stale(out)
    prepared = read_seed_npz(src, classes=classes, drop_unknown=drop_unknown,
                             progress=lambda starts: progress(starts, desc="import", unit="chunk"))
    return write_patches(prepared, out, preview,
                         **{k: prepared.info[k] for k in ("classes", "channels_in", "channels_dropped")})


