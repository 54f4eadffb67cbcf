"""The training loop shared by `mc loci train` and `mc loci pretrain-bg` (through accelerate).

Checkpoints go to OUT_DIR/checkpoints/{last,final} (mc_core.checkpoint: safetensors + config.json,
written atomically); `last` also holds the optimizer state, the step and the loss history, so
`resume=True` continues where the run stopped. The caller's ``step_loss(model, step, accelerator)``
must draw its batch from (seed, step) only, so a resumed run sees the same batches as an
uninterrupted one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def run_training(*, build_model: Callable[[], Any], model_name: str, config: dict[str, Any],
                 tcfg: dict[str, Any], out_dir: str | Path, meta: dict[str, Any], resume: bool, device: str,
                 step_loss: Callable[[Any, int, Any], dict[str, Any]],
                 after_step: Callable[[Any], None] | None = None, desc: str = "train") -> dict[str, Any]:
    """Train ``build_model()`` for ``tcfg["steps"]`` steps of Adam (``lr``, ``grad_clip``), saving
    ``last`` every ``ckpt_every`` steps. ``config`` (with the model config under "model") is stored
    in the checkpoints; a resumed run must have the same model config. ``after_step(raw_model)``
    runs after each optimizer step (e.g. non-gradient parameter updates). Returns a summary and
    writes OUT_DIR/train_log.json; its ``train_seconds`` add up the time of all the invocations
    that made the run (an interrupted run and its resumptions)."""
    import torch
    from accelerate import Accelerator

    from mc_core.atomic import write_json
    from mc_core.checkpoint import load_resume, restore_training, save_checkpoint
    from mc_core.device import resolve_device
    from mc_core.progress import info, progress

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    last_dir = out / "checkpoints" / "last"
    accelerator = Accelerator(cpu=resolve_device(device).type == "cpu")
    main = accelerator.is_main_process
    torch.manual_seed(int(tcfg["seed"]))
    model = build_model()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=float(tcfg["lr"]))
    step, history, seconds_before = 0, [], 0.0
    if resume:
        ck, state = load_resume(last_dir, expect_model=model_name, model_config=config["model"])
        step, history, seconds_before = restore_training(ck, state, model, opt)
        info(f"resumed from {last_dir} at step {step}")
    model, opt = accelerator.prepare(model, opt)
    raw = accelerator.unwrap_model(model)

    def num_parameters() -> int:
        return sum(p.numel() for p in raw.parameters() if p.requires_grad)

    def save(kind: str, with_state: bool) -> None:
        if not main:
            return
        state = {"optimizer": opt.state_dict(), "step": step, "history": json.dumps(history),
                 "train_seconds": seconds_before + time.perf_counter() - t0} if with_state else None
        save_checkpoint(out / "checkpoints" / kind, raw.state_dict(), model=model_name, config=config,
                        meta={**meta, "step": step, "parameters": num_parameters()}, training_state=state)

    total = int(tcfg["steps"])
    model.train()
    t0 = time.perf_counter()
    bar = progress(range(step, total), desc=desc, total=max(0, total - step), unit="step",
                   quiet=None if main else True)
    for s in bar:
        terms = step_loss(model, s, accelerator)
        opt.zero_grad(set_to_none=True)
        accelerator.backward(terms["loss"])
        if tcfg["grad_clip"]:
            accelerator.clip_grad_norm_(model.parameters(), float(tcfg["grad_clip"]))
        opt.step()
        if after_step is not None:
            after_step(raw)
        step = s + 1
        rec = {"step": step, **{k: float(v.detach()) if hasattr(v, "detach") else float(v) for k, v in terms.items()}}
        if main and (step % 10 == 0 or step == total):
            history.append(rec)
        bar.set_postfix(loss=f"{rec['loss']:.4f}")
        if tcfg["ckpt_every"] and step % int(tcfg["ckpt_every"]) == 0 and step < total:
            save("last", True)
    accelerator.wait_for_everyone()
    seconds = seconds_before + time.perf_counter() - t0
    save("last", True)
    save("final", False)
    result = {"out_dir": str(out), "steps": step, "parameters": num_parameters(), "train_seconds": seconds,
              "final_loss": history[-1]["loss"] if history else None,
              "checkpoint": str(out / "checkpoints" / "final")}
    if main:
        write_json(out / "train_log.json", {"history": history, "result": result})
    return result
