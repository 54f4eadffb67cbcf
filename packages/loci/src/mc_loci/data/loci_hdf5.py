"""Loci-Segmented's HDF5 data-set layout: read it (the paper's preprocessed files) and write it.

One file holds many videos (Loci-Segmented names them ``<name>-<split>-<H>x<W>-v<k>.hdf5``)::

    rgb_images              (N,)   variable-length uint8: one JPEG per frame
    depth_images            (N,)   variable-length uint8: one PNG per frame (8-bit: depth = value/255)
    foreground_mask         (N,1,H,W)  uint8 0/255
    instance_masks          (M,1,H,W)  uint8 0/255, one binary mask per instance (masks may overlap;
                                       the paper's amodal masks mark hidden parts 128: visible is > 0.8)
    image_instance_indices  (N,2)  int64 (start, count) of each frame's masks in instance_masks
    instance_masks_images   (M,1)  int64 the frame of each instance mask
    instance_mask_bboxes    (M,4)  uint8 (x_min, y_min, x_max, y_max) of each mask
    sequence_indices        (V,2)  int64 (start, count) of each video's frames
    metadata                group; attrs dataset_name, type (the split) and, in files we write,
                            mc_settings (JSON of the generator settings)

The k-th mask of every frame of a video is the same object (so scores over time can ask ids to
persist); a frame may list an object whose mask is empty (fully hidden). :class:`LociHDF5` reads a
video as the other loci data sets do (``rgb``, ``depth``, ``masks`` ids, and ``instance_masks``, the
masks themselves), resized to a square ``size`` (bilinear for images; masks bilinear then > 0.8,
as Loci-Segmented's loader does). Everything read is checked against the file first: a damaged,
truncated or inconsistent file is a :class:`~mc_core.errors.BadInputError` naming the file and the
dataset, and no array is allocated larger than the file can hold.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mc_core.errors import BadInputError, UsageError

__all__ = ["LociHDF5", "hdf5_file_name", "is_hdf5", "parse_hdf5_name", "write_loci_hdf5"]

KEYS = ("rgb_images", "depth_images", "foreground_mask", "instance_masks", "image_instance_indices",
        "instance_masks_images", "instance_mask_bboxes", "sequence_indices")
NAME_RE = re.compile(r"^(?P<name>.+)-(?P<split>[^-]+)-(?P<h>\d+)x(?P<w>\d+)-v(?P<k>\d+)\.hdf5$")
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# limits of what is read: frame side, pixels of one video, masks per frame
MAX_SIDE = 4096
MAX_VIDEO_PIXELS = 2 ** 26
MAX_MASKS_PER_FRAME = 256
MASK_THRESHOLD = 0.8      # Loci-Segmented: instance masks > 0.8 (of 255) are the visible object
# deflate cannot compress better than 1032:1: a chunked dataset claiming more is damaged
MAX_DEFLATE_RATIO = 1032


def hdf5_file_name(name: str, split: str, height: int, width: int, version: int = 1) -> str:
    """``<name>-<split>-<H>x<W>-v<k>.hdf5``, Loci-Segmented's file name."""
    if not name or "/" in name or not split or "-" in split or "/" in split:
        raise UsageError(f"name must be non-empty without '/', split non-empty without '-' or '/'; got "
                         f"{name!r} and {split!r}")
    return f"{name}-{split}-{int(height)}x{int(width)}-v{int(version)}.hdf5"


def parse_hdf5_name(path: str | os.PathLike) -> dict[str, Any] | None:
    """(name, split, height, width, version) of a file named as Loci-Segmented names them, else None."""
    m = NAME_RE.match(Path(path).name)
    if m is None:
        return None
    return {"name": m["name"], "split": m["split"], "height": int(m["h"]), "width": int(m["w"]),
            "version": int(m["k"])}


def is_hdf5(path: str | os.PathLike) -> bool:
    """Whether `path` is a file that starts with the HDF5 signature (or is named .hdf5/.h5)."""
    p = Path(path)
    if not p.is_file():
        return False
    if p.suffix.lower() in (".hdf5", ".h5"):
        return True
    try:
        with open(p, "rb") as fh:
            return fh.read(8) == HDF5_SIGNATURE
    except OSError:
        return False


# -- writing -----------------------------------------------------------------------------------

