"""Seeding and determinism for Python, NumPy and (when installed) torch."""

from __future__ import annotations

import os
import random
import sys

import numpy as np


def seed_everything(seed: int) -> np.random.Generator:
    """Seed `random`, NumPy's global state and torch (CPU and CUDA) if torch is imported or
    installed. Returns a fresh ``np.random.Generator`` seeded with `seed` for local use."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch = _torch()
    if torch is not None:
        torch.manual_seed(seed)
        if torch.cuda.is_available():
            torch.cuda.manual_seed_all(seed)
    return np.random.default_rng(seed)


def set_deterministic(enabled: bool = True, *, threads: int | None = None) -> None:
    """Make torch use deterministic algorithms (and optionally a fixed number of CPU threads).

    On CUDA, deterministic cuBLAS needs ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` (or ``:16:8``); it is
    set here when absent, which only takes effect if CUDA has not been initialised yet.
    """
    torch = _torch()
    if torch is None:
        return
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled, warn_only=False)
    if torch.backends.cudnn.is_available():
        torch.backends.cudnn.benchmark = not enabled
        torch.backends.cudnn.deterministic = enabled
    if threads is not None:
        torch.set_num_threads(threads)


def _torch():
    if "torch" in sys.modules:
        return sys.modules["torch"]
    try:
        import torch
    except ImportError:
        return None
    return torch
