"""Sampling maps from a trained RandAR: a PNG grid and an optional step-by-step GIF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mc_core.errors import UsageError

MAX_WIDE = 8192  # generate-wide: side limit, and n x height x width at most its square
MAX_FRAMES = 2000  # generate-wide GIF frames
MAX_SCALE = 64  # screen pixels per map pixel
MAX_MAPS = 4096  # maps one generate call makes (memory grows with n x size^2 per step)


def check_sampling_args(n: int, temperature: float, steps: int | None, top_k: int | None) -> None:
    """One-line usage errors for the sampling options `generate` and `generate-wide` share."""
    import math

    if not 1 <= n <= MAX_MAPS:
        raise UsageError(f"n must lie in 1..{MAX_MAPS}, got {n}")
    if not (math.isfinite(temperature) and temperature > 0):
        raise UsageError(f"temperature must be a positive finite number, got {temperature}")
    if steps is not None and steps < 1:
        raise UsageError(f"steps must be at least 1, got {steps}")
    if top_k is not None and top_k < 1:
        raise UsageError(f"top_k must be at least 1, got {top_k}")


def generate(config: str | None, checkpoint: str, *, n: int = 4, size: int | None = None, out: str = "samples.png",
             animation: str | None = None, nrows: int | None = None, ncols: int | None = None,
             steps: int | None = None, temperature: float = 1.0, top_k: int | None = None, seed: int = 0,
             device: str = "auto", save_array: str | None = None) -> dict[str, Any]:
    """Sample `n` maps from the model in `checkpoint`; write a PNG grid to `out` (a GIF of the maps
    filling in when `out` ends in .gif, as the seed's `--output-file generation.gif`), optionally
    the GIF `animation` and the npz `save_array`. Returns a summary dict."""
    import numpy as np
    import torch

    from mc_core.paths import check_outputs
    from mc_landcover.interface import LandcoverSampler
    from mc_landcover.loading import load_landcover_model
    from mc_landcover.viz import save_animation_gif, save_grid_png

    check_sampling_args(n, temperature, steps, top_k)
    if nrows and ncols and nrows * ncols < n:
        raise UsageError(f"nrows {nrows} x ncols {ncols} cannot hold n={n} maps")
    if str(out).lower().endswith(".gif"):
        if animation and Path(animation) != Path(out):
            raise UsageError(f"out {out} is a GIF and animation {animation} is another one; give one of them")
        animation, out = out, None
    check_outputs([checkpoint], [out, animation, save_array], not_inside_inputs=True)
    model = load_landcover_model(checkpoint, config=config, device=device, protocol=LandcoverSampler)
    if size is not None and size != model.size:
        raise UsageError(f"size {size} differs from the model's map size {model.size}")
    g = torch.Generator().manual_seed(seed)
    maps, frames = model.sample(n, steps=steps, temperature=temperature, top_k=top_k, generator=g,
                                return_frames=True, progress=_step_bar)
    maps_np = maps.cpu().numpy()
    if out is not None:
        save_grid_png(maps_np, out, nrows, ncols)
    result = {"out": str(out if out is not None else animation), "n": n, "size": model.size,
              "steps": len(frames) - 1}
    if animation:
        frames_np = [f.numpy() for f in frames]
        if len(frames_np) > 120:  # keep GIFs small: evenly spaced frames, always the last one
            keep = np.unique(np.linspace(0, len(frames_np) - 1, 120).round().astype(int))
            frames_np = [frames_np[i] for i in keep]
        save_animation_gif(frames_np, animation, nrows, ncols)
        result["animation"] = str(animation)
    if save_array:
        from mc_core.atomic import atomic_write
        from mc_landcover.legend import index_to_codes

        with atomic_write(Path(save_array), "wb") as fh:
            np.savez_compressed(fh, maps=maps_np.astype(np.uint8), codes=index_to_codes(maps_np))
        result["array"] = str(save_array)
    return result


def generate_wide_files(config: str | None, checkpoint: str, *, width: int, height: int | None = None,
                        overlap: int | None = None, n: int = 1, out: str = "wide.png", animation: str | None = None,
                        frames: int = 120, scale: int | None = None, steps: int | None = None,
                        temperature: float = 1.0, top_k: int | None = None, seed: int = 0, device: str = "auto",
                        save_array: str | None = None) -> dict[str, Any]:
    """Maps wider (and/or taller) than the model's window by sliding-window outpainting; see `wide`."""
    import numpy as np
    import torch

    from mc_core.paths import check_outputs
    from mc_landcover.interface import LandcoverSampler
    from mc_landcover.loading import load_landcover_model
    from mc_landcover.viz import save_animation_gif, save_grid_png
    from mc_landcover.wide import generate_wide, reveal_frames, window_grid

    check_sampling_args(n, temperature, steps, top_k)
    if frames < 2:
        raise UsageError(f"frames must be at least 2, got {frames}")
    if frames > MAX_FRAMES:
        raise UsageError(f"frames must be at most {MAX_FRAMES}, got {frames}")
    if scale is not None and not 1 <= scale <= MAX_SCALE:
        raise UsageError(f"scale must lie in 1..{MAX_SCALE}, got {scale}")
    check_outputs([checkpoint], [out, animation, save_array], not_inside_inputs=True)
    model = load_landcover_model(checkpoint, config=config, device=device, protocol=LandcoverSampler)
    size = model.size
    height = size if height is None else height
    overlap = size // 2 if overlap is None else overlap
    for name, value in (("width", width), ("height", height)):
        if value < size:
            raise UsageError(f"{name} {value} is smaller than the model's window {size}")
        if value > MAX_WIDE:
            raise UsageError(f"{name} {value} is above the limit of {MAX_WIDE} pixels")
    if n * height * width > MAX_WIDE * MAX_WIDE:
        raise UsageError(f"n x height x width = {n * height * width} pixels is above the limit of {MAX_WIDE ** 2}")
    if not 0 <= overlap < size:
        raise UsageError(f"overlap must lie in 0..{size - 1} (the model's window is {size}), got {overlap}")
    windows = window_grid(height, width, size, overlap)
    g = torch.Generator().manual_seed(seed)
    maps, reveal = generate_wide(model, n, height, width, overlap=overlap, steps=steps, temperature=temperature,
                                 top_k=top_k, generator=g, progress=_window_bar)
    scale = scale or max(1, min(8, 1024 // max(width, 1)))
    save_grid_png(maps, out, ncols=1, scale=scale)
    result = {"out": str(out), "n": n, "height": height, "width": width, "window": size, "overlap": overlap,
              "windows": len(windows), "steps": int(reveal.max()) + 1}
    if animation:
        save_animation_gif(reveal_frames(maps, reveal, frames), animation, ncols=1, scale=scale)
        result["animation"] = str(animation)
    if save_array:
        from mc_core.atomic import atomic_write
        from mc_landcover.legend import index_to_codes

        with atomic_write(Path(save_array), "wb") as fh:
            np.savez_compressed(fh, maps=maps, codes=index_to_codes(maps), reveal=reveal,
                                windows=np.array(windows, dtype=np.int32).reshape(-1, 2))
        result["array"] = str(save_array)
    return result


def _window_bar(windows: list):
    """The windows of `generate_wide` in a progress bar (--quiet silences it)."""
    from mc_core.progress import progress

    return progress(windows, desc="generate-wide", unit="window", total=len(windows))


def _step_bar(counts: list[int]):
    """The decoding steps of `RandAR.sample` in a progress bar (one tick a step; --quiet silences it)."""
    from mc_core.progress import progress

    return progress(counts, desc="generate", unit="step", total=len(counts))
