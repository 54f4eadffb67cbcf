"""Pretraining of the learned background module (``mc loci pretrain-bg``), without true masks.

Each step draws random clips (``clip_frames`` consecutive frames) from the training videos; the
batch of step s depends only on (seed, s), so a resumed run sees the same batches as an
uninterrupted one. The true masks are never loaded into a batch. One step is one EM iteration of
the per-pixel background/outlier mixture (``mc_loci.models.background``): the E-step gives each
pixel's posterior of being background under the current prediction and mixture parameters; the
network takes a gradient step on the posterior-weighted squared error of colour and depth
(:func:`~mc_loci.models.background.background_fit_loss`); then the mixture's std and outlier prior
are re-estimated from the posteriors (moving average). The logged ``nll`` is the mixture's negative
log-likelihood per pixel (lower is better; it also falls as the std shrinks).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mc_core.errors import UsageError

DEFAULT_BG_TRAIN: dict[str, Any] = {
    "steps": 600,
    "batch_size": 8,
    "clip_frames": 3,
    "lr": 2e-3,
    "grad_clip": 1.0,
    "ckpt_every": 100,
    "seed": 0,
}


def pretrain_background(data: str | Path, out_dir: str | Path, *, steps: int | None = None, resume: bool = False,
                        device: str = "auto", seed: int | None = None, model_config: dict | None = None,
                        train_config: dict | None = None) -> dict[str, Any]:
    import torch

    from mc_core.checkpoint import fingerprint_files
    from mc_loci.data.moving_shapes import MovingShapes
    from mc_loci.loop import run_training
    from mc_loci.models.background import (
        MODEL_NAME,
        BackgroundConfig,
        BackgroundModule,
        background_fit_loss,
        background_nll,
    )
    from mc_loci.train import clip_batch

    tcfg = {**DEFAULT_BG_TRAIN, **(train_config or {})}
    unknown = set(tcfg) - set(DEFAULT_BG_TRAIN)
    if unknown:
        raise UsageError(f"unknown training option(s): {', '.join(sorted(unknown))}")
    if steps is not None:
        tcfg["steps"] = steps
    if seed is not None:
        tcfg["seed"] = seed
    try:
        mcfg = BackgroundConfig.from_dict(dict(model_config or {}))
    except (TypeError, ValueError) as exc:
        raise UsageError(f"bad background model config: {exc}") from None

    ds = MovingShapes(data)
    arrays = ds.arrays()
    arrays = {"rgb": arrays["rgb"], "depth": arrays["depth"]}  # no masks: trained without them
    last: dict[str, Any] = {}

    def step_loss(model, s, accelerator):
        batch = clip_batch(arrays, int(tcfg["seed"]), s, int(tcfg["batch_size"]), int(tcfg["clip_frames"]),
                           accelerator.process_index, accelerator.device)
        raw = accelerator.unwrap_model(model)
        depth = batch["depth"] if mcfg.depth_input else None
        out = model(batch["rgb"], depth)
        fit = background_fit_loss(raw, out, batch["rgb"], depth)
        with torch.no_grad():
            nll = background_nll(raw, out, batch["rgb"], depth)
        last.update(out={"bg": out["bg"].detach()}, rgb=batch["rgb"], depth=depth)
        return {"loss": fit, "nll": nll, "sigma_rgb": raw.sigma[0].item(), "sigma_depth": raw.sigma[1].item(),
                "fg_prior": raw.fg_prior.item()}

    def after_step(raw):
        raw.update_mixture(last["out"], last["rgb"], last["depth"])

    meta = {"data": str(Path(data)), "data_sha256": fingerprint_files(ds.paths + [ds.root / "meta.json"]),
            "n_videos": len(ds), "frames": ds.frames, "size": ds.size, "camera_motion": ds.camera_motion}
    return run_training(build_model=lambda: BackgroundModule(mcfg), model_name=MODEL_NAME,
                        config={"model": mcfg.to_dict(), "train": tcfg}, tcfg=tcfg, out_dir=out_dir, meta=meta,
                        resume=resume, device=device, step_loss=step_loss, after_step=after_step,
                        desc="pretrain-bg")
