"""Synthetic x3 data: simple 3D scenes rendered by ray casting into 5 cameras per object.

Each scene has a textured ground plane, one large occluder sphere and a few small target
objects (spheres and axis-aligned boxes). Each target is one `uid_*` folder with 5 views:
three ordinary views looking at it, one view from behind the occluder (the target is hidden:
empty mask) and one view turned away (out of frame: empty mask). The inpainted image is the
same view rendered without the target (plus slight noise, as real inpainting is never exact);
the dilated mask is the mask grown by `dilate` pixels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

COLORS = [(220, 60, 50), (50, 160, 70), (60, 90, 210), (230, 190, 40), (170, 70, 200), (40, 190, 200)]


def _look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    fwd = target - eye
    fwd = fwd / np.linalg.norm(fwd)
    up = np.array([0.0, 0.0, 1.0])
    right = np.cross(fwd, up)
    right /= np.linalg.norm(right)
    true_up = np.cross(right, fwd)
    return np.stack([right, -true_up, fwd], axis=1)  # columns: camera x (right), y (down), z (forward)


def _rays(eye, rot, width, height, focal):
    xs = (np.arange(width) + 0.5 - width / 2) / focal
    ys = (np.arange(height) + 0.5 - height / 2) / focal
    gx, gy = np.meshgrid(xs, ys)
    d = np.stack([gx, gy, np.ones_like(gx)], axis=-1) @ rot.T
    return d / np.linalg.norm(d, axis=-1, keepdims=True)


def _hit_sphere(eye, dirs, center, radius):
    oc = eye - center
    b = dirs @ oc
    c = oc @ oc - radius * radius
    disc = b * b - c
    t = -b - np.sqrt(np.maximum(disc, 0))
    return np.where((disc > 0) & (t > 1e-6), t, np.inf)


def _hit_box(eye, dirs, lo, hi):
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / dirs
        t1 = (lo - eye) * inv
        t2 = (hi - eye) * inv
    tmin = np.nanmax(np.minimum(t1, t2), axis=-1)
    tmax = np.nanmin(np.maximum(t1, t2), axis=-1)
    return np.where((tmax >= tmin) & (tmin > 1e-6), tmin, np.inf)


def _render(eye, rot, objects, width, height, focal, skip=None):
    """RGB image and per-pixel id of the nearest object (-1 ground/sky)."""
    dirs = _rays(eye, rot, width, height, focal)
    best_t = np.full((height, width), np.inf)
    best_id = np.full((height, width), -1)
    for i, obj in enumerate(objects):
        if i == skip:
            continue
        t = (_hit_sphere(eye, dirs, obj["center"], obj["radius"]) if obj["shape"] == "sphere"
             else _hit_box(eye, dirs, obj["center"] - obj["half"], obj["center"] + obj["half"]))
        closer = t < best_t
        best_t[closer] = t[closer]
        best_id[closer] = i
    # ground plane z = 0 with a checker texture, sky above the horizon
    with np.errstate(divide="ignore", invalid="ignore"):
        tg = -eye[2] / dirs[..., 2]
    ground = (tg > 0) & (tg < best_t)
    img = np.zeros((height, width, 3))
    img[:] = np.array([150, 190, 230]) * (0.8 + 0.2 * (1 - np.clip(dirs[..., 2:3], 0, 1)))
    p = eye + dirs * np.where(ground, tg, 0)[..., None]
    checker = ((np.floor(p[..., 0]) + np.floor(p[..., 1])) % 2)[..., None]
    img[ground] = (np.array([120, 110, 95]) + 40 * checker)[ground]
    light = np.array([0.4, -0.3, 0.85])
    light /= np.linalg.norm(light)
    for i, obj in enumerate(objects):
        sel = best_id == i
        if not sel.any():
            continue
        hit = eye + dirs[sel] * best_t[sel][:, None]
        if obj["shape"] == "sphere":
            n = (hit - obj["center"]) / obj["radius"]
        else:
            rel = (hit - obj["center"]) / obj["half"]
            n = np.zeros_like(rel)
            ax = np.argmax(np.abs(rel), axis=1)
            n[np.arange(len(ax)), ax] = np.sign(rel[np.arange(len(ax)), ax])
        shade = 0.35 + 0.65 * np.clip(n @ light, 0, 1)
        img[sel] = np.array(obj["color"]) * shade[:, None]
    best_id[ground] = -1
    return np.clip(img, 0, 255).astype(np.uint8), best_id


def _scene(rng: np.random.Generator, num_objects: int) -> list[dict]:
    objects = [{"shape": "sphere", "center": np.array([0.0, 0.0, 1.4]), "radius": 1.4, "color": (200, 200, 200)}]
    for k in range(num_objects):
        ang = 2 * np.pi * k / num_objects + rng.uniform(-0.3, 0.3)
        dist = rng.uniform(3.0, 4.0)
        size = rng.uniform(0.35, 0.6)
        center = np.array([dist * np.cos(ang), dist * np.sin(ang), size])
        color = COLORS[(k + int(rng.integers(len(COLORS)))) % len(COLORS)]
        if k % 2 == 0:
            objects.append({"shape": "sphere", "center": center, "radius": size, "color": color})
        else:
            objects.append({"shape": "box", "center": center, "half": np.array([size, size * 0.8, size]),
                            "color": color})
    return objects


def _cameras(rng, target, occluder):
    """5 (eye, look-at point) pairs: 3 looking at the target, 1 hidden behind the occluder, 1 turned away."""
    cams = []
    away = target[:2] / np.linalg.norm(target[:2])
    for _ in range(3):
        ang = np.arctan2(away[1], away[0]) + rng.uniform(-1.0, 1.0)
        r = rng.uniform(3.5, 5.0)
        eye = target + np.array([r * np.cos(ang), r * np.sin(ang), rng.uniform(1.0, 2.5)])
        look = target + rng.uniform(-1.2, 1.2, size=3) * np.array([1, 1, 0.4])
        cams.append((eye, look))
    # hidden: the camera sits on the far side of the occluder, looking through it at the target
    d = occluder[:2] - target[:2]
    d /= np.linalg.norm(d)
    eye = np.array([occluder[0] + d[0] * 3.0, occluder[1] + d[1] * 3.0, target[2] + 0.2])
    cams.append((eye, target.copy()))
    # out of frame: a camera near the target looking away from it
    eye = target + np.array([away[0] * 1.5, away[1] * 1.5, 1.2])
    look = eye + np.array([away[0] * 3.0, away[1] * 3.0, -0.8])
    cams.append((eye, look))
    order = rng.permutation(5)
    return [cams[i] for i in order], [("visible", "visible", "visible", "hidden", "out_of_frame")[i] for i in order]


def _save_png(arr: np.ndarray, path: Path) -> None:
    from PIL import Image

    from mc_core.atomic import atomic_path

    with atomic_path(path) as tmp:
        Image.fromarray(arr).save(tmp, format="PNG")


def make_demo_data(out_root: str | Path, *, train_scenes: int = 4, val_scenes: int = 2, objects_per_scene: int = 3,
                   width: int = 128, height: int = 96, dilate: int = 2, seed: int = 0,
                   spelling: str = "dialated", val_folder: str = "validation", progress=None) -> dict:
    """Write a synthetic x3 data set under `out_root` (`train/` and `val_folder`, by default
    `validation/` as the x3 data set); returns counts per split ("train", "val")."""
    from mc_core.errors import UsageError

    if val_folder not in ("validation", "val"):
        raise UsageError(f"val_folder must be 'validation' or 'val', got {val_folder!r}")
    if spelling not in ("dialated", "dilated"):
        raise UsageError(f"spelling must be 'dialated' or 'dilated', got {spelling!r}")
    from PIL import Image, ImageFilter

    out_root = Path(out_root)
    rng = np.random.default_rng(seed)
    focal = width * 0.8
    counts: dict[str, dict[str, int]] = {}
    jobs = [("train", i) for i in range(train_scenes)] + [("val", i) for i in range(val_scenes)]
    it = progress(jobs, desc="scenes") if progress else jobs
    for split, i in it:
        c = counts.setdefault(split, {"scenes": 0, "instances": 0, "views": 0, "empty_views": 0})
        c["scenes"] += 1
        scene_id = f"scene{split[0]}{i:03d}"
        objects = _scene(rng, objects_per_scene)
        for t in range(1, len(objects)):
            uid_dir = out_root / (val_folder if split == "val" else split) / scene_id / f"uid_{t:03d}"
            cams, kinds = _cameras(rng, objects[t]["center"], objects[0]["center"])
            c["instances"] += 1
            for v, (eye, look) in enumerate(cams, start=1):
                rot = _look_at(eye, look)
                img, ids = _render(eye, rot, objects, width, height, focal)
                inp, _ = _render(eye, rot, objects, width, height, focal, skip=t)
                noise = rng.normal(0, 2.0, size=inp.shape)
                inp = np.clip(inp + noise, 0, 255).astype(np.uint8)
                mask = ((ids == t) * 255).astype(np.uint8)
                if not mask.any():
                    inp = img.copy()  # nothing removed: the inpainted view equals the original
                    c["empty_views"] += 1
                dil = np.asarray(Image.fromarray(mask).filter(ImageFilter.MaxFilter(2 * dilate + 1)))
                frame = f"{1000 * i + 10 * t + v:06d}"
                stem = f"{v:02d}_{frame}"
                _save_png(img, uid_dir / f"{stem}_original.png")
                _save_png(inp, uid_dir / f"{stem}_inpainted.png")
                _save_png(mask, uid_dir / f"{stem}_mask.png")
                _save_png(dil, uid_dir / f"{stem}_mask_{spelling}.png")
                c["views"] += 1
    return counts
