"""The sim's tasks, the seed's names for them and where their demo buffers live (click-free)."""

from __future__ import annotations

from pathlib import Path

from mc_core.errors import UsageError

TASKS = ("reach_target", "unplug_charger_like")
# The seed's task names: `unplug_charger` is RLBench's task; ours is its simulated version.
TASK_ALIASES = {"unplug_charger": "unplug_charger_like"}
# Object ids to attend by default: the seed's unplug_charger ids [31, 34, 35, 92]
DEFAULT_OBJECT_IDS = {"unplug_charger_like": (31, 34, 35, 92), "reach_target": (11,)}
SPLITS = ("train", "valid")


def canonical_task(task: str) -> str:
    """The sim's name of `task` (a seed name such as `unplug_charger` maps to its simulated version)."""
    name = TASK_ALIASES.get(task, task)
    if name not in TASKS:
        raise UsageError(f"unknown task {task!r} (choose from {', '.join(TASKS + tuple(TASK_ALIASES))})")
    return name


def buffer_path(data_root: str | Path, task: str, split: str) -> Path:
    """Where collect-demos writes a split: `<data_root>/<task>/<split>_segmented`."""
    return Path(data_root) / canonical_task(task) / f"{split}_segmented"


def task_buffers(task: str | None, data_root: str | Path, split: str, buffers: tuple | list = ()) -> list[str]:
    """The buffers a command works on: `buffers` if given, else the task's `split` ("both": train
    and valid) under `data_root`."""
    if buffers:
        return [str(b) for b in buffers]
    if not task:
        raise UsageError("give task (with data_root) or buffers")
    if split not in SPLITS + ("both",):
        raise UsageError(f"split must be train, valid or both, not {split!r}")
    return [str(buffer_path(data_root, task, s)) for s in (SPLITS if split == "both" else (split,))]


def default_object_ids(task: str | None) -> tuple[int, ...]:
    """The object ids a task's masks attend by default."""
    if task is None:
        raise UsageError("give object_ids (or a task for its default ids)")
    return DEFAULT_OBJECT_IDS[canonical_task(task)]
