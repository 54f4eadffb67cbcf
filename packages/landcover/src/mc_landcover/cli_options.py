"""Click options the landcover commands share (no commands here; `cli.py` assembles the group)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from mc_core.options import FiniteFloat

F = Callable[..., Any]

TEMPERATURE = FiniteFloat(min=0.0, min_open=True, max=100.0)
RATIO = FiniteFloat(min=0.0, max=1.0, min_open=True, max_open=True)


def checkpoint_option(required: bool = False) -> Callable[[F], F]:
    return click.option("--checkpoint", "--gpt-ckpt", "checkpoint", type=click.Path(), required=required,
                        default=None, help="Checkpoint directory of a trained model (`train` writes "
                                           "<out-dir>/checkpoints/final); --gpt-ckpt is the seed's spelling.")


def model_options(f: F) -> F:
    """``--checkpoint/--gpt-ckpt`` and ``--config`` (checked against the checkpoint)."""
    f = checkpoint_option()(f)
    return click.option("--config", default=None,
                        help="Config the checkpoint was trained with (YAML path or shipped name): checked "
                             "against the checkpoint, and its data.path is the data when --data is absent "
                             "[default: the checkpoint's own].")(f)


def data_option(required_help: str = "its test split is used") -> Callable[[F], F]:
    return click.option("--data", "data", type=click.Path(dir_okay=False), default=None,
                        help=f"Patches npz made by `mc landcover prepare` ({required_help}) "
                             "[default: data.path of --config].")


def verbose_option(f: F) -> F:
    return click.option("--verbose", "-v", is_flag=True,
                        help="Also print the full results as JSON (the seed's --verbose).")(f)


def resolve_data(data: str | None, config: str | None, *, required: bool = True) -> str | None:
    """--data, else data.path of --config (as the seed's scripts read it), else a usage error."""
    from mc_core.errors import UsageError
    from mc_landcover.config_files import config_data_path

    if data is not None:
        return data
    path = config_data_path(config)
    if path is None and required:
        raise UsageError("this needs --data D.npz (or a --config whose data.path names one)")
    return path


def echo_verbose(verbose: bool, result: Any) -> None:
    if verbose:
        click.echo(json.dumps(result, indent=2, default=_plain))


def _plain(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.ndarray):
        return f"<array {value.shape}>"
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def float_list(ctx: click.Context, param: click.Parameter, value: str) -> list[float]:
    import math

    try:
        vals = [float(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of numbers", ctx, param) from None
    bad = [v for v in vals if not (math.isfinite(v) and 0.0 < v < 1.0)]
    if bad or not vals:
        raise click.BadParameter(f"mask ratios must lie strictly between 0 and 1, got {value}", ctx, param)
    return vals


def name_list(choices: tuple[str, ...]) -> Callable[[click.Context, click.Parameter, str], list[str]]:
    def cb(ctx: click.Context, param: click.Parameter, value: str) -> list[str]:
        names = [v.strip() for v in value.split(",") if v.strip()]
        bad = [n for n in names if n not in choices]
        if bad or not names:
            raise click.BadParameter(f"unknown {', '.join(bad) or 'empty list'}; choose from {', '.join(choices)}",
                                     ctx, param)
        return names
    return cb
