"""moving-shapes: a deterministic synthetic video data set for object-centric segmentation.

A few flat-coloured shapes (disc, square, triangle, diamond) move in straight lines, bouncing off
the borders, over a static textured background; nearer objects occlude farther ones. Every frame
has RGB, a depth map and an instance mask (0 = background, 1..n = objects, the same id for the
same object in every frame of a video).

Layout of a data folder (written by ``mc loci make-data``)::

    meta.json                 {"format": "mc-loci-moving-shapes", "videos": N, "frames": T, "size": S, ...}
    videos/video_00000.npz    rgb   uint8   (T, S, S, 3)
                              depth float32 (T, S, S)   distance from the camera, 0..1
                              masks uint8   (T, S, S)   instance ids, 0 = background

Video ``i`` of a data set made with seed ``s`` depends only on ``(s, i)`` and the size options, so
shards written by different processes agree.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Iterator

import numpy as np

from mc_core.errors import BadInputError

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

def _background(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A static, smooth, low-contrast textured background and its depth (a tilted floor plane)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    base = rng.uniform(90, 170, size=3).astype(np.float32)
    tilt = rng.uniform(-35, 35, size=(2, 3)).astype(np.float32)
    img = base + xx[..., None] * tilt[0] + yy[..., None] * tilt[1]
    # two low-contrast sinusoidal textures
    for _ in range(2):
        fx, fy = rng.uniform(2, 9, size=2)
        phase = rng.uniform(0, 2 * np.pi)
        amp = rng.uniform(6, 16, size=3).astype(np.float32)
        img = img + np.sin(2 * np.pi * (fx * xx + fy * yy) + phase)[..., None] * amp
    depth = (0.75 + 0.25 * (1.0 - yy)).astype(np.float32)  # far at the top, nearer at the bottom
    return np.clip(img, 0, 255), depth


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
               max_objects: int = 4, noise: float = 2.0) -> dict[str, np.ndarray]:
    """Generate video `index` of the data set with `seed` (deterministic)."""
    if frames < 1 or size < 16:
        raise ValueError("need frames >= 1 and size >= 16")
    if not 1 <= min_objects <= max_objects <= len(PALETTE):
        raise ValueError(f"need 1 <= min_objects <= max_objects <= {len(PALETTE)}")
    rng = np.random.default_rng([seed, index])
    bg, bg_depth = _background(rng, size)
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
        img = bg.copy()
        d = bg_depth.copy()
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
    return {"rgb": rgb, "depth": dep, "masks": masks}


def write_video(path: str | Path, video: dict[str, np.ndarray]) -> None:
    """Write one video as a compressed npz, atomically."""
    from mc_core.atomic import atomic_path

    with atomic_path(path) as tmp:
        np.savez_compressed(tmp, rgb=video["rgb"], depth=video["depth"], masks=video["masks"])


def make_dataset(out_dir: str | Path, *, videos: int, frames: int = 8, size: int = 64, seed: int = 0,
                 min_objects: int = 2, max_objects: int = 4, indices: list[int] | None = None,
                 progress_bar: bool = True) -> Path:
    """Write a moving-shapes data folder (all videos, or only `indices` for one shard)."""
    from mc_core.atomic import write_json
    from mc_core.progress import progress

    out = Path(out_dir)
    (out / VIDEO_DIR).mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, "version": VERSION, "videos": int(videos), "frames": int(frames),
            "size": int(size), "seed": int(seed), "min_objects": int(min_objects),
            "max_objects": int(max_objects), "video_dir": VIDEO_DIR,
            "keys": {"rgb": "uint8 (T,H,W,3)", "depth": "float32 (T,H,W)", "masks": "uint8 (T,H,W), 0=background"}}
    todo = list(range(videos)) if indices is None else list(indices)
    for i in progress(todo, desc="make-data", unit="video", quiet=None if progress_bar else True):
        video = make_video(seed, i, frames=frames, size=size, min_objects=min_objects, max_objects=max_objects)
        write_video(out / VIDEO_DIR / video_name(i), video)
    write_json(out / META_FILE, meta)
    return out


# -- loading -----------------------------------------------------------------------------------

def load_video(path: str | Path, *, need_masks: bool = True, need_depth: bool = True) -> dict[str, np.ndarray]:
    """Read and check one video npz; BadInputError names the file and the problem."""
    path = Path(path)
    if not path.exists():
        raise BadInputError(path, "video file not found")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise BadInputError(path, f"not a readable npz file ({exc})") from None
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
        self.paths = [self.root / self.meta.get("video_dir", VIDEO_DIR) / video_name(i) for i in range(n)]
        missing = [p for p in self.paths if not p.exists()]
        if missing:
            raise BadInputError(missing[0], f"video file missing ({len(missing)} of {n} missing; "
                                            "re-run make-data, or finish all shards)")

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        video = load_video(self.paths[index])
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
