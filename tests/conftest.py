"""Fixtures for every package's tests: out-of-tree plugin packages (tests/plugins) made visible to
`mc` without installing them, in a subprocess (`plugin_env`, `mc`) or in this process (`example_plugin`)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

PLUGINS_DIR = Path(__file__).resolve().parent / "plugins"


def make_dist_info(project_dir: Path, site: Path) -> Path:
    """Write `<name>.dist-info` (METADATA + entry_points.txt) for a source project into `site`.

    This is what installing the project would add to site-packages for entry-point discovery;
    the project's `src/` goes on PYTHONPATH beside it.
    """
    meta = tomllib.loads((project_dir / "pyproject.toml").read_text())["project"]
    norm = meta["name"].replace("-", "_")
    info = site / f"{norm}-{meta['version']}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n"
    )
    lines = ["[mc]"] + [f"{k} = {v}" for k, v in meta["entry-points"]["mc"].items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return info


@pytest.fixture
def plugin_env(tmp_path):
    """Return a function: plugin_env("mc-example-plugin", ...) -> environment for a subprocess."""

    def build(*names: str, **extra: str) -> dict[str, str]:
        site = tmp_path / "site"
        site.mkdir(exist_ok=True)
        paths = [str(site)]
        for name in names:
            project = PLUGINS_DIR / name
            make_dist_info(project, site)
            paths.append(str(project / "src"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("MC_")}
        env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env.update(extra)
        return env

    return build


def run_mc(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `python -m mc_core ARGS` (the same as the `mc` script) and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "mc_core", *args],
        capture_output=True,
        text=True,
        env=env if env is not None else {k: v for k, v in os.environ.items() if not k.startswith("MC_")},
        timeout=120,
    )


@pytest.fixture
def mc():
    return run_mc


@pytest.fixture
def example_plugin(tmp_path, monkeypatch):
    """Make tests/plugins/mc-example-plugin an installed plugin of this process (entry point,
    registries, commands) for the test; the process-wide plugin manager is reset before and after."""
    import importlib

    from mc_core.plugins import get_manager, set_manager

    site = tmp_path / "example-site"
    site.mkdir()
    project = PLUGINS_DIR / "mc-example-plugin"
    make_dist_info(project, site)
    monkeypatch.syspath_prepend(str(project / "src"))
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    from mc_core.cli import cli

    set_manager(None)
    monkeypatch.setattr(cli, "_plugins_loaded", False)  # the root group picks up `mc example ...`
    manager = get_manager()
    assert "example" in manager.infos and manager.infos["example"].ok, manager.infos.get("example")
    yield manager
    set_manager(None)
    cli.commands.pop("example", None)
    for name in [m for m in sys.modules if m == "mc_example_plugin" or m.startswith("mc_example_plugin.")]:
        del sys.modules[name]
