"""Fixtures for mc-pointflow tests: tiny synthetic demo buffers built once per session."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from types import SimpleNamespace

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


# a tiny policy setup shared by the policy and rollout tests
TINY_MASKS = {"object_ids": (31, 92), "distance_threshold": 0.03, "gripper_radius": 0.05, "n_points": 128}
TINY_MODEL = {"horizon": 4, "n_obs_steps": 2, "point_width": 16, "feat_dim": 32, "hidden": 64, "n_blocks": 1}
TINY_FLAGS = ["--horizon", "4", "--point-width", "16", "--feat-dim", "32", "--hidden", "64", "--n-blocks", "1",
              "--batch-size", "8", "--device", "cpu", "--threads", "1", "-q"]


def train_tiny(buf, out, steps, resume=False, **tcfg):
    """Train the tiny policy on `buf` for `steps` steps into the run folder `out`."""
    from mc_pointflow.train import train

    cfg = {"batch_size": 8, "lr": 3e-3, "log_every": 5, "ckpt_every": 0, **tcfg}
    return train(buf, out, steps=steps, device="cpu", model_config=TINY_MODEL, train_config=cfg, threads=1,
                 resume=resume, log=lambda m: None)


def preprocess_tiny(buf):
    from mc_pointflow.masks import MaskConfig
    from mc_pointflow.preprocess import preprocess_buffer

    preprocess_buffer(buf, MaskConfig(**TINY_MASKS))
    return buf


@pytest.fixture
def tiny():
    """The tiny model config, its training flags and a `train(buffer, out, steps, **train_config)`."""
    return SimpleNamespace(model=TINY_MODEL, flags=TINY_FLAGS, train=train_tiny)


@pytest.fixture
def masked_buffer(demo_buffer):
    return preprocess_tiny(demo_buffer)


@pytest.fixture(scope="session")
def tiny_run(demo_template, tmp_path_factory) -> SimpleNamespace:
    """A tiny policy trained for a few steps on a copy of the template's demos with precomputed
    masks: `.checkpoint` (checkpoints/final) and `.buffer` (do not modify either)."""
    root = tmp_path_factory.mktemp("tiny_policy")
    shutil.copytree(demo_template, root / "demos")
    buf = preprocess_tiny(root / "demos" / "unplug_charger_like" / "train_segmented")
    train_tiny(buf, root / "run", 10)
    return SimpleNamespace(checkpoint=root / "run" / "checkpoints" / "final", buffer=buf)


@pytest.fixture
def tiny_checkpoint(tiny_run) -> Path:
    return tiny_run.checkpoint
