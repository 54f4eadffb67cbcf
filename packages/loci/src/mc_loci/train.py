"""Training of the slot segmenter through Hugging Face accelerate (one process or `accelerate launch`).

Each step draws a batch of random clips (``clip_frames`` consecutive frames) from the training
videos; the batch of step s depends only on (seed, s), so a resumed run sees the same batches as an
uninterrupted one. Loss = mask_weight * cross-entropy of the masks after Hungarian matching of
slots to true objects per clip + recon_weight * reconstruction (``recon_loss``: "mse", MSE of the
blended RGB and depth; or "mixture", the per-pixel mixture NLL that unsupervised training needs)
+ usage_weight * slot-sparsity prior.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mc_core.errors import UsageError

DEFAULT_TRAIN: dict[str, Any] = {
    "steps": 300,
    "batch_size": 8,
    "clip_frames": 4,
    "lr": 2e-3,
    "mask_weight": 1.0,
    "recon_weight": 1.0,
    "recon_loss": "mse",     # "mse" of the blended reconstruction, or "mixture": per-pixel mixture NLL
    "sigma": 0.1,            # std of the mixture components (0..1 colour units)
    "usage_weight": 0.0,     # sparsity prior: sum over slots of sqrt(mean mask), favours few slots
    "grad_clip": 1.0,
    "ckpt_every": 100,
    "seed": 0,
}


def prepare_arrays(data, background: str = "median") -> dict[str, np.ndarray]:
    """Stack a MovingShapes data set and add the per-video estimated background colour bg (N,H,W,3)
    and depth bg_depth (N,H,W) (see ``mc_loci.baselines.estimate_background``); none for the
    learned background, which the model computes per frame."""
    from mc_loci.baselines import estimate_background

    arrays = data.arrays()
    if background == "learned":
        return arrays
    est = [estimate_background(r, d, background) for r, d in zip(arrays["rgb"], arrays["depth"])]
    arrays["bg"] = np.stack([c for c, _ in est]).astype(np.float32)
    arrays["bg_depth"] = np.stack([d for _, d in est]).astype(np.float32)
    return arrays


def match_targets(logits, masks, num_slots: int):
    """Channel targets (B,T,H,W) for cross-entropy: background -> 0, true object j -> 1 + the slot
    Hungarian-matched to it over the whole clip (cost = negative soft Dice); objects beyond the
    number of slots are ignored (-100)."""
    import torch
    from scipy.optimize import linear_sum_assignment

    with torch.no_grad():
        probs = torch.softmax(logits.float(), 2)[:, :, 1:]  # (B,T,K,H,W)
        target = torch.zeros_like(masks)
        for b in range(masks.shape[0]):
            ids = [int(i) for i in torch.unique(masks[b]) if i != 0]
            if not ids:
                continue
            gt = torch.stack([(masks[b] == i).float() for i in ids])  # (J,T,H,W)
            p = probs[b].transpose(0, 1)  # (K,T,H,W)
            inter = torch.einsum("jthw,kthw->jk", gt, p)
            dice = 2 * inter / (gt.sum((1, 2, 3))[:, None] + p.sum((1, 2, 3))[None] + 1e-6)
            rows, cols = linear_sum_assignment((-dice).cpu().numpy())
            assigned = dict(zip(rows.tolist(), cols.tolist()))
            for j, i in enumerate(ids):
                target[b][masks[b] == i] = assigned[j] + 1 if j in assigned else -100
    return target


RECON_LOSSES = ("mse", "mixture")


def mixture_nll(model_out, batch, sigma: float):
    """Per-pixel negative log-likelihood of the frame under the mixture of components (background,
    slot 1..K): -log sum_k m_k N(x | appearance_k, sigma^2), averaged over pixels, constants dropped.
    Unlike the MSE of the blended image, a component that explains a pixel much better than the
    background gets a strong gradient even while its mask weight there is still tiny."""
    import torch

    log_m = torch.log_softmax(model_out["logits"], 2)  # (B,T,1+K,H,W)
    err = ((model_out["comp_rgb"] - batch["rgb"][:, :, None]) ** 2).sum(3)
    if batch.get("depth") is not None:
        err = err + ((model_out["comp_depth"] - batch["depth"][:, :, None]) ** 2).sum(3)
    return -torch.logsumexp(log_m - err / (2 * sigma * sigma), 2).mean()


def slot_usage_penalty(logits):
    """Sum over slots of sqrt(fraction of the frame the slot covers), mean over frames: lowest when
    few slots cover the foreground (an object split over two slots costs more than one slot)."""
    import torch

    usage = torch.softmax(logits, 2)[:, :, 1:].mean((3, 4))  # (B,T,K)
    return torch.sqrt(usage + 1e-4).sum(2).mean()


def loss_terms(model_out, batch, num_slots: int, mask_weight: float, recon_weight: float, *,
               recon_loss: str = "mse", sigma: float = 0.1, usage_weight: float = 0.0):
    import torch.nn.functional as F

    logits = model_out["logits"]
    terms = {}
    total = 0.0
    if mask_weight > 0:
        target = match_targets(logits, batch["masks"], num_slots)
        ce = F.cross_entropy(logits.flatten(0, 1), target.flatten(0, 1), ignore_index=-100)
        terms["mask_ce"] = ce
        total = total + mask_weight * ce
    if recon_weight > 0:
        rgb_mse = F.mse_loss(model_out["rgb"], batch["rgb"])
        terms["rgb_mse"] = rgb_mse
        if batch.get("depth") is not None:
            terms["depth_mse"] = F.mse_loss(model_out["depth"], batch["depth"])
        if recon_loss == "mixture":
            terms["mixture_nll"] = mixture_nll(model_out, batch, sigma)
            total = total + recon_weight * terms["mixture_nll"]
        else:
            total = total + recon_weight * (rgb_mse + terms.get("depth_mse", 0.0))
    if usage_weight > 0:
        terms["usage"] = slot_usage_penalty(logits)
        total = total + usage_weight * terms["usage"]
    terms["loss"] = total
    return terms


def clip_batch(arrays: dict[str, np.ndarray], seed: int, step: int, batch_size: int, clip_frames: int,
               rank: int = 0, device="cpu") -> dict[str, Any]:
    import torch

    n, t = arrays["rgb"].shape[:2]
    rng = np.random.default_rng([seed, step, rank])
    vids = rng.integers(0, n, size=batch_size)
    clip = min(clip_frames, t)
    starts = rng.integers(0, t - clip + 1, size=batch_size)
    sel = [(v, slice(s, s + clip)) for v, s in zip(vids, starts)]
    rgb = np.stack([arrays["rgb"][v, s] for v, s in sel])
    depth = np.stack([arrays["depth"][v, s] for v, s in sel])
    batch = {
        "rgb": torch.as_tensor(rgb, dtype=torch.float32, device=device).permute(0, 1, 4, 2, 3) / 255.0,
        "depth": torch.as_tensor(depth, dtype=torch.float32, device=device)[:, :, None],
        "masks": None,
        "bg": None,
    }
    if "masks" in arrays:
        masks = np.stack([arrays["masks"][v, s] for v, s in sel])
        batch["masks"] = torch.as_tensor(masks, dtype=torch.long, device=device)
    if "bg" in arrays:
        bg = np.concatenate([arrays["bg"][vids] / 255.0, arrays["bg_depth"][vids][..., None]], -1)
        batch["bg"] = torch.as_tensor(bg, dtype=torch.float32, device=device).permute(0, 3, 1, 2)  # colour + depth
    return batch


def train(data: str | Path, out_dir: str | Path, *, steps: int | None = None, resume: bool = False,
          device: str = "auto", seed: int | None = None, model_config: dict | None = None,
          train_config: dict | None = None, bg_checkpoint: str | Path | None = None) -> dict[str, Any]:
    """Train a slot segmenter. With ``model_config["background"] == "learned"``, ``bg_checkpoint``
    is a pretrained ``loci-background`` checkpoint (``mc loci pretrain-bg``); its module is frozen
    inside the segmenter and its weights are stored in the segmenter's checkpoints."""
    from mc_core.checkpoint import fingerprint_files
    from mc_loci.data.moving_shapes import MovingShapes
    from mc_loci.loop import run_training
    from mc_loci.models.slot_segmenter import MODEL_NAME, SlotSegmenter, SlotSegmenterConfig

    tcfg = {**DEFAULT_TRAIN, **(train_config or {})}
    unknown = set(tcfg) - set(DEFAULT_TRAIN)
    if unknown:
        raise UsageError(f"unknown training option(s): {', '.join(sorted(unknown))}")
    if float(tcfg["mask_weight"]) <= 0 and float(tcfg["recon_weight"]) <= 0:
        raise UsageError("mask_weight and recon_weight cannot both be 0 (nothing to train)")
    if tcfg["recon_loss"] not in RECON_LOSSES:
        raise UsageError(f"recon_loss must be one of {', '.join(RECON_LOSSES)}, got {tcfg['recon_loss']!r}")
    if float(tcfg["sigma"]) <= 0:
        raise UsageError("sigma must be positive")
    if steps is not None:
        tcfg["steps"] = steps
    if seed is not None:
        tcfg["seed"] = seed
    mdict = dict(model_config or {})
    bg_meta, bg_state = {}, None
    if mdict.get("background") == "learned":
        if bg_checkpoint is None:
            raise UsageError("the learned background needs a background checkpoint (--bg-checkpoint)")
        from mc_loci.models.background import load_background_checkpoint

        bg_ck = load_background_checkpoint(bg_checkpoint)
        mdict["bg_model"] = bg_ck.config["model"]
        bg_state = bg_ck.state_dict
        bg_meta = {"bg_checkpoint": str(bg_checkpoint), "bg_weights_sha256": bg_ck.weights_sha256}
    elif bg_checkpoint is not None:
        raise UsageError("--bg-checkpoint is only used with --background learned")
    try:
        mcfg = SlotSegmenterConfig.from_dict(mdict)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"bad model config: {exc}") from None

    ds = MovingShapes(data)
    arrays = prepare_arrays(ds, mcfg.background)

    def build_model():
        model = SlotSegmenter(mcfg)
        if bg_state is not None:
            model.background_module.load_state_dict(bg_state)
        return model

    def step_loss(model, s, accelerator):
        batch = clip_batch(arrays, int(tcfg["seed"]), s, int(tcfg["batch_size"]), int(tcfg["clip_frames"]),
                           accelerator.process_index, accelerator.device)
        out_m = model(batch["rgb"], batch["depth"], batch["bg"])
        return loss_terms(out_m, batch, mcfg.num_slots, float(tcfg["mask_weight"]), float(tcfg["recon_weight"]),
                          recon_loss=str(tcfg["recon_loss"]), sigma=float(tcfg["sigma"]),
                          usage_weight=float(tcfg["usage_weight"]))

    meta = {"data": str(Path(data)), "data_sha256": fingerprint_files(ds.paths + [ds.root / "meta.json"]),
            "n_videos": len(ds), "frames": ds.frames, "size": ds.size, **bg_meta}
    return run_training(build_model=build_model, model_name=MODEL_NAME, config={"model": mcfg.to_dict(), "train": tcfg},
                        tcfg=tcfg, out_dir=out_dir, meta=meta, resume=resume, device=device, step_loss=step_loss)