def _jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, format="JPEG", quality=quality, subsampling=0)  # 4:4:4: small frames keep their colour edges
    return np.frombuffer(buf.getvalue(), np.uint8)


def _png(gray: np.ndarray) -> np.ndarray:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(gray, "L").save(buf, format="PNG")
    return np.frombuffer(buf.getvalue(), np.uint8)


def _bbox(mask: np.ndarray) -> list[int]:
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return [0, 0, 0, 0]
    return [min(int(v), 255) for v in (xs.min(), ys.min(), xs.max(), ys.max())]


def write_loci_hdf5(path: str | os.PathLike, videos: Iterable[Mapping[str, np.ndarray]], *, name: str,
                    split: str, settings: Mapping[str, Any] | None = None, jpeg_quality: int = 95) -> Path:
    """Write `videos` (mappings with ``rgb`` uint8 (T,H,W,3), ``depth`` float (T,H,W) in 0..1 and
    ``masks`` (T,H,W) instance ids, 0 = background) to `path` in Loci-Segmented's layout, atomically.

    Each video's objects are the ids present in any of its frames, in id order; every frame lists
    all of them (an object hidden in a frame has an empty mask there), so the k-th mask of a frame
    is the same object over the video. `settings` go to ``metadata.attrs["mc_settings"]`` as JSON."""
    import h5py

    from mc_core.atomic import atomic_path

    if not 1 <= int(jpeg_quality) <= 100:
        raise UsageError(f"jpeg_quality must be in 1..100, got {jpeg_quality}")
    vlen = h5py.vlen_dtype(np.dtype("uint8"))
    opts = {"compression": "gzip", "compression_opts": 5}

    def append(ds, rows) -> None:
        rows = np.asarray(rows, dtype=ds.dtype).reshape((-1, *ds.shape[1:]))
        n = ds.shape[0]
        ds.resize(n + rows.shape[0], axis=0)
        ds[n:] = rows

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:  # one video at a time: memory is one video's, whatever the count
            size = None
            for video in videos:
                rgb = np.asarray(video["rgb"])
                masks = np.asarray(video["masks"])
                depth = np.asarray(video["depth"])
                if size is None:
                    size = h, w = rgb.shape[1:3]
                    for key in ("rgb_images", "depth_images"):
                        f.create_dataset(key, (0,), maxshape=(None,), dtype=vlen, chunks=(64,))
                    for key in ("foreground_mask", "instance_masks"):
                        f.create_dataset(key, (0, 1, h, w), maxshape=(None, 1, h, w), dtype=np.uint8,
                                         chunks=(1, 1, h, w), **opts)
                    for key, cols, dtype in (("image_instance_indices", 2, np.int64),
                                             ("instance_masks_images", 1, np.int64),
                                             ("instance_mask_bboxes", 4, np.uint8),
                                             ("sequence_indices", 2, np.int64)):
                        f.create_dataset(key, (0, cols), maxshape=(None, cols), dtype=dtype, chunks=(1024, cols),
                                         **opts)
                elif rgb.shape[1:3] != size:
                    raise UsageError(f"all videos of one file need one frame size, got {rgb.shape[1:3]} and {size}")
                ids = np.unique(masks[masks != 0])
                first_frame = f["rgb_images"].shape[0]
                append(f["sequence_indices"], [first_frame, rgb.shape[0]])
                for t in range(rgb.shape[0]):
                    frame = first_frame + t
                    frame_masks = masks[t][None] == ids[:, None, None]
                    append(f["image_instance_indices"], [f["instance_masks"].shape[0], len(ids)])
                    if len(ids):
                        append(f["instance_masks"], frame_masks[:, None].astype(np.uint8) * 255)
                        append(f["instance_masks_images"], [[frame]] * len(ids))
                        append(f["instance_mask_bboxes"], [_bbox(m) for m in frame_masks])
                    append(f["foreground_mask"], ((masks[t] != 0).astype(np.uint8) * 255)[None, None])
                    for key, data in (("rgb_images", _jpeg(rgb[t], int(jpeg_quality))),
                                      ("depth_images", _png(np.clip(np.rint(depth[t] * 255), 0, 255)
                                                            .astype(np.uint8)))):
                        f[key].resize(frame + 1, axis=0)
                        f[key][frame] = data
            if size is None:
                raise UsageError("no videos to write")
            meta = f.create_group("metadata")
            meta.attrs["dataset_name"] = name
            meta.attrs["type"] = split
            if settings is not None:
                meta.attrs["mc_settings"] = json.dumps(dict(settings), sort_keys=True)
    return Path(path)


