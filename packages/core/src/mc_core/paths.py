"""Checks on the files a command reads and writes, made before anything is written."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from mc_core.errors import BadInputError

PathLike = str | os.PathLike


def _resolved(p: PathLike) -> Path:
    return Path(p).expanduser().resolve(strict=False)


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.relative_to(parent)
        return True
    except ValueError:
        return False


def check_outputs(inputs: Iterable[PathLike | None], outputs: Iterable[PathLike | None], *,
                  not_inside_inputs: bool = False) -> None:
    """Bad input (exit 2) when an output is also an input (the same file, through any link or
    relative spelling), is an output folder holding an input, or when the command would write
    one file twice. With `not_inside_inputs`, an output anywhere inside an input folder (a replay
    buffer, a checkpoint directory, a data set whose folder is its identity) is refused too.
    Call it before writing anything."""
    ins = [(p, _resolved(p)) for p in inputs if p is not None]
    seen: dict[Path, PathLike] = {}
    for out in outputs:
        if out is None:
            continue
        r = _resolved(out)
        for given, ri in ins:
            same = r == ri or (r.exists() and ri.exists() and os.path.samefile(r, ri))
            if same:
                raise BadInputError(out, f"this output is also an input ({given}); choose another output path")
            if ri.is_file() and _inside(ri, r) and r != ri:
                raise BadInputError(out, f"this output folder holds an input ({given}); choose another")
            if not_inside_inputs and ri.is_dir() and r != ri and _inside(r, ri):
                raise BadInputError(out, f"this output lies inside an input ({given}) and would change it; "
                                         "choose another output path")
        if r in seen:
            raise BadInputError(out, f"written twice by this command (also as {seen[r]})")
        seen[r] = out
