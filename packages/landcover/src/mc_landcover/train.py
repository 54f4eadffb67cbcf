"""Training of a landcover model (RandAR by default) through the one training loop,
:func:`mc_core.training.fit` (Hugging Face accelerate: one process or `accelerate launch` on many).

AdamW with linear warm-up then cosine decay over `train.schedule_steps` (default: `max_steps`;
fix it to stop a run early and resume it on the same schedule) through `make_scheduler`, gradient clipping, exact
`--resume` (batches and visiting orders come from (seed, step); `train_seconds` adds up over
resumed runs), `<out>/checkpoints/{last,best,final}`, `metrics.csv`, `loss.png`, `train_log.json`
and, every `vis_every` steps, `gen_*.png` (generated from scratch), `gt_*.png` (training examples)
and `pred_*.png` (teacher-forced reconstruction: each pixel's argmax given the pixels before it in
a random order). With several processes each one trains on its own slice of every batch.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from mc_core.errors import BadInputError, UsageError

DEFAULT_TRAIN: dict[str, Any] = {
    "batch_size": 32, "lr": 3e-4, "weight_decay": 0.05, "betas": [0.9, 0.95], "warmup_steps": 100,
    "max_steps": 1000, "grad_clip": 1.0, "log_every": 50, "vis_every": 500, "ckpt_every": 500,
    "n_vis": 16, "gen_steps": 16, "seed": 0, "eval_patches": 256,
    "schedule_steps": 0,  # length of the warm-up + cosine schedule; 0: max_steps
}
DEFAULT_DATA: dict[str, Any] = {"path": None, "stride": None, "test_fraction": 0.2}
# documented limits of the train section (refused early with a one-line error)
TRAIN_LIMITS: dict[str, tuple[float, float]] = {
    "batch_size": (1, 65536), "lr": (0.0, 10.0), "weight_decay": (0.0, 10.0), "warmup_steps": (0, 10**9),
    "max_steps": (0, 10**9), "grad_clip": (0.0, 1e6), "log_every": (1, 10**9), "vis_every": (0, 10**9),
    "ckpt_every": (0, 10**9), "n_vis": (1, 1024), "gen_steps": (1, 1 << 20), "eval_patches": (0, 10**9),
    "schedule_steps": (0, 10**9),
}

__all__ = ["DEFAULT_TRAIN", "config_schema", "evaluate_bits_per_pixel", "lr_factor", "resolve_data",
           "train", "write_pictures"]


def lr_factor(step: int, warmup: int, total: int, min_ratio: float = 0.1) -> float:
    """Linear warm-up to 1, then cosine decay to `min_ratio` at `total`."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * t))


def config_schema() -> dict[str, Any]:
    """Every key `--set` may override, with its default (its type is checked)."""
    from dataclasses import asdict

    from mc_landcover.models.randar import RandARConfig

    return {"model": {**asdict(RandARConfig()), "name": "randar"}, "train": dict(DEFAULT_TRAIN),
            "data": dict(DEFAULT_DATA)}


def check_train_section(tcfg: dict[str, Any]) -> None:
    for key, (lo, hi) in TRAIN_LIMITS.items():
        v = tcfg.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
            raise UsageError(f"train.{key} must be a number in [{lo:g}, {hi:g}], got {v!r}")
    betas = tcfg.get("betas")
    if not (isinstance(betas, (list, tuple)) and len(betas) == 2
            and all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas)):
        raise UsageError(f"train.betas must be two numbers in [0, 1), got {betas!r}")


def resolve_data(cfg: dict, data: str | os.PathLike | None, out_dir: Path, size: int) -> Path:
    """The npz to train on: `data`, else the config's data.path, else patches of the embedded sample
    (written once, atomically, to `out_dir`; every process of a multi-process run may do it)."""
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
        out_dir.mkdir(parents=True, exist_ok=True)
        save_patches(prepared, p)
    return p


