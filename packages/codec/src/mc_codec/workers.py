"""Per-image work spread over worker processes that each load the codec model once.

`map_with_model(fn, items, model, jobs)` calls ``fn(model, item)`` for every item, in order. With
``jobs > 1`` the items go to that many processes (fork where available), each with one torch
thread (ended when the parent dies) and its own copy of the model loaded from the checkpoint; results come back in order.
Learned coding is one thread per image, so processes are how it uses more cores.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

_WORKER: dict = {}


def default_jobs() -> int:
    """The CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def map_with_model(fn: Callable[[Any, Any], Any], items: list, model, jobs: int = 1,
                   progress: Callable[[Iterable], Iterable] | None = None) -> list:
    """[fn(model, item) for item in items], in `jobs` processes when jobs > 1."""
    jobs = max(1, min(int(jobs), len(items)))
    if jobs == 1:
        it = (fn(model, item) for item in items)
        return list(progress(it) if progress else it)
    import multiprocessing as mp

    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init_worker,
                             initargs=(str(model.path),)) as pool:
        it = pool.map(functools.partial(_call, fn), items)
        return list(progress(it) if progress else it)


def _init_worker(checkpoint: str) -> None:
    from mc_core.procs import die_with_parent

    die_with_parent()  # first, before the slow imports: a kill -9 of the command leaves no workers behind
    import torch

    from mc_codec.coding.api import load_model

    torch.set_num_threads(1)
    _WORKER["model"] = load_model(checkpoint)


def _call(fn, item):
    return fn(_WORKER["model"], item)
