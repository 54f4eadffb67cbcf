"""moving-shapes: a deterministic synthetic video data set for object-centric segmentation.

A few flat-coloured shapes (disc, square, triangle, diamond) move in straight lines, bouncing off
the borders, over a smooth textured background; nearer objects occlude farther ones. The camera is
static by default; with ``camera_motion="pan"`` the view window slides smoothly over a larger
background (the objects still move in view coordinates), so a per-pixel background estimate over
time (median, farthest surface) is wrong. Every frame
has RGB, a depth map and an instance mask (0 = background, 1..n = objects, the same id for the
same object in every frame of a video).

Layout of a data folder (written by ``mc loci make-data``)::

    meta.json                 {"format": "mc-loci-moving-shapes", "videos": N, "frames": T, "size": S, ...}
    videos/video_00000.npz    rgb   uint8   (T, S, S, 3)
                              depth float32 (T, S, S)   distance from the camera, 0..1
                              masks uint8   (T, S, S)   instance ids, 0 = background
                              camera float32 (T, 2)     only with a panning camera: view offset (x, y)

Video ``i`` of a data set made with seed ``s`` depends only on ``(s, i)`` and the size options, so
shards written by different processes agree.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from mc_core.errors import BadInputError, UsageError
from mc_core.npz import open_npz

FORMAT = "mc-loci-moving-shapes"
VERSION = 1
META_FILE = "meta.json"
VIDEO_DIR = "videos"
SHAPES = ("disc", "square", "triangle", "diamond")
# Saturated colours far from the muted background palette (RGB, 0..255).
PALETTE = np.array([
    [230, 40, 40], [40, 200, 60], [50, 90, 235], [245, 210, 30], [220, 60, 220],
    [30, 210, 220], [250, 130, 20], [150, 70, 230], [250, 250, 250], [20, 20, 20],
], dtype=np.float32)


def video_name(index: int) -> str:
    return f"video_{index:05d}.npz"


# -- generation --------------------------------------------------------------------------------

def _background_params(rng: np.random.Generator) -> dict:
    """Random parameters of a smooth, low-contrast background texture (colour ramp + two waves)."""
    base = rng.uniform(90, 170, size=3).astype(np.float32)
    tilt = rng.uniform(-35, 35, size=(2, 3)).astype(np.float32)
    waves = []
    for _ in range(2):
        fx, fy = rng.uniform(2, 9, size=2)
        phase = rng.uniform(0, 2 * np.pi)
        amp = rng.uniform(6, 16, size=3).astype(np.float32)
        waves.append((fx, fy, phase, amp))
    return {"base": base, "tilt": tilt, "waves": waves}


def _render_background(params: dict, size: int, offset: tuple[float, float] | None = None,
                       canvas: int | None = None, texture: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The background seen through a size x size window: colour (H,W,3) float 0..255 and depth (H,W),
    a tilted floor plane (far at the top of the canvas, nearer at the bottom).

    Without `offset` the window is the whole canvas (the static camera). With `offset` (x, y), in
    pixels, possibly fractional, the window's top-left corner sits there on a canvas x canvas
    background; texture and depth are evaluated in closed form at the shifted coordinates, so
    sub-pixel camera shifts need no resampling.
    """
    grid = np.mgrid[0:size, 0:size].astype(np.float32)
    if offset is None:
        yy, xx = grid / size
        depth_y = yy
    else:
        yy = (grid[0] + np.float32(offset[1])) / size
        xx = (grid[1] + np.float32(offset[0])) / size
        depth_y = yy * (size / canvas)
    img = params["base"] + xx[..., None] * params["tilt"][0] + yy[..., None] * params["tilt"][1]
    for fx, fy, phase, amp in params["waves"]:
        img = img + np.sin(2 * np.pi * (fx * xx + fy * yy) + phase)[..., None] * amp
    if texture is not None:
        img = img + _texture(texture, xx, yy)
    depth = (0.75 + 0.25 * (1.0 - depth_y)).astype(np.float32)
    return np.clip(img, 0, 255), depth


CAMERA_MOTIONS = ("none", "pan")
BACKGROUNDS = ("smooth", "textured")
SPLITS = ("train", "test", "generalization")
# the generalization split has more objects than training: max_objects+1 .. max_objects+GENERALIZATION_EXTRA
GENERALIZATION_EXTRA = 3


