"""The one training loop every plugin's ``train`` command runs (through Hugging Face accelerate).

A plugin supplies the model, its optimizer, a loss for a step and, optionally, an evaluation;
the loop does the rest the same way everywhere:

- ``--device`` resolved by :func:`mc_core.device.resolve_device` (``cuda`` without CUDA is exit 2);
- exact ``--resume``: weights, optimizer, scheduler, torch RNG, history, best score and training
  seconds come back from ``OUT/checkpoints/last``; nothing to resume, another model or other
  settings is exit 2. The plugin's ``loss`` must draw its batch from (seed, step) only (use
  :meth:`StepContext.rng`), so a resumed run sees the same batches as an uninterrupted one;
- checkpoints ``last`` (with the training state, every ``ckpt_every`` steps and at the end),
  ``best`` (lowest ``best_key`` of the evaluation, else of the mean training loss since the last
  checkpoint) and ``final``; weights are checked finite before any is written;
- a progress bar, ``OUT/metrics.csv`` (a row every ``log_every`` steps: the mean of each loss term
  over those steps and the learning rate they used), the loss plot ``OUT/loss.png`` and
  ``OUT/train_log.json``;
- a time budget (``max_minutes``) that ends the run cleanly with all three checkpoints;
- a non-finite loss or gradient stops the run: exit 1, one line, the last good checkpoint kept.

    from mc_core.training import TrainSettings, TrainTask, fit

    task = TrainTask(model=net, model_name="my-net", config={"model": {...}, "train": {...}},
                     make_optimizer=lambda m: torch.optim.AdamW(m.parameters(), lr=1e-3),
                     loss=lambda model, ctx: my_loss(model, my_batch(ctx.rng())))
    result = fit(task, TrainSettings(out_dir="runs/x", steps=500, resume=False))
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mc_core.errors import BadInputError, McError, UsageError

__all__ = ["StepContext", "TrainResult", "TrainSettings", "TrainTask", "TrainingDiverged", "fit",
           "settings_differences"]

CHECKPOINTS = "checkpoints"
# Settings a resumed run may change (matched on the last part of a dotted config key).
RESUME_MAY_DIFFER = frozenset({
    "steps", "max_steps", "epochs", "max_minutes", "ckpt_every", "log_every", "eval_every", "vis_every",
    "device", "quiet", "num_workers", "jobs", "out_dir", "resume", "verbose",
})


class TrainingDiverged(McError):
    """The loss or the gradients became NaN or infinite: the run stopped (exit 1)."""

    exit_code = 1


@dataclass
class TrainSettings:
    """How to run: the flags every ``train`` command shares."""

    out_dir: str | Path
    steps: int
    device: str = "auto"
    resume: bool = False
    max_minutes: float | None = None
    seed: int = 0
    ckpt_every: int = 0          # also save `last` every N steps (0: only at the end)
    log_every: int = 10          # a metrics row every N steps (and the last step)
    eval_every: int = 0          # evaluate every N steps (0: only at the end)
    grad_clip: float | None = 1.0
    desc: str = "train"
    quiet: bool | None = None

    def __post_init__(self) -> None:
        if int(self.steps) < 0:
            raise UsageError(f"steps must be >= 0, got {self.steps}")
        for name in ("ckpt_every", "log_every", "eval_every"):
            if int(getattr(self, name)) < 0:
                raise UsageError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.max_minutes is not None and not (math.isfinite(self.max_minutes) and self.max_minutes > 0):
            raise UsageError(f"max_minutes must be a positive finite number, got {self.max_minutes}")
        if self.grad_clip is not None and not (math.isfinite(self.grad_clip) and self.grad_clip >= 0):
            raise UsageError(f"grad_clip must be a finite number >= 0, got {self.grad_clip}")
        self.out_dir = Path(self.out_dir)
        self.log_every = max(1, int(self.log_every))


@dataclass
class StepContext:
    """What a loss function knows about the step it computes."""

    step: int
    seed: int
    rank: int
    num_processes: int
    device: Any
    accelerator: Any = field(repr=False, default=None)

    def rng(self, *salt: int) -> np.random.Generator:
        """A numpy generator determined by (seed, step, rank, *salt): same batch on resume."""
        return np.random.default_rng([int(self.seed), int(self.step), int(self.rank), *map(int, salt)])

    def generator(self, *salt: int):
        """A torch CPU generator determined by (seed, step, rank, *salt)."""
        import torch

        return torch.Generator().manual_seed(int(self.rng(*salt).integers(0, 2**63 - 1)))


LossOut = Any  # a scalar tensor, or a mapping with "loss" (a tensor) and other numbers to log


@dataclass
class TrainTask:
    """What a plugin supplies: the model and how to train and score it.

    `config` is stored in every checkpoint (``config["model"]`` rebuilds the model through the
    registry entry `model_name`); a resumed run must have the same `config` except the keys in
    `may_differ` (see :data:`RESUME_MAY_DIFFER`).
    """

    model: Any
    model_name: str
    config: dict[str, Any]
    make_optimizer: Callable[[Any], Any]
    loss: Callable[[Any, StepContext], LossOut]
    make_scheduler: Callable[[Any], Any] | None = None
    evaluate: Callable[[Any], Mapping[str, float]] | None = None
    best_key: str = "loss"
    meta: dict[str, Any] = field(default_factory=dict)
    after_step: Callable[[Any, int], None] | None = None
    checkpoint_files: Callable[[Path], None] | None = None  # adds a plugin's files to every checkpoint
    every: list[tuple[int, Callable[[Any, int], None]]] = field(default_factory=list)  # (N, fn): every N steps and the last
    may_differ: frozenset[str] = RESUME_MAY_DIFFER


@dataclass
class TrainResult:
    out_dir: Path
    steps: int
    stopped: str                    # "steps" (all done) or "time-budget"
    train_seconds: float
    parameters: int
    history: list[dict[str, float]]
    final_metrics: dict[str, float]
    best: float | None
    main_process: bool = True       # False in the other processes of `accelerate launch`

    @property
    def checkpoint(self) -> Path:
        return self.out_dir / CHECKPOINTS / "final"

    @property
    def final_loss(self) -> float | None:
        return self.history[-1]["loss"] if self.history else None

    def as_dict(self) -> dict[str, Any]:
        return {"out_dir": str(self.out_dir), "steps": self.steps, "stopped": self.stopped,
                "train_seconds": self.train_seconds, "parameters": self.parameters,
                "final_loss": self.final_loss, "best": self.best, "checkpoint": str(self.checkpoint),
                **{f"final_{k}": v for k, v in self.final_metrics.items()}}


def settings_differences(saved: Any, current: Any, may_differ: frozenset[str] = RESUME_MAY_DIFFER,
                         prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested configs, ignoring `may_differ`."""
    if isinstance(saved, Mapping) and isinstance(current, Mapping):
        out = []
        for key in sorted(set(saved) | set(current), key=str):
            if str(key) in may_differ:
                continue
            name = f"{prefix}{key}"
            if key not in saved or key not in current:
                out.append(name)
            else:
                out += settings_differences(saved[key], current[key], may_differ, name + ".")
        return out
    norm = json.loads(json.dumps(saved, default=str)) != json.loads(json.dumps(current, default=str))
    return [prefix.rstrip(".") or "config"] if norm else []


