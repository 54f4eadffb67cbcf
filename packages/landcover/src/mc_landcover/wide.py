"""Maps larger than the model's window: sliding-window outpainting and pixel-reveal animation.

The canvas (height x width, both at least the model's map size S) is covered by S x S windows
placed every S - overlap pixels (the last window in each direction is moved flush with the edge).
Windows are generated in raster order over the window grid; each one is a `RandAR.sample` call
whose known pixels are the ones earlier windows already generated inside it (its overlap with
them), so every new pixel is drawn conditioned on its generated neighbours. With overlap 0 the
windows share no pixels and the result is a mosaic of independent tiles (the ablation).

Every pixel records the global decoding step that produced it (`reveal`), so the animation shows
the canvas filling in exactly in the order it was generated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np


def window_starts(length: int, window: int, overlap: int) -> list[int]:
    """Start offsets of windows of `window` pixels covering 0..length-1, `window - overlap` apart.

    The last window is moved back so that it ends at `length`; so it may overlap its predecessor
    by more than `overlap`, never by less.
    """
    if window < 1 or length < window:
        raise ValueError(f"length {length} must be at least the window {window}")
    if not 0 <= overlap < window:
        raise ValueError(f"overlap must lie in [0, {window}), got {overlap}")
    stride = window - overlap
    starts = list(range(0, length - window + 1, stride))
    if starts[-1] + window < length:
        starts.append(length - window)
    return starts


def window_grid(height: int, width: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """(top, left) of every window, in the order they are generated (row by row)."""
    return [(y, x) for y in window_starts(height, window, overlap) for x in window_starts(width, window, overlap)]


def seam_pairs(length: int, window: int, overlap: int) -> list[int]:
    """Offsets e such that (e-1, e) straddles a seam: e is the first pixel no earlier window covers."""
    starts = window_starts(length, window, overlap)
    return [s + window for s in starts[:-1]]


def generate_wide(model, n: int, height: int, width: int, *, overlap: int, steps: int | None = None,
                  temperature: float = 1.0, top_k: int | None = None, generator=None,
                  progress: Callable[[list], Iterable] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """n maps of height x width class indices and the decoding step (0-based) that made each pixel.

    `steps` is per window (None: one pixel per step). Returns (maps uint8 (n, H, W), reveal int32
    (n, H, W)). All n maps take the same number of steps in each window (they share the window
    geometry), but each map visits the pixels of a window in its own random order.
    """
    import torch

    s = model.size
    windows = window_grid(height, width, s, overlap)
    canvas = torch.full((n, height, width), -1, dtype=torch.long)
    reveal = torch.full((n, height, width), -1, dtype=torch.int32)
    step = 0
    for top, left in progress(windows) if progress is not None else windows:
        win = canvas[:, top:top + s, left:left + s]
        known_mask = win >= 0
        if bool(known_mask.all()):
            continue
        maps, frames = model.sample(n, known=win.clamp_min(0), known_mask=known_mask, steps=steps,
                                    temperature=temperature, top_k=top_k, generator=generator,
                                    return_frames=True)
        win_reveal = reveal[:, top:top + s, left:left + s]
        for k in range(1, len(frames)):
            fresh = (frames[k] >= 0) & (frames[k - 1] < 0)
            win_reveal[fresh] = step + k - 1
        step += len(frames) - 1
        canvas[:, top:top + s, left:left + s] = maps.cpu()
    return canvas.numpy().astype(np.uint8), reveal.numpy()


def reveal_frames(maps: np.ndarray, reveal: np.ndarray, max_frames: int = 120) -> list[np.ndarray]:
    """Partial maps (unknown = -1) after evenly spaced decoding steps, the first empty, the last full."""
    last = int(reveal.max()) if reveal.size else 0
    cuts = np.unique(np.linspace(-1, last, max(2, max_frames)).round().astype(int))
    signed = maps.astype(np.int16)
    return [np.where(reveal <= c, signed, -1) for c in cuts]


def edge_density_at(maps: np.ndarray, rows: list[int], cols: list[int]) -> tuple[float, float]:
    """Fraction of unequal 4-neighbour pairs that straddle a seam, and of all the others.

    `cols` (`rows`) lists offsets e for which the pair of columns (rows) e-1 | e is a seam.
    """
    h_neq = maps[:, :, 1:] != maps[:, :, :-1]  # pair (c-1, c) at index c-1
    v_neq = maps[:, 1:, :] != maps[:, :-1, :]
    h_seam = np.zeros(h_neq.shape[2], bool)
    h_seam[[c - 1 for c in cols]] = True
    v_seam = np.zeros(v_neq.shape[1], bool)
    v_seam[[r - 1 for r in rows]] = True
    seam = np.concatenate([h_neq[:, :, h_seam].ravel(), v_neq[:, v_seam, :].ravel()])
    rest = np.concatenate([h_neq[:, :, ~h_seam].ravel(), v_neq[:, ~v_seam, :].ravel()])
    return (float(seam.mean()) if seam.size else float("nan")), (float(rest.mean()) if rest.size else float("nan"))
