"""A zarr replay buffer: `data/<key>` arrays sharing the time axis and `meta/episode_ends`.

The layout is the one robot-learning tools already read (diffusion_policy's ReplayBuffer,
PointFlowMatch): every array under `data/` has the total number of timesteps as its first axis
and `meta/episode_ends` holds the int64 cumulative end of each episode.

Stores are written in zarr format 2 by default, so zarr-2 readers open them; `zarr_format=3`
writes the v3 format. Both go through the zarr v3 Python API.

Appending an episode is atomic in the sense that matters for a crash: the data arrays are grown
and written first and `meta/episode_ends` is extended last. A reader only ever trusts
`episode_ends[-1]`; rows beyond it (left by a crash in the middle of an append) are ignored and
trimmed by the next append.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mc_core.errors import BadInputError, UsageError

EPISODE_ENDS = "meta/episode_ends"
COMPRESSORS = ("lz4", "zstd", "none")


# what zarr/numcodecs raise for a chunk that cannot be decoded (e.g. "error during blosc decompression: -1")
DECODE_ERRORS = (RuntimeError, ValueError, OSError, EOFError)


def damaged_chunk(location: str, name: str, exc: BaseException, chunk: str | None = None) -> BadInputError:
    """The one-line error for an array whose chunk cannot be read: names the store and the array."""
    from mc_core.errors import describe

    where = f"chunk {chunk}" if chunk else "a chunk"
    return BadInputError(location, f"{name}: {where} cannot be decoded, the store is damaged or truncated "
                                   f"({describe(exc)})")


class CheckedArray:
    """A zarr array whose reads name the store and the array when a chunk is damaged (exit 2, one
    line) instead of a raw codec error; everything else is the zarr array's."""

    __slots__ = ("_arr", "_location", "_name")

    def __init__(self, arr, location: str, name: str):
        self._arr, self._location, self._name = arr, location, name

    def __getattr__(self, attr: str):
        if attr.startswith("__") or attr in CheckedArray.__slots__:
            raise AttributeError(attr)
        return getattr(self._arr, attr)

    def __reduce__(self):  # picklable (DataLoader workers started with "spawn")
        return CheckedArray, (self._arr, self._location, self._name)

    def __getitem__(self, sel):
        try:
            return self._arr[sel]
        except FileNotFoundError:
            raise
        except DECODE_ERRORS as exc:
            raise damaged_chunk(self._location, self._name, exc) from None

    def __setitem__(self, sel, value) -> None:
        self._arr[sel] = value

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self[...], dtype=dtype)

    def __len__(self) -> int:
        return len(self._arr)

    def __repr__(self) -> str:
        return f"CheckedArray({self._arr!r})"


def make_compressor(name: str, zarr_format: int, level: int | None = None):
    """A Blosc compressor (`lz4` or `zstd`, byte shuffle) for the given zarr format, or None."""
    if name == "none":
        return None
    if name not in COMPRESSORS:
        raise UsageError(f"unknown compressor {name!r} (choose from {', '.join(COMPRESSORS)})")
    clevel = level if level is not None else (5 if name == "lz4" else 3)
    if zarr_format == 2:
        import numcodecs

        return numcodecs.Blosc(cname=name, clevel=clevel, shuffle=numcodecs.Blosc.SHUFFLE)
    import zarr

    return zarr.codecs.BloscCodec(cname=name, clevel=clevel, shuffle="shuffle")


