"""Write scripted demos with segmentation into `<out-dir>/<split>_segmented` (restartable)."""

from __future__ import annotations

from pathlib import Path

from mc_pointflow.data.replay_buffer import ReplayBuffer
from mc_pointflow.sim.env import simulate_episode

# Scene seeds: seed * 1_000_003 + the split's offset + the episode index. With fewer than
# MAX_EPISODES episodes per split the ranges of all splits and all seeds are disjoint, so rollouts
# ("rollout") never meet a scene that a train or valid demo of any --seed was recorded in.
SPLIT_OFFSET = {"train": 0, "valid": 500_000, "rollout": 750_000}
MAX_EPISODES = 250_000


def episode_seed(seed: int, split: str, episode_idx: int) -> int:
    if not 0 <= int(episode_idx) < MAX_EPISODES:
        raise ValueError(f"episode index {episode_idx} outside 0..{MAX_EPISODES - 1}")
    return int(seed) * 1_000_003 + SPLIT_OFFSET[split] + int(episode_idx)


def demo_settings(buf: ReplayBuffer) -> dict | None:
    """How the demos of a buffer written by `collect_demos` were made (task, seed, camera image
    size and count, stored cloud points, episode length), so that a rollout renders observations
    like them; None when the buffer does not say (not written by collect-demos)."""
    attrs = buf.attrs
    cams = attrs.get("cameras") or []
    lengths = buf.episode_lengths if buf.n_episodes else []
    if (not cams or attrs.get("task") is None or "pcd_xyz" not in buf
            or any(c.get("height") != cams[0].get("height") or c.get("width") != c.get("height") for c in cams)):
        return None
    return {"task": attrs["task"], "seed": attrs.get("seed"), "image_size": int(cams[0]["height"]),
            "n_cams": len(cams), "cloud_points": int(buf["pcd_xyz"].shape[1]),
            "episode_steps": int(lengths[0]) if len(set(map(int, lengths))) == 1 else None,
            "noise": float(attrs.get("noise", 0.0))}


def collect_demos(task: str, episodes: int, split: str, out_dir: str | Path, *, seed: int = 0, steps: int = 40,
                  image_size: int = 64, n_cams: int = 5, n_points: int = 5500, zarr_format: int = 2,
                  compressor: str = "lz4", noise: float = 0.0, progress=None) -> ReplayBuffer:
    """Append episodes until the buffer holds `episodes`; a rerun after a crash continues.

    `noise` > 0 records DART-style demos (`simulate_episode`: the gripper drifts off the expert's
    path by about `noise` metres, the actions are the expert's); a buffer holds one noise level."""
    from mc_core.errors import BadInputError
    from mc_pointflow.limits import MAX_CLOUD_POINTS, MAX_EPISODE_STEPS, MAX_IMAGE_SIZE, check_at_most
    from mc_pointflow.tasks import canonical_task

    task = canonical_task(task)
    check_at_most("episodes", episodes, MAX_EPISODES)
    check_at_most("image_size", image_size, MAX_IMAGE_SIZE)
    check_at_most("n_points", n_points, MAX_CLOUD_POINTS)
    check_at_most("steps", steps, MAX_EPISODE_STEPS)
    if noise < 0:
        raise ValueError("noise must be >= 0")
    path = Path(out_dir) / f"{split}_segmented"
    buf = ReplayBuffer.open_or_create(path, zarr_format=zarr_format)
    if buf.n_episodes and buf.attrs.get("task") not in (None, task):
        raise BadInputError(path, f"holds demos of task {buf.attrs.get('task')!r}, not {task!r}")
    had = float(buf.attrs.get("noise", 0.0))
    if buf.n_episodes and had != float(noise):
        raise BadInputError(path, f"holds demos recorded with noise {had:g}, not {float(noise):g}")
    if buf.n_episodes:
        # continuing a buffer: its episodes must be made the same way (else seeds, renders or
        # lengths would differ within one buffer while its attrs describe only the last run)
        made = demo_settings(buf) or {}
        want = {"seed": int(seed), "image_size": int(image_size), "n_cams": int(n_cams),
                "cloud_points": int(n_points), "episode_steps": int(steps)}
        flags = {"seed": "seed", "image_size": "image_size", "n_cams": "n_cams", "cloud_points": "n_points",
                 "episode_steps": "steps"}
        diff = [f"{flags[k]} {made[k]} (not {v})" for k, v in want.items() if made.get(k) is not None and made[k] != v]
        if diff:
            raise BadInputError(path, f"holds {buf.n_episodes} episodes made with {', '.join(diff)}; continue it with "
                                      "the same settings or choose another out_dir")
    todo = range(buf.n_episodes, episodes)
    it = progress(todo, desc=f"{task} {split}", total=len(todo)) if progress else todo
    names: dict[str, str] = dict(buf.attrs.get("object_names", {}))
    hw = image_size * image_size
    chunks = {
        "camera_point_clouds": (1, n_cams, hw, 3),
        "segmentation_masks": (1, n_cams, image_size, image_size),
        "depth": (1, n_cams, image_size, image_size),
        "pcd_xyz": (1, n_points, 3),
        "robot_state": (1024, 10),
        "action": (1024, 10),
    }
    for e in it:
        arrays, meta = simulate_episode(task, episode_seed(seed, split, e), steps=steps, image_size=image_size,
                                        n_cams=n_cams, n_points=n_points, noise=noise)
        buf.add_episode(arrays, chunks=chunks, compressor=compressor)
        names.update(meta["object_names"])
        buf.attrs.update({
            "task": task, "split": split, "object_names": dict(sorted(names.items(), key=lambda kv: int(kv[0]))),
            "cameras": meta["cameras"], "source": "mc pointflow collect-demos (scripted synthetic scene)",
            "seed": int(seed), "noise": float(noise),
        })
    return buf
