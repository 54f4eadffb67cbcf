"""2D projections of a RandAR model's embedding space (UMAP when installed, PCA otherwise).

Two kinds of points: the class-token embeddings (one per NLCD class) and, given maps, one vector
per map (`RandAR.map_features`: the mean final hidden state over the map's pixels), coloured by
the map's dominant class. How well the map vectors group by dominant class is measured by the
leave-one-out 1-nearest-neighbour agreement, next to the chance level of that measure.
"""

from __future__ import annotations

import numpy as np


def class_embeddings(model) -> np.ndarray:
    """(C, D) class-token embedding matrix (the model's `class_embeddings()`)."""
    return np.asarray(model.class_embeddings(), dtype=np.float32)


def map_embeddings(model, maps: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """(N, d) feature vectors of class-index maps (N, H, W), in batches."""
    import torch

    out = []
    for i in range(0, len(maps), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(maps[i:i + batch_size]).astype(np.int64))
        out.append(model.map_features(x).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def dominant_class(maps: np.ndarray, num_classes: int) -> np.ndarray:
    """(N,) the most frequent class index of each map (lowest index on ties)."""
    counts = np.stack([(maps == c).sum(axis=(1, 2)) for c in range(num_classes)], axis=1)
    return counts.argmax(axis=1)


def knn_agreement(x: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Leave-one-out 1-NN label agreement (Euclidean) and its chance level sum_c p_c^2 (excluding self).

    Chance is what a neighbour drawn at random from the other maps would give.
    """
    n = len(x)
    if n < 2:
        return float("nan"), float("nan")
    sq = (x * x).sum(1)
    d = sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)
    np.fill_diagonal(d, np.inf)
    agree = float((labels[d.argmin(axis=1)] == labels).mean())
    _, counts = np.unique(labels, return_counts=True)
    chance = float((counts * (counts - 1)).sum() / (n * (n - 1)))
    return agree, chance


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

                raise UsageError("UMAP is not installed (pip install umap-learn); use method 'pca'") from None
        else:
            reducer = umap.UMAP(n_components=2, n_neighbors=min(15, len(x) - 1), random_state=seed)
            return reducer.fit_transform(x), "umap", {}
    coords, ratio = pca_2d(x)
    return coords, "pca", {"explained_variance_ratio": [float(r) for r in ratio]}


def _scatter(ax, coords, colors, method, title, names=None, size=160):
    ax.scatter(coords[:, 0], coords[:, 1], c=np.asarray(colors) / 255.0, s=size, edgecolors="black",
               linewidths=0.5 if names is None else 1.0)
    for (x, y), name in zip(coords, names or []):
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(6, 4), fontsize=7)
    ax.set_xlabel(f"{method.upper()} 1")
    ax.set_ylabel(f"{method.upper()} 2")
    ax.set_title(title)
    ax.grid(alpha=0.3)


def plot_embeddings(path, coords: np.ndarray, names: list[str], colors: np.ndarray, method: str,
                    title: str = "", maps_panel: tuple | None = None) -> None:
    """Class embeddings (labelled points); with `maps_panel` = (coords, colors, method, title) a
    second panel of map vectors beside them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mc_core.atomic import atomic_path

    ncols = 1 if maps_panel is None else 2
    fig, axes = plt.subplots(1, ncols, figsize=(7 * ncols, 6), squeeze=False)
    _scatter(axes[0, 0], coords, colors, method, title or f"class embeddings ({method.upper()})", names)
    if maps_panel is not None:
        m_coords, m_colors, m_method, m_title = maps_panel
        _scatter(axes[0, 1], m_coords, m_colors, m_method, m_title, size=28)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def viz_embed(checkpoint, *, config=None, data=None, n_embeddings: int = 100, method: str = "auto",
              out="embeddings.png", save_array=None, seed: int = 0, device: str = "auto") -> dict:
    """Project the class embeddings of the model in `checkpoint` (and, with `data`, one vector per
    test map, the first `n_embeddings`) to 2D, plot them to `out`; return the figures printed."""
    from mc_core.atomic import atomic_write
    from mc_core.errors import BadInputError
    from mc_core.paths import check_outputs
    from mc_landcover.interface import EmbeddingModel
    from mc_landcover.legend import COLORS, NAMES
    from mc_landcover.loading import check_map_size, load_landcover_model

    check_outputs([checkpoint, data], [out, save_array], not_inside_inputs=True)
    model = load_landcover_model(checkpoint, config=config, device="cpu" if device == "auto" else device,
                                 protocol=EmbeddingModel)
    emb = class_embeddings(model)
    coords, used, extra = project_2d(emb, method, seed)
    arrays = {"class_embeddings": emb, "class_coords": coords}
    summary: dict = {"n_classes": int(emb.shape[0]), "dim": int(emb.shape[1]), "method": used, **extra,
                     "out": str(out)}
    panel = None
    if data is not None:
        from mc_landcover.inpaint.data import load_maps

        maps = check_map_size(load_maps(data, "test")[:n_embeddings], model, data)
        if len(maps) < 2:
            raise BadInputError(data, f"the test split has {len(maps)} map(s); embedding needs 2 or more")
        feats = map_embeddings(model, maps)
        dom = dominant_class(maps, emb.shape[0])
        m_coords, m_used, _ = project_2d(feats, method, seed)
        agree, chance = knn_agreement(feats, dom)
        panel = (m_coords, COLORS[dom], m_used,
                 f"{len(maps)} test maps ({m_used.upper()}), colour = dominant class; 1-NN agreement "
                 f"{agree:.2f} (chance {chance:.2f})")
        arrays.update(map_features=feats, map_coords=m_coords, dominant_class=dom)
        summary.update(n_maps=int(len(feats)), map_dim=int(feats.shape[1]), knn_agreement=agree,
                       knn_chance=chance)
    plot_embeddings(out, coords, NAMES[: emb.shape[0]], COLORS[: emb.shape[0]], used, maps_panel=panel)
    if save_array:
        with atomic_write(save_array, "wb") as f:
            np.savez_compressed(f, **arrays)
    return summary
