"""Patches in one chunked zarr v3 store, filled by many shard writers at once and read lazily.

Why this layout: a writer must know which part of the store is its own without first counting
the patches of the raster (patches with nodata are dropped, so their number is unknown until the
raster is read). The patch *grid* is known from the raster's shape alone, so the store is cut into
*units*, one per row of blocks (`--block` pixels of raster rows, the same blocks and the same
seeded train/test split as the npz `prepare`), each with a fixed number of patch slots
(`unit_slots`, enough for every patch the block row could hold, rounded up to whole chunks).
Shard i of n writes block rows i, i+n, i+2n, ...; every unit is one zarr shard file, so writers
never touch the same file.

Inside unit R the patches it keeps are packed at the start of slots R*unit_slots ...: first the
train patches, then the test patches (each in raster order), then unused slots (never written, so
they cost no disk). When a unit is complete the writer writes its *done marker*
`done/unit-<R>.json` (atomically) with its counts; a killed writer leaves no marker, so its unit
reads as not done and the next run redoes it (zarr's local store writes each shard file through a
temporary and a rename as well). A rerun skips units that have a marker.

Arrays: `patches` (n_slots, size, size) uint8 class indices (zarr shards of one unit, chunks of
`chunk_patches` patches: a reader fetches only the chunks of its batch), `coords` (n_slots, 2)
float64 lon/lat of patch centres, `position` (n_slots, 2) int32 raster row/column of the patch's
top-left pixel. Root attributes `mc_landcover`: format, legend codes, size, stride, block,
test_fraction, seed, the raster (path, SHA-256, shape, CRS, nodata), the unit layout and the shard
layout. While a shard writes it holds `locks/shard-<i>-of-<n>.json` (pid, host); a second writer of
the same shard, or a reader of an incomplete store, is refused with a one-line error.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from mc_core.errors import BadInputError, UsageError
from mc_landcover.data.nlcd import held_out_blocks
from mc_landcover.legend import CODES, NUM_CLASSES

FORMAT = "mc-landcover-patches-zarr/1"
CHUNK_PATCHES = 64  # patches per zarr chunk: the unit a lazy reader fetches
ATTR = "mc_landcover"
SPLIT_CODES = {"train": 0, "test": 1}

__all__ = ["StoreLayout", "ZarrPatches", "is_zarr_store", "prepare_zarr", "store_fingerprint"]


def is_zarr_store(path: str | os.PathLike) -> bool:
    p = Path(path)
    return p.is_dir() and (p / "zarr.json").is_file()


@dataclass(frozen=True)
class StoreLayout:
    """The patch grid of a raster of `height` x `width`, cut into units (rows of blocks)."""

    height: int
    width: int
    size: int
    stride: int
    block: int
    chunk: int = CHUNK_PATCHES

    @property
    def n_units(self) -> int:
        return math.ceil(self.height / self.block)

    @property
    def n_block_cols(self) -> int:
        return math.ceil(self.width / self.block)

    def _starts(self, extent: int) -> int:
        return 0 if extent < self.size else (extent - self.size) // self.stride + 1

    @cached_property
    def columns(self) -> tuple[np.ndarray, np.ndarray]:
        """Raster column of every patch of one patch row, and the block column it lies in."""
        xs, cols = [], []
        for bc in range(self.n_block_cols):
            c0 = bc * self.block
            n = self._starts(min(self.block, self.width - c0))
            xs.append(c0 + self.stride * np.arange(n, dtype=np.int64))
            cols.append(np.full(n, bc, dtype=np.int64))
        return np.concatenate(xs), np.concatenate(cols)

    def patch_rows(self, unit: int) -> np.ndarray:
        """Raster rows of the patch rows of block row `unit`."""
        r0 = unit * self.block
        return r0 + self.stride * np.arange(self._starts(min(self.block, self.height - r0)), dtype=np.int64)

    @property
    def unit_slots(self) -> int:
        most = self._starts(min(self.block, self.height)) * len(self.columns[0])
        return max(1, math.ceil(most / self.chunk)) * self.chunk

    @property
    def n_slots(self) -> int:
        return self.n_units * self.unit_slots

    def as_dict(self) -> dict[str, Any]:
        return {"unit": "one row of blocks", "n_units": self.n_units, "unit_slots": self.unit_slots,
                "chunk_patches": self.chunk, "patches_per_patch_row": int(len(self.columns[0])),
                "n_slots": self.n_slots}


# -- metadata ------------------------------------------------------------------------------------

def _raster_sha256(path: Path) -> str:
    from mc_core.checkpoint import sha256_file

    return sha256_file(path)


def store_attrs(settings, layout: StoreLayout, raster: dict, num_shards: int) -> dict[str, Any]:
    return {"format": FORMAT, "legend_codes": [int(c) for c in CODES], "size": settings.size,
            "stride": settings.stride, "block": settings.block, "test_fraction": settings.test_fraction,
            "seed": settings.seed, "raster": raster, "layout": layout.as_dict(),
            "shards": {"num_shards": num_shards, "rule": "shard i writes block rows i, i+num_shards, ..."}}


def read_attrs(path: Path) -> dict[str, Any]:
    """The store's `mc_landcover` attributes (format and legend checked); bad input otherwise."""
    try:
        meta = json.loads((path / "zarr.json").read_text())
    except (OSError, ValueError) as exc:
        raise BadInputError(path, f"not a readable zarr store ({type(exc).__name__})") from None
    attrs = (meta.get("attributes") or {}).get(ATTR) if isinstance(meta, dict) else None
    if not isinstance(attrs, dict) or attrs.get("format") != FORMAT:
        raise BadInputError(path, "not a patch store written by `mc landcover prepare --format zarr`")
    if attrs.get("legend_codes") != [int(c) for c in CODES]:
        raise BadInputError(path, "written with a different class legend than this package's NLCD legend "
                                  f"(codes {attrs.get('legend_codes')})")
    return attrs


