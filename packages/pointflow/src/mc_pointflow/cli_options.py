"""Click types and options shared by the pointflow command modules (click only; no heavy imports)."""

from __future__ import annotations

import click

from mc_core.options import FiniteFloat
from mc_pointflow.tasks import TASK_ALIASES, TASKS


class TaskChoice(click.Choice):
    """A task of the sim; the seed's names (`unplug_charger`) are accepted and mean the sim's version."""

    def __init__(self) -> None:
        super().__init__(TASKS + tuple(TASK_ALIASES))

    def convert(self, value, param, ctx):
        return TASK_ALIASES.get(value, super().convert(value, param, ctx))


def parse_floats(value: str | None, flag: str) -> tuple[float, ...] | None:
    """'0.01,0.02 0.03' -> (0.01, 0.02, 0.03); every value finite."""
    if value is None:
        return None
    finite = FiniteFloat()
    out = []
    for x in value.replace(",", " ").split():
        try:
            out.append(finite.convert(x, None, None))
        except click.BadParameter:
            raise click.BadParameter(f"{value!r} is not a list of finite numbers", param_hint=flag) from None
    return tuple(out)


def object_ids(first_id: int | None, more_ids: tuple[int, ...]) -> tuple[int, ...] | None:
    """`--object-ids 31 34 35 92`: the first id is the option's value, the rest come as arguments."""
    if more_ids and first_id is None:
        raise click.UsageError(f"unexpected arguments {' '.join(map(str, more_ids))}")
    return None if first_id is None else (int(first_id),) + tuple(int(i) for i in more_ids)
