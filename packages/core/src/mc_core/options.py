"""Click options shared by plugin commands, so flags read the same everywhere."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import click

from mc_core.device import DEVICE_CHOICES

F = Callable[..., Any]


def _set_quiet(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    from mc_core.progress import set_quiet

    set_quiet(value)
    return value


def device_option(f: F) -> F:
    return click.option(
        "--device", default="auto", show_default=True,
        help=f"Where to run: {'|'.join(DEVICE_CHOICES)} (cuda:N for one GPU).",
    )(f)


def seed_option(default: int = 0) -> Callable[[F], F]:
    return click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=default, show_default=True,
                        help="Random seed (0 to 2**32-1); the same seed gives the same result.")


def quiet_option(f: F) -> F:
    return click.option("--quiet", "-q", is_flag=True, callback=_set_quiet, expose_value=True,
                        is_eager=True, help="No progress bars or status lines.")(f)


def shard_options(f: F) -> F:
    """``--num-shards/--shard-index``; a shard index out of range is a usage error naming both flags."""

    @functools.wraps(f)
    def checked(*args: Any, **kwargs: Any) -> Any:
        n, i = kwargs.get("num_shards", 1), kwargs.get("shard_index", 0)
        if i >= n:
            raise click.UsageError(f"--shard-index {i} must be below --num-shards {n}")
        return f(*args, **kwargs)

    checked = click.option("--shard-index", type=click.IntRange(min=0), default=0, show_default=True,
                           help="Which shard this process handles (0-based).")(checked)
    return click.option("--num-shards", type=click.IntRange(min=1), default=1, show_default=True,
                        help="Split the work into this many shards (e.g. a cluster job array).")(checked)


def training_options(f: F) -> F:
    """``--resume``, ``--device`` and ``--max-minutes``: the flags every ``train`` command shares
    (they map onto :class:`mc_core.training.TrainSettings`)."""
    f = click.option("--max-minutes", type=FiniteFloat(min=0, min_open=True), default=None,
                     help="Time budget: stop cleanly after this many minutes with a checkpoint "
                          "(continue later with --resume).")(f)
    f = click.option("--resume", is_flag=True,
                     help="Continue the run in --out-dir exactly where it stopped (exit 2 if there "
                          "is nothing to resume or its settings differ).")(f)
    return device_option(f)


class FiniteFloat(click.FloatRange):
    """A float option that rejects NaN and infinity, with an optional range (as click.FloatRange)."""

    name = "finite float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value.strip().lower() in ("nan", "+nan", "-nan", "inf", "+inf",
                                                                 "-inf", "infinity", "-infinity"):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        rv = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(rv):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return super().convert(rv, param, ctx)


# Kept here for plugins that import them from the options module; they live in mc_core.shards.
from mc_core.shards import check_shard, shard_slice  # noqa: E402

__all__ = ["FiniteFloat", "RegistryChoice", "check_shard", "device_option", "quiet_option",
           "seed_option", "shard_options", "shard_slice", "training_options"]


class RegistryChoice(click.ParamType):
    """A name from a registry, read at run time: every installed plugin's entries for `task`.

    ``--arch``/``--model``/``--method`` options use it, so a third-party model appears in the
    choices (and in ``--help``) as soon as its plugin is installed.
    """

    name = "name"

    def __init__(self, kind: str = "models", task: str | None = None, extra: tuple[str, ...] = ()):
        self.kind = kind
        self.task = task
        self.extra = tuple(extra)

    @property
    def choices(self) -> list[str]:
        from mc_core import registries

        return sorted(set(registries().by_kind(self.kind).names(task=self.task)) | set(self.extra))

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:  # noqa: ARG002
        try:
            return "[" + "|".join(self.choices) + "]"
        except Exception:  # noqa: BLE001 - help must render even with a broken registry
            return "NAME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        choices = self.choices
        if value in choices:
            return value
        from mc_core.registry import suggest

        what = self.kind.rstrip("s")
        hint = suggest(value, choices) or f" (choose from: {', '.join(choices) or 'none installed'})"
        self.fail(f"unknown {what} {value!r}{hint}", param, ctx)

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str):
        from click.shell_completion import CompletionItem

        return [CompletionItem(c) for c in self.choices if c.startswith(incomplete)]
