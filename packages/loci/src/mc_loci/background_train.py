"""Pretraining of the learned background module (``mc loci pretrain-bg``), without true masks, in
mc-core's one training loop (:func:`mc_core.training.fit`).

    from mc_loci import pretrain_background
    result = pretrain_background("pan_train", "runs/bg", steps=600)

Each step draws random clips (``clip_frames`` consecutive frames) from the training videos; the
batch of step s depends only on (seed, s) (``StepContext.rng``), so a resumed run sees the same
batches as an uninterrupted one. The true masks are never loaded into a batch. One step is one EM iteration of
the per-pixel background/outlier mixture (``mc_loci.models.background``): the E-step gives each
pixel's posterior of being background under the current prediction and mixture parameters; the
network takes a gradient step on the posterior-weighted squared error of colour and depth
(:func:`~mc_loci.models.background.background_fit_loss`); then the mixture's std and outlier prior
are re-estimated from the posteriors (moving average; a non-gradient update, the loop's
``after_step``). The logged ``nll`` is the mixture's negative
log-likelihood per pixel (lower is better; it also falls as the std shrinks).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mc_core.errors import UsageError

if TYPE_CHECKING:
    from mc_core.training import TrainResult

DEFAULT_BG_TRAIN: dict[str, Any] = {
    "steps": 600,
    "batch_size": 8,
    "clip_frames": 3,
    "lr": 2e-3,
    "grad_clip": 1.0,
    "ckpt_every": 100,
    "vis_every": 0,       # OUT_DIR/vis/step_NNNNNN.gif: learned-cc of training video 0 every N steps
    "seed": 0,
}


def pretrain_background(data: str | Path, out_dir: str | Path, *, steps: int | None = None, resume: bool = False,
                        device: str = "auto", seed: int | None = None, max_minutes: float | None = None,
                        model_config: Mapping[str, Any] | None = None,
                        train_config: Mapping[str, Any] | None = None, quiet: bool | None = None,
                        size: int | None = None) -> TrainResult:
    """Pretrain a ``loci-background`` module on the moving-shapes folder `data` into `out_dir`;
    returns the :class:`mc_core.training.TrainResult`. `model_config` holds
    :class:`~mc_loci.models.background.BackgroundConfig` options, `train_config`
    :data:`DEFAULT_BG_TRAIN` ones (None values mean "the default")."""
    import torch

    from mc_core.checkpoint import fingerprint_files
    from mc_core.factory import create_model
    from mc_core.training import TrainSettings, TrainTask, fit
    from mc_loci.data import open_data
    from mc_loci.interface import TASK, VideoSegmenter
    from mc_loci.models.background import (
        MODEL_NAME,
        BackgroundConfig,
        background_fit_loss,
        background_nll,
    )
    from mc_loci.training import check_clip_frames, check_train_config, clip_batch, progress_pictures

    tgiven = {k: v for k, v in dict(train_config or {}).items() if v is not None}
    if steps is not None:
        tgiven["steps"] = steps
    if seed is not None:
        tgiven["seed"] = seed
    tcfg = check_train_config(tgiven, DEFAULT_BG_TRAIN)
    try:
        mcfg = BackgroundConfig.from_dict({k: v for k, v in dict(model_config or {}).items() if v is not None})
    except (TypeError, ValueError) as exc:
        raise UsageError(f"bad background model config: {exc}") from None

    ds = open_data(data, size=size)
    check_clip_frames(ds, tcfg["clip_frames"])
    arrays = ds.arrays()
    arrays = {"rgb": arrays["rgb"], "depth": arrays["depth"]}  # no masks: trained without them
    torch.manual_seed(int(tcfg["seed"]))
    model = create_model(MODEL_NAME, mcfg.to_dict(), task=TASK, protocol=VideoSegmenter)
    last: dict[str, Any] = {}

    def loss(model, ctx):
        batch = clip_batch(arrays, ctx.rng(), int(tcfg["batch_size"]), int(tcfg["clip_frames"]), ctx.device)
        raw = ctx.accelerator.unwrap_model(model) if ctx.accelerator is not None else model
        depth = batch["depth"] if mcfg.depth_input else None
        out = model(batch["rgb"], depth)
        fit_loss = background_fit_loss(raw, out, batch["rgb"], depth)
        with torch.no_grad():
            nll = background_nll(raw, out, batch["rgb"], depth)
        last.update(out={"bg": out["bg"].detach()}, rgb=batch["rgb"], depth=depth)
        return {"loss": fit_loss, "nll": nll, "sigma_rgb": raw.sigma[0].item(), "sigma_depth": raw.sigma[1].item(),
                "fg_prior": raw.fg_prior.item()}

    def after_step(raw, step):
        raw.update_mixture(last["out"], last["rgb"], last["depth"])

    meta = {"data": str(Path(data)), "data_sha256": fingerprint_files(ds.input_files),
            "n_videos": len(ds), "frames": ds.frames, "size": ds.size, "camera_motion": getattr(ds, "camera_motion", "none")}
    lr = float(tcfg["lr"])
    task = TrainTask(model=model, model_name=MODEL_NAME, config={"model": mcfg.to_dict(), "train": tcfg},
                     make_optimizer=lambda m: torch.optim.Adam([p for p in m.parameters() if p.requires_grad],
                                                               lr=lr),
                     loss=loss, meta=meta, after_step=after_step,
                     every=progress_pictures(ds, out_dir, int(tcfg["vis_every"])))
    settings = TrainSettings(out_dir=out_dir, steps=int(tcfg["steps"]), device=device, resume=resume,
                             max_minutes=max_minutes, seed=int(tcfg["seed"]), ckpt_every=int(tcfg["ckpt_every"]),
                             grad_clip=float(tcfg["grad_clip"]) or None, desc="pretrain-bg", quiet=quiet)
    return fit(task, settings)
