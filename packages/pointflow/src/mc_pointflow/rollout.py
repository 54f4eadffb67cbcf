"""Closed-loop rollouts in the kinematic sim and the task's success rate.

An episode resets `TabletopEnv` with a held-out scene seed (the "rollout" range of
`sim.collect.episode_seed`, disjoint from every train and valid demo), then repeats: the policy
sees the current observation, returns poses, the first `execute_steps` of them are executed one
by one (the gripper is put at each pose and the scene re-rendered), until the task succeeds (the
gripper closes within `GRASP_TOLERANCE` of the grasp pose: `sim.scene.grasps`, the same check the
scripted demos pass) or `max_steps` poses have been executed.

A learnt policy sees what training showed it: `n_points` of the rendered cloud picked with the
dataset's indices (`sample_point_indices(P, n_points, episode, t)`) and the last `n_obs_steps`
robot states (the first repeated before the start); its chunk is sampled from noise fixed by
(seed, episode, t). Baselines: the scripted expert (an upper bound), a policy that holds its
start pose, and a replay of the mean demonstrated trajectory.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import numpy as np

from mc_pointflow.sim.collect import MAX_EPISODES, episode_seed
from mc_pointflow.sim.env import Frame, TabletopEnv
from mc_pointflow.sim.scene import GRASP_TOLERANCE, is_open

ROW_COLUMNS = ["episode", "scene_seed", "success", "steps", "final_dist_m", "min_dist_m", "grasp_attempts",
               "queries", "seconds"]


class RolloutPolicy(Protocol):
    name: str

    def act(self, env: TabletopEnv, frame: Frame, states: list[np.ndarray], episode: int) -> np.ndarray:
        """Poses (k, 10) to execute next, given the env after `len(states) - 1` executed steps."""


def _ahead(traj: np.ndarray, t: int, k: int) -> np.ndarray:
    """Rows t+1 .. t+k of a trajectory, the last row repeated past its end."""
    idx = np.minimum(np.arange(t + 1, t + 1 + k), len(traj) - 1)
    return traj[idx]


class ExpertPolicy:
    """The scripted demo's trajectory of this scene, indexed by the elapsed steps."""

    name = "expert"

    def __init__(self, horizon: int = 16):
        self.horizon = horizon

    def act(self, env, frame, states, episode):
        return _ahead(env.expert_states, env.t, self.horizon)


class HoldPolicy:
    """Does not move: repeats the current pose (the gripper stays open)."""

    name = "hold"

    def __init__(self, horizon: int = 16):
        self.horizon = horizon

    def act(self, env, frame, states, episode):
        return np.repeat(env.state[None], self.horizon, axis=0)


class MeanDemoPolicy:
    """Replays the mean of demonstrated trajectories, blind to the scene: positions and 6D
    rotations averaged per timestep over the first T steps of every demo (T = the shortest demo;
    rotations re-orthonormalised), gripper closed where most demos have closed it."""

    name = "mean-demo"

    def __init__(self, trajectory: np.ndarray, horizon: int = 16):
        self.trajectory, self.horizon = trajectory, horizon

    @classmethod
    def from_buffer(cls, path, horizon: int = 16) -> MeanDemoPolicy:
        from mc_core.errors import BadInputError
        from mc_pointflow.data.replay_buffer import ReplayBuffer
        from mc_pointflow.rotation import project_rot6d

        buf = ReplayBuffer.open(path)
        if "robot_state" not in buf or buf.n_episodes == 0:
            raise BadInputError(buf.location, "needs episodes with data/robot_state for the mean demo")
        states = np.asarray(buf["robot_state"][: buf.n_steps], dtype=np.float64)
        if states.shape[-1] != 10:
            raise BadInputError(buf.location, f"data/robot_state has {states.shape[-1]} values per timestep, not 10")
        ends = buf.episode_ends
        n = int(buf.episode_lengths.min())
        eps = np.stack([states[e - length:e - length + n] for e, length in zip(ends, buf.episode_lengths)])
        mean = eps.mean(0)
        mean[:, 3:9] = project_rot6d(mean[:, 3:9])
        mean[:, 9] = (mean[:, 9] >= 0.5).astype(np.float64)
        return cls(mean.astype(np.float32), horizon)

    def act(self, env, frame, states, episode):
        return _ahead(self.trajectory, env.t, self.horizon)