def _check_same_run(path: Path, have: dict, want: dict) -> None:
    """Refuse to add a shard to a store made by another run (patch size, raster, layout...)."""
    for key, what in (("size", "patch size"), ("stride", "stride"), ("block", "block"),
                      ("test_fraction", "test fraction"), ("seed", "seed")):
        if have.get(key) != want[key]:
            raise BadInputError(path, f"store holds {what} {have.get(key)}, this run asks for {want[key]}; "
                                      "use another --out or the store's settings")
    hr, wr = have.get("raster") or {}, want["raster"]
    if hr.get("sha256") != wr["sha256"]:
        raise BadInputError(path, f"store was made from another raster ({hr.get('path')}, sha256 "
                                  f"{str(hr.get('sha256'))[:12]}...), not {wr['path']}")
    if have.get("shards", {}).get("num_shards") != want["shards"]["num_shards"]:
        raise BadInputError(path, f"store is being written with --num-shards {have['shards'].get('num_shards')}, "
                                  f"this run has {want['shards']['num_shards']}")
    if have.get("layout") != want["layout"]:
        raise BadInputError(path, "store has another unit layout than this run (written by another version?)")


def _create_store(path: Path, attrs: dict, layout: StoreLayout) -> None:
    """Create the empty store (metadata only) in a temporary folder and rename it into place; if
    another writer won the race, its store is used (and checked by the caller)."""
    import shutil
    import tempfile

    import zarr

    from mc_core.atomic import remove_stale_temporaries

    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.mc-tmp-{os.getpid()}-", dir=path.parent))
    try:
        root = zarr.open_group(str(tmp), mode="w", zarr_format=3)
        s, u, c = layout.size, layout.unit_slots, layout.chunk
        root.create_array("patches", shape=(layout.n_slots, s, s), dtype="uint8", chunks=(c, s, s),
                          shards=(u, s, s), fill_value=0)
        root.create_array("coords", shape=(layout.n_slots, 2), dtype="float64", chunks=(u, 2),
                          fill_value=float("nan"))
        root.create_array("position", shape=(layout.n_slots, 2), dtype="int32", chunks=(u, 2), fill_value=-1)
        root.attrs[ATTR] = attrs
        (tmp / "done").mkdir()
        (tmp / "locks").mkdir()
        try:
            os.rename(tmp, path)
        except OSError:
            if not is_zarr_store(path):
                raise BadInputError(path, "exists and is not a patch store; choose another --out") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


# -- locks and markers ---------------------------------------------------------------------------

def _lock_path(path: Path, shard_index: int, num_shards: int) -> Path:
    return path / "locks" / f"shard-{shard_index}-of-{num_shards}.json"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder_alive(info: dict) -> bool:
    """Whether the writer that holds a lock may still run (another host: assume so)."""
    if info.get("host") != socket.gethostname():
        return True
    pid = info.get("pid")
    return isinstance(pid, int) and _pid_alive(pid)


