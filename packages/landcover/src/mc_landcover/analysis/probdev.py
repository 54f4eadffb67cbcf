"""Probability of development: per-pixel P(class in developed 21-24) over many inpainting samples."""

from __future__ import annotations

import numpy as np


def developed_probability(samples: np.ndarray, developed: list[int]) -> np.ndarray:
    """(S, H, W) samples -> (H, W) fraction of samples whose pixel is a developed class."""
    return np.isin(np.asarray(samples), developed).mean(axis=0)


def draw_samples(method: str, x: np.ndarray, hidden: np.ndarray, n_samples: int, *, model=None, potts=None,
                 device="cpu", temperature: float = 1.0, top_k=None, seed: int = 0, batch_size: int = 32,
                 rng: np.random.Generator | None = None) -> np.ndarray:
    """n_samples joint fills (S, H, W) of one map x (H, W) with `hidden` pixels unknown."""
    xs = np.broadcast_to(x, (n_samples,) + x.shape).astype(np.int64)
    hs = np.broadcast_to(hidden, xs.shape).copy()
    if method == "randar":
        import torch

        from mc_core.progress import progress

        gen = torch.Generator().manual_seed(seed)
        out = []
        starts = range(0, n_samples, batch_size)
        for s in progress(starts, desc="samples", total=len(starts)):
            b = min(batch_size, n_samples - s)
            known = torch.from_numpy(~hs[s:s + b])
            out.append(model.sample(b, known=torch.from_numpy(xs[s:s + b].copy()), known_mask=known,
                                    temperature=temperature, top_k=top_k, generator=gen).cpu().numpy())
        return np.concatenate(out).astype(np.int64)
    if method == "potts":
        from mc_landcover.inpaint.potts import potts_fill

        return potts_fill(potts, xs.copy(), hs, rng or np.random.default_rng(seed)).sampled
    raise ValueError(f"unknown method {method!r}")


def plot_probdev(path, truth: np.ndarray, hidden: np.ndarray, prob: np.ndarray, example: np.ndarray,
                 title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mc_core.atomic import atomic_path
    from mc_landcover.legend import colorize

    fig, axes = plt.subplots(1, 4, figsize=(14, 3.8))
    panels = [("ground truth", colorize(truth)), ("masked input", colorize(np.where(hidden, -1, truth))),
              ("one sample", colorize(example))]
    for ax, (name, img) in zip(axes[:3], panels):
        ax.imshow(img, interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    im = axes[3].imshow(prob, cmap="magma", vmin=0, vmax=1, interpolation="nearest")
    axes[3].contour(hidden.astype(float), levels=[0.5], colors="cyan", linewidths=0.8)
    axes[3].set_title("P(developed, NLCD 21-24)", fontsize=9)
    axes[3].set_xticks([])
    axes[3].set_yticks([])
    fig.colorbar(im, ax=axes[3], fraction=0.046)
    if title:
        fig.suptitle(title, fontsize=10)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
