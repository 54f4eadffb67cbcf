"""Progress bars (tqdm on stderr) that `--quiet` or MC_QUIET=1 silences.

A bar appears only once its work has taken `MC_PROGRESS_DELAY` seconds (default 0.5), so quick
commands, and commands that stop at once on bad input, print no bar at all.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, TypeVar

from mc_core.errors import env_flag

T = TypeVar("T")

_quiet = False


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = bool(quiet)


def is_quiet() -> bool:
    return _quiet or env_flag("MC_QUIET")


def progress(iterable: Iterable[T] | None = None, *, desc: str = "", total: int | None = None,
             unit: str = "it", quiet: bool | None = None, **kwargs: Any):
    """A tqdm progress bar; a plain pass-through when quiet."""
    from tqdm.auto import tqdm

    disable = is_quiet() if quiet is None else quiet
    kwargs.setdefault("delay", progress_delay())
    return tqdm(iterable, desc=desc, total=total, unit=unit, disable=disable, dynamic_ncols=True,
                leave=False, **kwargs)


def progress_delay() -> float:
    """Seconds before a bar is shown (MC_PROGRESS_DELAY, default 0.5)."""
    try:
        return max(0.0, float(os.environ.get("MC_PROGRESS_DELAY", "0.5")))
    except ValueError:
        return 0.5


def info(message: str) -> None:
    """A status line on stderr unless quiet."""
    if not is_quiet():
        import click

        click.echo(message, err=True)
