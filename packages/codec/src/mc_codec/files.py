"""Compress and decompress files and folders: what `mc codec compress/decompress` run.

A folder is coded file by file in worker processes (:mod:`mc_codec.workers`); every output is
written atomically. An existing output is skipped only when it is up to date: newer than its
input and, for `.mcz` files, made with the same model (the header's digest) and band height;
otherwise it is redone (``overwrite=True`` redoes every one).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from mc_core.errors import BadInputError, UsageError

MASK_SUFFIX, CODED_SUFFIX = ".png", ".mcz"


def _pairs(inp: Path, out: Path, suffix: str, out_suffix: str) -> list[tuple[Path, Path]]:
    if inp.is_dir():
        files = sorted(p for p in inp.rglob(f"*{suffix}") if p.is_file() and not p.name.startswith("."))
        if not files:
            raise BadInputError(inp, f"no *{suffix} files found")
        return [(p, (out / p.relative_to(inp)).with_suffix(out_suffix)) for p in files]
    if not inp.exists():
        raise BadInputError(inp, "not found")
    if out.is_dir():
        raise BadInputError(out, "is a folder; give an output file for one input file")
    return [(inp, out)]


def _newer(src: Path, dst: Path) -> bool:
    return dst.is_file() and dst.stat().st_mtime >= src.stat().st_mtime


def coded_with(path: Path, digest: bytes, band_height: int) -> bool:
    """Whether `path` is a readable learned `.mcz` file made with this model and band height."""
    from mc_codec.coding.api import LEARNED_KIND
    from mc_codec.container import check_model, get_varint, unpack

    try:
        header, payload = unpack(path.read_bytes(), source=path)
        check_model(header, digest, path)
        return header.kind == LEARNED_KIND and header.version >= 2 and get_varint(payload, 0)[0] == band_height
    except (BadInputError, OSError, ValueError):
        return False


def compress_one(cm, pair, *, band_height: int) -> tuple[int, int]:
    """Code one mask PNG into a `.mcz` file; returns (PNG bytes, `.mcz` bytes)."""
    from mc_codec.coding.api import encode
    from mc_codec.data.masks import read_mask
    from mc_core.atomic import write_bytes

    src, dst = pair
    try:
        data = encode(read_mask(src), cm, band_height=band_height)
    except BadInputError as exc:
        raise BadInputError(src, exc.problem) if exc.path in (None, "<mask>") else exc from None
    write_bytes(dst, data)
    return src.stat().st_size, len(data)


def decompress_one(cm, pair) -> int:
    """Decode one `.mcz` file to its mask PNG; returns the pixels."""
    from mc_codec.coding.api import decode
    from mc_codec.data.masks import write_mask

    src, dst = pair
    try:
        data = src.read_bytes()
    except OSError as exc:
        raise BadInputError(src, f"cannot read ({exc.strerror})") from None
    mask = decode(data, cm, source=src)
    write_mask(dst, mask)
    return int(mask.size)


def compress_path(inp: str | os.PathLike, out: str | os.PathLike, checkpoint=None, *,
                  band_height: int = 64, overwrite: bool = False, jobs: int = 0, progress=None) -> dict:
    """Compress a mask PNG, or every PNG below a folder, into `.mcz` files (the folder's layout
    is kept under `out`). `checkpoint`: a checkpoint path, a loaded codec or None for the shipped
    model; `jobs`: worker processes (0: one per CPU core). Returns counts and byte totals."""
    from mc_codec.coding.api import as_codec, checkpoint_files
    from mc_codec.workers import default_jobs, map_with_model
    from mc_core.paths import check_outputs

    if not 1 <= int(band_height) <= 65535:
        raise UsageError(f"band_height must be in 1..65535, got {band_height}")
    inp, out = Path(inp), Path(out)
    pairs = _pairs(inp, out, MASK_SUFFIX, CODED_SUFFIX)
    cm = as_codec(checkpoint)
    check_outputs([inp, *(s for s, _ in pairs), *checkpoint_files(cm.path)], [d for _, d in pairs])
    todo = [(s, d) for s, d in pairs if overwrite or not inp.is_dir()
            or not (_newer(s, d) and coded_with(d, cm.digest, int(band_height)))]
    sizes = map_with_model(functools.partial(compress_one, band_height=int(band_height)), todo, cm,
                           jobs or default_jobs(), progress)
    return {"files": len(todo), "skipped": len(pairs) - len(todo), "png_bytes": sum(a for a, _ in sizes),
            "mcz_bytes": sum(b for _, b in sizes)}


def decompress_path(inp: str | os.PathLike, out: str | os.PathLike, checkpoint=None, *,
                    overwrite: bool = False, jobs: int = 0, progress=None) -> dict:
    """Decode a `.mcz` file, or every one below a folder, back to the exact mask PNGs."""
    from mc_codec.coding.api import as_codec, checkpoint_files
    from mc_codec.workers import default_jobs, map_with_model
    from mc_core.paths import check_outputs

    inp, out = Path(inp), Path(out)
    pairs = _pairs(inp, out, CODED_SUFFIX, MASK_SUFFIX)
    cm = as_codec(checkpoint)
    check_outputs([inp, *(s for s, _ in pairs), *checkpoint_files(cm.path)], [d for _, d in pairs])
    todo = [(s, d) for s, d in pairs if overwrite or not inp.is_dir() or not _newer(s, d)]
    pixels = map_with_model(decompress_one, todo, cm, jobs or default_jobs(), progress)
    return {"files": len(todo), "skipped": len(pairs) - len(todo), "pixels": sum(pixels)}
