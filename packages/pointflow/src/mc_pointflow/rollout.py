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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mc_pointflow.interface import Policy
from mc_pointflow.sim.collect import MAX_EPISODES, episode_seed
from mc_pointflow.sim.env import Frame, TabletopEnv
from mc_pointflow.sim.scene import GRASP_TOLERANCE, is_open

ROW_COLUMNS = ["episode", "scene_seed", "success", "steps", "final_dist_m", "min_dist_m", "grasp_attempts",
               "queries", "seconds"]


RolloutPolicy = Policy  # the name this module used before the Protocol moved to mc_pointflow.interface

BASELINES = ("expert", "hold", "mean-demo")  # registered models (task "pointflow") that need no training
DEFAULT_SIM = {"image_size": 64, "n_cams": 5, "cloud_points": 5500, "demo_steps": 40}  # collect-demos' defaults


def _ahead(traj: np.ndarray, t: int, k: int) -> np.ndarray:
    """Rows t+1 .. t+k of a trajectory, the last row repeated past its end."""
    idx = np.minimum(np.arange(t + 1, t + 1 + k), len(traj) - 1)
    return traj[idx]


class ExpertPolicy:
    """The scripted demo's trajectory of this scene, indexed by the elapsed steps."""

    name = "expert"

    def __init__(self, horizon: int = 16):
        self.horizon = _positive(horizon, "horizon")

    @classmethod
    def from_config(cls, config: dict) -> ExpertPolicy:
        return cls(int(config.get("horizon", 16)))

    def act(self, env, frame, states, episode):
        return _ahead(env.expert_states, env.t, self.horizon)


class HoldPolicy:
    """Does not move: repeats the current pose (the gripper stays open)."""

    name = "hold"

    def __init__(self, horizon: int = 16):
        self.horizon = _positive(horizon, "horizon")

    @classmethod
    def from_config(cls, config: dict) -> HoldPolicy:
        return cls(int(config.get("horizon", 16)))

    def act(self, env, frame, states, episode):
        return np.repeat(env.state[None], self.horizon, axis=0)


class MeanDemoPolicy:
    """Replays the mean of demonstrated trajectories, blind to the scene: positions and 6D
    rotations averaged per timestep over the first T steps of every demo (T = the shortest demo;
    rotations re-orthonormalised), gripper closed where most demos have closed it."""

    name = "mean-demo"

    def __init__(self, trajectory: np.ndarray, horizon: int = 16):
        self.trajectory, self.horizon = trajectory, _positive(horizon, "horizon")

    @classmethod
    def from_config(cls, config: dict) -> MeanDemoPolicy:
        """``{"buffer": PATH, "horizon": K}``: the mean trajectory of the demos in the buffer."""
        if not config.get("buffer"):
            raise ValueError("mean-demo needs buffer (the demo replay buffer to average)")
        return cls.from_buffer(config["buffer"], int(config.get("horizon", 16)))

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


def _positive(value: int, name: str) -> int:
    if int(value) < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


def FlowPolicy(model, n_points: int | None = None, *, euler_steps: int = 10, seed: int = 0, device: Any = None):
    """A trained `pointflow-policy` set up for rollouts (points per observation, Euler steps,
    noise seed); the model itself implements :class:`~mc_pointflow.interface.Policy`."""
    if n_points:
        model.n_points = int(n_points)
    model.euler_steps, model.seed = int(euler_steps), int(seed)
    return (model.to(device) if device is not None else model).eval()


def make_policy(name: str, *, horizon: int = 8, buffer: str | Path | None = None) -> Policy:
    """Build registered policy `name` (any model registered for the pointflow commands) from
    ``{"horizon": horizon, "buffer": buffer}`` (buffer only when given), checked to offer Policy."""
    from mc_core.errors import UsageError
    from mc_core.factory import create_model, model_entry

    entry = model_entry(name, task="pointflow")
    if getattr(entry.load(), "needs_checkpoint", False):
        raise UsageError(f"policy {name!r} must be trained: give checkpoint (a run's checkpoints/final)")
    config: dict[str, Any] = {"horizon": int(horizon)}
    if buffer:
        config["buffer"] = str(buffer)
    return create_model(name, config, task="pointflow", protocol=Policy)


