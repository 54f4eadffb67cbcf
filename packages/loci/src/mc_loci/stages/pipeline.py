"""``mc loci pipeline``: every Loci-Segmented stage in order with the shipped configs, each in its own
folder under the output folder, each loading the checkpoints of the stages before it; a finished
stage (its ``final`` checkpoint and ``train_log.json`` written) is skipped, an interrupted one
(a ``last`` checkpoint with training state, no log) resumed. Ends with ``OUT/final``, a copy of
the final stage's checkpoint, and ``OUT/pipeline.json``.

    from mc_loci.stages.pipeline import run_pipeline
    summary = run_pipeline("pan_train", "runs/pipe", depth=True, max_minutes=5)
    summary["final"]                     # runs/pipe/final
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from mc_core.progress import info
from mc_loci.stages.configs import PIPELINE, depth_name

FINAL = "final"


def stage_state(folder: Path) -> str:
    """``done``, ``interrupted`` (resumable) or ``new``."""
    if (folder / "train_log.json").is_file() and (folder / "checkpoints" / "final" / "config.json").is_file():
        return "done"
    if (folder / "checkpoints" / "last" / "config.json").is_file():
        return "interrupted"
    return "new"


def run_pipeline(data: str | Path, out_dir: str | Path, *, depth: bool = True, max_minutes: float | None = None,
                 steps: int | None = None, device: str = "auto", seed: int | None = None,
                 quiet: bool | None = None, size: int | None = None) -> dict[str, Any]:
    """Run (or finish) every stage; `max_minutes` is each stage's time budget, `steps` overrides every
    stage's step count. Returns (and writes to ``OUT/pipeline.json``) each stage's folder, state and
    result, and the final checkpoint's path."""
    import json

    from mc_core.atomic import write_json
    from mc_loci.stages import run_stage

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    folders: dict[str, Path] = {}
    stages: list[dict[str, Any]] = []
    for stage, loads in PIPELINE:
        name = depth_name(stage, depth)
        folder = out / name
        folders[stage] = folder
        state = stage_state(folder)
        entry: dict[str, Any] = {"stage": name, "folder": str(folder), "was": state}
        if state == "done":
            info(f"{name}: finished before, skipped")
            entry["result"] = json.loads((folder / "train_log.json").read_text(encoding="utf-8")).get("result")
        else:
            load = {flag: folders[src] / "checkpoints" / "final" for flag, src in loads.items()}
            info(f"{name}: {'resuming' if state == 'interrupted' else 'training'}")
            result = run_stage(name, data, folder, load=load, steps=steps, max_minutes=max_minutes,
                               resume=state == "interrupted", device=device, seed=seed, quiet=quiet, size=size)
            entry["result"] = result.as_dict()
        stages.append(entry)
    final = out / FINAL
    source = folders[PIPELINE[-1][0]] / "checkpoints" / "final"
    tmp = out / f".{FINAL}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(source, tmp)
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    summary = {"data": str(data), "depth": depth, "max_minutes": max_minutes, "stages": stages, "final": str(final)}
    write_json(out / "pipeline.json", summary)
    return summary
