"""Report on the preprocessed attention masks of a buffer (the seed's test_preprocessed_masks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mc_pointflow.data.replay_buffer import ReplayBuffer
from mc_pointflow.masks import INDICES_KEY, MASKS_KEY, MaskConfig
from mc_pointflow.preprocess import done_flags, stored_config


def _stored_bytes(arr) -> int:
    try:
        return int(arr.nbytes_stored())
    except Exception:  # noqa: BLE001 - older zarr: fall back to the uncompressed size
        return int(arr.nbytes)


def verify_buffer(path: str | Path, *, batch_size: int = 4, plot: str | Path | None = None) -> dict:
    buf = ReplayBuffer.open(path, mode="r")
    rep: dict = {"buffer": buf.location, "n_episodes": buf.n_episodes, "n_steps": buf.n_steps,
                 "masks_found": isinstance(stored_config(buf), MaskConfig)}
    if not rep["masks_found"]:
        return rep
    masks, idx = buf[MASKS_KEY], buf[INDICES_KEY]
    done = done_flags(buf)
    rep.update({
        "masks_shape": list(masks.shape), "masks_dtype": str(masks.dtype),
        "indices_shape": list(idx.shape), "indices_dtype": str(idx.dtype),
        "mask_config": stored_config(buf).to_json(), "episodes_done": int(done.sum()),
        "mask_bytes_per_timestep": _stored_bytes(masks) / max(masks.shape[0], 1),
    })
    per = []
    for e in np.flatnonzero(done):
        m = np.asarray(masks[buf.episode_slice(int(e))])
        frac = (m >= 0.5).mean(axis=1)
        per.append({"episode": int(e), "mean": float(frac.mean()), "min": float(frac.min()), "max": float(frac.max())})
    if per:
        rep["coverage"] = {"mean": float(np.mean([p["mean"] for p in per])),
                           "min": float(min(p["min"] for p in per)), "max": float(max(p["max"] for p in per))}
    else:
        rep["coverage"] = {"mean": float("nan"), "min": float("nan"), "max": float("nan")}
    rep["per_episode"] = per
    if done.all():
        import torch.utils.data

        from mc_core import registries

        ds = registries().datasets.create("pointflow-attention", path=path)
        loader = torch.utils.data.DataLoader(ds, batch_size=min(batch_size, len(ds)), shuffle=False)
        batch = next(iter(loader))
        rep["batch"] = {k: list(v.shape) for k, v in batch.items() if hasattr(v, "shape")}
        if plot:
            plot_mask(ds[0], plot)
    return rep


def verify_buffers(paths, *, batch_size: int = 4, plot: str | Path | None = None,
                   out_json: str | Path | None = None) -> list[dict]:
    """:func:`verify_buffer` for each buffer; `plot` shows the first buffer whose masks are
    complete; `out_json` gets the list of reports. Outputs are checked against the inputs first."""
    from mc_core.atomic import write_json
    from mc_core.paths import check_outputs

    check_outputs(list(paths), [plot, out_json], not_inside_inputs=True)
    reports = []
    for path in paths:
        rep = verify_buffer(path, batch_size=batch_size, plot=plot)
        if rep.get("batch") and plot:
            plot = None  # drawn once
        reports.append(rep)
    if out_json:
        write_json(out_json, reports)
    return reports


def plot_mask(item: dict, path: str | Path) -> None:
    """Two views (top and side) of one item's points coloured by attention, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mc_core.atomic import atomic_path

    pts = np.asarray(item["pcd"])
    m = np.asarray(item["attention_mask"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    for ax, (a, b, name) in zip(axes, [(0, 1, "top (x-y)"), (0, 2, "side (x-z)")]):
        order = np.argsort(m)
        sc = ax.scatter(pts[order, a], pts[order, b], c=m[order], s=2, cmap="viridis", vmin=0, vmax=1)
        ax.set_title(f"{name}, episode {item['episode']} t={item['timestep']}")
        ax.set_aspect("equal")
    fig.colorbar(sc, ax=axes, label="attention")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
