"""Landscape statistics of class maps (FRAGSTATS-style, 4-connectivity, pixel units).

- class proportions: fraction of pixels of each class;
- number of patches: connected components of equal class (4-neighbour), per map;
- mean patch area: pixels per patch (H*W / number of patches);
- edge density: pairs of 4-neighbours with different classes per pixel.
"""

from __future__ import annotations

import numpy as np


def patch_count(index_map: np.ndarray) -> int:
    """Connected components of equal class (4-connectivity) in one (H, W) map."""
    from scipy.ndimage import label

    index_map = np.asarray(index_map)
    return int(sum(label(index_map == c)[1] for c in np.unique(index_map)))


def edge_density(index_map: np.ndarray) -> float:
    """Unequal 4-neighbour pairs per pixel of one (H, W) map."""
    m = np.asarray(index_map)
    edges = int((m[1:, :] != m[:-1, :]).sum() + (m[:, 1:] != m[:, :-1]).sum())
    return edges / m.size


def map_stats(index_map: np.ndarray) -> dict:
    n = patch_count(index_map)
    return {"n_patches": n, "mean_patch_area": index_map.size / n, "edge_density": edge_density(index_map)}


def landscape_stats(maps: np.ndarray, num_classes: int | None = None) -> dict:
    """Statistics of a set of (N, H, W) maps: per-map means (with standard deviations) and the
    pooled class proportions."""
    maps = np.asarray(maps, dtype=np.int64)
    if maps.ndim == 2:
        maps = maps[None]
    per = [map_stats(m) for m in maps]
    out: dict = {"n_maps": int(maps.shape[0])}
    for key in ("n_patches", "mean_patch_area", "edge_density"):
        v = np.array([p[key] for p in per], dtype=np.float64)
        out[key] = {"mean": float(v.mean()), "std": float(v.std())}
    n = int(num_classes or maps.max() + 1)
    out["class_proportions"] = (np.bincount(maps.ravel(), minlength=n)[:n] / maps.size).tolist()
    return out


def compare_stats(generated: dict, reference: dict) -> dict:
    """How far generated statistics are from reference ones: total variation between pooled class
    proportions, and relative error of each mean statistic."""
    p = np.asarray(generated["class_proportions"])
    q = np.asarray(reference["class_proportions"])
    out = {"class_proportion_tv": float(0.5 * np.abs(p - q).sum())}
    for key in ("n_patches", "mean_patch_area", "edge_density"):
        ref = reference[key]["mean"]
        out[f"{key}_rel_error"] = float(abs(generated[key]["mean"] - ref) / ref) if ref else float("nan")
    return out


def landscape_stats_metric(pred, target=None) -> dict:
    """Registered metric `landscape-stats`: statistics of `pred` maps, and when `target` maps are
    given, their distance to the statistics of the target maps."""
    gen = landscape_stats(pred)
    if target is None:
        return gen
    n = max(len(gen["class_proportions"]), int(np.asarray(target).max()) + 1)
    gen = landscape_stats(pred, n)
    ref = landscape_stats(target, n)
    return {"generated": gen, "reference": ref, "distance": compare_stats(gen, ref)}