class FlowPolicy:
    """A trained `pointflow-policy`: observation as in training, one chunk sampled per query."""

    name = "pointflow-policy"

    def __init__(self, model, n_points: int, *, euler_steps: int = 10, seed: int = 0, device: Any = "cpu"):
        self.model, self.n_points = model.eval(), int(n_points)
        self.euler_steps, self.seed, self.device = int(euler_steps), int(seed), device

    def observation(self, frame: Frame, states: list[np.ndarray], episode: int, n_points: int):
        """(points (n_points, 3), robot-state history (n_obs_steps, 10)) of the current step."""
        from mc_pointflow.data.attention_dataset import history_steps
        from mc_pointflow.masks import sample_point_indices

        t = len(states) - 1
        idx = sample_point_indices(frame.pcd.shape[0], n_points, episode, t)
        hist = np.stack([states[h] for h in history_steps(t, self.model.config.n_obs_steps)])
        return frame.pcd[idx].astype(np.float32), hist.astype(np.float32)

    def act(self, env, frame, states, episode):
        import torch

        from mc_pointflow.evaluate import mix_seed

        pcd, hist = self.observation(frame, states, episode, self.n_points)
        cfg = self.model.config
        g = torch.Generator().manual_seed(mix_seed(self.seed, episode, len(states) - 1, 13))
        noise = torch.randn(1, cfg.horizon, cfg.action_dim, generator=g)
        with torch.no_grad():
            chunk, _ = self.model.sample(torch.from_numpy(pcd)[None].to(self.device),
                                         torch.from_numpy(hist)[None].to(self.device),
                                         steps=self.euler_steps, noise=noise)
        return chunk[0].cpu().numpy()


def rollout_episode(env: TabletopEnv, policy: RolloutPolicy, *, scene_seed: int, episode: int, max_steps: int,
                    execute_steps: int, keep_frames: bool = False) -> tuple[dict, list[dict]]:
    """(row, frames): one closed-loop episode; frames (segmentation images, state, distance per
    step) only with `keep_frames`."""
    t0 = time.perf_counter()
    frame = env.reset(scene_seed)
    states = [env.state.copy()]
    frames: list[dict] = []

    def keep(fr: Frame) -> None:
        if keep_frames:
            frames.append({"segmentation": fr.segmentation, "state": env.state.copy(),
                           "dist": env.distance_to_grasp(), "t": env.t})

    keep(frame)
    success, attempts, queries = False, 0, 0
    min_dist = env.distance_to_grasp()
    while env.t < max_steps and not success:
        poses = np.asarray(policy.act(env, frame, states, episode))[:execute_steps]
        queries += 1
        if len(poses) == 0:
            raise ValueError(f"policy {policy.name} returned no poses")
        for pose in poses:
            was_open = is_open(env.state)
            frame, success = env.step(pose)
            attempts += int(was_open and not is_open(env.state))
            states.append(env.state.copy())
            min_dist = min(min_dist, env.distance_to_grasp())
            keep(frame)
            if success or env.t >= max_steps:
                break
    row = {"episode": episode, "scene_seed": scene_seed, "success": bool(success), "steps": env.t,
           "final_dist_m": env.distance_to_grasp(), "min_dist_m": min_dist, "grasp_attempts": attempts,
           "queries": queries, "seconds": time.perf_counter() - t0}
    return row, frames


def rollout_seeds(seed: int, episodes: int) -> list[int]:
    """Held-out scene seeds of episodes 0..episodes-1 (disjoint from every demo's)."""
    if not 1 <= episodes <= MAX_EPISODES:
        raise ValueError(f"episodes must be 1..{MAX_EPISODES}")
    return [episode_seed(seed, "rollout", i) for i in range(episodes)]


