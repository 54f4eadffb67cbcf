"""Training of the `pointflow-policy` through Hugging Face accelerate (one process or `accelerate launch`).

Every item of the training buffer (precomputed attention masks first, the dataset's on-the-fly
fallback otherwise) is loaded once. Step s draws its batch, its flow noise and its flow times from
(seed, s, process), so a resumed run takes exactly the steps an uninterrupted one would (the
learning rate is constant after a short warm-up, so a longer run is also a continued shorter one).

Loss = velocity MSE + attention_weight * BCE(attention logits, masks). Writes
`out_dir/checkpoints/last` (with the optimizer state, for --resume), `out_dir/checkpoints/final`,
`out_dir/metrics.csv`, `out_dir/loss_curve.png` and `out_dir/train_log.json`.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from mc_core.errors import BadInputError, UsageError

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
# options that may change between a run and its --resume (they do not change what is computed)
RESUMABLE = {"steps", "log_every", "ckpt_every", "val_items"}
# options added after checkpoints were first written: a checkpoint without one had the default
ADDED_LATER = ("attention_pos_weight", "lr_decay_steps")
METRIC_COLUMNS = ["step", "epoch", "loss", "flow_loss", "attention_bce", "train_attention_iou",
                  "val_flow_loss", "val_attention_iou", "val_attention_topk_iou", "steps_per_s", "lr"]


def make_accelerator(device: str):
    from accelerate import Accelerator

    from mc_core.device import resolve_device

    dev = resolve_device(device)
    return Accelerator(cpu=dev.type == "cpu")


def step_seed(seed: int, step: int, rank: int) -> int:
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(step), int(rank)]).generate_state(1, np.uint64)[0] >> 1)


def step_batch(arrays, seed: int, step: int, batch_size: int, rank: int, horizon: int, action_dim: int, device):
    """Items, flow noise and flow times of one step: a function of (seed, step, rank) only."""
    import torch

    s = step_seed(seed, step, rank)
    idx = np.random.default_rng(s).integers(0, len(arrays), size=batch_size)
    g = torch.Generator().manual_seed(s)
    noise = torch.randn(batch_size, horizon, action_dim, generator=g)
    t = torch.rand(batch_size, generator=g)
    b = arrays.batch(idx, device)
    b["noise"], b["t"] = noise.to(device), t.to(device)
    return b


LR_FLOOR = 0.01  # the decayed learning rate ends at this fraction of --lr


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

    p = (logits.cpu().numpy() >= 0).astype(np.float32)
    m = masks.cpu().numpy()
    return float(np.mean([attention_iou(p[i], m[i]) for i in range(p.shape[0])]))


def train(train_buffer: str | Path, out_dir: str | Path, *, valid_buffer: str | Path | None = None,
          mask_config=None, steps: int | None = None, epochs: int | None = None, resume: bool = False,
          device: str = "auto", model_config: dict | None = None, train_config: dict | None = None,
          threads: int | None = None, log=None) -> dict[str, Any]:
    import torch

    from mc_core.atomic import write_json
    from mc_core.checkpoint import load_resume, restore_training, save_checkpoint
    from mc_core.progress import info, progress
    from mc_core.seeding import seed_everything
    from mc_pointflow.data.policy_data import data_hash, load_policy_arrays
    from mc_pointflow.data.replay_buffer import ReplayBuffer
    from mc_pointflow.evaluate import evaluate_policy
    from mc_pointflow.models.flow_policy import MODEL_NAME, PointFlowPolicy, PolicyConfig
    from mc_pointflow.sim.collect import demo_settings

    log = log or info
    tcfg = {**DEFAULT_TRAIN, **(train_config or {})}
    unknown = set(tcfg) - set(DEFAULT_TRAIN)
    if unknown:
        raise UsageError(f"unknown training option(s): {', '.join(sorted(unknown))}")
    if steps is not None and epochs is not None:
        raise UsageError("give --steps or --epochs, not both")
    if float(tcfg["attention_weight"]) < 0:
        raise UsageError("attention_weight must be >= 0")
    if int(tcfg["lr_decay_steps"]) != 0 and int(tcfg["lr_decay_steps"]) <= int(tcfg["warmup_steps"]):
        raise UsageError(f"lr_decay_steps must be 0 (no decay) or more than the {tcfg['warmup_steps']} warm-up steps")
    if float(tcfg["attention_pos_weight"]) <= 0:
        raise UsageError("attention_pos_weight must be > 0")
    try:
        mcfg = PolicyConfig.from_dict(dict(model_config or {}))
    except (TypeError, ValueError) as exc:
        raise UsageError(f"bad model config: {exc}") from None
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
    steps_per_epoch = max(1, math.ceil(len(arrays) / int(tcfg["batch_size"])))
    if epochs is not None:
        tcfg["steps"] = int(epochs) * steps_per_epoch
    elif steps is not None:
        tcfg["steps"] = int(steps)
    total = int(tcfg["steps"])

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    last_dir = out / "checkpoints" / "last"
    acc = make_accelerator(device)
    main = acc.is_main_process
    seed = int(tcfg["seed"])
    seed_everything(seed)
    model = PointFlowPolicy(mcfg)
    model.set_normalization(arrays.stats(mcfg.relative_xyz))
    opt = torch.optim.AdamW(model.parameters(), lr=float(tcfg["lr"]), weight_decay=float(tcfg["weight_decay"]))
    meta_base = {"train_buffer": arrays.location, "data_sha256": data_hash(train_buffer), "items": len(arrays),
                 "mask_config": arrays.mask_config.to_json(), "precomputed_masks": arrays.precomputed,
                 "n_points": int(arrays.pcd.shape[1]), "demo_settings": demo_settings(ReplayBuffer.open(train_buffer))}
    if val is not None:
        meta_base.update({"valid_buffer": val.location, "valid_data_sha256": data_hash(valid_buffer)})
    step, history, train_seconds = 0, [], 0.0
    if resume:
        ck, state = load_resume(last_dir, expect_model=MODEL_NAME, model_config=mcfg.to_dict())
        saved = {**{k: DEFAULT_TRAIN[k] for k in ADDED_LATER}, **(ck.config.get("train") or {})}
        old = {k: v for k, v in saved.items() if k not in RESUMABLE}
        new = {k: v for k, v in tcfg.items() if k not in RESUMABLE}
        if old != new:
            diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            raise BadInputError(last_dir, f"--resume: training options differ from the checkpoint's ({', '.join(diff)})")
        if ck.meta.get("data_sha256") != meta_base["data_sha256"]:
            raise BadInputError(last_dir, "--resume: the training data differ from the checkpoint's (data hash)")
        step, history, train_seconds = restore_training(ck, state, model, opt)
        log(f"resumed from {last_dir} at step {step}")
    model, opt = acc.prepare(model, opt)
    raw = acc.unwrap_model(model)
    dev = acc.device
    val_items = None
    if val is not None and int(tcfg["val_items"]) > 0:
        val_items = np.unique(np.linspace(0, len(val) - 1, min(int(tcfg["val_items"]), len(val))).round().astype(int))

    def save(kind: str, with_state: bool) -> None:
        if not main:
            return
        if history:
            plot_loss(out / "loss_curve.png", history)
        state = ({"optimizer": opt.state_dict(), "step": step, "history": json.dumps(history),
                  "train_seconds": train_seconds} if with_state else None)
        save_checkpoint(out / "checkpoints" / kind, {k: v.detach().cpu() for k, v in raw.state_dict().items()},
                        model=MODEL_NAME, config={"model": mcfg.to_dict(), "train": tcfg},
                        meta={**meta_base, "step": step, "parameters": raw.num_parameters()},
                        training_state=state)

    aw, apw = float(tcfg["attention_weight"]), float(tcfg["attention_pos_weight"])
    bs = int(tcfg["batch_size"])
    acc_terms: dict[str, float] = {}
    n_acc, t_int = 0, time.perf_counter()
    bar = progress(range(step, total), desc="train", total=max(0, total - step), unit="step",
                   quiet=None if main else True)
    model.train()
    for s in bar:
        lr = lr_at(s, float(tcfg["lr"]), int(tcfg["warmup_steps"]), int(tcfg["lr_decay_steps"]))
        for grp in opt.param_groups:
            grp["lr"] = lr
        b = step_batch(arrays, seed, s, bs, acc.process_index, mcfg.horizon, mcfg.action_dim, dev)
        terms = model(b["pcd"], b["robot_state"], b["action"], b["attention_mask"], b["noise"], b["t"], aw, apw)
        opt.zero_grad(set_to_none=True)
        acc.backward(terms["loss"])
        if tcfg["grad_clip"]:
            acc.clip_grad_norm_(model.parameters(), float(tcfg["grad_clip"]))
        opt.step()
        step = s + 1
        for k in ("loss", "flow", "attention_bce"):
            acc_terms[k] = acc_terms.get(k, 0.0) + float(terms[k].detach())
        acc_terms["iou"] = acc_terms.get("iou", 0.0) + _batch_iou(terms["logits"], b["attention_mask"])
        n_acc += 1
        bar.set_postfix(loss=f"{float(terms['loss'].detach()):.4f}")
        if step % int(tcfg["log_every"]) == 0 or step == total:
            dt = time.perf_counter() - t_int
            train_seconds += dt
            row = {"step": step, "epoch": step / steps_per_epoch, "loss": acc_terms["loss"] / n_acc,
                   "flow_loss": acc_terms["flow"] / n_acc, "attention_bce": acc_terms["attention_bce"] / n_acc,
                   "train_attention_iou": acc_terms["iou"] / n_acc, "steps_per_s": n_acc / max(dt, 1e-9), "lr": lr}
            if val_items is not None and main:
                _, summ = evaluate_policy(raw, val, seed=seed, device=dev, items=val_items.tolist(), sample=False,
                                          batch_size=bs)
                row.update({"val_flow_loss": summ["flow_loss"], "val_attention_iou": summ["attention_iou"],
                            "val_attention_topk_iou": summ["attention_topk_iou"]})
                model.train()
            if main:
                history.append(row)
                write_metrics(out / "metrics.csv", history)
            acc_terms, n_acc = {}, 0
            t_int = time.perf_counter()
        if tcfg["ckpt_every"] and step % int(tcfg["ckpt_every"]) == 0 and step < total:
            t_save = time.perf_counter()
            save("last", True)
            t_int += time.perf_counter() - t_save  # checkpoint writes do not count as training time
    acc.wait_for_everyone()
    save("last", True)
    save("final", False)
    result = {"out_dir": str(out), "steps": step, "parameters": raw.num_parameters(), "items": len(arrays),
              "train_seconds": train_seconds,
              "steps_per_s": step / train_seconds if train_seconds else None,
              "final_loss": history[-1]["loss"] if history else None,
              "checkpoint": str(out / "checkpoints" / "final"), "precomputed_masks": arrays.precomputed}
    if main:
        write_json(out / "train_log.json", {"history": history, "result": result, "train": tcfg,
                                            "model": mcfg.to_dict()})
    return result


def write_metrics(path: Path, history: list[dict]) -> None:
    from mc_core.atomic import write_csv

    write_csv(path, history, METRIC_COLUMNS)


def plot_loss(path: Path, history: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mc_core.atomic import atomic_path

    st = [r["step"] for r in history]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9, 3.4), dpi=100)
    ax.plot(st, [r["flow_loss"] for r in history], "o-", ms=3, label="train flow loss")
    if any("val_flow_loss" in r for r in history):
        ax.plot(st, [r.get("val_flow_loss", float("nan")) for r in history], "s--", ms=3, label="val flow loss")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("velocity MSE")
    ax.legend(fontsize=8)
    ax2.plot(st, [r["attention_bce"] for r in history], "o-", ms=3, color="C2", label="train attention BCE")
    ax2.set_xlabel("step")
    ax2.set_ylabel("attention BCE")
    ax3 = ax2.twinx()
    ax3.plot(st, [r["train_attention_iou"] for r in history], "^-", ms=3, color="C3", label="train IoU")
    if any("val_attention_iou" in r for r in history):
        ax3.plot(st, [r.get("val_attention_iou", float("nan")) for r in history], "v--", ms=3, color="C4",
                 label="val IoU")
    ax3.set_ylabel("attention IoU")
    ax3.set_ylim(0, 1)
    fig.legend(loc="upper right", fontsize=7)
    fig.suptitle("pointflow-policy training")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