def read_lock(lock: Path) -> dict:
    try:
        return json.loads(lock.read_text())
    except (OSError, ValueError):
        return {}


@contextlib.contextmanager
def shard_lock(path: Path, shard_index: int, num_shards: int):
    """Hold the lock of one shard while it writes; a live holder is refused, a dead one's lock is taken."""
    lock = _lock_path(path, shard_index, num_shards)
    lock.parent.mkdir(exist_ok=True)
    me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                    time.gmtime())}
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = read_lock(lock)
            if _holder_alive(holder) and holder:
                raise BadInputError(path, f"shard {shard_index} of {num_shards} is being written by another "
                                          f"process (pid {holder.get('pid')} on {holder.get('host')} since "
                                          f"{holder.get('since')}); wait for it, or delete {lock} if it died") \
                    from None
            lock.unlink(missing_ok=True)  # its writer is dead (or the lock is unreadable): take it over
            continue
        with os.fdopen(fd, "w") as fh:
            json.dump(me, fh)
        break
    else:
        raise BadInputError(path, f"cannot take the lock {lock}")
    try:
        yield lock
    finally:
        lock.unlink(missing_ok=True)


def _marker(path: Path, unit: int) -> Path:
    return path / "done" / f"unit-{unit:07d}.json"


def read_markers(path: Path, n_units: int) -> dict[int, dict]:
    """Done markers by unit (a marker that cannot be read counts as not done)."""
    out = {}
    done = path / "done"
    for name in os.listdir(done) if done.is_dir() else []:
        if not (name.startswith("unit-") and name.endswith(".json")):
            continue
        try:
            m = json.loads((done / name).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(m, dict) and isinstance(m.get("unit"), int) and 0 <= m["unit"] < n_units:
            out[m["unit"]] = m
    return out


# -- writing -------------------------------------------------------------------------------------

def cut_unit(a: np.ndarray, layout: StoreLayout, unit: int, is_test: np.ndarray, nodata: int | None, path: Path):
    """The patches of block row `unit` from its raster rows `a`: (patches, positions, split) with
    train patches first, then test, each in raster order; and the counts for its marker."""
    from numpy.lib.stride_tricks import sliding_window_view

    from mc_landcover.legend import UnknownCodeError, codes_to_index

    s = layout.size
    try:
        idx = codes_to_index(a, ignore=nodata)
    except UnknownCodeError as exc:
        raise BadInputError(path, f"classes outside the NLCD legend: {', '.join(map(str, exc.codes))} "
                                  "(not an NLCD class map?)") from None
    xs, bcol = layout.columns
    rows = layout.patch_rows(unit)
    r0 = unit * layout.block
    test_of_col = is_test[unit * layout.n_block_cols + bcol]
    pats, pos, split, dropped = [], [], [], 0
    present = np.zeros(NUM_CLASSES, dtype=bool)
    for r in rows:
        band = idx[r - r0:r - r0 + s]
        bad_col = np.concatenate([[0], np.cumsum((band == 255).any(axis=0))])
        ok = (bad_col[xs + s] - bad_col[xs]) == 0
        dropped += int((~ok).sum())
        if not ok.any():
            continue
        win = sliding_window_view(band, s, axis=1)[:, xs[ok], :]  # (s, k, s)
        pats.append(np.ascontiguousarray(win.transpose(1, 0, 2)))
        pos.append(np.stack([np.full(int(ok.sum()), r), xs[ok]], axis=1))
        split.append(test_of_col[ok])
    valid = idx[idx != 255]
    if valid.size:
        present[np.unique(valid)] = True
    if not pats:
        empty = np.zeros((0, s, s), np.uint8)
        return empty, np.zeros((0, 2), np.int64), {"n_train": 0, "n_test": 0, "dropped": dropped,
                                                   "codes_found": [int(c) for c in CODES[present]]}
    pats, pos, split = np.concatenate(pats), np.concatenate(pos), np.concatenate(split)
    order = np.argsort(split, kind="stable")  # train (False) first, raster order kept within each
    n_test = int(split.sum())
    return pats[order], pos[order], {"n_train": int(len(split) - n_test), "n_test": n_test, "dropped": dropped,
                                     "codes_found": [int(c) for c in CODES[present]]}


def _lonlat(positions: np.ndarray, size: int, transform, crs) -> np.ndarray:
    if crs is None or len(positions) == 0:
        return np.full((len(positions), 2), np.nan)
    from rasterio.warp import transform as warp_transform

    cy, cx = positions[:, 0] + size / 2.0, positions[:, 1] + size / 2.0
    t = transform
    x, y = t.a * cx + t.b * cy + t.c, t.d * cx + t.e * cy + t.f
    lon, lat = warp_transform(crs, "EPSG:4326", x.tolist(), y.tolist())
    return np.stack([lon, lat], axis=1)


def prepare_zarr(settings, out: str | os.PathLike, *, num_shards: int = 1, shard_index: int = 0,
                 overwrite: bool = False, progress_desc: str | None = "prepare") -> dict[str, Any]:
    """Write shard `shard_index`'s block rows of `settings.raster` into the store `out` (created by
    whichever shard comes first); see the module docstring. Returns this shard's summary."""
    import zarr
    from rasterio.windows import Window

    from mc_core.atomic import write_json
    from mc_core.progress import info, progress
    from mc_landcover.data.nlcd import _open_raster, _read_window, check_class_raster

    s = settings
    if s.elevation is not None:
        raise UsageError("--elevation is not supported with --format zarr yet (use the npz format)")
    if s.max_patches:
        raise UsageError("--max-patches is not supported with --format zarr (each shard fills its own rows)")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BadInputError(out, "exists and is not a zarr store (a file); choose another --out")
    if out.is_dir() and any(out.iterdir()) and not is_zarr_store(out):
        raise BadInputError(out, "exists and is not a zarr store; choose another --out")
    raster = Path(s.raster)
    with _open_raster(raster) as src:
        check_class_raster(src, raster)
        if s.size > src.height or s.size > src.width:
            raise BadInputError(raster, f"patch size {s.size} is larger than the raster ({src.height}x{src.width})")
        layout = StoreLayout(src.height, src.width, s.size, s.stride, s.block)
        nodata = src.nodata
        nodata = int(nodata) if nodata is not None and float(nodata).is_integer() else None
        raster_info = {"path": str(raster), "sha256": _raster_sha256(raster), "height": src.height,
                       "width": src.width, "crs": src.crs.to_string() if src.crs is not None else "",
                       "nodata": nodata}
        want = store_attrs(s, layout, raster_info, num_shards)
        if not is_zarr_store(out):
            _create_store(out, want, layout)
        _check_same_run(out, read_attrs(out), want)
        is_test = held_out_blocks(src.height, src.width, s.block, s.test_fraction, s.seed)
        mine = list(range(shard_index, layout.n_units, num_shards))
        written = skipped = n_train = n_test = 0
        with shard_lock(out, shard_index, num_shards):
            done = read_markers(out, layout.n_units)
            root = zarr.open_group(str(out), mode="r+")
            patches, coords, position = root["patches"], root["coords"], root["position"]
            it = progress(mine, desc=progress_desc or "", unit="block row",
                          quiet=None if progress_desc else True)
            for unit in it:
                if unit in done and not overwrite:
                    skipped += 1
                    n_train += done[unit]["n_train"]
                    n_test += done[unit]["n_test"]
                    continue
                _marker(out, unit).unlink(missing_ok=True)
                rows = layout.patch_rows(unit)
                r0, h = unit * layout.block, min(layout.block, src.height - unit * layout.block)
                if len(rows):
                    a = _read_window(src, Window(0, r0, src.width, h), raster)
                    pats, pos, counts = cut_unit(a, layout, unit, is_test, nodata, raster)
                else:
                    pats, pos = np.zeros((0, s.size, s.size), np.uint8), np.zeros((0, 2), np.int64)
                    counts = {"n_train": 0, "n_test": 0, "dropped": 0, "codes_found": []}
                u = layout.unit_slots
                full = np.zeros((u, s.size, s.size), np.uint8)
                full[:len(pats)] = pats
                patches[unit * u:(unit + 1) * u] = full  # one whole zarr shard file
                xy = np.full((u, 2), np.nan)
                xy[:len(pos)] = _lonlat(pos, s.size, src.transform, src.crs)
                coords[unit * u:(unit + 1) * u] = xy
                p = np.full((u, 2), -1, np.int32)
                p[:len(pos)] = pos
                position[unit * u:(unit + 1) * u] = p
                write_json(_marker(out, unit), {"unit": unit, "shard_index": shard_index, **counts})
                written += 1
                n_train += counts["n_train"]
                n_test += counts["n_test"]
    n_done = len(read_markers(out, layout.n_units))
    complete = n_done == layout.n_units
    info(f"{out}: shard {shard_index} of {num_shards} wrote {written} block rows, skipped {skipped} already "
         f"done; {n_done}/{layout.n_units} block rows of the store are done"
         + ("" if complete else " (the other shards are still to run)"))
    return {"out": str(out), "format": "zarr", "shard_index": shard_index, "num_shards": num_shards,
            "units_written": written, "units_skipped": skipped, "n_train": n_train, "n_test": n_test,
            "units_done": n_done, "n_units": layout.n_units, "complete": complete}


# -- reading -------------------------------------------------------------------------------------

def store_fingerprint(path: str | os.PathLike) -> str:
    """SHA-256 over the store's attributes and done markers (its content follows from them)."""
    import hashlib

    path = Path(path)
    attrs = read_attrs(path)
    h = hashlib.sha256(json.dumps(attrs, sort_keys=True).encode())
    markers = read_markers(path, attrs["layout"]["n_units"])
    for unit in sorted(markers):
        m = {k: markers[unit][k] for k in ("unit", "n_train", "n_test", "dropped")}
        h.update(json.dumps(m, sort_keys=True).encode())
    return h.hexdigest()


class ZarrPatches:
    """One split of a patch store, read lazily: indexing reads only the chunks that hold the rows asked for.

    Memory: the per-unit counts (one int per row of blocks) and what a read returns. Indexing
    with an int, a slice or an integer array gives numpy (H, W) or (k, H, W) uint8, like the
    array `load_patches` returns, so code written for that array runs on a store.
    """

    def __init__(self, path: str | os.PathLike, split: str = "train"):
        import zarr

        if split not in SPLIT_CODES:
            raise ValueError(f"split must be train or test, got {split!r}")
        self.path = Path(path)
        self.split = split
        attrs = read_attrs(self.path)
        self.attrs = attrs
        layout = attrs["layout"]
        n_units, self.unit_slots = int(layout["n_units"]), int(layout["unit_slots"])
        markers = read_markers(self.path, n_units)
        if len(markers) < n_units:
            missing = [u for u in range(n_units) if u not in markers]
            locks = sorted(p.name for p in (self.path / "locks").glob("*.json")) if (self.path / "locks").is_dir() \
                else []
            busy = f"; being written now: {', '.join(locks)}" if locks else ""
            raise BadInputError(self.path, f"store is incomplete: {len(missing)} of {n_units} block rows not "
                                           f"written yet (first: {missing[0]}){busy}; run or finish the "
                                           f"`prepare --format zarr` shards")
        train = np.array([markers[u]["n_train"] for u in range(n_units)], dtype=np.int64)
        test = np.array([markers[u]["n_test"] for u in range(n_units)], dtype=np.int64)
        self._count = train if split == "train" else test
        self._offset = np.zeros(n_units, dtype=np.int64) if split == "train" else train  # within a unit
        self._cum = np.concatenate([[0], np.cumsum(self._count)])
        self._patches = zarr.open_group(str(self.path), mode="r")["patches"]
        self.size = int(attrs["size"])

    def __len__(self) -> int:
        return int(self._cum[-1])

    @property
    def shape(self) -> tuple[int, int, int]:
        return (len(self), self.size, self.size)

    @property
    def ndim(self) -> int:
        return 3

    def slots(self, index: np.ndarray) -> np.ndarray:
        """Store slots of rows `index` of this split."""
        index = np.asarray(index, dtype=np.int64)
        if index.size and (index.min() < 0 or index.max() >= len(self)):
            raise IndexError(f"index out of range for {len(self)} {self.split} patches")
        unit = np.searchsorted(self._cum, index, side="right") - 1
        return unit * self.unit_slots + self._offset[unit] + (index - self._cum[unit])

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            k = int(key) + (len(self) if key < 0 else 0)
            return self[np.array([k])][0]
        if isinstance(key, slice):
            return self[np.arange(*key.indices(len(self)))]
        index = np.asarray(key)
        if index.dtype == bool:
            index = np.nonzero(index)[0]
        if index.size == 0:
            return np.zeros((0, self.size, self.size), np.uint8)
        slots = self.slots(index.ravel())
        order = np.argsort(slots, kind="stable")
        got = np.empty((len(slots), self.size, self.size), np.uint8)
        uniq, inverse = np.unique(slots[order], return_inverse=True)
        got[order] = self._patches.oindex[uniq][inverse]
        return got.reshape(index.shape + (self.size, self.size))

    def __array__(self, dtype=None, copy=None):
        arr = self[:]
        return arr if dtype is None else arr.astype(dtype)
