"""Training of the codec models through Hugging Face accelerate.

Writes `out_dir/checkpoints/{best,last}` (mc_core checkpoints; `last` also holds the optimizer
state for --resume), `out_dir/splits/`, `out_dir/metrics.csv` (one row per epoch) and
`out_dir/loss_curve.png`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mc_core.errors import BadInputError, UsageError

METRIC_COLUMNS = ["epoch", "train_bits_per_token", "train_tokens_per_s", "val_bpp", "epoch_s", "lr"]


@dataclass
class TrainConfig:
    arch: str = "rle-lm"
    epochs: int = 5
    batch_size: int = 64          # rows per batch
    lr: float = 3e-3
    use_2d: bool = False
    seed: int = 0
    vocab_size: int | None = None
    model_args: dict = field(default_factory=dict)
    max_train_images: int | None = None
    val_images: int | None = None
    threads: int = 1


def _loss(model, feats, cls, lsym):
    import torch.nn.functional as F

    ctx = model.context(feats)
    valid = cls >= 0
    cl = model.heads.class_logits(ctx)
    ll = model.heads.length_logits(ctx, cls.clamp(min=0), feats)
    n = valid.sum()
    nats = F.cross_entropy(cl[valid], cls[valid], reduction="sum") + \
        F.cross_entropy(ll[valid], lsym[valid], reduction="sum")
    return nats, int(n)


def train(cfg: TrainConfig, train_src, val_src, out_dir: Path, *, device: str = "auto",
          resume: bool = False, meta: dict | None = None, log=print) -> dict:
    import torch
    from accelerate import Accelerator

    from mc_codec.evaluate import split_bits
    from mc_codec.models import build_model
    from mc_core.checkpoint import STATE_FILE, load_checkpoint, load_state, save_checkpoint
    from mc_core.progress import progress
    from mc_core.seeding import seed_everything

    rng = seed_everything(cfg.seed)
    torch.set_num_threads(max(1, cfg.threads))  # tiny models: more threads only add overhead
    acc = Accelerator(cpu=(device == "cpu") or not torch.cuda.is_available())
    ckpt_dir = out_dir / "checkpoints"
    vocab = cfg.vocab_size
    if vocab is None:
        vocab = max(train_src.max_id(), val_src.max_id() if len(val_src) else 0) + 1
    model_cfg = {"vocab_size": int(vocab), "use_2d": bool(cfg.use_2d), **cfg.model_args}
    model = build_model(cfg.arch, model_cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    start_epoch, best, history = 0, math.inf, []
    if resume and (ckpt_dir / "last").exists():
        last = load_checkpoint(ckpt_dir / "last", expect_model=cfg.arch)
        if last.config != model_cfg:
            raise UsageError(f"--resume: {ckpt_dir / 'last'} was trained with {last.config}, "
                             f"not {model_cfg}")
        model.load_state_dict(last.state_dict)
        st = load_state(ckpt_dir / "last" / STATE_FILE)
        opt.load_state_dict(st["optimizer"])
        start_epoch, best, history = int(st["epoch"]), float(st["best"]), list(st["history"])
        rng = np.random.default_rng([cfg.seed, start_epoch])
        log(f"resuming after epoch {start_epoch} (best val {best:.4f} bpp)")
    model, opt = acc.prepare(model, opt)
    raw = acc.unwrap_model(model)
    n_train = len(train_src)
    if n_train == 0:
        raise BadInputError(None, "the training split is empty")
    for epoch in range(start_epoch, cfg.epochs):
        model.train()
        t0 = time.perf_counter()
        nats_sum, tok_sum = 0.0, 0
        rng = np.random.default_rng([cfg.seed, epoch])
        batches = _count_batches(train_src, cfg.batch_size)
        bar = progress(total=batches, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch")
        for bi, (feats, cls, lsym) in enumerate(
                _batches(train_src, cfg.batch_size, rng)):
            if bi % acc.num_processes != acc.process_index:
                continue
            feats, cls, lsym = feats.to(acc.device), cls.to(acc.device), lsym.to(acc.device)
            nats, n = _loss(model, feats, cls, lsym)
            opt.zero_grad(set_to_none=True)
            acc.backward(nats / max(n, 1))
            acc.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            nats_sum += float(nats.detach())
            tok_sum += n
            bar.update(1)
            bar.set_postfix(bits_per_token=f"{nats_sum / max(tok_sum, 1) / math.log(2):.3f}")
        bar.close()
        dt = time.perf_counter() - t0
        model.eval()
        if len(val_src):
            bits, pix = split_bits(raw, val_src, range(len(val_src)), acc.device)
            val_bpp = bits / pix
        else:  # no validation images: keep the checkpoint with the lowest training loss
            val_bpp = float("nan")
        score = val_bpp if len(val_src) else nats_sum / max(tok_sum, 1) / math.log(2)
        row = {"epoch": epoch + 1, "train_bits_per_token": nats_sum / max(tok_sum, 1) / math.log(2),
               "train_tokens_per_s": tok_sum / dt, "val_bpp": val_bpp, "epoch_s": dt, "lr": cfg.lr}
        history.append(row)
        log(f"epoch {epoch + 1}: train {row['train_bits_per_token']:.3f} bits/token, "
            f"{row['train_tokens_per_s']:.0f} tokens/s, val {val_bpp:.4f} bpp")
        if acc.is_main_process:
            sd = {k: v.detach().cpu() for k, v in raw.state_dict().items()}
            m = {**(meta or {}), "epoch": epoch + 1, "val_bpp": val_bpp}
            if score < best:
                best = score
                save_checkpoint(ckpt_dir / "best", sd, model=cfg.arch, config=model_cfg, meta=m)
            save_checkpoint(ckpt_dir / "last", sd, model=cfg.arch, config=model_cfg, meta=m,
                            training_state={"optimizer": opt.state_dict(), "epoch": epoch + 1,
                                            "best": best, "history": history})
            write_metrics(out_dir / "metrics.csv", history)
            plot_loss(out_dir / "loss_curve.png", history)
        acc.wait_for_everyone()
    return {"best_val_bpp": best, "history": history, "config": model_cfg}


def _batches(src, batch_rows, rng):
    from mc_codec.rows import iterate_batches

    return iterate_batches(src, range(len(src)), batch_rows, rng)


def _count_batches(src, batch_rows):
    if hasattr(src, "_row_count"):
        return -(-src._row_count // batch_rows)
    return None


def write_metrics(path: Path, history: list[dict]) -> None:
    from mc_core.atomic import write_csv

    write_csv(path, history, METRIC_COLUMNS)


def plot_loss(path: Path, history: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mc_core.atomic import atomic_path

    ep = [r["epoch"] for r in history]
    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
    ax.plot(ep, [r["train_bits_per_token"] for r in history], "o-", label="train bits/token")
    ax.set_xlabel("epoch")
    ax.set_ylabel("train bits/token")
    ax2 = ax.twinx()
    ax2.plot(ep, [r["val_bpp"] for r in history], "s--", color="C1", label="val bits/pixel")
    ax2.set_ylabel("val bits/pixel")
    fig.legend(loc="upper right", fontsize=8)
    ax.set_title("codec training")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
