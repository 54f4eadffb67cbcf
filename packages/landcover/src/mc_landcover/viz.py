"""Pictures of class maps in NLCD colours: PNG grids and step-by-step GIF animations."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mc_landcover.legend import colorize


def grid_image(maps, nrows: int | None = None, ncols: int | None = None, scale: int = 8, pad: int = 2) -> np.ndarray:
    """(N, H, W) class indices (-1 = unknown, drawn black) -> one (rows*H', cols*W', 3) RGB grid."""
    maps = np.asarray(maps)
    if maps.ndim == 2:
        maps = maps[None]
    n, h, w = maps.shape
    if ncols is None:
        ncols = int(np.ceil(np.sqrt(n))) if nrows is None else int(np.ceil(n / nrows))
    if nrows is None:
        nrows = int(np.ceil(n / max(ncols, 1)))
    rgb = colorize(maps)
    rgb = rgb.repeat(scale, axis=1).repeat(scale, axis=2)
    th, tw = h * scale, w * scale
    canvas = np.full((nrows * (th + pad) + pad, ncols * (tw + pad) + pad, 3), 255, dtype=np.uint8)
    for i in range(min(n, nrows * ncols)):
        r, c = divmod(i, ncols)
        canvas[pad + r * (th + pad): pad + r * (th + pad) + th, pad + c * (tw + pad): pad + c * (tw + pad) + tw] = rgb[i]
    return canvas


def auto_scale(size: int, target: int = 128) -> int:
    return max(1, target // max(size, 1))


def save_grid_png(maps, path: str | os.PathLike, nrows: int | None = None, ncols: int | None = None,
                  scale: int | None = None) -> Path:
    from PIL import Image

    from mc_core.atomic import atomic_path

    maps = np.asarray(maps)
    scale = scale or auto_scale(maps.shape[-1])
    img = Image.fromarray(grid_image(maps, nrows, ncols, scale))
    path = Path(path)
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    return path


def save_animation_gif(frames, path: str | os.PathLike, nrows: int | None = None, ncols: int | None = None,
                       scale: int | None = None, duration_ms: int = 120, hold_last_ms: int = 1500) -> Path:
    """frames: list of (N, H, W) partial maps (-1 = not generated yet) -> an animated GIF of the grid."""
    from PIL import Image

    from mc_core.atomic import atomic_path

    frames = [np.asarray(f) for f in frames]
    scale = scale or auto_scale(frames[0].shape[-1])
    images = [Image.fromarray(grid_image(f, nrows, ncols, scale)).convert("P", palette=Image.Palette.ADAPTIVE)
              for f in frames]
    durations = [duration_ms] * (len(images) - 1) + [hold_last_ms]
    path = Path(path)
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)
    return path
