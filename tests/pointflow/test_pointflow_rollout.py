"""Closed-loop rollouts: the task's success check, the observation a rollout builds, baselines, the command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mc_pointflow.sim.collect import demo_settings, episode_seed
from mc_pointflow.sim.env import TabletopEnv

SMALL_SIM = {"image_size": 24, "n_cams": 3, "n_points": 400, "demo_steps": 12}


def _template_env(demo_template):
    from mc_pointflow.data.replay_buffer import ReplayBuffer

    buf = ReplayBuffer.open(demo_template / "unplug_charger_like" / "train_segmented")
    s = demo_settings(buf)
    env = TabletopEnv(s["task"], image_size=s["image_size"], n_cams=s["n_cams"], n_points=s["cloud_points"],
                      demo_steps=s["episode_steps"])
    return buf, s, env


def test_demos_succeed_under_the_task_check_and_near_misses_fail(demo_template):
    from mc_core.plugins import get_manager

    metric = get_manager().registries.by_kind("metrics").get("rollout-success")
    buf, s, env = _template_env(demo_template)
    for e in range(buf.n_episodes):
        states = buf.get_episode(e, ["robot_state"])["robot_state"]
        env.reset(episode_seed(s["seed"], "train", e))
        np.testing.assert_array_equal(env.expert_states, states)  # the env resets to the demo's scene
        assert metric(states, env.grasp) == 1.0
        off = states.copy()
        off[:, 0] += 0.03  # the same motion 3 cm to the side: closes on nothing
        assert metric(off, env.grasp) == 0.0
        shut = states.copy()
        shut[:, 9] = 0.0  # closed all along: never closes at the grasp pose
        assert metric(shut, env.grasp) == 0.0
        assert metric(states, env.grasp + [0, 0, 0.03]) == 0.0


def test_rollout_observation_is_the_training_item(demo_template, tiny_run):
    """The expert's rollout in a demo's scene sees exactly the training items of that demo
    (points picked by the stored indices, state history), and the policy gets them unchanged."""
    import torch

    from mc_pointflow.data.policy_data import load_policy_arrays
    from mc_pointflow.models.flow_policy import load_policy
    from mc_pointflow.rollout import ExpertPolicy, FlowPolicy, rollout_episode

    _, s, env = _template_env(demo_template)
    model, ck = load_policy(tiny_run.checkpoint)
    arrays = load_policy_arrays(tiny_run.buffer, n_obs_steps=2, horizon=4)
    assert arrays.precomputed
    flow = FlowPolicy(model, ck.meta["n_points"], euler_steps=2)
    seen = []

    class Spy(ExpertPolicy):
        def act(self, env, frame, states, episode):
            seen.append(flow.observation(frame, states, episode, flow.n_points))
            if len(seen) == 3:  # the flow policy's own chunk is the model's sample on that observation
                chunk = flow.act(env, frame, states, episode)
                pcd, hist = (torch.from_numpy(x)[None] for x in seen[-1])
                again = model.sample(pcd, hist, steps=2, noise=torch.randn(1, 4, 10, generator=torch.Generator()
                                     .manual_seed(mix_seed(0, episode, 2, 13))))[0][0].numpy()
                np.testing.assert_array_equal(chunk, again)
            return super().act(env, frame, states, episode)

    from mc_pointflow.evaluate import mix_seed

    row, _ = rollout_episode(env, Spy(1), scene_seed=episode_seed(s["seed"], "train", 1), episode=1,
                             max_steps=50, execute_steps=1)
    assert row["success"] and row["steps"] == s["episode_steps"] - 1 == len(seen)
    items = np.flatnonzero(arrays.episode == 1)
    for t, (pcd, hist) in enumerate(seen):
        np.testing.assert_array_equal(pcd, arrays.pcd[items[t]])
        np.testing.assert_array_equal(hist, arrays.robot_state[items[t]])


def test_expert_succeeds_and_trivial_baselines_fail(demo_template):
    from mc_pointflow.rollout import ExpertPolicy, HoldPolicy, MeanDemoPolicy, run_rollouts

    env = TabletopEnv("unplug_charger_like", **SMALL_SIM)
    common = {"episodes": 6, "seed": 5, "max_steps": 24, "execute_steps": 4}
    rows, summ, _ = run_rollouts(env, ExpertPolicy(4), **common)
    assert summ["successes"] == 6 and summ["success_rate"] == 1.0
    assert all(r["steps"] < 12 and r["final_dist_m"] <= 0.02 for r in rows)
    assert summ["success_rate_wilson95"][1] == 1.0 and 0.5 < summ["success_rate_wilson95"][0] < 0.7
    rows, summ, _ = run_rollouts(env, HoldPolicy(4), **common)
    assert summ["successes"] == 0 and all(r["steps"] == 24 and r["grasp_attempts"] == 0 for r in rows)
    assert min(r["final_dist_m"] for r in rows) > 0.1 and summ["success_rate_wilson95"][0] == 0.0
    # the mean demo closes where the targets are on average: it tries, but misses
    mean = MeanDemoPolicy.from_buffer(demo_template / "unplug_charger_like" / "train_segmented", 4)
    env6 = TabletopEnv("unplug_charger_like", **{**SMALL_SIM, "demo_steps": 6})
    rows, summ, _ = run_rollouts(env6, mean, **common)
    assert all(r["grasp_attempts"] == 1 for r in rows) and summ["successes"] == 0


def test_rollout_seeds_are_held_out():
    from mc_pointflow.rollout import rollout_seeds

    held = set(rollout_seeds(0, 1000)) | set(rollout_seeds(1, 1000)) | set(rollout_seeds(7, 1000))
    demos = {episode_seed(s, split, i) for s in range(10) for split in ("train", "valid") for i in range(1000)}
    assert len(held) == 3000 and not held & demos


def test_wilson_interval():
    from mc_pointflow.metrics import wilson_interval

    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(10, 10)[1] == 1.0 and wilson_interval(0, 0) == (0.0, 1.0)


@pytest.mark.e2e
def test_rollout_command_end_to_end_and_deterministic(mc, tiny_checkpoint, tmp_path):
    args = ["pointflow", "rollout", "--checkpoint", tiny_checkpoint, "--task", "unplug_charger_like", "--episodes",
            "3", "--max-steps", "8", "--execute-steps", "2", "--steps", "2", "-q"]
    outs = []
    for i, seed in enumerate(("0", "0", "1")):
        extra = ["--out-csv", tmp_path / "ep.csv", "--save-gif", tmp_path / "ep.gif"] if i == 0 else []
        r = mc(*args, "--seed", seed, "--out-json", tmp_path / f"r{i}.json", *extra)
        assert r.exit_code == 0, r.stderr
        outs.append(json.loads((tmp_path / f"r{i}.json").read_text()))
    a, b, c = outs
    assert a["episodes"] == 3 and a["policy"] == "pointflow-policy" and a["max_steps"] == 8
    # the demos' render settings travel in the checkpoint
    assert a["sim"]["image_size"] == 24 and a["sim"]["cloud_points"] == 400 and a["sim"]["demo_seed"] == 3
    lo, hi = a["success_rate_wilson95"]
    assert 0.0 <= lo <= a["success_rate"] <= hi <= 1.0
    strip = lambda o: [{k: v for k, v in r.items() if k != "seconds"} for r in o["per_episode"]]
    assert strip(a) == strip(b)
    assert [r["scene_seed"] for r in c["per_episode"]] != [r["scene_seed"] for r in a["per_episode"]]
    assert strip(a) != strip(c)
    assert all(r["steps"] <= 8 and r["queries"] >= 1 for r in a["per_episode"])
    lines = (tmp_path / "ep.csv").read_text().splitlines()
    assert lines[0].startswith("episode,scene_seed,success,steps,final_dist_m") and len(lines) == 4
    assert (tmp_path / "ep.gif").read_bytes()[:4] == b"GIF8"
    assert json.loads(mc(*args, "--episodes", "1").stdout)["episodes"] == 1  # summary JSON on stdout


def test_rollout_bad_input_is_one_line_with_exit_2(mc, tiny_checkpoint, tmp_path):
    def one_line_2(r, *needles):
        assert r.exit_code == 2, (r.exit_code, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.stderr, r.stderr
        for n in needles:
            assert n in lines[0], lines[0]

    base = ["pointflow", "rollout", "--episodes", "1", "-q"]
    one_line_2(mc(*base, "--checkpoint", tmp_path / "missing"), "missing")
    one_line_2(mc(*base, "--checkpoint", tiny_checkpoint, "--task", "reach_target"), str(tiny_checkpoint),
               "unplug_charger_like")
    one_line_2(mc(*base, "--checkpoint", tiny_checkpoint, "--execute-steps", "5"), "execute_steps 5", "horizon 4")
    one_line_2(mc(*base, "--checkpoint", tiny_checkpoint, "--cloud-points", "100"), "128 points")
    one_line_2(mc(*base, "--task", "unplug_charger_like"), "--checkpoint or --policy")
    one_line_2(mc(*base, "--baseline", "mean-demo", "--task", "unplug_charger_like"), "mean-demo needs buffer")
    one_line_2(mc(*base, "--baseline", "mean-demo", "--buffer", tmp_path / "nobuf"), "nobuf")
    one_line_2(mc(*base, "--baseline", "hold"), "give task")
    one_line_2(mc(*base, "--checkpoint", tiny_checkpoint, "--episodes", "0"), "--episodes")
    assert not list(tmp_path.iterdir())  # nothing written


def test_noisy_demos_drift_off_the_expert_and_label_the_way_back(tmp_path, mc, demo_template):
    """collect-demos --noise: same scenes, recorded states drift off the expert's path, actions are
    the expert's clean next poses; clean demos are unchanged; a buffer keeps one noise level."""
    from mc_pointflow.data.replay_buffer import ReplayBuffer
    from mc_pointflow.sim.env import simulate_episode

    small = {"steps": 12, "image_size": 24, "n_cams": 3, "n_points": 400}
    seed = episode_seed(3, "train", 0)
    clean, _ = simulate_episode("unplug_charger_like", seed, **small)
    noisy, _ = simulate_episode("unplug_charger_like", seed, noise=0.03, **small)
    np.testing.assert_array_equal(noisy["action"], clean["action"])  # labels: the expert's poses
    np.testing.assert_array_equal(noisy["robot_state"][0], clean["robot_state"][0])  # same start
    np.testing.assert_array_equal(noisy["robot_state"][:, 3:], clean["robot_state"][:, 3:])  # only xyz drifts
    off = np.linalg.norm(noisy["robot_state"][1:, :3] - clean["robot_state"][1:, :3], axis=1)
    assert 0.005 < off.mean() < 0.1 and off.max() < 0.25
    np.testing.assert_array_equal(noisy["segmentation_masks"][0], clean["segmentation_masks"][0])  # same scene
    assert not np.array_equal(noisy["pcd_xyz"][5], clean["pcd_xyz"][5])  # the gripper is rendered where it is
    # clean collection through the CLI is what the fixture holds; noise is recorded and kept per buffer
    out = tmp_path / "d"
    common = ["pointflow", "collect-demos", "--task", "unplug_charger_like", "--out-dir", out, "--steps", "6",
              "--image-size", "24", "--n-cams", "3", "--n-points", "400", "--seed", "3", "-q"]
    assert mc(*common, "--episodes", "1", "--noise", "0.02").exit_code == 0
    buf = ReplayBuffer.open(out / "train_segmented")
    assert buf.attrs["noise"] == 0.02 and demo_settings(buf)["noise"] == 0.02
    ref = ReplayBuffer.open(demo_template / "unplug_charger_like" / "train_segmented").get_episode(0)
    got = buf.get_episode(0)
    np.testing.assert_array_equal(got["action"], ref["action"])
    assert not np.array_equal(got["robot_state"], ref["robot_state"])
    r = mc(*common, "--episodes", "2")  # appending clean demos to a noisy buffer is refused
    assert r.exit_code == 2 and r.stderr.strip().count("\n") == 0 and "noise 0.02" in r.stderr, r.stderr
    assert ReplayBuffer.open(out / "train_segmented").n_episodes == 1
