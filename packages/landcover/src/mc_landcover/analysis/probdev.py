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


def most_developed_map(maps: np.ndarray, developed: list[int]) -> int:
    """Index of the map (N, H, W) with the most developed pixels (the first one on ties)."""
    return int(np.isin(maps, developed).sum(axis=(1, 2)).argmax())


MAX_SAMPLES = 100_000


def prob_dev(data, *, checkpoint=None, config=None, method: str = "randar", image_index: int | None = None,
             mask_type: str = "interior", mask_ratio: float = 0.25, n_samples: int = 100,
             temperature: float = 1.0, top_k: int | None = None, out="prob_dev.png", save_array=None,
             seed: int = 0, device: str = "auto") -> dict:
    """Hide a region of one test map of `data` (default: the most developed one), draw
    `n_samples` joint fills with `method` ("randar": the model in `checkpoint`; "potts"), plot the
    per-pixel probability of development to `out` and return the summary (and the arrays)."""
    import math

    from mc_core.atomic import atomic_write
    from mc_core.device import resolve_device
    from mc_core.errors import UsageError
    from mc_core.paths import check_outputs
    from mc_core.seeding import seed_everything
    from mc_landcover.inpaint.data import load_maps
    from mc_landcover.inpaint.masks import make_masks
    from mc_landcover.legend import DEVELOPED_INDICES

    if method not in ("randar", "potts"):
        raise UsageError(f"method must be randar or potts, got {method!r}")
    if not 1 <= n_samples <= MAX_SAMPLES:
        raise UsageError(f"n_samples must lie in 1..{MAX_SAMPLES}, got {n_samples}")
    if not (math.isfinite(temperature) and temperature > 0):
        raise UsageError(f"temperature must be a positive finite number, got {temperature}")
    check_outputs([data, checkpoint], [out, save_array], not_inside_inputs=True)
    model = dev = potts = None
    if method == "randar":
        from mc_landcover.interface import LandcoverSampler
        from mc_landcover.loading import load_landcover_model

        dev = resolve_device(device)
        model = load_landcover_model(checkpoint, config=config, device=dev, protocol=LandcoverSampler)
    rng = seed_everything(seed)
    maps = load_maps(data, "test")
    if image_index is None:
        image_index = most_developed_map(maps, DEVELOPED_INDICES)
    if not 0 <= image_index < maps.shape[0]:
        raise UsageError(f"image_index {image_index} is out of range: the test set has {maps.shape[0]} maps")
    x = maps[image_index]
    if model is not None:
        from mc_landcover.loading import check_map_size

        check_map_size(x[None], model, data)
    hidden = make_masks(1, x.shape[0], x.shape[1], mask_type, mask_ratio, rng)[0]
    if method == "potts":
        from mc_landcover.inpaint.experiment import load_or_fit_potts

        potts = load_or_fit_potts(data)
    samples = draw_samples(method, x, hidden, n_samples, model=model, potts=potts, device=dev or "cpu",
                           temperature=temperature, top_k=top_k, seed=seed, rng=rng)
    prob = developed_probability(samples, DEVELOPED_INDICES)
    plot_probdev(out, x, hidden, prob, samples[0],
                 title=f"{method}: test map {image_index}, {n_samples} samples, {mask_type} mask {mask_ratio}")
    if save_array:
        with atomic_write(save_array, "wb") as f:
            np.savez_compressed(f, prob=prob, truth=x.astype(np.uint8), hidden=hidden,
                                samples=samples.astype(np.uint8))
    return {"image_index": int(image_index), "method": method, "n_samples": n_samples, "out": str(out),
            "truth_developed_fraction": float(np.isin(x[hidden], DEVELOPED_INDICES).mean()),
            "expected_developed_fraction": float(prob[hidden].mean()),
            "prob": prob, "truth": x, "hidden": hidden}
