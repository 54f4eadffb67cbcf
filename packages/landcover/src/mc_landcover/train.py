"""Training of RandAR through Hugging Face accelerate (one process or `accelerate launch` on many).

AdamW with linear warm-up then cosine decay, gradient clipping, safetensors checkpoints through
`mc_core.checkpoint` (`<out>/checkpoints/last` with the optimizer state for --resume, and
`<out>/checkpoints/final`), a JSON training log and, every `vis_every` steps, `gen_*.png`
(generated from scratch), `gt_*.png` (training examples) and `pred_*.png` (teacher-forced
reconstruction: each pixel's argmax given the pixels before it in a random order).

Batches and visiting orders are derived from (seed, step), so a resumed run continues exactly
where it stopped.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from mc_core.errors import BadInputError, UsageError

DEFAULT_TRAIN = {
    "batch_size": 32, "lr": 3e-4, "weight_decay": 0.05, "betas": [0.9, 0.95], "warmup_steps": 100,
    "max_steps": 1000, "grad_clip": 1.0, "log_every": 50, "vis_every": 500, "ckpt_every": 500,
    "n_vis": 16, "gen_steps": 16, "seed": 0, "eval_patches": 256,
}


def lr_factor(step: int, warmup: int, total: int, min_ratio: float = 0.1) -> float:
    """Linear warm-up to 1, then cosine decay to `min_ratio` at `total`."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * t))