def run_rollouts(env: TabletopEnv, policy: RolloutPolicy, *, episodes: int, seed: int = 0, max_steps: int = 80,
                 execute_steps: int = 8, keep_frames_of: int = 0, progress=None) -> tuple[list[dict], dict, list]:
    """(rows, summary, frames of the first `keep_frames_of` episodes) over `episodes` held-out scenes."""
    if max_steps < 1 or execute_steps < 1:
        raise ValueError("max_steps and execute_steps must be >= 1")
    seeds = rollout_seeds(seed, episodes)
    it = progress(list(enumerate(seeds)), desc=f"rollout {policy.name}", total=episodes, unit="episode") \
        if progress else enumerate(seeds)
    rows, all_frames = [], []
    for i, s in it:
        row, frames = rollout_episode(env, policy, scene_seed=s, episode=i, max_steps=max_steps,
                                      execute_steps=execute_steps, keep_frames=i < keep_frames_of)
        rows.append(row)
        if frames:
            all_frames.append(frames)
        if progress and hasattr(it, "set_postfix"):
            it.set_postfix(success=f"{sum(r['success'] for r in rows)}/{len(rows)}")
    return rows, summarize(rows), all_frames


def summarize(rows: list[dict]) -> dict:
    from mc_pointflow.metrics import wilson_interval

    n = len(rows)
    k = sum(bool(r["success"]) for r in rows)
    lo, hi = wilson_interval(k, n)
    final = np.array([r["final_dist_m"] for r in rows], dtype=np.float64)
    mins = np.array([r["min_dist_m"] for r in rows], dtype=np.float64)
    ok_steps = [r["steps"] for r in rows if r["success"]]
    return {"episodes": n, "successes": k, "success_rate": k / n if n else float("nan"),
            "success_rate_wilson95": [lo, hi],
            "final_dist_m_mean": float(final.mean()) if n else float("nan"),
            "final_dist_m_median": float(np.median(final)) if n else float("nan"),
            "min_dist_m_mean": float(mins.mean()) if n else float("nan"),
            "steps_to_success_mean": float(np.mean(ok_steps)) if ok_steps else None,
            "grasp_attempts_mean": float(np.mean([r["grasp_attempts"] for r in rows])) if n else float("nan"),
            "seconds": float(sum(r["seconds"] for r in rows)), "tolerance_m": GRASP_TOLERANCE}


def write_gif(path, frames: list[dict], *, title: str = "", fps: float = 5.0) -> None:
    """An animated GIF (atomically) of one episode: the cameras' segmentation images side by side,
    with the step, gripper state and distance to the grasp pose."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.animation import PillowWriter

    from mc_core.atomic import atomic_path
    from mc_pointflow.sim.scene import FLOOR_ID, GRIPPER_ID, TABLE_ID

    fixed = {0: (0.0, 0.0, 0.0), TABLE_ID: (0.8, 0.8, 0.78), FLOOR_ID: (0.45, 0.45, 0.45),
             GRIPPER_ID: (0.9, 0.1, 0.1)}

    def picture(seg: np.ndarray) -> np.ndarray:
        # a fixed colour per object id (tab20); background, table, floor and gripper set apart
        rgb = plt.get_cmap("tab20")((seg % 20) / 19.0)[..., :3]
        for i, c in fixed.items():
            rgb[seg == i] = c
        return np.concatenate(list(rgb), axis=1)

    first = picture(frames[0]["segmentation"])
    fig, ax = plt.subplots(figsize=(2.2 * frames[0]["segmentation"].shape[0], 2.6), dpi=80)
    im = ax.imshow(first, interpolation="nearest")
    ax.set_axis_off()
    writer = PillowWriter(fps=fps)
    with atomic_path(path) as tmp, writer.saving(fig, str(tmp), dpi=80):
        for f in frames:
            im.set_data(picture(f["segmentation"]))
            grip = "open" if is_open(f["state"]) else "closed"
            ax.set_title(f"{title} step {f['t']}  gripper {grip}  {100 * f['dist']:.1f} cm to grasp",
                         fontsize=8)
            writer.grab_frame()
    plt.close(fig)


def wilson_text(summary: dict) -> str:
    lo, hi = summary["success_rate_wilson95"]
    return (f"{summary['successes']}/{summary['episodes']} = {summary['success_rate']:.3f} "
            f"(Wilson 95% {lo:.3f}-{hi:.3f})")
