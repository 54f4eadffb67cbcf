"""2D projection of a RandAR model's class embeddings (UMAP when installed, PCA otherwise)."""

from __future__ import annotations

import numpy as np


def class_embeddings(model) -> np.ndarray:
    """(C, D) class-token embedding matrix."""
    return model.class_emb.weight.detach().float().cpu().numpy()


def pca_2d(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Projection on the two leading principal components and their explained-variance ratios."""
    xc = x - x.mean(axis=0, keepdims=True)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    var = s ** 2
    return xc @ vt[:2].T, var[:2] / var.sum()


def project_2d(x: np.ndarray, method: str = "auto", seed: int = 0) -> tuple[np.ndarray, str, dict]:
    """(N, 2) coordinates; method "umap", "pca" or "auto" (UMAP if importable, else PCA)."""
    if method in ("auto", "umap"):
        try:
            import umap
        except ImportError:
            if method == "umap":
                from mc_core.errors import UsageError

                raise UsageError("UMAP is not installed (pip install umap-learn); use --method pca") from None
        else:
            reducer = umap.UMAP(n_components=2, n_neighbors=min(15, len(x) - 1), random_state=seed)
            return reducer.fit_transform(x), "umap", {}
    coords, ratio = pca_2d(x)
    return coords, "pca", {"explained_variance_ratio": [float(r) for r in ratio]}


def plot_embeddings(path, coords: np.ndarray, names: list[str], colors: np.ndarray, method: str,
                    title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mc_core.atomic import atomic_path

    fig, ax = plt.subplots(figsize=(7, 6))
    ax.scatter(coords[:, 0], coords[:, 1], c=np.asarray(colors) / 255.0, s=160, edgecolors="black")
    for (x, y), name in zip(coords, names):
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(6, 4), fontsize=7)
    ax.set_xlabel(f"{method.upper()} 1")
    ax.set_ylabel(f"{method.upper()} 2")
    ax.set_title(title or f"class embeddings ({method.upper()})")
    ax.grid(alpha=0.3)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