def evaluate_bits_per_pixel(model, maps: np.ndarray, batch: int = 64, seed: int = 0) -> float:
    """Mean NLL in bits per pixel of (N, H, W) maps, each in one random order."""
    import torch

    if len(maps) == 0:
        return float("nan")
    g = torch.Generator().manual_seed(seed)
    total = 0.0
    was = model.training
    model.eval()
    with torch.no_grad():
        for i in range(0, len(maps), batch):
            x = torch.as_tensor(maps[i:i + batch]).long()
            order = model.random_order(len(x), g)
            total += float(-model.log_likelihood(x, order).sum())
    model.train(was)
    return total / (len(maps) * model.size * model.size * math.log(2))


def write_pictures(model, maps: np.ndarray, out_dir: Path, step: int, n_vis: int, gen_steps: int, seed: int) -> None:
    """gen_/gt_/pred_<step>.png: samples from scratch, training maps, teacher-forced argmax."""
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
        dev = next(model.parameters()).device
        tokens = gt.to(dev).flatten(1).gather(1, order.to(dev))
        pred_tok = model(tokens, order.to(dev)).argmax(-1)
        pred = torch.empty_like(tokens).scatter_(1, order.to(dev), pred_tok).view_as(gt)
    model.train(was)
    save_grid_png(gen.cpu().numpy(), out_dir / f"gen_{step:06d}.png")
    save_grid_png(gt.numpy(), out_dir / f"gt_{step:06d}.png")
    save_grid_png(pred.cpu().numpy(), out_dir / f"pred_{step:06d}.png")