def rollout_settings(recorded: dict | None, source, task: str | None, overrides: dict, needed: bool) -> dict:
    """Task and rendering settings of a rollout: `overrides` (image_size, n_cams, cloud_points,
    demo_steps; None = not given) over what the demos `recorded` (`sim.collect.demo_settings`).
    Without a record, a trained policy (`needed`) must be given them all; a baseline takes
    collect-demos' defaults. `source` (a checkpoint or buffer) is named in errors."""
    from mc_core.errors import BadInputError, UsageError
    from mc_pointflow.tasks import canonical_task

    task = canonical_task(task) if task else None
    rec = dict(recorded or {})
    if "episode_steps" in rec:
        rec["demo_steps"] = rec.pop("episode_steps")
    if task and rec.get("task") and rec["task"] != task:
        raise BadInputError(source, f"made from {rec['task']!r} demos, not {task!r}")
    out = {k: overrides.get(k) if overrides.get(k) is not None else rec.get(k) for k in DEFAULT_SIM}
    missing = [k for k, v in out.items() if v is None]
    if missing and needed:
        raise BadInputError(source, f"no record of how its demos were rendered; give {', '.join(missing)}")
    out = {k: (DEFAULT_SIM[k] if v is None else int(v)) for k, v in out.items()}
    out["task"] = task or rec.get("task")
    if not out["task"]:
        raise UsageError("give task (the sim's task)")
    out["demo_seed"] = rec.get("seed")
    return out


def gif_paths(path: str | Path, n: int) -> list[Path]:
    """The GIF files of `n` animated episodes: `path` itself for one, NAME_ep<i>.gif for more."""
    p = Path(path)
    return [p] if n == 1 else [p.with_name(f"{p.stem}_ep{i}{p.suffix or '.gif'}") for i in range(n)]


