"""Wheels: a plugin's wheel installs with pip-style tooling into a clean venv next to mc-core alone.

Uses uv (the workspace's tool) to build the wheels and to install them, pinned to the versions in
uv.lock, with `--offline`: the build backend and every dependency come from uv's cache (filled by
`uv sync`), nothing from the network. If the cache lacks something (a machine whose cache was
cleaned), the test is skipped and says which package was missing.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _uv() -> str:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    return uv


OFFLINE_MISSES = ("Network connectivity is disabled", "not found in the cache", "offline mode")


def _run(args, **kw):
    res = subprocess.run(args, capture_output=True, text=True, timeout=600, **kw)
    if res.returncode != 0 and "--offline" in args and any(m in res.stderr for m in OFFLINE_MISSES):
        line = next((ln for ln in res.stderr.splitlines() if any(m in ln for m in OFFLINE_MISSES)), "")
        pytest.skip(f"uv's cache cannot serve this offline: {line.strip()}")
    assert res.returncode == 0, f"{' '.join(map(str, args))}\n{res.stdout}\n{res.stderr}"
    return res


@pytest.mark.e2e
def test_codec_wheel_installs_beside_core_only(tmp_path):
    uv = _uv()
    dist = tmp_path / "dist"
    for pkg in ("mc-core", "mc-codec"):
        _run([uv, "build", "--offline", "--package", pkg, "--wheel", "--out-dir", str(dist)], cwd=ROOT)
    wheels = sorted(str(p) for p in dist.glob("*.whl"))
    assert [Path(w).name.split("-")[0] for w in wheels] == ["mc_codec", "mc_core"]
    pins = _run([uv, "export", "--frozen", "--no-hashes", "--no-emit-workspace", "--no-dev",
                 "--no-header", "--package", "mc-codec"], cwd=ROOT).stdout
    (tmp_path / "pins.txt").write_text(pins)
    venv = tmp_path / "venv"
    _run([uv, "venv", "--offline", "--python", sys.executable, str(venv)])
    py = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    _run([uv, "pip", "install", "--offline", "--python", str(py), "-c", str(tmp_path / "pins.txt"),
          *wheels], env=env)
    mc = venv / "bin" / "mc"
    helped = _run([str(mc), "codec", "--help"], env=env)
    assert helped.stdout.startswith("Usage: mc codec")
    rows = json.loads(_run([str(mc), "plugins", "--json"], env=env).stdout)
    assert {r["name"]: r["status"] for r in rows} == {"core": "ok", "codec": "ok"}
    top = _run([str(mc), "--help"], env=env).stdout
    assert "\n  codec " in top and "landcover" not in top
