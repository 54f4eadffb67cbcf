"""Scripts shipped with mc-pointflow in place of the seed's (`bash/preprocess_masks.sh`)."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from mc_core.errors import UsageError

SCRIPTS = ("preprocess_masks.sh",)


def script_text(name: str) -> str:
    """The text of shipped script `name`."""
    if name not in SCRIPTS:
        raise UsageError(f"unknown script {name!r} (choose from {', '.join(SCRIPTS)})")
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def script_path(name: str) -> Path:
    """Where shipped script `name` is installed (run it with `bash PATH`)."""
    script_text(name)
    return Path(str(resources.files(__name__).joinpath(name)))


def copy_script(name: str, dest_dir: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Copy shipped script `name` into `dest_dir` (made if missing), executable; an existing
    different file is kept unless `overwrite`."""
    from mc_core.atomic import atomic_path
    from mc_core.errors import BadInputError

    text = script_text(name)
    dest = Path(dest_dir) / name
    if dest.exists() and not overwrite and dest.read_text(encoding="utf-8", errors="replace") != text:
        raise BadInputError(dest, "exists and differs from the shipped script (pass overwrite to replace it)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dest) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    dest.chmod(0o755)
    return dest