def resolve_data(cfg: dict, data: str | None, out_dir: Path, size: int) -> Path:
    """The npz to train on: --data, else the config's data.path, else patches of the embedded sample."""
    from mc_landcover.data.nlcd import prepare_patches, save_patches

    path = data or (cfg.get("data") or {}).get("path")
    if path:
        p = Path(path)
        if not p.exists():
            raise BadInputError(p, "training data not found (run `mc landcover prepare` or pass --data)")
        return p
    p = out_dir / f"sample_data_{size}.npz"
    if not p.exists():
        dcfg = cfg.get("data") or {}
        prepared = prepare_patches(None, size=size, stride=dcfg.get("stride") or max(1, size // 2),
                                   test_fraction=float(dcfg.get("test_fraction", 0.2)), seed=0,
                                   progress_desc=None)
        save_patches(prepared, p)
    return p


def evaluate_bits_per_pixel(model, maps: np.ndarray, batch: int = 64, seed: int = 0) -> float:
    """Mean NLL in bits per pixel of (N, H, W) maps, each in one random order."""
    import torch

    if len(maps) == 0:
        return float("nan")
    g = torch.Generator().manual_seed(seed)
    total = 0.0
    model_was_training = model.training
    model.eval()
    with torch.no_grad():
        for i in range(0, len(maps), batch):
            x = torch.as_tensor(maps[i:i + batch]).long()
            order = model.random_order(len(x), g)
            total += float(-model.log_likelihood(x, order).sum())
    model.train(model_was_training)
    return total / (len(maps) * model.num_pixels * math.log(2))


def write_pictures(model, maps: np.ndarray, out_dir: Path, step: int, n_vis: int, gen_steps: int, seed: int) -> None:
    import torch

    from mc_landcover.viz import save_grid_png

    was = model.training
    model.eval()
    g = torch.Generator().manual_seed(seed + step)
    with torch.no_grad():
        gen = model.sample(n_vis, steps=gen_steps, generator=g)
        pick = np.unique(np.linspace(0, len(maps) - 1, min(n_vis, len(maps))).round().astype(int))
        gt = torch.as_tensor(maps[pick]).long()  # spread over the data set, not the first few
        order = model.random_order(len(gt), g)
        tokens = gt.to(model.device).flatten(1).gather(1, order)
        pred_tok = model(tokens, order).argmax(-1)
        pred = torch.empty_like(tokens).scatter_(1, order, pred_tok).view_as(gt)
    model.train(was)
    save_grid_png(gen.cpu().numpy(), out_dir / f"gen_{step:06d}.png")
    save_grid_png(gt.numpy(), out_dir / f"gt_{step:06d}.png")
    save_grid_png(pred.cpu().numpy(), out_dir / f"pred_{step:06d}.png")


def train(config: str | dict, *, data: str | None = None, out_dir: str | None = None, resume: bool = False,
          device: str = "auto", seed: int | None = None, max_steps: int | None = None,
          overrides: list[str] | None = None) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F
    from accelerate import Accelerator

    from mc_core.checkpoint import fingerprint_files, load_resume, restore_training, save_checkpoint
    from mc_core.config import apply_overrides
    from mc_core.progress import info, progress
    from mc_landcover.data.patches import load_patches
    from mc_landcover.legend import legend_dict
    from mc_landcover.models.randar import MODEL_NAME, RandAR, RandARConfig, config_path, load_config

    if isinstance(config, dict):
        cfg, cfg_name = dict(config), "custom"
    else:
        cfg, cfg_name = load_config(config), config_path(config).stem
    if overrides:
        cfg = apply_overrides(cfg, overrides)
    tcfg = {**DEFAULT_TRAIN, **(cfg.get("train") or {})}
    if seed is not None:
        tcfg["seed"] = seed
    if max_steps is not None:
        tcfg["max_steps"] = max_steps
    cfg["train"] = tcfg
    try:
        mcfg = RandARConfig.from_dict(cfg["model"])
    except (TypeError, ValueError) as exc:
        raise UsageError(f"bad model config: {exc}") from None
    out = Path(out_dir or f"runs/{cfg_name}")
    out.mkdir(parents=True, exist_ok=True)

    from mc_core.device import resolve_device

    cpu = resolve_device(device).type == "cpu"
    accelerator = Accelerator(cpu=cpu)
    main = accelerator.is_main_process

    data_path = resolve_data(cfg, data, out, mcfg.size) if main else None
    accelerator.wait_for_everyone()
    if data_path is None:
        data_path = resolve_data(cfg, data, out, mcfg.size)
    train_maps = load_patches(data_path, "train")
    test_maps = load_patches(data_path, "test")
    if len(train_maps) == 0:
        raise BadInputError(data_path, "the training split is empty")
    if train_maps.shape[-1] != mcfg.size:
        raise BadInputError(data_path, f"patches are {train_maps.shape[-1]}x{train_maps.shape[-1]} but the "
                                       f"config's model.size is {mcfg.size}")

    torch.manual_seed(int(tcfg["seed"]))
    model = RandAR(mcfg)
    opt = torch.optim.AdamW(model.parameters(), lr=float(tcfg["lr"]), betas=tuple(tcfg["betas"]),
                            weight_decay=float(tcfg["weight_decay"]))
    total = int(tcfg["max_steps"])
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: lr_factor(s, int(tcfg["warmup_steps"]), total))
    step = 0
    history: list[dict] = []
    last_dir = out / "checkpoints" / "last"
    if resume:
        ck, state = load_resume(last_dir, expect_model=MODEL_NAME, model_config=cfg["model"])
        step, history, _ = restore_training(ck, state, model, opt)
        sched.load_state_dict(state["scheduler"])
        info(f"resumed from {last_dir} at step {step}")
    model, opt = accelerator.prepare(model, opt)
    raw = accelerator.unwrap_model(model)
    dev = accelerator.device
    nproc, rank = accelerator.num_processes, accelerator.process_index
    bs = int(tcfg["batch_size"])
    n = len(train_maps)
    steps_per_epoch = max(1, n // (bs * nproc)) if n >= bs * nproc else 1
    data_hash = fingerprint_files([data_path])
    meta_base = {"data": str(data_path), "data_sha256": data_hash, "legend": legend_dict(),
                 "n_train": int(n), "n_test": int(len(test_maps)), "config_name": cfg_name}

    def batch_for(s: int) -> np.ndarray:
        epoch, k = divmod(s, steps_per_epoch)
        perm = np.random.default_rng([int(tcfg["seed"]), epoch]).permutation(n)
        if n < bs * nproc:
            perm = np.resize(perm, bs * nproc)
        start = k * bs * nproc + rank * bs
        return train_maps[perm[start:start + bs]]

    def save(kind: str, with_state: bool) -> None:
        if not main:
            return
        state = None
        if with_state:
            state = {"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "step": step,
                     "history": json.dumps(history)}
        save_checkpoint(out / "checkpoints" / kind, raw.state_dict(), model=MODEL_NAME, config=cfg,
                        meta={**meta_base, "step": step, "parameters": raw.num_parameters()},
                        training_state=state)

    model.train()
    t0, tokens_seen, loss_acc, loss_n = time.perf_counter(), 0, 0.0, 0
    bar = progress(range(step, total), desc="train", total=total - step, unit="step",
                   quiet=None if main else True)
    for step_i in bar:
        step = step_i
        x = torch.as_tensor(batch_for(step)).long().to(dev)
        g = torch.Generator().manual_seed(int(tcfg["seed"]) * 1_000_003 + step * 97 + rank)
        order = raw.training_order(len(x), g).to(dev)
        tokens = x.flatten(1).gather(1, order)
        logits = model(tokens, order)
        loss = F.cross_entropy(logits.reshape(-1, raw.num_classes).float(), tokens.reshape(-1))
        opt.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        if tcfg["grad_clip"]:
            accelerator.clip_grad_norm_(model.parameters(), float(tcfg["grad_clip"]))
        opt.step()
        sched.step()
        step = step_i + 1
        tokens_seen += x.numel() * nproc
        loss_acc += float(loss.detach())
        loss_n += 1
        if main and (step % int(tcfg["log_every"]) == 0 or step == total):
            dt = time.perf_counter() - t0
            rec = {"step": step, "loss_nats": loss_acc / loss_n, "bits_per_pixel": loss_acc / loss_n / math.log(2),
                   "lr": sched.get_last_lr()[0], "tokens_per_s": tokens_seen / max(dt, 1e-9)}
            history.append(rec)
            bar.set_postfix(loss=f"{rec['loss_nats']:.3f}", tok_s=f"{rec['tokens_per_s']:.0f}")
            t0, tokens_seen, loss_acc, loss_n = time.perf_counter(), 0, 0.0, 0
        if main and tcfg["vis_every"] and step % int(tcfg["vis_every"]) == 0 and step < total:
            write_pictures(raw, train_maps, out, step, int(tcfg["n_vis"]), int(tcfg["gen_steps"]), int(tcfg["seed"]))
            t0 = time.perf_counter()
        if tcfg["ckpt_every"] and step % int(tcfg["ckpt_every"]) == 0 and step < total:
            save("last", True)
            t0 = time.perf_counter()
    accelerator.wait_for_everyone()
    result: dict[str, Any] = {"out_dir": str(out), "steps": step, "parameters": raw.num_parameters(),
                              "data": str(data_path)}
    if main:
        write_pictures(raw, train_maps, out, step, int(tcfg["n_vis"]), int(tcfg["gen_steps"]), int(tcfg["seed"]))
        test_bpp = evaluate_bits_per_pixel(raw, test_maps[: int(tcfg["eval_patches"])])
        result.update(test_bits_per_pixel=test_bpp, final_loss_nats=history[-1]["loss_nats"] if history else None)
        meta_base["test_bits_per_pixel"] = test_bpp
        save("last", True)
        save("final", False)
        from mc_core.atomic import write_json

        write_json(out / "train_log.json", {"history": history, "result": result})
        result["checkpoint"] = str(out / "checkpoints" / "final")
    return result
