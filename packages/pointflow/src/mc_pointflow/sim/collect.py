"""Write scripted demos with segmentation into `<out-dir>/<split>_segmented` (restartable)."""

from __future__ import annotations

from pathlib import Path

from mc_pointflow.data.replay_buffer import ReplayBuffer
from mc_pointflow.sim.scene import simulate_episode

SPLIT_OFFSET = {"train": 0, "valid": 500_000}


def episode_seed(seed: int, split: str, episode_idx: int) -> int:
    return int(seed) * 1_000_003 + SPLIT_OFFSET[split] + int(episode_idx)


def collect_demos(task: str, episodes: int, split: str, out_dir: str | Path, *, seed: int = 0, steps: int = 40,
                  image_size: int = 64, n_cams: int = 5, n_points: int = 5500, zarr_format: int = 2,
                  compressor: str = "lz4", progress=None) -> ReplayBuffer:
    """Append episodes until the buffer holds `episodes`; a rerun after a crash continues."""
    path = Path(out_dir) / f"{split}_segmented"
    buf = ReplayBuffer.open_or_create(path, zarr_format=zarr_format)
    if buf.n_episodes and buf.attrs.get("task") not in (None, task):
        from mc_core.errors import BadInputError

        raise BadInputError(path, f"holds demos of task {buf.attrs.get('task')!r}, not {task!r}")
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
                                        n_cams=n_cams, n_points=n_points)
        buf.add_episode(arrays, chunks=chunks, compressor=compressor)
        names.update(meta["object_names"])
        buf.attrs.update({
            "task": task, "split": split, "object_names": dict(sorted(names.items(), key=lambda kv: int(kv[0]))),
            "cameras": meta["cameras"], "source": "mc pointflow collect-demos (scripted synthetic scene)",
            "seed": int(seed),
        })
    return buf
