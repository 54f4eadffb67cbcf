"""Evaluation of a `pointflow-policy` on a replay buffer.

Per item (timestep): the flow loss with noise and flow time fixed by (seed, item), the error of an
action chunk sampled with `steps` Euler steps against the demonstrated chunk (position, rotation,
gripper) and the agreement of the attention with the mask (IoU of sigmoid(logit) >= 0.5, and a
rank-based IoU of the k highest logits, k = the number of attended points, which does not depend on
where free logits happen to sit).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mc_pointflow.rotation import geodesic_deg

ROW_COLUMNS = ["item", "episode", "timestep", "flow_loss", "pos_err_m", "final_pos_err_m", "rot_err_deg",
               "gripper_acc", "attention_iou", "attention_topk_iou", "attention_coverage_pred",
               "attention_coverage_true"]
SUMMARY_KEYS = ROW_COLUMNS[3:]


def item_noise(seed: int, item: int, horizon: int, action_dim: int):
    """(noise (horizon, A), flow time) fixed by (seed, item): the validation loss is comparable
    between checkpoints and runs."""
    import torch

    g = torch.Generator().manual_seed(mix_seed(seed, item, 7))
    return torch.randn(horizon, action_dim, generator=g), torch.rand((), generator=g)


def sample_noise(seed: int, item: int, horizon: int, action_dim: int):
    """The starting noise of the chunk sampled for an item: the same whatever the batch size."""
    import torch

    g = torch.Generator().manual_seed(mix_seed(seed, item, 11))
    return torch.randn(horizon, action_dim, generator=g)


def mix_seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) & 0xFFFFFFFF for p in parts]).generate_state(1, np.uint64)[0] >> 1)


def topk_iou(logits: np.ndarray, mask: np.ndarray) -> float:
    """IoU between the k points with the highest logits and the k attended points (mask >= 0.5)."""
    truth = mask >= 0.5
    k = int(truth.sum())
    if k == 0:
        return 1.0
    pred = np.zeros_like(truth)
    pred[np.argsort(-logits, kind="stable")[:k]] = True
    return float((pred & truth).sum() / (pred | truth).sum())


def attention_scores(logits: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    from mc_core import registries

    metrics = registries().metrics
    iou, coverage = metrics.get("attention-iou"), metrics.get("attention-coverage")
    pred = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    return {"attention_iou": iou(pred, mask), "attention_topk_iou": topk_iou(logits, mask),
            "attention_coverage_pred": coverage(pred), "attention_coverage_true": coverage(mask)}


def evaluate_policy(model, arrays, *, steps: int = 10, seed: int = 0, batch_size: int = 32, device="cpu",
                    items: list[int] | None = None, sample: bool = True, progress=None) -> tuple[list[dict], dict]:
    """(rows, summary): per-item metrics and their means over the items (all by default)."""
    import torch

    model.eval()
    cfg = model.config
    idx = list(range(len(arrays))) if items is None else list(items)
    rows: list[dict[str, Any]] = []
    chunks = [idx[i:i + batch_size] for i in range(0, len(idx), batch_size)]
    it = progress(chunks, desc="eval", total=len(chunks), unit="batch") if progress else chunks
    with torch.no_grad():
        for chunk in it:
            b = arrays.batch(chunk, device)
            nt = [item_noise(seed, i, cfg.horizon, cfg.action_dim) for i in chunk]
            noise = torch.stack([n for n, _ in nt]).to(device)
            t = torch.stack([t for _, t in nt]).to(device)
            flow, logits = model.flow_loss_per_item(b["pcd"], b["robot_state"], b["action"], noise, t)
            if sample:
                x0 = torch.stack([sample_noise(seed, i, cfg.horizon, cfg.action_dim) for i in chunk])
                pred, _ = model.sample(b["pcd"], b["robot_state"], steps=steps, noise=x0)
                pred = pred.cpu().numpy().astype(np.float64)
            truth = b["action"].cpu().numpy().astype(np.float64)
            logits = logits.cpu().numpy()
            masks = b["attention_mask"].cpu().numpy()
            for j, i in enumerate(chunk):
                row = {"item": i, "episode": int(arrays.episode[i]), "timestep": int(arrays.timestep[i]),
                       "flow_loss": float(flow[j])}
                if sample:
                    d = np.linalg.norm(pred[j, :, :3] - truth[j, :, :3], axis=-1)
                    row.update({"pos_err_m": float(d.mean()), "final_pos_err_m": float(d[-1]),
                                "rot_err_deg": float(geodesic_deg(pred[j, :, 3:9], truth[j, :, 3:9]).mean()),
                                "gripper_acc": float(((pred[j, :, 9] >= 0.5) == (truth[j, :, 9] >= 0.5)).mean())})
                row.update(attention_scores(logits[j], masks[j]))
                rows.append(row)
    summary = {k: float(np.mean([r[k] for r in rows])) for k in SUMMARY_KEYS if rows and k in rows[0]}
    summary["items"] = len(rows)
    return rows, summary


def write_rows(path, rows: list[dict]) -> None:
    """Per-item metrics as CSV (written atomically)."""
    from mc_core.atomic import write_csv

    write_csv(path, rows, [c for c in ROW_COLUMNS if not rows or c in rows[0]])


def evaluate_checkpoint(checkpoint, buffer, *, steps: int = 10, seed: int = 0, batch_size: int = 32,
                        max_items: int | None = None, device: str = "auto", out_csv=None, out_json=None,
                        progress=None) -> dict:
    """Evaluate a trained policy's checkpoint on a demo buffer (see :func:`evaluate_policy`);
    masks come from the buffer (precomputed) with the checkpoint's mask settings, else on the fly.
    Writes `out_csv` (per item) and `out_json` (the summary) when given; returns the summary."""
    from mc_core.atomic import write_json
    from mc_core.device import resolve_device
    from mc_core.errors import UsageError
    from mc_core.factory import check_interface
    from mc_core.paths import check_outputs
    from mc_pointflow.data.policy_data import load_policy_arrays
    from mc_pointflow.interface import FlowModel
    from mc_pointflow.masks import MaskConfig
    from mc_pointflow.models.flow_policy import load_policy

    if steps < 1 or batch_size < 1 or (max_items is not None and max_items < 1):
        raise UsageError("steps, batch_size and max_items must be >= 1")
    check_outputs([checkpoint, buffer], [out_csv, out_json], not_inside_inputs=True)
    dev = resolve_device(device)
    model, ck = load_policy(checkpoint, dev)
    check_interface(model, FlowModel, what=f"model {ck.model!r}", path=ck.path)
    mc = ck.meta.get("mask_config")
    arrays = load_policy_arrays(buffer, n_obs_steps=model.config.n_obs_steps, horizon=model.config.horizon,
                                mask_config=MaskConfig.from_json(mc) if mc else None, progress=progress)
    items = None
    if max_items is not None and max_items < len(arrays):
        items = np.unique(np.linspace(0, len(arrays) - 1, max_items).round().astype(int)).tolist()
    rows, summary = evaluate_policy(model, arrays, steps=steps, seed=seed, batch_size=batch_size, device=dev,
                                    items=items, progress=progress)
    summary.update({"checkpoint": str(ck.path), "buffer": arrays.location, "euler_steps": steps, "seed": seed,
                    "precomputed_masks": arrays.precomputed})
    if out_csv:
        write_rows(out_csv, rows)
    if out_json:
        write_json(out_json, summary)
    return summary
