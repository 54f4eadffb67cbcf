"""Fixtures of the spatial-vlm tests."""

import importlib.util
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def seed_ref():
    """The seed pipeline's rules written for the tests (seed_reference.py), as a module."""
    spec = importlib.util.spec_from_file_location("svlm_seed_reference", Path(__file__).with_name("seed_reference.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory):
    """Demo x3 data (train/ and validation/) shared by the tests that only read it."""
    from mc_spatial_vlm.data.demo import make_demo_data

    root = tmp_path_factory.mktemp("svlm") / "demo"
    make_demo_data(root, train_scenes=2, val_scenes=1, objects_per_scene=3, width=48, height=36, seed=3)
    return root