def read_settings(path: str | os.PathLike) -> dict[str, Any] | None:
    """The generator settings a file we wrote records (None for other files or unreadable ones)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            raw = f["metadata"].attrs.get("mc_settings")
    except (OSError, KeyError, ValueError):
        return None
    try:
        return json.loads(raw) if isinstance(raw, str | bytes) else None
    except json.JSONDecodeError:
        return None


# -- reading -----------------------------------------------------------------------------------

def _decode(data: np.ndarray, path: Path, key: str, index: int, mode: str) -> np.ndarray:
    from PIL import Image

    try:
        img = Image.open(io.BytesIO(np.asarray(data, np.uint8).tobytes()))
        w, h = img.size
        if w > MAX_SIDE or h > MAX_SIDE:
            raise BadInputError(path, f"{key}[{index}]: image of {w}x{h} is over the limit of {MAX_SIDE} a side")
        if mode == "RGB":
            return np.asarray(img.convert("RGB"))
        if img.mode in ("I;16", "I;16B", "I"):
            return np.asarray(img, dtype=np.float32) / 65535.0
        return np.asarray(img.convert("L"), dtype=np.float32) / 255.0
    except BadInputError:
        raise
    except Exception as exc:  # Pillow raises many kinds on damaged bytes
        why = "unknown image format" if type(exc).__name__ == "UnidentifiedImageError" else f"{type(exc).__name__}: {exc}"
        raise BadInputError(path, f"{key}[{index}]: not a decodable image ({why})") from None


def _resize(arr: np.ndarray, size: int, *, threshold: bool = False) -> np.ndarray:
    """Bilinear resize of (H,W) or (H,W,C) to size x size (float output; masks: > 0.8 after)."""
    from PIL import Image

    if arr.shape[0] == size and arr.shape[1] == size:
        return arr
    a = arr.astype(np.float32)
    chans = [a] if a.ndim == 2 else [a[..., c] for c in range(a.shape[-1])]
    out = [np.asarray(Image.fromarray(c, "F").resize((size, size), Image.BILINEAR)) for c in chans]
    res = out[0] if a.ndim == 2 else np.stack(out, -1)
    return res > MASK_THRESHOLD * 255 if threshold else res


class LociHDF5:
    """A Loci-Segmented HDF5 file as a loci data set: ``len(ds)`` videos; ``ds[i]`` -> ``rgb`` uint8
    (T,S,S,3), ``depth`` float32 (T,S,S) (when the file has depth), ``masks`` int64 (T,S,S) ids (the
    k-th mask of a frame is id k+1; where masks overlap the later one wins) and ``instance_masks``,
    a list of T bool stacks (M_t,S,S) (the masks themselves, for Loci-Segmented's IoU).

    ``size``: the side frames are resized to (default: the file's side when square, else the smaller
    side). Opening checks the index datasets against each other and against the file's size."""

    def __init__(self, path: str | os.PathLike, size: int | None = None):
        import h5py

        self.root = self.path = Path(path)
        if not self.path.exists():
            raise BadInputError(self.path, "data file not found")
        if not self.path.is_file():
            raise BadInputError(self.path, "not a file (expected a Loci-Segmented HDF5 file)")
        file_bytes = self.path.stat().st_size
        try:
            with h5py.File(self.path, "r") as f:
                self._check_layout(f, file_bytes)
                self.sequences = self._index(f, "sequence_indices", f["rgb_images"].shape[0])
                self.has_depth = "depth_images" in f and f["depth_images"].shape[0] > 0
                self.has_masks = "image_instance_indices" in f and "instance_masks" in f
                if self.has_masks:
                    self.instances = self._index(f, "image_instance_indices", f["instance_masks"].shape[0])
                    if self.instances.shape[0] != f["rgb_images"].shape[0]:
                        raise BadInputError(self.path, f"image_instance_indices has {self.instances.shape[0]} rows "
                                                       f"for {f['rgb_images'].shape[0]} frames")
                    if self.instances[:, 1].max(initial=0) > MAX_MASKS_PER_FRAME:
                        raise BadInputError(self.path, f"image_instance_indices: a frame lists more than "
                                                       f"{MAX_MASKS_PER_FRAME} masks")
                    self.native = tuple(int(v) for v in f["instance_masks"].shape[2:])
                elif "foreground_mask" in f:
                    self.native = tuple(int(v) for v in f["foreground_mask"].shape[2:])
                else:
                    self.native = None
                meta = f.get("metadata")
                self.meta = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in meta.attrs.items()} \
                    if isinstance(meta, h5py.Group) else {}
                first = self._frame(f, 0, "rgb_images", "RGB")
        except BadInputError:
            raise
        except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise BadInputError(self.path, f"damaged or unreadable HDF5 file ({type(exc).__name__}: {exc})") from None
        if self.native is None:
            self.native = first.shape[:2]
        h, w = self.native
        if h > MAX_SIDE or w > MAX_SIDE or h < 1 or w < 1:
            raise BadInputError(self.path, f"frames of {h}x{w} are outside 1..{MAX_SIDE} a side")
        if size is not None and not 16 <= int(size) <= MAX_SIDE:
            raise UsageError(f"size must be in 16..{MAX_SIDE}, got {size}")
        self.size = int(size) if size is not None else (h if h == w else min(h, w))
        counts = self.sequences[:, 1]
        self.frames = int(counts.max())
        if int(counts.max()) * max(self.size, h) * max(self.size, w) > MAX_VIDEO_PIXELS:
            raise BadInputError(self.path, f"sequence_indices: a video of {int(counts.max())} frames of {h}x{w} is "
                                           f"over the limit of {MAX_VIDEO_PIXELS} pixels")
        self.camera_motion = "none"
        self.paths = [self.path] * len(self.sequences)
        self.video_names = [f"sequence_{i:05d}" for i in range(len(self.sequences))]
        self.input_files = [self.path]

    def _check_layout(self, f, file_bytes: int) -> None:
        import h5py

        if "rgb_images" not in f:
            raise BadInputError(self.path, f"no 'rgb_images' dataset (has: {', '.join(sorted(f.keys())) or 'none'})")
        for key in KEYS:
            if key not in f:
                continue
            ds = f[key]
            if not isinstance(ds, h5py.Dataset):
                raise BadInputError(self.path, f"{key}: not a dataset")
            if key in ("rgb_images", "depth_images"):
                if ds.ndim != 1 or h5py.check_vlen_dtype(ds.dtype) != np.uint8:
                    raise BadInputError(self.path, f"{key}: expected (N,) variable-length uint8 (encoded images), "
                                                   f"got {ds.dtype} {ds.shape}")
                continue
            if ds.dtype.kind not in "ui":
                raise BadInputError(self.path, f"{key}: expected integers, got {ds.dtype}")
            want = {"foreground_mask": 4, "instance_masks": 4, "image_instance_indices": 2,
                    "instance_masks_images": 2, "instance_mask_bboxes": 2, "sequence_indices": 2}[key]
            if ds.ndim != want or (want == 4 and ds.shape[1] != 1):
                raise BadInputError(self.path, f"{key}: expected {'(N,1,H,W)' if want == 4 else '(N,k)'}, got {ds.shape}")
            if want == 4 and (ds.shape[2] > MAX_SIDE or ds.shape[3] > MAX_SIDE):
                raise BadInputError(self.path, f"{key}: frames of {ds.shape[2]}x{ds.shape[3]} are over the limit "
                                               f"of {MAX_SIDE} a side")
            declared = int(np.prod(ds.shape, dtype=object)) * ds.dtype.itemsize
            stored = ds.id.get_storage_size()
            limit = (MAX_DEFLATE_RATIO * stored + 65536) if ds.compression else stored + 65536
            if declared > limit or (not ds.compression and declared > file_bytes + 65536):
                raise BadInputError(self.path, f"{key}: claims shape {ds.shape} ({declared} bytes) but stores "
                                               f"{stored} bytes (damaged or truncated)")
        if f["rgb_images"].shape[0] == 0:
            raise BadInputError(self.path, "rgb_images: the data set is empty (0 frames)")
        if "depth_images" in f and f["depth_images"].shape[0] not in (0, f["rgb_images"].shape[0]):
            raise BadInputError(self.path, f"depth_images: {f['depth_images'].shape[0]} frames for "
                                           f"{f['rgb_images'].shape[0]} rgb_images")

    def _index(self, f, key: str, length: int) -> np.ndarray:
        """The (start, count) rows of `key` (all rows of `rgb_images` as one video when the file has no
        sequence_indices), each checked to lie within `length`."""
        if key not in f:
            if key == "sequence_indices":
                return np.array([[0, length]], np.int64)
            raise BadInputError(self.path, f"no {key!r} dataset")
        ds = f[key]
        if ds.ndim != 2 or ds.shape[1] != 2:
            raise BadInputError(self.path, f"{key}: expected (N,2) (start, count), got {ds.shape}")
        rows = np.asarray(ds[:], np.int64)
        if key == "sequence_indices" and rows.shape[0] == 0:
            raise BadInputError(self.path, "sequence_indices: no videos")
        bad = np.nonzero((rows[:, 0] < 0) | (rows[:, 1] < (1 if key == "sequence_indices" else 0))
                         | (rows[:, 0] + rows[:, 1] > length))[0]
        if bad.size:
            i = int(bad[0])
            raise BadInputError(self.path, f"{key}[{i}] = ({rows[i, 0]}, {rows[i, 1]}) lies outside the "
                                           f"{length} entries it indexes")
        return rows

    def _frame(self, f, index: int, key: str, mode: str) -> np.ndarray:
        return _decode(f[key][index], self.path, key, index, mode)

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, index: int) -> dict[str, Any]:
        import h5py

        start, count = (int(v) for v in self.sequences[index])
        s = self.size
        try:
            with h5py.File(self.path, "r") as f:
                rgb = np.empty((count, s, s, 3), np.uint8)
                depth = np.empty((count, s, s), np.float32) if self.has_depth else None
                stacks: list[np.ndarray] = []
                for t in range(count):
                    img = self._frame(f, start + t, "rgb_images", "RGB")
                    if self.native is not None and img.shape[:2] != tuple(self.native):
                        raise BadInputError(self.path, f"rgb_images[{start + t}]: frame of {img.shape[1]}x{img.shape[0]}, "
                                                       f"the masks are {self.native[1]}x{self.native[0]}")
                    rgb[t] = np.clip(np.rint(_resize(img, s)), 0, 255).astype(np.uint8)
                    if depth is not None:
                        d = self._frame(f, start + t, "depth_images", "L")
                        if d.shape != img.shape[:2]:
                            raise BadInputError(self.path, f"depth_images[{start + t}]: {d.shape[1]}x{d.shape[0]}, "
                                                           f"rgb is {img.shape[1]}x{img.shape[0]}")
                        depth[t] = _resize(d, s)
                    if self.has_masks:
                        m0, mc = (int(v) for v in self.instances[start + t])
                        raw = np.asarray(f["instance_masks"][m0:m0 + mc, 0])
                        stacks.append(np.stack([_resize(m, s, threshold=True) if m.shape != (s, s)
                                                else m > MASK_THRESHOLD * 255 for m in raw])
                                      if mc else np.zeros((0, s, s), bool))
        except BadInputError:
            raise
        except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise BadInputError(self.path, f"sequence {index}: damaged data ({type(exc).__name__}: {exc})") from None
        video: dict[str, Any] = {"rgb": rgb}
        if depth is not None:
            video["depth"] = depth
        if self.has_masks:
            ids = np.zeros((count, s, s), np.int64)
            for t, st in enumerate(stacks):
                for k, m in enumerate(st):
                    ids[t][m] = k + 1
            video["masks"] = ids
            video["instance_masks"] = stacks
        return video

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for i in range(len(self)):
            yield self[i]

    def arrays(self) -> dict[str, np.ndarray]:
        """All videos stacked: rgb (N,T,S,S,3), depth (N,T,S,S), masks (N,T,S,S). Needs equal lengths
        and depth."""
        lengths = {int(c) for c in self.sequences[:, 1]}
        if len(lengths) != 1:
            raise BadInputError(self.path, f"sequence_indices: videos have different lengths {sorted(lengths)}")
        if not self.has_depth:
            raise BadInputError(self.path, "depth_images: the file has no depth (needed here)")
        vids = list(self)
        keys = ("rgb", "depth", "masks") if self.has_masks else ("rgb", "depth")
        return {k: np.stack([v[k] for v in vids]) for k in keys}
