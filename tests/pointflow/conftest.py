"""Fixtures for mc-pointflow tests: tiny synthetic demo buffers built once per session."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

TINY = {"steps": 6, "image_size": 24, "n_cams": 3, "n_points": 400}


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Path:
    """A task folder `<root>/unplug_charger_like/train_segmented` with 3 tiny episodes (do not modify)."""
    from mc_pointflow.sim.collect import collect_demos

    root = tmp_path_factory.mktemp("demos")
    collect_demos("unplug_charger_like", 3, "train", root / "unplug_charger_like", seed=3, **TINY)
    return root


@pytest.fixture
def demo_root(demo_template, tmp_path) -> Path:
    """A private copy of the template (tests may write masks into it)."""
    dst = tmp_path / "demos"
    shutil.copytree(demo_template, dst)
    return dst


@pytest.fixture
def demo_buffer(demo_root) -> Path:
    return demo_root / "unplug_charger_like" / "train_segmented"


def tree_digest(path: Path) -> str:
    """Hash of every file name and content under `path` (to show a store was left untouched)."""
    h = hashlib.sha256()
    for p in sorted(Path(path).rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(path)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture
def digest():
    return tree_digest


@pytest.fixture
def mc():
    """Run `mc ARGS` in-process through mc_core's real entry point (exit code, stdout, stderr)."""
    from mc_core.testing import invoke

    return invoke
