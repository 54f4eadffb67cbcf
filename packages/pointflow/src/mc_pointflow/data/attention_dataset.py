"""`pointflow-attention`: point clouds, robot-state history, action horizon and attention masks.

One item per timestep of the buffer. The point cloud is the `n_points` stored points picked by the
indices fixed at preprocessing (`data/attention_point_indices`) and the mask is read from
`data/attention_masks`. For episodes without precomputed masks the indices are drawn with the same
seed (`episode_idx * 1000 + timestep`) and the mask is computed on the fly by the same code as the
preprocessing, so both paths give identical items; a warning says so once per process.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from mc_core.errors import BadInputError, UsageError
from mc_pointflow.data.replay_buffer import ReplayBuffer, RowReader
from mc_pointflow.masks import (
    CLOUD_KEY,
    INDICES_KEY,
    MASKS_KEY,
    STATE_KEY,
    MaskConfig,
    episode_frames,
    needed_timesteps,
    sample_point_indices,
    timestep_mask,
)
from mc_pointflow.preprocess import check_buffer, done_flags, stored_config

_warned_on_the_fly = False


def _warn_on_the_fly(location: str) -> None:
    global _warned_on_the_fly
    if not _warned_on_the_fly:
        _warned_on_the_fly = True
        warnings.warn(f"{location}: no preprocessed attention masks found; generating them on the fly (slow). "
                      "Run `mc pointflow preprocess-masks` first.", RuntimeWarning, stacklevel=3)


def history_steps(t: int, n_obs_steps: int) -> list[int]:
    """Timesteps of the robot-state history of timestep t, oldest first; the first state repeats
    before the episode start (a rollout builds its observations with the same rule)."""
    return [max(t - k, 0) for k in range(n_obs_steps - 1, -1, -1)]


class PointFlowAttentionDataset:
    """A torch-style map dataset over a replay buffer with segmentation (torch is only needed for tensors).

    Items: `pcd` (n_points, 3) float32, `robot_state` (n_obs_steps, 10) history (the first state
    repeated before the episode start), `action` (horizon, A) from timestep t on (the last repeated
    after the episode end), `attention_mask` (n_points,) float32, plus `episode` and `timestep`.
    """

    def __init__(self, path: str | Path, *, mask_config: MaskConfig | None = None, n_obs_steps: int = 2,
                 horizon: int = 16, action_key: str = "action", use_precomputed: bool = True,
                 as_tensors: bool = True, episodes: list[int] | None = None):
        self.buf = ReplayBuffer.open(path, mode="r")
        stored = stored_config(self.buf)
        if mask_config is None:
            if not isinstance(stored, MaskConfig):
                raise UsageError(f"{self.buf.location}: no preprocessed masks; give a mask_config "
                                 "(object ids, thresholds) to compute them on the fly")
            mask_config = stored
        self.config = mask_config
        if n_obs_steps < 1 or horizon < 1:
            raise UsageError("n_obs_steps and horizon must be >= 1")
        self.n_obs_steps, self.horizon = n_obs_steps, horizon
        for key in (CLOUD_KEY, STATE_KEY):
            if key not in self.buf:
                raise BadInputError(self.buf.location, f"missing key data/{key}")
        self.action_key = action_key if action_key in self.buf else STATE_KEY
        self.done = done_flags(self.buf) if (use_precomputed and stored == mask_config) else \
            np.zeros(self.buf.n_episodes, dtype=bool)
        if not self.done.all():
            check_buffer(self.buf, mask_config, scan_ids=False)
        if stored is not None and stored != mask_config and use_precomputed:
            warnings.warn(f"{self.buf.location}: stored masks were made with other settings; ignoring them",
                          RuntimeWarning, stacklevel=2)
        self.as_tensors = as_tensors
        ends = self.buf.episode_ends
        starts = np.concatenate([[0], ends[:-1]])
        eps = range(self.buf.n_episodes) if episodes is None else episodes
        self.index = [(e, int(starts[e]), int(ends[e] - starts[e]), t) for e in eps for t in range(int(ends[e] - starts[e]))]
        self._readers: dict[str, RowReader] = {}
        self._states = np.asarray(self.buf[STATE_KEY][: self.buf.n_steps])
        self._actions = np.asarray(self.buf[self.action_key][: self.buf.n_steps])

    def _reader(self, key: str) -> RowReader:
        reader = self._readers.get(key)
        if reader is None:
            reader = self._readers[key] = RowReader(self.buf, key)
        return reader

    def _row(self, key: str, g: int) -> np.ndarray:
        return self._reader(key)(g)

    def _rows(self, key: str, start: int, stop: int) -> np.ndarray:
        return self._reader(key).rows(start, stop)

    @property
    def precomputed(self) -> bool:
        return bool(self.done.all())

    def __len__(self) -> int:
        return len(self.index)

    def _mask_on_the_fly(self, e: int, start: int, T: int, t: int, points: np.ndarray) -> np.ndarray:
        _warn_on_the_fly(self.buf.location)
        need = needed_timesteps(t, T, self.config)
        lo, hi = min(need), max(need) + 1
        cams = self._rows("camera_point_clouds", start + lo, start + hi)
        seg = self._rows("segmentation_masks", start + lo, start + hi)
        # velocity at u needs u+1 (or u-1 at the end): give the states of the whole episode
        states = self._states[start:start + T]
        frames = episode_frames(cams, seg, states, self.config, need, offset=lo)
        return timestep_mask(points, t, T, frames, self.config)

    def __getitem__(self, i: int) -> dict:
        e, start, T, t = self.index[i]
        g = start + t
        cloud = self._row(CLOUD_KEY, g)
        if self.done[e]:
            idx = self._row(INDICES_KEY, g).astype(np.int64)
            mask = self._row(MASKS_KEY, g).astype(np.float32, copy=False)
            points = cloud[idx]
        else:
            idx = sample_point_indices(cloud.shape[0], self.config.n_points, e, t)
            points = cloud[idx]
            mask = self._mask_on_the_fly(e, start, T, t, points)
        hist = [start + min(h, T - 1) for h in history_steps(t, self.n_obs_steps)]
        fut = [start + min(t + k, T - 1) for k in range(self.horizon)]
        item = {
            "pcd": points.astype(np.float32),
            "robot_state": self._states[hist].astype(np.float32),
            "action": self._actions[fut].astype(np.float32),
            "attention_mask": mask,
            "episode": e,
            "timestep": t,
        }
        if self.as_tensors:
            import torch

            for k in ("pcd", "robot_state", "action", "attention_mask"):
                item[k] = torch.from_numpy(np.ascontiguousarray(item[k]))
        return item


_TORCH_CLASS = None


def _torch_dataset_class():
    """`PointFlowAttentionDataset` that is also a `torch.utils.data.Dataset` (torch imported lazily)."""
    global _TORCH_CLASS
    if _TORCH_CLASS is None:
        import torch.utils.data

        class PointFlowAttentionTorchDataset(PointFlowAttentionDataset, torch.utils.data.Dataset):
            pass

        PointFlowAttentionTorchDataset.__qualname__ = "PointFlowAttentionTorchDataset"
        _TORCH_CLASS = PointFlowAttentionTorchDataset
    return _TORCH_CLASS


def __getattr__(name: str):
    # lets pickle find the lazily made class (DataLoader workers started with "spawn")
    if name == "PointFlowAttentionTorchDataset":
        return _torch_dataset_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def make_dataset(path: str | Path, **kwargs) -> PointFlowAttentionDataset:
    """The registered factory: a `torch.utils.data.Dataset` subclass instance."""
    return _torch_dataset_class()(path, **kwargs)
