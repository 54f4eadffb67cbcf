"""Click options shared by plugin commands, so flags read the same everywhere."""

from __future__ import annotations

from typing import Any, Callable

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
    return click.option("--seed", type=int, default=default, show_default=True,
                        help="Random seed; the same seed gives the same result.")


def quiet_option(f: F) -> F:
    return click.option("--quiet", "-q", is_flag=True, callback=_set_quiet, expose_value=True,
                        is_eager=True, help="No progress bars or status lines.")(f)


def shard_options(f: F) -> F:
    f = click.option("--shard-index", type=click.IntRange(min=0), default=0, show_default=True,
                     help="Which shard this process handles (0-based).")(f)
    f = click.option("--num-shards", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Split the work into this many shards (e.g. a cluster job array).")(f)
    return f


def check_shard(num_shards: int, shard_index: int) -> None:
    if shard_index >= num_shards:
        raise click.UsageError(f"--shard-index {shard_index} must be below --num-shards {num_shards}")


def shard_slice(items: list, num_shards: int, shard_index: int) -> list:
    """Items of one shard: every num_shards-th item starting at shard_index (stable order)."""
    check_shard(num_shards, shard_index)
    return items[shard_index::num_shards]