def _texture_params(seed: int, index: int) -> dict:
    """Random parameters of the high-frequency texture of ``background="textured"`` (its own random
    stream, so a textured video has the same objects and camera as the smooth one)."""
    rng = np.random.default_rng([seed, index, 2])
    cells = float(rng.uniform(5, 9))
    angle = float(rng.uniform(0, np.pi))
    checker = rng.uniform(-28, 28, size=3).astype(np.float32)
    waves = []
    for _ in range(3):
        fx, fy = rng.uniform(-22, 22, size=2)
        waves.append((float(fx), float(fy), float(rng.uniform(0, 2 * np.pi)),
                      rng.uniform(8, 18, size=3).astype(np.float32)))
    return {"cells": cells, "angle": angle, "checker": checker, "waves": waves}


def _texture(params: dict, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """The texture (H,W,3) at canvas coordinates xx, yy (in units of the frame side): a rotated
    checkerboard of colour offsets plus three fine waves, in closed form (pans need no resampling)."""
    c, s = np.cos(params["angle"]), np.sin(params["angle"])
    u, v = (c * xx - s * yy) * params["cells"], (s * xx + c * yy) * params["cells"]
    sign = np.where((np.floor(u) + np.floor(v)) % 2 == 0, 1.0, -1.0).astype(np.float32)
    out = sign[..., None] * params["checker"]
    for fx, fy, phase, amp in params["waves"]:
        out = out + np.sin(2 * np.pi * (fx * xx + fy * yy) + phase)[..., None] * amp
    return out


def camera_path(seed: int, index: int, frames: int, size: int) -> tuple[np.ndarray, int]:
    """Window offsets (T, 2) (x, y) in pixels of a panning camera, and the canvas side.

    The canvas is `size + size // 2` pixels wide; the window starts at a random offset and moves
    with a per-video constant velocity (random direction, 1.0-2.0 px per frame at size 64, scaled
    with size), bouncing off the canvas borders. Offsets are fractional (sub-pixel shifts). Drawn
    from its own random stream, so a pan video has the same objects as the static one.
    """
    margin = size // 2
    rng = np.random.default_rng([seed, index, 1])
    pos = rng.uniform(0, margin, size=2)
    angle = rng.uniform(0, 2 * np.pi)
    vel = np.array([np.cos(angle), np.sin(angle)]) * rng.uniform(1.0, 2.0) * size / 64.0
    out = np.empty((frames, 2), np.float32)
    for t in range(frames):
        out[t] = pos
        pos = pos + vel
        for axis in range(2):
            if not 0 <= pos[axis] <= margin:
                vel[axis] *= -1
                pos[axis] = np.clip(pos[axis], 0, margin)
    return out, size + margin


def _shape_mask(shape: str, cx: float, cy: float, r: float, size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    dx, dy = xx - cx, yy - cy
    if shape == "disc":
        return dx * dx + dy * dy <= r * r
    if shape == "square":
        return (np.abs(dx) <= r * 0.85) & (np.abs(dy) <= r * 0.85)
    if shape == "diamond":
        return np.abs(dx) + np.abs(dy) <= r * 1.15
    if shape == "triangle":  # apex up
        return (dy <= r * 0.8) & (dy >= -r) & (np.abs(dx) <= (dy + r) * 0.6)
    raise ValueError(f"unknown shape {shape!r}")


def make_video(seed: int, index: int, *, frames: int = 8, size: int = 64, min_objects: int = 2,
               max_objects: int = 4, noise: float = 2.0, camera_motion: str = "none",
               with_background: bool = False, background: str = "smooth") -> dict[str, np.ndarray]:
    """Generate video `index` of the data set with `seed` (deterministic).

    ``background="textured"`` adds a high-contrast texture (a rotated checkerboard of colour
    offsets and fine waves) to the smooth background, from its own random stream (same objects).

    ``camera_motion="pan"`` moves the view over a larger background (see :func:`camera_path`) and
    adds ``camera`` (T, 2) float32, the window offsets (x, y). ``with_background`` adds the true,
    noise-free background under the objects, ``background`` (T,H,W,3) float32 0..255 and
    ``background_depth`` (T,H,W) (for measuring background estimates; not written to files).
    """
    if frames < 1 or size < 16:
        raise ValueError("need frames >= 1 and size >= 16")
    if not 1 <= min_objects <= max_objects <= len(PALETTE):
        raise ValueError(f"need 1 <= min_objects <= max_objects <= {len(PALETTE)}")
    if camera_motion not in CAMERA_MOTIONS:
        raise ValueError(f"camera_motion must be one of {', '.join(CAMERA_MOTIONS)}, got {camera_motion!r}")
    if background not in BACKGROUNDS:
        raise ValueError(f"background must be one of {', '.join(BACKGROUNDS)}, got {background!r}")
    rng = np.random.default_rng([seed, index])
    bg_params = _background_params(rng)
    texture = _texture_params(seed, index) if background == "textured" else None
    if camera_motion == "pan":
        camera, canvas = camera_path(seed, index, frames, size)
        views = [_render_background(bg_params, size, tuple(o), canvas, texture) for o in camera]
    else:
        views = [_render_background(bg_params, size, texture=texture)] * frames
    n = int(rng.integers(min_objects, max_objects + 1))
    colours = PALETTE[rng.choice(len(PALETTE), size=n, replace=False)]
    shapes = [SHAPES[i] for i in rng.integers(0, len(SHAPES), size=n)]
    scale = size / 64.0
    radius = rng.uniform(6.0, 10.0, size=n) * scale
    depth = np.sort(rng.uniform(0.15, 0.6, size=n))[rng.permutation(n)].astype(np.float32)
    pos = np.stack([rng.uniform(radius, size - radius), rng.uniform(radius, size - radius)], 1)
    angle = rng.uniform(0, 2 * np.pi, size=n)
    speed = rng.uniform(1.5, 3.5, size=n) * scale
    vel = np.stack([np.cos(angle), np.sin(angle)], 1) * speed[:, None]

    rgb = np.empty((frames, size, size, 3), np.uint8)
    dep = np.empty((frames, size, size), np.float32)
    masks = np.zeros((frames, size, size), np.uint8)
    far_to_near = np.argsort(-depth)
    for t in range(frames):
        img = views[t][0].copy()
        d = views[t][1].copy()
        m = np.zeros((size, size), np.uint8)
        for k in far_to_near:
            sm = _shape_mask(shapes[k], pos[k, 0], pos[k, 1], radius[k], size)
            img[sm] = colours[k]
            d[sm] = depth[k]
            m[sm] = k + 1
        if noise > 0:
            img = img + rng.normal(0.0, noise, size=img.shape)
        rgb[t] = np.clip(np.rint(img), 0, 255).astype(np.uint8)
        dep[t] = d
        masks[t] = m
        # move, bouncing off the borders
        pos = pos + vel
        for axis in range(2):
            low, high = pos[:, axis] < radius, pos[:, axis] > size - radius
            vel[low | high, axis] *= -1
            pos[:, axis] = np.clip(pos[:, axis], radius, size - radius)
    video = {"rgb": rgb, "depth": dep, "masks": masks}
    if camera_motion == "pan":
        video["camera"] = camera
    if with_background:
        video["background"] = np.stack([v[0] for v in views]).astype(np.float32)
        video["background_depth"] = np.stack([v[1] for v in views])
    return video


def write_video(path: str | Path, video: dict[str, np.ndarray]) -> None:
    """Write one video (rgb, depth, masks and, for a moving camera, camera) as a compressed npz,
    atomically."""
    from mc_core.atomic import atomic_path

    arrays = {k: video[k] for k in ("rgb", "depth", "masks", "camera") if k in video}
    with atomic_path(path) as tmp:
        np.savez_compressed(tmp, **arrays)


# the largest video make-data writes (frames x size x size pixels; ~20 bytes a pixel while it is made)
MAX_VIDEO_PIXELS = 2 ** 26


SETTINGS_KEYS = ("format", "version", "videos", "frames", "size", "seed", "min_objects", "max_objects",
                 "camera_motion", "background", "split")
# settings recorded only when not at these values (data sets made before they existed stay byte-identical)
OPTIONAL_SETTINGS = {"camera_motion": "none", "background": "smooth", "split": "train"}


def split_objects(split: str, min_objects: int, max_objects: int) -> tuple[int, int]:
    """The object-count range videos of `split` are drawn from: the given one for train and test;
    for ``generalization``, more objects than training: max_objects+1 .. max_objects+3 (at most 10)."""
    if split not in SPLITS:
        raise UsageError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    if split != "generalization":
        return int(min_objects), int(max_objects)
    low = int(max_objects) + 1
    if low > len(PALETTE):
        raise UsageError(f"the generalization split needs max_objects < {len(PALETTE)} (it draws "
                         f"max_objects+1..max_objects+{GENERALIZATION_EXTRA} objects), got {max_objects}")
    return low, min(int(max_objects) + GENERALIZATION_EXTRA, len(PALETTE))


def dataset_meta(*, videos: int, frames: int, size: int, seed: int, min_objects: int, max_objects: int,
                 camera_motion: str = "none", background: str = "smooth", split: str = "train") -> dict:
    """The meta.json of a data set made with these settings.

    It records ``camera_motion``, ``background`` and ``split`` only when they are not "none",
    "smooth" and "train", so data sets made with the defaults stay byte-identical to those written
    before these settings existed. ``min_objects``/``max_objects`` are the ones asked; for the
    generalization split ``objects`` records the range drawn from."""
    meta = {"format": FORMAT, "version": VERSION, "videos": int(videos), "frames": int(frames),
            "size": int(size), "seed": int(seed), "min_objects": int(min_objects),
            "max_objects": int(max_objects), "video_dir": VIDEO_DIR,
            "keys": {"rgb": "uint8 (T,H,W,3)", "depth": "float32 (T,H,W)", "masks": "uint8 (T,H,W), 0=background"}}
    if camera_motion != "none":
        meta["camera_motion"] = camera_motion
        meta["keys"]["camera"] = "float32 (T,2), view offset (x, y) in pixels on the background canvas"
    if background != "smooth":
        meta["background"] = background
    if split != "train":
        meta["split"] = split
        meta["objects"] = list(split_objects(split, min_objects, max_objects))
    return meta


def _settings(meta: dict) -> dict:
    return {k: meta.get(k, OPTIONAL_SETTINGS.get(k)) for k in SETTINGS_KEYS}


def _existing_settings_differ(out: Path, meta: dict) -> list[str] | None:
    """None when `out` holds no data set; else the settings in which its meta.json differs from `meta`
    (empty when they match). BadInputError for a meta.json that cannot be read."""
    meta_path = out / META_FILE
    if not meta_path.exists():
        videos = sorted((out / VIDEO_DIR).glob("video_*.npz")) if (out / VIDEO_DIR).is_dir() else []
        if videos:
            return [f"{len(videos)} video file(s) but no {META_FILE}"]
        return None
    try:
        old = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        return [f"unreadable {META_FILE} ({type(exc).__name__})"]
    if not isinstance(old, dict):
        return [f"{META_FILE} is not a mapping"]
    have, want = _settings(old), _settings(meta)
    return [f"{k} {have[k]!r} (asked: {want[k]!r})" for k in SETTINGS_KEYS if have[k] != want[k]]


def make_dataset(out_dir: str | Path, *, videos: int, frames: int = 8, size: int = 64, seed: int = 0,
                 min_objects: int = 2, max_objects: int = 4, indices: list[int] | None = None,
                 camera_motion: str = "none", progress_bar: bool = True, num_shards: int = 1,
                 shard_index: int = 0, overwrite: bool = False, background: str = "smooth",
                 split: str = "train", format: str = "folder", name: str = "moving-shapes") -> Path:
    """Write a moving-shapes data folder: all videos, or one shard of them (`num_shards`,
    `shard_index`: every num_shards-th video; or explicit `indices`). Returns the folder.

    ``background="textured"`` adds a high-contrast texture to the background; ``split=
    "generalization"`` draws more objects than training (:func:`split_objects`). With
    ``format="loci-hdf5"`` all videos go into one Loci-Segmented HDF5 file in `out_dir`, named
    ``<name>-<split>-<S>x<S>-v1.hdf5`` (:mod:`mc_loci.data.loci_hdf5`; returns the file; no shards):
    the same file with the same settings is kept, with other settings refused unless overwrite.

    meta.json is written first. Into a folder that already holds a data set: with the same
    settings, videos already there are kept (a rerun or another shard completes the set; files are
    written atomically, so a file that exists is whole); with other settings it is refused
    (BadInputError) unless ``overwrite=True``, which deletes the old videos and meta.json first (run
    it on one shard before the others start)."""
    from mc_core.atomic import write_json
    from mc_core.progress import info, progress
    from mc_core.shards import shard_slice

    if not 1 <= int(min_objects) <= int(max_objects) <= len(PALETTE):
        raise UsageError(f"need 1 <= min_objects <= max_objects <= {len(PALETTE)}, got min_objects "
                         f"{min_objects} and max_objects {max_objects}")
    if int(videos) < 1 or int(frames) < 1 or int(size) < 16:
        raise UsageError(f"need videos >= 1, frames >= 1 and size >= 16, got {videos}, {frames} and {size}")
    if int(seed) < 0:
        raise UsageError(f"seed must be >= 0, got {seed}")
    if int(frames) * int(size) ** 2 > MAX_VIDEO_PIXELS:
        raise UsageError(f"a video of {frames} frames of {size}x{size} is over the limit of {MAX_VIDEO_PIXELS} "
                         "pixels (frames x size x size); use fewer frames or a smaller size")
    if camera_motion not in CAMERA_MOTIONS:
        raise UsageError(f"camera_motion must be one of {', '.join(CAMERA_MOTIONS)}, got {camera_motion!r}")
    if background not in BACKGROUNDS:
        raise UsageError(f"background must be one of {', '.join(BACKGROUNDS)}, got {background!r}")
    if format not in FORMATS:
        raise UsageError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    lo, hi = split_objects(split, min_objects, max_objects)
    settings = dict(videos=videos, frames=frames, size=size, seed=seed, min_objects=min_objects,
                    max_objects=max_objects, camera_motion=camera_motion, background=background, split=split)
    gen = dict(frames=frames, size=size, min_objects=lo, max_objects=hi, camera_motion=camera_motion,
               background=background)
    if format == "loci-hdf5":
        if num_shards != 1 or indices is not None:
            raise UsageError("format 'loci-hdf5' writes one file: it takes no shards or indices")
        return _make_hdf5(Path(out_dir), name, dataset_meta(**settings), gen, progress_bar, overwrite)
    todo = shard_slice(list(range(videos)), num_shards, shard_index) if indices is None else list(indices)
    bad = [i for i in todo if not 0 <= int(i) < int(videos)]
    if bad:
        raise UsageError(f"indices must lie in 0..{int(videos) - 1}, got {bad[0]}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise BadInputError(out, "exists and is not a folder")
    meta = dataset_meta(**settings)
    differ = _existing_settings_differ(out, meta) if out.exists() else None
    keep = differ is not None and not differ
    if differ:
        if not overwrite:
            raise BadInputError(out / META_FILE if (out / META_FILE).exists() else out,
                                "holds a data set made with other settings (" + "; ".join(differ[:4])
                                + "); choose another folder, or overwrite it (overwrite=True, --overwrite)")
        (out / META_FILE).unlink(missing_ok=True)
        for old in (out / VIDEO_DIR).glob("video_*.npz"):
            old.unlink()
    (out / VIDEO_DIR).mkdir(parents=True, exist_ok=True)
    write_json(out / META_FILE, meta)
    written = skipped = 0
    for i in progress(todo, desc="make-data", unit="video", quiet=None if progress_bar else True):
        path = out / VIDEO_DIR / video_name(i)
        if keep and path.exists():
            skipped += 1
            continue
        write_video(path, make_video(seed, i, **gen))
        written += 1
    info(f"wrote {written} video(s) to {out}" + (f" ({skipped} already there)" if skipped else ""))
    return out


FORMATS = ("folder", "loci-hdf5")


def _make_hdf5(out: Path, name: str, meta: dict, gen: dict, progress_bar: bool, overwrite: bool) -> Path:
    """Write the whole data set of `meta` as one Loci-Segmented HDF5 file in `out` (see make_dataset)."""
    from mc_core.progress import info, progress
    from mc_loci.data.loci_hdf5 import hdf5_file_name, read_settings, write_loci_hdf5

    if out.exists() and not out.is_dir():
        raise BadInputError(out, "exists and is not a folder")
    path = out / hdf5_file_name(name, meta.get("split", "train"), meta["size"], meta["size"], 1)
    if path.exists():
        old = read_settings(path)
        if old == meta:
            info(f"{path} is already there with these settings")
            return path
        if not overwrite:
            why = "other settings" if old is not None else "no readable mc settings"
            raise BadInputError(path, f"exists with {why}; choose another folder or name, or overwrite it "
                                      "(overwrite=True, --overwrite)")
    out.mkdir(parents=True, exist_ok=True)
    seed = meta["seed"]
    videos = (make_video(seed, i, **gen)
              for i in progress(range(meta["videos"]), desc="make-data", unit="video",
                                quiet=None if progress_bar else True))
    write_loci_hdf5(path, videos, name=name, split=meta.get("split", "train"), settings=meta)
    info(f"wrote {meta['videos']} video(s) to {path}")
    return path


# -- loading -----------------------------------------------------------------------------------

# deflate cannot compress better than 1032:1, so a member that claims more is damaged (or a zip bomb)
MAX_DEFLATE_RATIO = 1032


def check_declared_sizes(path: Path) -> None:
    """BadInputError when an array of the npz `path` claims more bytes than the archive can hold.

    numpy allocates an array as its header declares before reading it; checking the header
    against the zip member's recorded size (and that size against its compressed size) bounds the
    memory a load takes by the size of the file."""
    from numpy.lib import format as npformat

    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                name = info.filename[:-4]
                if info.compress_type != zipfile.ZIP_STORED and \
                        info.file_size > MAX_DEFLATE_RATIO * info.compress_size + 4096:
                    raise BadInputError(path, f"array {name!r} claims {info.file_size} bytes from "
                                              f"{info.compress_size} compressed (damaged, or a zip bomb)")
                with zf.open(info) as fh:
                    version = npformat.read_magic(fh)
                    if version == (1, 0):
                        shape, _, dtype = npformat.read_array_header_1_0(fh)
                    else:
                        shape, _, dtype = npformat.read_array_header_2_0(fh)
                if dtype.hasobject:
                    continue  # refused when loaded (never unpickled)
                nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
                if nbytes > info.file_size:
                    raise BadInputError(path, f"array {name!r} claims shape {tuple(shape)} {dtype} ({nbytes} "
                                              f"bytes), more than the {info.file_size} bytes stored")
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise BadInputError(path, f"damaged video npz ({exc})") from None


def load_video(path: str | Path, *, need_masks: bool = True, need_depth: bool = True) -> dict[str, np.ndarray]:
    """Read and check one video npz; BadInputError names the file and the problem."""
    path = Path(path)
    try:
        with open_npz(path, "video npz") as npz:
            check_declared_sizes(path)
            arrays = {}
            for k in npz.files:
                try:
                    arrays[k] = npz[k]
                except ValueError as exc:
                    if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
                        raise BadInputError(path, f"array {k!r} holds Python objects (pickled data is never "
                                                  "loaded; numeric arrays expected)") from None
                    raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:  # a damaged member
        raise BadInputError(path, f"damaged video npz ({exc})") from None
    need = ["rgb"] + (["depth"] if need_depth else []) + (["masks"] if need_masks else [])
    missing = [k for k in need if k not in arrays]
    if missing:
        raise BadInputError(path, f"missing array(s) {', '.join(missing)} (has: {', '.join(sorted(arrays)) or 'none'})")
    rgb = arrays["rgb"]
    if rgb.ndim != 4 or rgb.shape[-1] != 3 or rgb.dtype != np.uint8:
        raise BadInputError(path, f"rgb must be uint8 (T,H,W,3), got {rgb.dtype} {rgb.shape}")
    if rgb.shape[0] == 0:
        raise BadInputError(path, "the video has no frames")
    out = {"rgb": rgb}
    if "depth" in arrays:
        depth = arrays["depth"]
        if depth.shape != rgb.shape[:3] or not np.issubdtype(depth.dtype, np.floating):
            raise BadInputError(path, f"depth must be float (T,H,W) = {rgb.shape[:3]}, got {depth.dtype} {depth.shape}")
        if not np.isfinite(depth).all():
            raise BadInputError(path, "depth holds NaN or infinite values")
        out["depth"] = depth.astype(np.float32, copy=False)
    if "masks" in arrays:
        masks = arrays["masks"]
        if masks.shape != rgb.shape[:3] or not np.issubdtype(masks.dtype, np.integer):
            raise BadInputError(path, f"masks must be integer (T,H,W) = {rgb.shape[:3]}, got {masks.dtype} {masks.shape}")
        if masks.min(initial=0) < 0:
            raise BadInputError(path, "masks hold negative ids")
        out["masks"] = masks.astype(np.int64, copy=False)
    if "camera" in arrays:
        camera = arrays["camera"]
        if camera.shape != (rgb.shape[0], 2) or not np.issubdtype(camera.dtype, np.floating):
            raise BadInputError(path, f"camera must be float (T,2) = ({rgb.shape[0]}, 2), got {camera.dtype} {camera.shape}")
        out["camera"] = camera
    return out


class MovingShapes:
    """A moving-shapes data folder: ``len(ds)`` videos, ``ds[i]`` -> dict of rgb, depth, masks."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not self.root.exists():
            raise BadInputError(self.root, "data folder not found")
        if not self.root.is_dir():
            raise BadInputError(self.root, "not a folder (expected a moving-shapes data folder with meta.json)")
        meta_path = self.root / META_FILE
        try:
            self.meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BadInputError(self.root, f"{META_FILE} is missing (make one with `mc loci make-data`)") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BadInputError(meta_path, f"corrupt JSON ({exc})") from None
        if not isinstance(self.meta, dict) or self.meta.get("format") != FORMAT:
            raise BadInputError(meta_path, f"not a {FORMAT} meta file")
        try:
            n = int(self.meta["videos"])
            self.frames, self.size = int(self.meta["frames"]), int(self.meta["size"])
        except (KeyError, TypeError, ValueError):
            raise BadInputError(meta_path, "needs integer 'videos', 'frames' and 'size'") from None
        if n < 1:
            raise BadInputError(meta_path, "the data set is empty (videos = 0)")
        self.camera_motion = self.meta.get("camera_motion", "none")
        if self.camera_motion not in CAMERA_MOTIONS:
            raise BadInputError(meta_path, f"unknown camera_motion {self.camera_motion!r} "
                                           f"(known: {', '.join(CAMERA_MOTIONS)})")
        video_dir = self.meta.get("video_dir", VIDEO_DIR)
        if not isinstance(video_dir, str) or not video_dir or Path(video_dir).is_absolute() \
                or ".." in Path(video_dir).parts:
            raise BadInputError(meta_path, f"'video_dir' must be a folder name inside the data set, got {video_dir!r}")
        vdir = self.root / video_dir
        # one listing of the folder (meta.json's count is not trusted to size anything)
        present = {p.name for p in vdir.glob("video_*.npz")} if vdir.is_dir() else set()
        held = sum(1 for i in range(min(n, len(present) + 1)) if video_name(i) in present)
        if held < n:
            first = next(i for i in range(n) if video_name(i) not in present)
            raise BadInputError(vdir / video_name(first), f"video file missing ({n - held} of {n} missing; "
                                                          "re-run make-data, or finish all shards)")
        self.paths = [vdir / video_name(i) for i in range(n)]
        self.video_names = [p.name for p in self.paths]
        self.input_files = [meta_path, *self.paths]

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        video = load_video(self.paths[index])
        if video["rgb"].shape[0] != self.frames:
            raise BadInputError(self.paths[index], f"the video has {video['rgb'].shape[0]} frame(s), meta.json "
                                                   f"says {self.frames}")
        if video["rgb"].shape[1:3] != (self.size, self.size):
            raise BadInputError(self.paths[index], f"frames are {video['rgb'].shape[1:3]}, meta.json says "
                                                   f"{self.size}x{self.size}")
        return video

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        for i in range(len(self)):
            yield self[i]

    def arrays(self) -> dict[str, np.ndarray]:
        """All videos stacked: rgb (N,T,H,W,3), depth (N,T,H,W), masks (N,T,H,W). Needs equal lengths."""
        vids = list(self)
        lengths = {v["rgb"].shape[0] for v in vids}
        if len(lengths) != 1:
            raise BadInputError(self.root, f"videos have different lengths {sorted(lengths)}")
        return {k: np.stack([v[k] for v in vids]) for k in ("rgb", "depth", "masks")}