def rollout(*, checkpoint: str | Path | None = None, policy: str | None = None, task: str | None = None,
            buffer: str | Path | None = None, episodes: int = 20, max_steps: int | None = None,
            execute_steps: int = 8, euler_steps: int = 10, image_size: int | None = None,
            n_cams: int | None = None, cloud_points: int | None = None, demo_steps: int | None = None,
            seed: int = 0, device: str = "auto", out_csv: str | Path | None = None,
            out_json: str | Path | None = None, save_gif: str | Path | None = None, gif_episodes: int = 1,
            progress: Callable | None = None) -> dict:
    """Closed-loop rollouts of a trained policy (`checkpoint`) or a registered policy (`policy`,
    e.g. a baseline) in held-out scenes of the sim; returns the summary (with "per_episode").

    Writes `out_csv` (per episode), `out_json` (summary and episodes) and `save_gif` (the first
    `gif_episodes` episodes) when given; every output is checked against the inputs first."""
    from mc_core.atomic import write_csv, write_json
    from mc_core.device import resolve_device
    from mc_core.errors import BadInputError, UsageError
    from mc_core.paths import check_outputs
    from mc_pointflow.data.replay_buffer import ReplayBuffer
    from mc_pointflow.sim.collect import demo_settings

    if (checkpoint is None) == (policy is None):
        raise UsageError("give checkpoint or policy (one of them)")
    if episodes < 1 or execute_steps < 1 or euler_steps < 1 or gif_episodes < 1:
        raise UsageError("episodes, execute_steps, euler_steps and gif_episodes must be >= 1")
    from mc_pointflow.limits import MAX_HORIZON, check_at_most

    check_at_most("execute_steps", execute_steps, MAX_HORIZON)
    n_gif = min(gif_episodes, episodes) if save_gif else 0
    gifs = gif_paths(save_gif, n_gif) if n_gif else []
    check_outputs([checkpoint, buffer], [out_csv, out_json, *gifs], not_inside_inputs=True)
    overrides = {"image_size": image_size, "n_cams": n_cams, "cloud_points": cloud_points, "demo_steps": demo_steps}
    dev = resolve_device(device)
    if checkpoint is not None:
        from mc_pointflow.models.flow_policy import load_policy

        pol, ck = load_policy(checkpoint, dev)
        source = ck.path
        recorded = ck.meta.get("demo_settings")
        train_buf = ck.meta.get("train_buffer")
        if recorded is None and train_buf and Path(train_buf).is_dir():
            recorded = demo_settings(ReplayBuffer.open(train_buf))
        extra: dict[str, Any] = {"checkpoint": str(ck.path)}
    else:
        pol = make_policy(policy, horizon=execute_steps, buffer=buffer)
        source = buffer
        recorded = demo_settings(ReplayBuffer.open(buffer)) if buffer else None
        extra = {"baseline": policy} if policy in BASELINES else {"registered_policy": policy}
    settings = rollout_settings(recorded, source, task, overrides, needed=checkpoint is not None)
    n_points = int(getattr(pol, "n_points", 0) or 0)
    if checkpoint is not None and hasattr(pol, "n_points") and n_points < 1:
        raise BadInputError(source, "the checkpoint does not record its points per observation (meta n_points)")
    if n_points > settings["cloud_points"]:
        raise BadInputError(source, f"the policy takes {n_points} points but the cloud has {settings['cloud_points']}")
    horizon = getattr(pol, "horizon", None)
    if checkpoint is not None and horizon is not None and execute_steps > int(horizon):
        raise UsageError(f"execute_steps {execute_steps} exceeds the policy's horizon {horizon}")
    if hasattr(pol, "euler_steps"):
        pol.euler_steps = int(euler_steps)
        extra["euler_steps"] = int(euler_steps)
    if hasattr(pol, "seed"):
        pol.seed = int(seed)
    if n_points:
        extra["n_points"] = n_points
    if checkpoint is not None and horizon is not None:
        extra["horizon"] = int(horizon)
    if max_steps is None:
        max_steps = 2 * settings["demo_steps"]
    from mc_pointflow.limits import MAX_EPISODE_STEPS, MAX_EULER_STEPS, check_at_most

    check_at_most("max_steps", max_steps, MAX_EPISODE_STEPS)
    check_at_most("euler_steps", euler_steps, MAX_EULER_STEPS)
    try:
        env = TabletopEnv(settings["task"], image_size=settings["image_size"], n_cams=settings["n_cams"],
                          n_points=settings["cloud_points"], demo_steps=settings["demo_steps"])
    except ValueError as exc:
        raise UsageError(f"sim settings: {exc}") from None
    rows, summary, frames = run_rollouts(env, pol, episodes=episodes, seed=seed, max_steps=max_steps,
                                         execute_steps=execute_steps, keep_frames_of=n_gif, progress=progress)
    summary.update({"policy": pol.name, **extra, "task": settings["task"], "seed": seed,
                    "max_steps": max_steps, "execute_steps": execute_steps, "sim": settings,
                    "scene_seeds": [rows[0]["scene_seed"], rows[-1]["scene_seed"]]})
    for path, fr in zip(gifs, frames):
        write_gif(path, fr, title=f"{pol.name} ep {gifs.index(path)}")
    if out_csv:
        write_csv(out_csv, rows, ROW_COLUMNS)
    if out_json:
        write_json(out_json, {**summary, "per_episode": rows})
    return {**summary, "per_episode": rows}


def rollout_episode(env: TabletopEnv, policy: Policy, *, scene_seed: int, episode: int, max_steps: int,
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


def run_rollouts(env: TabletopEnv, policy: Policy, *, episodes: int, seed: int = 0, max_steps: int = 80,
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
