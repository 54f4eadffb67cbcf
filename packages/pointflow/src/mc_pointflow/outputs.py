"""Checks on a command's outputs before anything is written (mc_core.paths.check_outputs, plus:
no output inside an input folder, such as a replay buffer or a checkpoint directory)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from mc_core.errors import BadInputError

PathLike = str | os.PathLike


def check_outputs(inputs: Iterable[PathLike | None], outputs: Iterable[PathLike | None]) -> None:
    """Bad input (exit 2) when an output is an input, is written twice, holds an input
    (mc_core.paths.check_outputs) or lies inside an input folder (it would change that input)."""
    from mc_core.paths import check_outputs as core_check

    ins = [p for p in inputs if p is not None]
    outs = [p for p in outputs if p is not None]
    core_check(ins, outs)
    dirs = [(p, Path(p).expanduser().resolve()) for p in ins if Path(p).is_dir()]
    for out in outs:
        r = Path(out).expanduser().resolve()
        for given, d in dirs:
            if r != d and r.is_relative_to(d):
                raise BadInputError(out, f"this output lies inside an input ({given}) and would change it; "
                                         "choose another output path")