def _loss_terms(out: LossOut) -> tuple[Any, dict[str, float]]:
    if isinstance(out, Mapping):
        if "loss" not in out:
            raise TypeError("a loss function's mapping must hold 'loss'")
        loss = out["loss"]
        terms = {k: float(v.detach()) if hasattr(v, "detach") else float(v) for k, v in out.items()}
        return loss, terms
    return out, {"loss": float(out.detach())}


def _all_finite(model: Any) -> bool:
    import torch

    return all(bool(torch.isfinite(t).all()) for t in model.state_dict().values()
               if hasattr(t, "is_floating_point") and t.is_floating_point())


def fit(task: TrainTask, settings: TrainSettings) -> TrainResult:
    """Train `task.model` for `settings.steps` steps; see the module docstring."""
    import torch
    from accelerate import Accelerator

    from mc_core.atomic import write_json
    from mc_core.checkpoint import STATE_FILE, load_checkpoint, load_state, save_checkpoint
    from mc_core.device import resolve_device
    from mc_core.progress import info, progress

    out = Path(settings.out_dir)
    ck_root = out / CHECKPOINTS
    last_dir = ck_root / "last"
    device = resolve_device(settings.device)
    if not settings.resume and (last_dir / STATE_FILE).exists():
        raise BadInputError(last_dir, "a run is already here: pass --resume to continue it, or "
                                      "choose another --out-dir")
    state = None
    if settings.resume:
        if not (last_dir / STATE_FILE).exists():
            raise BadInputError(last_dir, "nothing to resume: no checkpoint with training state")
        ck = load_checkpoint(last_dir, expect_model=task.model_name)
        diff = settings_differences(ck.config, task.config, task.may_differ)
        if diff:
            raise BadInputError(last_dir, "--resume: this run's settings differ from the checkpoint's "
                                          f"({', '.join(diff[:5])}{', ...' if len(diff) > 5 else ''})")
        state = load_state(last_dir / STATE_FILE)
        task.model.load_state_dict(ck.state_dict)

    accelerator = Accelerator(cpu=device.type == "cpu")
    main = accelerator.is_main_process
    if main:
        out.mkdir(parents=True, exist_ok=True)
    model = task.model
    opt = task.make_optimizer(model)
    sched = task.make_scheduler(opt) if task.make_scheduler is not None else None
    step, history, seconds_before, best = 0, [], 0.0, None
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        if sched is not None and "scheduler" in state:
            sched.load_state_dict(state["scheduler"])
        if "torch_rng" in state:
            torch.set_rng_state(state["torch_rng"])
        step = int(state["step"])
        history = json.loads(state.get("history", "[]"))
        seconds_before = float(state.get("train_seconds", 0.0))
        best = state.get("best")
        best = None if best is None or (isinstance(best, float) and math.isnan(best)) else float(best)
        info(f"resumed from {last_dir} at step {step}")
    model, opt = accelerator.prepare(model, opt)
    raw = accelerator.unwrap_model(model)
    n_params = sum(p.numel() for p in raw.parameters() if p.requires_grad)
    total = int(settings.steps)
    t0 = time.perf_counter()
    window: list[float] = []          # training losses since the last checkpoint (for `best`)
    pending: dict[str, list[float]] = {}  # loss terms since the last metrics row
    lr_used = float("nan")

    def log_row(lr: float) -> None:
        """A metrics row: the mean of each loss term since the last row, and the rate they used."""
        history.append({"step": step, "seconds": round(seconds(), 3), "lr": lr,
                        **{k: float(np.mean(v)) for k, v in pending.items()}})
        pending.clear()
    last_saved = step if state is not None else None

    ended: list[float] = []  # the training time, frozen when the loop ends (state and result agree)

    def seconds() -> float:
        return ended[0] if ended else seconds_before + time.perf_counter() - t0

    def save(kind: str, with_state: bool, metrics: Mapping[str, float] | None = None) -> None:
        nonlocal last_saved
        if not main:
            return
        if not _all_finite(raw):
            raise TrainingDiverged(f"{out}: the weights became NaN or infinite at step {step}; "
                                   + _kept_message())
        tstate = None
        if with_state:
            tstate = {"optimizer": opt.state_dict(), "step": step, "history": json.dumps(history),
                      "train_seconds": seconds(), "torch_rng": torch.get_rng_state(),
                      "best": float("nan") if best is None else float(best)}
            if sched is not None:
                tstate["scheduler"] = sched.state_dict()
        meta = {**task.meta, "step": step, "parameters": n_params, "train_seconds": seconds(),
                **{f"eval_{k}": float(v) for k, v in (metrics or {}).items()}}
        save_checkpoint(ck_root / kind, raw.state_dict(), model=task.model_name, config=task.config,
                        meta=meta, training_state=tstate, extra_files=task.checkpoint_files)
        if kind == "last":
            last_saved = step

    def _kept_message() -> str:
        if last_saved is None:
            return "no checkpoint had been written yet"
        return f"the last good checkpoint is {last_dir} (step {last_saved})"

    def score(metrics: Mapping[str, float] | None) -> float | None:
        if metrics and task.best_key in metrics:
            return float(metrics[task.best_key])
        return float(np.mean(window)) if window else None

    def evaluate() -> dict[str, float]:
        if task.evaluate is None:
            return {}
        was = raw.training
        raw.eval()
        with torch.no_grad():
            metrics = {k: float(v) for k, v in task.evaluate(raw).items()}
        raw.train(was)
        return metrics

    def checkpoint(metrics: Mapping[str, float] | None) -> None:
        nonlocal best
        s = score(metrics)
        if s is not None and math.isfinite(s) and (best is None or s < best):
            best = s
            save("best", False, metrics)
        save("last", True, metrics)
        window.clear()
        if main:
            write_logs(out, history)

    model.train()
    bar = progress(range(step, total), desc=settings.desc, total=max(0, total - step), unit="step",
                   quiet=settings.quiet if main else True)
    stopped = "steps"
    metrics: dict[str, float] = {}
    start_step = step
    every_ran: dict[int, int] = {}
    for s in bar:
        ctx = StepContext(step=s, seed=int(settings.seed), rank=accelerator.process_index,
                          num_processes=accelerator.num_processes, device=accelerator.device,
                          accelerator=accelerator)
        loss, terms = _loss_terms(task.loss(model, ctx))
        if not math.isfinite(terms["loss"]):
            raise TrainingDiverged(f"{out}: non-finite loss ({terms['loss']}) at step {s}; stopped, "
                                   + _kept_message())
        opt.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        if settings.grad_clip:
            norm = accelerator.clip_grad_norm_(model.parameters(), float(settings.grad_clip))
            if norm is not None and not math.isfinite(float(norm)):
                raise TrainingDiverged(f"{out}: non-finite gradient at step {s}; stopped, " + _kept_message())
        lr_used = float(opt.param_groups[0]["lr"])
        opt.step()
        if sched is not None:
            sched.step()
        if task.after_step is not None:
            task.after_step(raw, s + 1)
        step = s + 1
        window.append(terms["loss"])
        for k, v in terms.items():
            pending.setdefault(k, []).append(v)
        if step % settings.log_every == 0 or step == total:
            log_row(lr_used)
            bar.set_postfix(loss=f"{history[-1]['loss']:.4f}")
        for i, (every, fn) in enumerate(task.every):
            if every and step % every == 0 and main:
                fn(raw, step)
                every_ran[i] = step
        metrics = {}
        if settings.eval_every and step % settings.eval_every == 0 and step < total:
            metrics = evaluate()
            if history and history[-1]["step"] == step:
                history[-1].update({f"eval_{k}": v for k, v in metrics.items()})
        if settings.ckpt_every and step % settings.ckpt_every == 0 and step < total:
            checkpoint(metrics)
        if settings.max_minutes is not None and time.perf_counter() - t0 >= 60 * settings.max_minutes \
                and step < total:
            stopped = "time-budget"
            info(f"time budget of {settings.max_minutes:g} min reached at step {step}/{total}; "
                 f"continue with --resume")
            break
    bar.close()
    for i, (every, fn) in enumerate(task.every):  # the last step too (a time budget, or total % every)
        if every and main and step > start_step and every_ran.get(i) != step:
            fn(raw, step)
    accelerator.wait_for_everyone()
    final_metrics = evaluate()
    if pending:  # steps since the last row (a time budget, or a run shorter than log_every)
        log_row(lr_used)
    if history:
        history[-1].update({f"eval_{k}": v for k, v in final_metrics.items()})
    ended.append(seconds())
    checkpoint(final_metrics)
    save("final", False, final_metrics)
    result = TrainResult(out_dir=out, steps=step, stopped=stopped, train_seconds=seconds(),
                         parameters=n_params, history=history, final_metrics=final_metrics, best=best,
                         main_process=main)
    if main:
        write_json(out / "train_log.json", {"history": history, "result": result.as_dict()})
    return result


def write_logs(out: Path, history: list[dict[str, float]]) -> None:
    """``metrics.csv`` (one row per logged step) and the loss plot ``loss.png``."""
    from mc_core.atomic import atomic_path, write_csv

    if not history:
        return
    columns: list[str] = []
    for row in history:
        columns += [k for k in row if k not in columns]
    write_csv(out / "metrics.csv", [{k: row.get(k, "") for k in columns} for row in history], columns)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # the plot is a convenience; the CSV holds the numbers
        return
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    steps = [r["step"] for r in history]
    ax.plot(steps, [r.get("loss", float("nan")) for r in history], label="train loss")
    for key in columns:
        if key.startswith("eval_"):
            pts = [(r["step"], r[key]) for r in history if key in r]
            ax.plot(*zip(*pts), "o-", label=key)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(out / "loss.png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