def _default_chunks(shape: tuple[int, ...], itemsize: int, target_bytes: int = 2**20) -> tuple[int, ...]:
    """Whole rows per chunk, about `target_bytes` each (at least one timestep)."""
    row = int(np.prod(shape[1:], dtype=np.int64)) * itemsize if len(shape) > 1 else itemsize
    steps = max(1, target_bytes // max(row, 1))
    return (int(steps),) + tuple(int(s) for s in shape[1:])


class ReplayBuffer:
    """Episodes of time-aligned arrays in a zarr group (on disk or in memory).

    Make one with :meth:`create` or :meth:`open`; do not call the constructor directly.
    """

    def __init__(self, root, location: str):
        self.root = root
        self.location = location
        self._arrays: dict[str, object] = {}  # opened array handles (opening one costs a metadata read)
        self._ends: np.ndarray | None = None

    def refresh(self) -> None:
        """Forget cached array handles and episode ends (after another process changed the store)."""
        self._arrays.clear()
        self._ends = None

    # ------------------------------------------------------------------ open / create
    @classmethod
    def create(cls, path: str | os.PathLike | None = None, *, zarr_format: int = 2,
               overwrite: bool = False) -> ReplayBuffer:
        """A new empty buffer at `path` (a directory), or in memory when `path` is None."""
        import zarr
        from zarr.storage import LocalStore, MemoryStore

        if zarr_format not in (2, 3):
            raise UsageError(f"zarr_format must be 2 or 3, not {zarr_format}")
        if path is None:
            store, location = MemoryStore(), "<memory>"
        else:
            p = Path(path)
            if p.exists() and any(p.iterdir()) and not overwrite:
                raise BadInputError(p, "already exists (open it, or pass overwrite=True)")
            store, location = LocalStore(str(p)), str(p)
        root = zarr.open_group(store, mode="w", zarr_format=zarr_format)
        root.require_group("data")
        meta = root.require_group("meta")
        meta.create_array("episode_ends", shape=(0,), chunks=(4096,), dtype="int64",
                          compressors=make_compressor("lz4", zarr_format))
        return cls(root, location)

    @classmethod
    def open(cls, path: str | os.PathLike, mode: str = "r") -> ReplayBuffer:
        """Open an existing buffer; `mode` is "r" (read only) or "a" (read and append)."""
        import zarr

        p = Path(path)
        if not p.exists():
            raise BadInputError(p, "no such replay buffer")
        try:
            root = zarr.open_group(str(p), mode="r" if mode == "r" else "r+")
        except Exception as exc:  # noqa: BLE001 - any failure to open is bad input
            raise BadInputError(p, f"not a zarr group ({type(exc).__name__}: {exc})") from None
        buf = cls(root, str(p))
        buf._check_layout()
        return buf

    @classmethod
    def open_or_create(cls, path: str | os.PathLike, *, zarr_format: int = 2) -> ReplayBuffer:
        p = Path(path)
        if p.exists() and any(p.iterdir()):
            return cls.open(p, mode="a")
        return cls.create(p, zarr_format=zarr_format)

    def _check_layout(self) -> None:
        if "meta" not in self.root or "episode_ends" not in self.root["meta"]:
            raise BadInputError(self.location, f"missing key {EPISODE_ENDS} (not a replay buffer)")
        if "data" not in self.root:
            raise BadInputError(self.location, "missing group data/ (not a replay buffer)")
        ends = self.episode_ends
        if ends.size and (np.any(np.diff(ends) <= 0) or ends[0] <= 0):
            raise BadInputError(self.location, f"{EPISODE_ENDS} is not strictly increasing")
        for key in self.keys():
            if self.root["data"][key].shape[0] < self.n_steps:
                raise BadInputError(self.location, f"data/{key} has {self.root['data'][key].shape[0]} "
                                    f"rows, fewer than the {self.n_steps} timesteps in {EPISODE_ENDS}")

    # ------------------------------------------------------------------ properties
    @property
    def zarr_format(self) -> int:
        return int(self.root.metadata.zarr_format)

    @property
    def data(self):
        return self.root["data"]

    @property
    def meta(self):
        return self.root["meta"]

    @property
    def attrs(self):
        return self.root.attrs

    def _cached_ends(self) -> np.ndarray:
        if self._ends is None:
            ends = CheckedArray(self.root["meta"]["episode_ends"], self.location, EPISODE_ENDS)
            self._ends = np.asarray(ends[:], dtype=np.int64)
        return self._ends

    def meta_array(self, key: str) -> CheckedArray:
        """`meta/<key>` with checked reads."""
        return CheckedArray(self.root["meta"][key], self.location, f"meta/{key}")

    @property
    def episode_ends(self) -> np.ndarray:
        return self._cached_ends().copy()

    @property
    def n_episodes(self) -> int:
        return int(self._cached_ends().shape[0])

    @property
    def n_steps(self) -> int:
        ends = self._cached_ends()
        return int(ends[-1]) if ends.shape[0] else 0

    @property
    def episode_lengths(self) -> np.ndarray:
        return np.diff(self.episode_ends, prepend=0)

    def keys(self) -> list[str]:
        return sorted(self.root["data"].array_keys())

    def __contains__(self, key: str) -> bool:
        return key in self._arrays or key in self.root["data"]

    def __getitem__(self, key: str):
        """The zarr array `data/<key>` (may hold uncommitted rows past `n_steps`; slice to n_steps)."""
        arr = self._arrays.get(key)
        if arr is None:
            if key not in self.root["data"]:
                raise BadInputError(self.location, f"missing key data/{key}")
            arr = self._arrays[key] = CheckedArray(self.root["data"][key], self.location, f"data/{key}")
        return arr

    def __len__(self) -> int:
        return self.n_episodes

    def __repr__(self) -> str:
        return (f"ReplayBuffer({self.location!r}, zarr_format={self.zarr_format}, "
                f"episodes={self.n_episodes}, steps={self.n_steps}, keys={self.keys()})")

    # ------------------------------------------------------------------ reading
    def episode_slice(self, episode_idx: int) -> slice:
        n = self.n_episodes
        if not -n <= episode_idx < n:
            raise IndexError(f"episode {episode_idx} out of range (buffer has {n})")
        episode_idx %= n
        ends = self._cached_ends()
        start = int(ends[episode_idx - 1]) if episode_idx > 0 else 0
        return slice(start, int(ends[episode_idx]))

    def get_episode(self, episode_idx: int, keys: list[str] | None = None) -> dict[str, np.ndarray]:
        sl = self.episode_slice(episode_idx)
        return {k: self[k][sl] for k in (keys or self.keys())}

    def get_episodes(self, episodes: slice, keys: list[str] | None = None) -> dict[str, np.ndarray]:
        """The timesteps of a contiguous range of episodes, concatenated."""
        idx = range(self.n_episodes)[episodes]
        if len(idx) == 0:
            return {k: self[k][0:0] for k in (keys or self.keys())}
        if idx.step != 1:
            raise UsageError("episode slices must be contiguous (step 1)")
        start = self.episode_slice(idx[0]).start
        stop = self.episode_slice(idx[-1]).stop
        return self.get_steps(slice(start, stop), keys)

    def get_steps(self, steps: slice, keys: list[str] | None = None) -> dict[str, np.ndarray]:
        """A slice of timesteps over the whole buffer (clipped to the committed `n_steps`)."""
        start, stop, step = steps.indices(self.n_steps)
        return {k: self[k][start:stop:step] if step == 1 else self[k][start:stop][::step]
                for k in (keys or self.keys())}

    def iter_episodes(self, keys: list[str] | None = None) -> Iterator[dict[str, np.ndarray]]:
        for i in range(self.n_episodes):
            yield self.get_episode(i, keys)

    # ------------------------------------------------------------------ writing
    def add_episode(self, episode: Mapping[str, Any], *, chunks: Mapping[str, tuple] | None = None,
                    compressors: Mapping[str, str] | None = None, compressor: str = "lz4") -> int:
        """Append one episode (dict of arrays with the same first axis); returns its index.

        Keys must match the keys already in the buffer (new keys only into an empty buffer).
        `chunks`/`compressors` give per-key chunk shapes and compressor names (`lz4`, `zstd`,
        `none`) for arrays created by this call; `compressor` is the default.
        """
        arrays = {k: np.asarray(v) for k, v in episode.items()}
        if not arrays:
            raise UsageError("an episode needs at least one array")
        lengths = {k: a.shape[0] if a.ndim else -1 for k, a in arrays.items()}
        T = next(iter(lengths.values()))
        if T <= 0 or any(n != T for n in lengths.values()):
            raise UsageError(f"episode arrays must share a non-empty first axis, got lengths {lengths}")
        existing = set(self.keys())
        n_steps = self.n_steps
        if n_steps > 0 and set(arrays) != existing:
            missing, extra = sorted(existing - set(arrays)), sorted(set(arrays) - existing)
            raise UsageError(f"episode keys differ from the buffer's: missing {missing}, unexpected {extra}")
        chunks = dict(chunks or {})
        compressors = dict(compressors or {})
        data = self.root["data"]
        # 1) grow and write the data (rows past the committed end are invisible to readers)
        for key, a in arrays.items():
            if key in data:
                arr = self[key]
                if arr.shape[1:] != a.shape[1:]:
                    raise UsageError(f"data/{key}: episode shape {a.shape[1:]} differs from {arr.shape[1:]}")
                if not np.can_cast(a.dtype, arr.dtype, casting="same_kind"):
                    raise UsageError(f"data/{key}: dtype {a.dtype} cannot be stored as {arr.dtype}")
                arr.resize((n_steps + T,) + arr.shape[1:])
            else:
                self._arrays.pop(key, None)
                ch = tuple(chunks.get(key) or _default_chunks(a.shape, a.dtype.itemsize))
                arr = data.create_array(
                    key, shape=(T,) + a.shape[1:], chunks=ch, dtype=a.dtype,
                    compressors=make_compressor(compressors.get(key, compressor), self.zarr_format),
                    overwrite=True,
                )
            arr[n_steps:n_steps + T] = a
        # 2) commit: extend episode_ends last
        self.root["meta"]["episode_ends"].append(np.array([n_steps + T], dtype=np.int64))
        self._ends = None
        return self.n_episodes - 1

    def create_step_array(self, key: str, trailing_shape: tuple[int, ...], dtype, *,
                          chunks: tuple[int, ...] | None = None, compressor: str = "lz4",
                          fill_value=0, attrs: Mapping[str, Any] | None = None):
        """A new `data/<key>` with one row per committed timestep (for derived data such as masks)."""
        shape = (self.n_steps,) + tuple(trailing_shape)
        arr = self.root["data"].create_array(
            key, shape=shape, chunks=chunks or (1,) + tuple(trailing_shape), dtype=dtype,
            compressors=make_compressor(compressor, self.zarr_format), fill_value=fill_value,
            overwrite=True,
        )
        if attrs:
            arr.attrs.update(dict(attrs))
        arr = self._arrays[key] = CheckedArray(arr, self.location, f"data/{key}")
        return arr

    def delete_key(self, key: str) -> None:
        self._arrays.pop(key, None)
        if key in self.root["data"]:
            del self.root["data"][key]


class RowReader:
    """Reads one timestep (row) of an on-disk array stored one row per chunk, bypassing zarr's
    per-call overhead (a few ms) by decoding the chunk file directly (tens of microseconds).

    Used only when the layout is one this class fully understands (local store, chunks of one row,
    C order, no filters, Blosc or no compression, little-endian); otherwise it reads through zarr.
    """

    def __init__(self, buf: ReplayBuffer, key: str):
        self.arr = buf[key]
        self.location, self.name = buf.location, f"data/{key}"
        self.dtype = np.dtype(self.arr.dtype)
        self.row_shape = tuple(self.arr.shape[1:])
        self.fill = self.arr.fill_value
        self.decoder = None
        self._base: Path | None = None
        self._tmpl: str | None = None  # chunk file name pattern; None: read through zarr
        self._made_dirs: set = set()
        try:
            self._plan(buf, key)
        except Exception:  # noqa: BLE001 - anything unusual: use zarr
            self._tmpl = None

    def path_of(self, i: int) -> Path:
        return self._base / self._tmpl.format(i=i)

    def _plan(self, buf: ReplayBuffer, key: str) -> None:
        import numcodecs

        if buf.location == "<memory>" or tuple(self.arr.chunks) != (1,) + self.row_shape:
            return
        base = Path(buf.location) / "data" / key
        meta = self.arr.metadata.to_dict()
        rest = ".".join(["0"] * len(self.row_shape))
        if meta["zarr_format"] == 2:
            if meta.get("filters") or meta.get("order", "C") != "C" or self.dtype.byteorder == ">":
                return
            comp = meta.get("compressor")
            sep = meta.get("dimension_separator") or "."
            rest = sep.join(["0"] * len(self.row_shape))
            self._base, self._tmpl = base, ("{i}" + sep + rest) if rest else "{i}"
        else:
            codecs = list(meta["codecs"])
            enc = meta["chunk_key_encoding"]
            if enc["name"] != "default" or not codecs or codecs[0]["name"] != "bytes" \
                    or codecs[0].get("configuration", {}).get("endian", "little") != "little" or len(codecs) > 2:
                return
            comp = None
            if len(codecs) == 2:
                if codecs[1]["name"] != "blosc":
                    return
                cfg = codecs[1].get("configuration", {})
                shuffle = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}[str(cfg.get("shuffle", "shuffle"))]
                comp = {"id": "blosc", "cname": str(cfg.get("cname", "lz4")), "clevel": int(cfg.get("clevel", 5)),
                        "shuffle": shuffle, "blocksize": int(cfg.get("blocksize", 0))}
            sep = enc.get("configuration", {}).get("separator", "/")
            parts = ["c", "{i}"] + ["0"] * len(self.row_shape)
            self._base, self._tmpl = base, sep.join(parts)
        if comp is not None:
            if comp["id"] != "blosc":
                self._tmpl = None
                return
            self.decoder = numcodecs.Blosc(cname=comp.get("cname", "lz4"), clevel=int(comp.get("clevel", 5)),
                                           shuffle=int(comp.get("shuffle", 1)), blocksize=int(comp.get("blocksize", 0)))

    def __call__(self, i: int) -> np.ndarray:
        out = np.empty(self.row_shape, dtype=self.dtype)
        self._read_into(int(i), out)
        return out

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Rows start..stop-1 stacked, decoded straight into one array."""
        if self._tmpl is None:
            return np.asarray(self.arr[start:stop])
        out = np.empty((stop - start,) + self.row_shape, dtype=self.dtype)
        for j in range(stop - start):
            self._read_into(start + j, out[j])
        return out

    def _read_into(self, i: int, out: np.ndarray) -> None:
        if self._tmpl is None:
            out[...] = np.asarray(self.arr[i])
            return
        try:
            raw = self.path_of(i).read_bytes()
        except FileNotFoundError:
            out[...] = self.fill
            return
        try:
            if self.decoder is not None:
                self.decoder.decode(raw, out=out)
            else:
                out[...] = np.frombuffer(raw, dtype=self.dtype).reshape(self.row_shape)
        except DECODE_ERRORS as exc:
            raise damaged_chunk(self.location, self.name, exc, chunk=self._tmpl.format(i=i)) from None

    @property
    def fast(self) -> bool:
        return self._tmpl is not None

    def write(self, i: int, row: np.ndarray) -> None:
        """Write one row's chunk file in place (as zarr does); through zarr when not `fast`.

        Not atomic per chunk: callers mark rows valid only after writing them (episode_ends for
        data, meta/attention_masks_done for masks), so a torn chunk is never trusted.
        """
        row = np.ascontiguousarray(row, dtype=self.dtype)
        if row.shape != self.row_shape:
            raise ValueError(f"row shape {row.shape} differs from {self.row_shape}")
        if self._tmpl is None:
            self.arr[i] = row
            return
        data = self.decoder.encode(row) if self.decoder is not None else row.tobytes()
        path = self.path_of(int(i))
        if path.parent not in self._made_dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._made_dirs.add(path.parent)
        with open(path, "wb") as f:
            f.write(data)
