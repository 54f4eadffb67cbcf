"""Mask overlay pictures: a GIF of [frame | predicted instances blended over the frame]."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# id 0 (background) stays uncoloured; objects cycle through these colours
OVERLAY_COLOURS = np.array([
    [0, 0, 0], [255, 64, 64], [64, 220, 64], [64, 128, 255], [255, 220, 0], [255, 64, 255],
    [0, 230, 230], [255, 140, 0], [160, 90, 255], [255, 255, 255], [128, 128, 0],
], dtype=np.float32)


def overlay(rgb: np.ndarray, ids: np.ndarray, alpha: float = 0.85) -> np.ndarray:
    """Blend instance colours over frames: rgb (T,H,W,3) uint8, ids (T,H,W) -> (T,H,W,3) uint8."""
    ids = np.asarray(ids)
    colours = OVERLAY_COLOURS[np.where(ids == 0, 0, (ids - 1) % (len(OVERLAY_COLOURS) - 1) + 1)]
    out = rgb.astype(np.float32)
    fg = (ids != 0)[..., None]
    out = np.where(fg, (1 - alpha) * out + alpha * colours, 0.5 * out)
    # outline: pixels whose right or lower neighbour has another id
    edge = np.zeros(ids.shape, bool)
    edge[:, :, :-1] |= ids[:, :, :-1] != ids[:, :, 1:]
    edge[:, :-1, :] |= ids[:, :-1, :] != ids[:, 1:, :]
    out[edge] = 255.0
    return np.clip(out, 0, 255).astype(np.uint8)


def write_overlay_gif(path: str | Path, rgb: np.ndarray, ids: np.ndarray, *, fps: float = 4.0,
                      scale: int = 3, truth: np.ndarray | None = None) -> Path:
    """Write an animated GIF (atomically): each frame shows the input, the prediction overlay and,
    when `truth` is given, the true instances."""
    from PIL import Image

    from mc_core.atomic import atomic_path

    panels = [rgb, overlay(rgb, ids)]
    if truth is not None:
        panels.append(overlay(rgb, truth))
    frames = np.concatenate(panels, axis=2)
    if scale > 1:
        frames = frames.repeat(scale, axis=1).repeat(scale, axis=2)
    images = [Image.fromarray(f) for f in frames]
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                       duration=int(round(1000 / fps)), loop=0)
    return Path(path)