def epoch_batch(n: int, batch_size: int, num_processes: int, rank: int, step: int, seed: int) -> np.ndarray:
    """Indices of this process's batch at `step`: a fresh seeded permutation of the n maps every
    epoch, cut into global batches of batch_size x num_processes, each process taking its slice
    (so a resumed run and every process see what an uninterrupted run would)."""
    per_step = batch_size * num_processes
    steps_per_epoch = max(1, n // per_step)
    epoch, k = divmod(step, steps_per_epoch)
    perm = np.random.default_rng([int(seed), epoch]).permutation(n)
    if n < per_step:
        perm = np.resize(perm, per_step)
    start = k * per_step + rank * batch_size
    return perm[start:start + batch_size]


def train(config: str | os.PathLike | dict = "tiny", *, data: str | os.PathLike | None = None,
          out_dir: str | os.PathLike | None = None, resume: bool = False, device: str = "auto",
          seed: int | None = None, max_steps: int | None = None, max_minutes: float | None = None,
          overrides: list[str] | None = None, quiet: bool | None = None) -> dict[str, Any]:
    """Train the model of `config` (a YAML path, a shipped name or a dict) on `data` and return
    the run's summary (``checkpoint`` is ``<out_dir>/checkpoints/final``); see the module docstring."""
    from dataclasses import replace

    import torch

    from mc_core.config import apply_overrides, merge
    from mc_core.factory import create_model
    from mc_core.training import TrainSettings, TrainTask, fit
    from mc_landcover.config_files import config_path, load_config
    from mc_landcover.data.patches import open_patches, patches_fingerprint
    from mc_landcover.data.sampler import epoch_batch_lazy
    from mc_landcover.interface import TrainableLandcoverModel
    from mc_landcover.legend import legend_dict
    from mc_landcover.loading import TASK

    if isinstance(config, dict):
        cfg, cfg_name = merge({}, config), "custom"
    else:
        cfg, cfg_name = load_config(config), config_path(config).stem
        if data is None:  # data.path relative to the working directory, else to the config file
            from mc_landcover.config_files import config_data_path

            data = config_data_path(config)
    if overrides:
        cfg = apply_overrides(cfg, overrides, schema=merge(config_schema(), cfg))
    tcfg = {**DEFAULT_TRAIN, **(cfg.get("train") or {})}
    if seed is not None:
        tcfg["seed"] = seed
    if max_steps is not None:
        tcfg["max_steps"] = max_steps
    check_train_section(tcfg)
    cfg["train"] = tcfg
    model_cfg = dict(cfg.get("model") or {})
    name = str(model_cfg.get("name", "randar"))
    torch.manual_seed(int(tcfg["seed"]))
    model = create_model(name, model_cfg, task=TASK, protocol=TrainableLandcoverModel)
    out = Path(out_dir or f"runs/{cfg_name}")

    data_path = resolve_data(cfg, data, out, int(model.size))
    train_maps = open_patches(data_path, "train")  # an array (npz) or a lazy view (zarr store)
    test_maps = open_patches(data_path, "test")
    if len(train_maps) == 0:
        raise BadInputError(data_path, "the training split is empty")
    if train_maps.shape[-1] != model.size:
        raise BadInputError(data_path, f"patches are {train_maps.shape[-1]}x{train_maps.shape[-1]} but the "
                                       f"config's model.size is {model.size}")
    data_sha256 = patches_fingerprint(data_path)
    cfg["data"] = {**(cfg.get("data") or {}), "sha256": data_sha256}  # resume refuses other data
    bs = int(tcfg["batch_size"])
    total = int(tcfg["max_steps"])
    schedule = int(tcfg["schedule_steps"]) or total
    warmup = int(tcfg["warmup_steps"])
    n_vis, gen_steps, tseed = int(tcfg["n_vis"]), int(tcfg["gen_steps"]), int(tcfg["seed"])

    pick_batch = epoch_batch if isinstance(train_maps, np.ndarray) else epoch_batch_lazy  # flat memory

    def loss(m, ctx):
        raw = ctx.accelerator.unwrap_model(m) if ctx.accelerator is not None else m
        idx = pick_batch(len(train_maps), bs, ctx.num_processes, ctx.rank, ctx.step, tseed)
        x = torch.as_tensor(train_maps[idx]).long().to(ctx.device)
        # the orders of the whole global batch, this process's rows: as one process would draw them
        lo = ctx.rank * len(x)
        order = raw.training_order(len(x) * ctx.num_processes, replace(ctx, rank=0).generator())[lo:lo + len(x)]
        order = order.to(ctx.device)
        tokens = x.flatten(1).gather(1, order)
        logits = m(tokens, order)
        nats = torch.nn.functional.cross_entropy(logits.reshape(-1, raw.num_classes).float(), tokens.reshape(-1))
        return {"loss": nats, "bits_per_pixel": nats.detach() / math.log(2)}

    def pictures(raw, step):
        write_pictures(raw, train_maps, out, step, n_vis, gen_steps, tseed)

    def evaluate(raw):
        return {"test_bits_per_pixel": evaluate_bits_per_pixel(raw, test_maps[: int(tcfg["eval_patches"])])}

    task = TrainTask(
        model=model, model_name=name, config=cfg,
        make_optimizer=lambda m: torch.optim.AdamW(m.parameters(), lr=float(tcfg["lr"]), betas=tuple(tcfg["betas"]),
                                                   weight_decay=float(tcfg["weight_decay"])),
        make_scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, warmup, schedule)),
        loss=loss, evaluate=evaluate if len(test_maps) else None,
        meta={"data": str(data_path), "data_sha256": data_sha256, "legend": legend_dict(), "n_train": int(len(train_maps)),
              "n_test": int(len(test_maps)), "config_name": cfg_name},
        every=[(int(tcfg["vis_every"]), pictures)] if tcfg["vis_every"] else [],
    )
    settings = TrainSettings(out_dir=out, steps=total, device=device, resume=resume, max_minutes=max_minutes,
                             seed=tseed, ckpt_every=int(tcfg["ckpt_every"]), log_every=int(tcfg["log_every"]),
                             grad_clip=float(tcfg["grad_clip"]) or None, quiet=quiet)
    result = fit(task, settings)
    from accelerate import PartialState

    if PartialState().is_main_process:
        pictures(model, result.steps)
    summary = result.as_dict()
    summary.update(data=str(data_path), test_bits_per_pixel=result.final_metrics.get("test_bits_per_pixel"),
                   final_loss_nats=result.final_loss)
    return summary
