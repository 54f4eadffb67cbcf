"""Pictures of inpainting: truth / masked / filled panels and accuracy against mask ratio."""

from __future__ import annotations

import numpy as np


def _save(fig, path) -> None:
    from mc_core.atomic import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")


def save_panels(path, truth: np.ndarray, hidden: np.ndarray, filled: np.ndarray,
                sampled: np.ndarray | None = None, max_rows: int = 8, title: str = "") -> None:
    """Rows of ground truth / masked input (hidden pixels black) / argmax fill [/ sampled fill]."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mc_landcover.legend import colorize

    n = min(max_rows, truth.shape[0])
    cols = [("ground truth", truth), ("masked", np.where(hidden, -1, truth)), ("filled (argmax)", filled)]
    if sampled is not None:
        cols.append(("filled (sample)", sampled))
    fig, axes = plt.subplots(n, len(cols), figsize=(2.2 * len(cols), 2.2 * n), squeeze=False)
    for r in range(n):
        for c, (name, arr) in enumerate(cols):
            ax = axes[r, c]
            ax.imshow(colorize(arr[r]), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    _save(fig, path)
    plt.close(fig)


def plot_accuracy_vs_ratio(path, runs: list[dict], metric: str = "accuracy") -> None:
    """One panel per mask type, one line per method, error bars from the confidence intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mask_types = sorted({r["mask_type"] for r in runs})
    fig, axes = plt.subplots(1, len(mask_types), figsize=(5 * len(mask_types), 4), squeeze=False)
    for ax, mt in zip(axes[0], mask_types):
        for method in sorted({r["method"] for r in runs if r["mask_type"] == mt}):
            rs = sorted((r for r in runs if r["mask_type"] == mt and r["method"] == method),
                        key=lambda r: r["mask_ratio"])
            x = [r["mask_ratio"] for r in rs]
            y = [r["metrics"][metric]["mean"] for r in rs]
            lo = [r["metrics"][metric]["mean"] - r["metrics"][metric]["low"] for r in rs]
            hi = [r["metrics"][metric]["high"] - r["metrics"][metric]["mean"] for r in rs]
            err = np.nan_to_num(np.array([lo, hi]))
            ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=method)
        ax.set_title(f"{mt} mask")
        ax.set_xlabel("mask ratio (fraction of pixels hidden)")
        ax.set_ylabel(metric.replace("_", " ") + " on hidden pixels")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend()
    _save(fig, path)
    plt.close(fig)
