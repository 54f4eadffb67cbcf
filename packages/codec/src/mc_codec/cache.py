"""Row cache: every image's row tokens precomputed once into `<cache-dir>/<rel>.npz`.

`<cache-dir>/cache.json` records how the tokens were made (2D features or not, band height);
the manifest CSV lists `image, file, height, width, num_tokens, max_id, source_sha256`.
Building is restartable (images whose npz exists are skipped) and shardable.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import numpy as np

from mc_codec.rows import ImageTokens, image_tokens
from mc_codec.tokens import DEFAULT_BAND_HEIGHT
from mc_core.errors import BadInputError, UsageError

CACHE_FORMAT = "mc-codec-row-cache"
CACHE_VERSION = 1
FIELDS = ("features", "classes", "len_syms", "mant_bits", "row_ptr")
MANIFEST_COLUMNS = ["image", "file", "height", "width", "num_tokens", "max_id", "source_sha256"]


def npz_name(rel_path: str) -> str:
    return rel_path[:-4] + ".npz" if rel_path.lower().endswith(".png") else rel_path + ".npz"


def save_tokens(path: Path, tok: ImageTokens, compress: bool) -> None:
    from mc_core.atomic import write_bytes

    buf = io.BytesIO()
    arrays = {f: getattr(tok, f) for f in FIELDS}
    arrays["shape"] = np.array([tok.height, tok.width, tok.max_id], np.int64)
    (np.savez_compressed if compress else np.savez)(buf, **arrays)
    write_bytes(path, buf.getvalue())


def load_tokens(path: Path) -> ImageTokens:
    try:
        with np.load(path, allow_pickle=False) as z:
            h, w, mx = (int(v) for v in z["shape"])
            return ImageTokens(**{f: z[f] for f in FIELDS}, height=h, width=w, max_id=mx)
    except FileNotFoundError:
        raise BadInputError(path, "cached tokens missing (rebuild the cache)") from None
    except Exception as exc:  # noqa: BLE001 - zip/npz errors come in many types
        raise BadInputError(path, f"corrupt cache file ({exc})") from None


def build_cache(folder: Path, rel_paths: list[str], cache_dir: Path, *, use_2d: bool, compress: bool,
                band_height: int = DEFAULT_BAND_HEIGHT, progress=None) -> list[dict]:
    """Write the npz of every listed image not yet cached; return manifest rows for them."""
    from mc_codec.data.masks import read_mask
    from mc_core.atomic import write_json
    from mc_core.checkpoint import sha256_file

    cache_dir.mkdir(parents=True, exist_ok=True)
    meta = {"format": CACHE_FORMAT, "version": CACHE_VERSION, "use_2d": bool(use_2d),
            "band_height": int(band_height)}
    meta_path = cache_dir / "cache.json"
    if meta_path.exists():
        old = json.loads(meta_path.read_text())
        if {k: old.get(k) for k in meta} != meta:
            raise BadInputError(meta_path, f"cache was built with {old}, asked for {meta}")
    else:
        write_json(meta_path, meta)
    rows = []
    it = progress(rel_paths) if progress else rel_paths
    for rel in it:
        src = folder / rel
        out = cache_dir / npz_name(rel)
        if out.exists():
            tok = load_tokens(out)
        else:
            tok = image_tokens(read_mask(src), use_2d, band_height)
            out.parent.mkdir(parents=True, exist_ok=True)
            save_tokens(out, tok, compress)
        rows.append({"image": rel, "file": npz_name(rel), "height": tok.height, "width": tok.width,
                     "num_tokens": tok.num_tokens, "max_id": tok.max_id,
                     "source_sha256": sha256_file(src)})
    return rows


def write_manifest(path: Path, rows: list[dict]) -> None:
    from mc_core.atomic import write_csv

    write_csv(path, sorted(rows, key=lambda r: r["image"]), MANIFEST_COLUMNS)


def read_manifest(path: Path) -> list[dict]:
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except FileNotFoundError:
        raise BadInputError(path, "cache manifest not found") from None
    if rows and set(MANIFEST_COLUMNS) - set(rows[0]):
        raise BadInputError(path, f"not a row-cache manifest (columns {list(rows[0])})")
    return rows


def cache_use_2d(cache_dir: str | os.PathLike) -> bool:
    """Whether a row cache holds the 2D context (built with ``include_above_features``)."""
    return CacheSource(cache_dir, []).use_2d


class CacheSource:
    """Tokens read lazily from a row cache, for images named by relative path."""

    def __init__(self, cache_dir: str | os.PathLike, rel_paths: list[str], use_2d: bool | None = None):
        self.cache_dir = Path(cache_dir)
        meta_path = self.cache_dir / "cache.json"
        try:
            meta = json.loads(meta_path.read_text())
        except FileNotFoundError:
            raise BadInputError(self.cache_dir, "not a row cache (cache.json missing)") from None
        except json.JSONDecodeError as exc:
            raise BadInputError(meta_path, f"corrupt cache metadata ({exc})") from None
        if meta.get("format") != CACHE_FORMAT:
            raise BadInputError(meta_path, "not a row-cache metadata file")
        self.use_2d = bool(meta["use_2d"])
        self.band_height = int(meta["band_height"])
        if use_2d is not None and use_2d != self.use_2d:
            raise BadInputError(self.cache_dir, f"cache built with use_2d={self.use_2d}, the model needs "
                                f"use_2d={use_2d} (rebuild with/without --include-above-features)")
        self.rel_paths = list(rel_paths)
        missing = [r for r in self.rel_paths if not (self.cache_dir / npz_name(r)).exists()]
        if missing:
            raise BadInputError(self.cache_dir / npz_name(missing[0]),
                                f"cache does not match the data: {len(missing)} image(s) not cached")

    def __len__(self) -> int:
        return len(self.rel_paths)

    def tokens(self, i: int) -> ImageTokens:
        return load_tokens(self.cache_dir / npz_name(self.rel_paths[i]))

    def max_id(self) -> int:
        return max(self.tokens(i).max_id for i in range(len(self)))


def verify_cache(folder: Path, cache_dir: Path, rel_paths: list[str], n: int, seed: int,
                 use_2d: bool, band_height: int) -> int:
    """Re-derive `n` random cached images and compare; BadInputError on the first mismatch."""
    from mc_codec.data.masks import read_mask

    rng = np.random.default_rng(seed)
    pick = rng.choice(len(rel_paths), size=min(n, len(rel_paths)), replace=False)
    for i in pick:
        rel = rel_paths[int(i)]
        got = load_tokens(cache_dir / npz_name(rel))
        want = image_tokens(read_mask(folder / rel), use_2d, band_height)
        for f in FIELDS:
            if not np.array_equal(np.asarray(getattr(got, f)), np.asarray(getattr(want, f))):
                raise BadInputError(cache_dir / npz_name(rel), f"cache does not match {rel} ({f} differ)")
    return len(pick)


def cache_rows(data_root: str | os.PathLike, cache_dir: str | os.PathLike, *, subdir: str | None = None,
               manifest_out: str | os.PathLike | None = None, use_2d: bool = False, compress: bool = True,
               verify: int = 0, num_shards: int = 1, shard_index: int = 0, seed: int = 0,
               progress=None) -> dict:
    """Precompute the row-RLE tokens of every mask under `data_root/subdir` into `cache_dir`
    (what `mc codec cache` runs; restartable, and shardable with `num_shards`/`shard_index`).
    Writes the manifest (default ``cache_dir/manifest.csv``, or ``manifest-<i>-of-<n>.csv`` for a
    shard) and re-derives `verify` random images to compare. Returns counts and paths."""
    from mc_codec.data.masks import find_masks, folder_of
    from mc_core.paths import check_outputs
    from mc_core.shards import shard_slice

    if int(verify) < 0:
        raise UsageError(f"verify must be >= 0, got {verify}")
    folder = folder_of(data_root, subdir)
    rel = shard_slice(find_masks(data_root, subdir), num_shards, shard_index)
    if manifest_out is None:
        name = "manifest.csv" if num_shards == 1 else f"manifest-{shard_index}-of-{num_shards}.csv"
        manifest_out = Path(cache_dir) / name
    check_outputs([folder / r for r in rel], [Path(cache_dir), manifest_out])
    rows = build_cache(folder, rel, Path(cache_dir), use_2d=use_2d, compress=compress, progress=progress)
    write_manifest(Path(manifest_out), rows)
    verified = verify_cache(folder, Path(cache_dir), rel, int(verify), seed, use_2d,
                            DEFAULT_BAND_HEIGHT) if verify else 0
    return {"images": len(rows), "manifest": str(manifest_out), "verified": verified}
