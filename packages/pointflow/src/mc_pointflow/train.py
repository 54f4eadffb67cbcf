"""Training of the `pointflow-policy` through mc-core's one training loop (`mc_core.training.fit`).

Every item of the training buffer (precomputed attention masks first, the dataset's on-the-fly
fallback otherwise) is loaded once. Step s draws its batch from ``ctx.rng()`` and its flow noise
and times from ``ctx.generator(1)``, both fixed by (seed, step, process), and the learning rate
is a function of the step (linear warm-up, then constant or a cosine decay: :func:`lr_at`, as the
loop's scheduler), so a resumed run takes exactly the steps an uninterrupted one would.

Loss = velocity MSE + attention_weight * BCE(attention logits, masks). The loop writes
``out_dir/checkpoints/{last,best,final}``, ``metrics.csv``, ``loss.png`` and ``train_log.json``,
refuses a resume whose settings or data differ (exit 2), stops on a non-finite loss (exit 1) and
ends cleanly at a time budget (``max_minutes``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from mc_core.errors import UsageError

DEFAULT_TRAIN: dict[str, Any] = {
    "steps": 500,
    "batch_size": 32,
    "lr": 1e-3,
    "weight_decay": 1e-4,
    "warmup_steps": 20,
    "lr_decay_steps": 0,
    "attention_weight": 1.0,
    "attention_pos_weight": 1.0,
    "grad_clip": 1.0,
    "seed": 0,
    "log_every": 25,
    "ckpt_every": 100,
    "val_items": 64,
}
LR_FLOOR = 0.01  # the decayed learning rate ends at this fraction of lr


def lr_at(step: int, lr: float, warmup: int, decay_steps: int = 0) -> float:
    """Linear warm-up, then constant; with `decay_steps` > 0 a cosine decay from `lr` to
    LR_FLOOR * lr at step `decay_steps`, constant after it. A function of the step only (and of
    fixed options), so a resumed run takes the same rates as an uninterrupted one."""
    if warmup > 0 and step < warmup:
        return lr * (step + 1) / warmup
    if decay_steps <= 0:
        return lr
    u = min(1.0, max(0, step - warmup) / max(1, decay_steps - warmup))
    return lr * (LR_FLOOR + (1.0 - LR_FLOOR) * 0.5 * (1.0 + math.cos(math.pi * u)))


def _batch_iou(logits, masks) -> float:
    from mc_pointflow.metrics import attention_iou

    p = (logits.detach().cpu().numpy() >= 0).astype(np.float32)
    m = masks.cpu().numpy()
    return float(np.mean([attention_iou(p[i], m[i]) for i in range(p.shape[0])]))


def check_train_config(train_config: dict | None) -> dict[str, Any]:
    """The training options with defaults filled in; UsageError naming the option when one is bad."""
    tcfg = {**DEFAULT_TRAIN, **(train_config or {})}
    unknown = set(tcfg) - set(DEFAULT_TRAIN)
    if unknown:
        raise UsageError(f"unknown training option(s): {', '.join(sorted(unknown))}")
    for k in ("lr", "weight_decay", "attention_weight", "attention_pos_weight", "grad_clip"):
        v = tcfg[k]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
            raise UsageError(f"{k} must be a finite number, got {v!r}")
    if float(tcfg["lr"]) <= 0:
        raise UsageError("lr must be > 0")
    if float(tcfg["attention_weight"]) < 0 or float(tcfg["weight_decay"]) < 0 or float(tcfg["grad_clip"]) < 0:
        raise UsageError("attention_weight, weight_decay and grad_clip must be >= 0")
    if float(tcfg["attention_pos_weight"]) <= 0:
        raise UsageError("attention_pos_weight must be > 0")
    for k in ("steps", "batch_size", "warmup_steps", "lr_decay_steps", "seed", "log_every", "ckpt_every", "val_items"):
        if isinstance(tcfg[k], bool) or not isinstance(tcfg[k], int):
            raise UsageError(f"{k} must be an integer, got {tcfg[k]!r}")
    from mc_pointflow.limits import MAX_BATCH

    if not 1 <= tcfg["batch_size"] <= MAX_BATCH or tcfg["log_every"] < 1:
        raise UsageError(f"batch_size must be 1..{MAX_BATCH} and log_every >= 1")
    if min(tcfg["steps"], tcfg["warmup_steps"], tcfg["lr_decay_steps"], tcfg["ckpt_every"], tcfg["val_items"]) < 0:
        raise UsageError("steps, warmup_steps, lr_decay_steps, ckpt_every and val_items must be >= 0")
    if int(tcfg["lr_decay_steps"]) != 0 and int(tcfg["lr_decay_steps"]) <= int(tcfg["warmup_steps"]):
        raise UsageError(f"lr_decay_steps must be 0 (no decay) or more than the {tcfg['warmup_steps']} warm-up steps")
    return tcfg


def train(train_buffer: str | Path, out_dir: str | Path, *, valid_buffer: str | Path | None = None,
          mask_config=None, steps: int | None = None, epochs: int | None = None, resume: bool = False,
          device: str = "auto", model_config: dict | None = None, train_config: dict | None = None,
          threads: int | None = None, max_minutes: float | None = None, log=None) -> dict[str, Any]:
    """Train a `pointflow-policy` on `train_buffer` into the run folder `out_dir`; returns a summary
    (steps, parameters, items, train_seconds, steps_per_s, final_loss, checkpoint, stopped)."""
    import torch

    from mc_core.errors import BadInputError
    from mc_core.paths import check_outputs
    from mc_core.progress import progress
    from mc_core.seeding import seed_everything
    from mc_core.training import RESUME_MAY_DIFFER, TrainSettings, TrainTask, fit
    from mc_pointflow.data.policy_data import data_hash, load_policy_arrays
    from mc_pointflow.data.replay_buffer import ReplayBuffer
    from mc_pointflow.evaluate import evaluate_policy
    from mc_pointflow.models.flow_policy import MODEL_NAME, PointFlowPolicy, PolicyConfig
    from mc_pointflow.sim.collect import demo_settings

    del log  # progress and status lines come from the loop (mc_core.progress)
    tcfg = check_train_config(train_config)
    if steps is not None and epochs is not None:
        raise UsageError("give steps or epochs, not both")
    for name, value in (("steps", steps), ("epochs", epochs)):
        if value is not None and int(value) < 1:
            raise UsageError(f"{name} must be >= 1, got {value}")
    try:
        mcfg = PolicyConfig.from_dict(dict(model_config or {}))
    except (TypeError, ValueError) as exc:
        raise UsageError(f"bad model config: {exc}") from None
    check_outputs([train_buffer, valid_buffer], [out_dir], not_inside_inputs=True)
    if threads:
        torch.set_num_threads(int(threads))

    arrays = load_policy_arrays(train_buffer, n_obs_steps=mcfg.n_obs_steps, horizon=mcfg.horizon,
                                mask_config=mask_config, progress=progress)
    if arrays.robot_state.shape[-1] != mcfg.state_dim:
        raise BadInputError(arrays.location, f"data/robot_state has {arrays.robot_state.shape[-1]} values per "
                                             f"timestep, the model expects {mcfg.state_dim}")
    val = None
    if valid_buffer is not None:
        val = load_policy_arrays(valid_buffer, n_obs_steps=mcfg.n_obs_steps, horizon=mcfg.horizon,
                                 mask_config=arrays.mask_config, progress=progress)
    bs = int(tcfg["batch_size"])
    steps_per_epoch = max(1, math.ceil(len(arrays) / bs))
    if epochs is not None:
        tcfg["steps"] = int(epochs) * steps_per_epoch
    elif steps is not None:
        tcfg["steps"] = int(steps)
    seed = int(tcfg["seed"])
    seed_everything(seed)
    model = PointFlowPolicy(mcfg)
    model.set_normalization(arrays.stats(mcfg.relative_xyz))
    digest = data_hash(train_buffer)
    meta = {"train_buffer": arrays.location, "data_sha256": digest, "items": len(arrays),
            "mask_config": arrays.mask_config.to_json(), "precomputed_masks": arrays.precomputed,
            "n_points": int(arrays.pcd.shape[1]), "demo_settings": demo_settings(ReplayBuffer.open(train_buffer))}
    if val is not None:
        meta.update({"valid_buffer": val.location, "valid_data_sha256": data_hash(valid_buffer)})
    config = {"model": mcfg.to_dict(), "train": tcfg,
              "data": {"sha256": digest, "mask_config": arrays.mask_config.to_json()}}

    aw, apw = float(tcfg["attention_weight"]), float(tcfg["attention_pos_weight"])
    lr0, warmup, decay = float(tcfg["lr"]), int(tcfg["warmup_steps"]), int(tcfg["lr_decay_steps"])

    def loss(net, ctx):
        idx = ctx.rng().integers(0, len(arrays), size=bs)
        g = ctx.generator(1)
        noise = torch.randn(bs, mcfg.horizon, mcfg.action_dim, generator=g)
        t = torch.rand(bs, generator=g)
        b = arrays.batch(idx, ctx.device)
        terms = net(b["pcd"], b["robot_state"], b["action"], b["attention_mask"], noise.to(ctx.device),
                    t.to(ctx.device), aw, apw)
        return {"loss": terms["loss"], "flow_loss": terms["flow"], "attention_bce": terms["attention_bce"],
                "train_attention_iou": _batch_iou(terms["logits"], b["attention_mask"]),
                "epoch": (ctx.step + 1) / steps_per_epoch}

    val_items = None
    if val is not None and int(tcfg["val_items"]) > 0:
        val_items = np.unique(np.linspace(0, len(val) - 1, min(int(tcfg["val_items"]), len(val))).round().astype(int))

    def evaluate(net) -> dict[str, float]:
        dev = next(net.parameters()).device
        _, summ = evaluate_policy(net, val, seed=seed, device=dev, items=val_items.tolist(), sample=False,
                                  batch_size=bs)
        return {k: summ[k] for k in ("flow_loss", "attention_iou", "attention_topk_iou")}

    task = TrainTask(
        model=model, model_name=MODEL_NAME, config=config,
        make_optimizer=lambda m: torch.optim.AdamW(m.parameters(), lr=lr0, weight_decay=float(tcfg["weight_decay"])),
        make_scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_at(s, lr0, warmup, decay) / lr0),
        loss=loss, evaluate=evaluate if val_items is not None else None,
        best_key="flow_loss", meta=meta, may_differ=RESUME_MAY_DIFFER | {"val_items", "threads"},
    )
    settings = TrainSettings(out_dir=out_dir, steps=int(tcfg["steps"]), device=device, resume=resume,
                             max_minutes=max_minutes, seed=seed, ckpt_every=int(tcfg["ckpt_every"]),
                             log_every=int(tcfg["log_every"]),
                             eval_every=int(tcfg["log_every"]) if val_items is not None else 0,
                             grad_clip=float(tcfg["grad_clip"]) or None, desc="train pointflow-policy")
    res = fit(task, settings)
    done_now = [r for r in res.history if "seconds" in r]
    return {"out_dir": str(res.out_dir), "steps": res.steps, "parameters": res.parameters, "items": len(arrays),
            "train_seconds": res.train_seconds,
            "steps_per_s": res.steps / res.train_seconds if res.train_seconds and done_now else None,
            "final_loss": res.final_loss, "checkpoint": str(res.checkpoint), "stopped": res.stopped,
            "best": res.best, "precomputed_masks": arrays.precomputed}


# The seed's `python scripts/train.py +experiment=pointflowmatch_so3_attention log_wandb=True`: its
# Hydra experiments, as our training options (the attention experiment is supervised attention).
EXPERIMENTS: dict[str, dict[str, Any]] = {
    "pointflowmatch_so3_attention": {"train": {"attention_weight": 1.0}},
}
DEFAULT_EXPERIMENT = "pointflowmatch_so3_attention"
DEFAULT_OUT_DIR = "runs/pointflow"


def apply_seed_overrides(model_config: dict, train_config: dict, overrides: list[str] | tuple[str, ...]
                         ) -> tuple[dict, dict, dict[str, Any]]:
    """Hydra-style `key=value` overrides, as the seed's train.py takes them, over the given configs:
    `+experiment=NAME` (one of :data:`EXPERIMENTS`), `log_wandb=BOOL` (accepted; nothing is sent:
    metrics go to metrics.csv), `model.KEY=V` and `train.KEY=V` (checked against the defaults:
    an unknown key or a wrong type is a UsageError). Returns (model_config, train_config, extras)."""
    from mc_core.config import apply_overrides
    from mc_pointflow.models.flow_policy import PolicyConfig

    plain = [o.lstrip("+") for o in overrides]
    schema = {"experiment": DEFAULT_EXPERIMENT, "log_wandb": False,
              "model": PolicyConfig().to_dict(), "train": dict(DEFAULT_TRAIN)}
    got = apply_overrides({}, plain, schema=schema)
    extras: dict[str, Any] = {}
    if "experiment" in got:
        name = got["experiment"]
        if name not in EXPERIMENTS:
            raise UsageError(f"override 'experiment={name}': unknown experiment (known: {', '.join(EXPERIMENTS)})")
        extras["experiment"] = name
        model_config = {**model_config, **EXPERIMENTS[name].get("model", {})}
        train_config = {**train_config, **EXPERIMENTS[name].get("train", {})}
    if "log_wandb" in got:
        extras["log_wandb"] = bool(got["log_wandb"])
    model_config = {**model_config, **got.get("model", {})}
    train_config = {**train_config, **got.get("train", {})}
    return model_config, train_config, extras
