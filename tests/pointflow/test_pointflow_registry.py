"""Policies come from the registry: the built-in baselines, a trained checkpoint and a third-party
plugin's policy all run through `mc pointflow rollout`, with the Policy interface checked."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mc_core.hookspecs import hookimpl

SMALL = ["--task", "unplug_charger", "--image-size", "24", "--n-cams", "3", "--cloud-points", "400",
         "--demo-steps", "12", "--max-steps", "8", "--episodes", "2", "-q"]


class CentroidReach:
    """A third party's policy: reach for the centre of the points above the table top, then close."""

    name = "centroid-reach"

    def __init__(self, horizon: int = 4, buffer: str | None = None):
        self.horizon = horizon

    def act(self, env, frame, states, episode):
        pts = frame.pcd[frame.pcd[:, 2] > 0.02]
        goal = pts.mean(0) if len(pts) else states[-1][:3]
        pose = states[-1].copy()
        step = goal - pose[:3]
        dist = float(np.linalg.norm(step))
        pose[:3] += step * min(1.0, 0.05 / max(dist, 1e-9))
        pose[9] = 0.0 if dist < 0.02 else 1.0
        return np.repeat(pose[None], self.horizon, axis=0)


class NoAct:
    """Registered for pointflow but offers no act(): refused."""

    name = "no-act"

    def __init__(self, horizon: int = 4, buffer: str | None = None):
        self.horizon = horizon


class ThirdPartyPlugin:
    @hookimpl
    def mc_register_models(self, registry):
        registry.register("centroid-reach", CentroidReach, "Reach for the cloud's centre", task="pointflow")
        registry.register("no-act", NoAct, "Lacks act()", task="pointflow")


@pytest.fixture
def third_party():
    from mc_core.plugins import get_manager

    manager = get_manager()
    manager.register(ThirdPartyPlugin(), "pf-third-party", distribution="pf-third-party")
    yield manager
    manager.unregister("pf-third-party")


def test_help_and_list_show_the_same_policies(mc, third_party):
    from mc_core import registries

    names = registries().models.names(task="pointflow")
    assert {"expert", "hold", "mean-demo", "pointflow-policy", "centroid-reach"} <= set(names)
    listing = mc("list", "models", "--task", "pointflow").stdout
    helptext = mc("pointflow", "--help").stdout
    rollout_help = mc("pointflow", "rollout", "--help").stdout
    for n in names:
        assert n in listing and n in helptext and n in rollout_help.replace("\n", "").replace(" ", ""), n


def test_a_third_party_policy_runs_through_rollout(mc, third_party, tmp_path):
    r = mc("pointflow", "rollout", "--policy", "centroid-reach", *SMALL, "--out-json", tmp_path / "r.json")
    assert r.exit_code == 0, r.stderr
    out = json.loads((tmp_path / "r.json").read_text())
    assert out["policy"] == "centroid-reach" and out["registered_policy"] == "centroid-reach"
    assert out["episodes"] == 2 and all(0 < row["queries"] <= 8 for row in out["per_episode"])
    # it really acted: the gripper moved from its start pose
    start = json.loads(mc("pointflow", "rollout", "--policy", "hold", *SMALL).stdout)
    assert out["final_dist_m_mean"] != start["final_dist_m_mean"]
    # one without the interface is refused before anything runs
    r = mc("pointflow", "rollout", "--policy", "no-act", *SMALL, "--out-json", tmp_path / "n.json")
    assert r.exit_code == 2 and "does not implement Policy (missing: act)" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "n.json").exists()
    r = mc("pointflow", "rollout", "--policy", "centroid-rech", *SMALL)
    assert r.exit_code == 2 and "did you mean 'centroid-reach'" in r.stderr


def test_policies_build_and_load_through_the_factory(tiny_checkpoint, demo_template):
    from mc_core.factory import create_model, load_model
    from mc_pointflow import Policy
    from mc_pointflow.rollout import ExpertPolicy, MeanDemoPolicy, make_policy

    model = load_model(tiny_checkpoint, task="pointflow", protocol=Policy)
    assert isinstance(model, Policy) and model.n_points == 128 and model.horizon == 4
    assert isinstance(create_model("expert", {"horizon": 3}, task="pointflow", protocol=Policy), ExpertPolicy)
    mean = make_policy("mean-demo", horizon=2, buffer=demo_template / "unplug_charger_like" / "train_segmented")
    assert isinstance(mean, MeanDemoPolicy) and mean.trajectory.shape == (6, 10)
    from mc_core.errors import UsageError

    with pytest.raises(UsageError, match="must be trained: give checkpoint"):
        make_policy("pointflow-policy")
    with pytest.raises(UsageError, match="not one for `mc pointflow`"):
        make_policy("slot-segmenter")
