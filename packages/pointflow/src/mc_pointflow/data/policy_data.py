"""Items of the `pointflow-attention` dataset held in memory as stacked arrays, for training and eval.

Training draws random batches thousands of times; reading every item once through the dataset
(precomputed masks first, the on-the-fly fallback otherwise, with the dataset's one-time warning)
and stacking them costs one pass over the buffer and makes every later batch a numpy fancy index.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mc_core.errors import BadInputError
from mc_pointflow.masks import CLOUD_KEY, INDICES_KEY, MASKS_KEY, STATE_KEY, MaskConfig

ITEM_KEYS = ("pcd", "robot_state", "action", "attention_mask")


@dataclass
class PolicyArrays:
    pcd: np.ndarray             # (M, N, 3) float32
    robot_state: np.ndarray     # (M, n_obs, S)
    action: np.ndarray          # (M, H, A)
    attention_mask: np.ndarray  # (M, N)
    episode: np.ndarray         # (M,)
    timestep: np.ndarray        # (M,)
    location: str
    mask_config: MaskConfig
    precomputed: bool

    def __len__(self) -> int:
        return self.pcd.shape[0]

    def batch(self, idx, device="cpu") -> dict:
        import torch

        return {k: torch.from_numpy(np.ascontiguousarray(getattr(self, k)[idx])).to(device) for k in ITEM_KEYS}

    def stats(self, relative_xyz: bool = True) -> dict[str, np.ndarray]:
        """Normalisation statistics: per-dimension mean/std of actions (positions relative to the
        current gripper position with `relative_xyz`) and states (std at least 0.01, so a constant
        dimension is not blown up), centre and one scale of the points."""
        a = self.action.astype(np.float64)
        if relative_xyz:
            a = np.concatenate([a[..., :3] - self.robot_state[:, -1:, :3], a[..., 3:]], axis=-1)
        a = a.reshape(-1, a.shape[-1])
        s = self.robot_state.reshape(-1, self.robot_state.shape[-1]).astype(np.float64)
        p = self.pcd.reshape(-1, 3).astype(np.float64)
        center = p.mean(0)
        return {"action_mean": a.mean(0), "action_std": np.maximum(a.std(0), 0.01),
                "state_mean": s.mean(0), "state_std": np.maximum(s.std(0), 0.01),
                "point_center": center, "point_scale": np.float64(max(np.abs(p - center).std(), 1e-3))}


def load_policy_arrays(path: str | Path, *, n_obs_steps: int, horizon: int, mask_config: MaskConfig | None = None,
                       episodes: list[int] | None = None, progress=None) -> PolicyArrays:
    """Every item of the buffer at `path` (or of the listed episodes), stacked."""
    from mc_pointflow.data.attention_dataset import PointFlowAttentionDataset

    ds = PointFlowAttentionDataset(path, mask_config=mask_config, n_obs_steps=n_obs_steps, horizon=horizon,
                                   as_tensors=False, episodes=episodes)
    if len(ds) == 0:
        raise BadInputError(ds.buf.location, "the buffer holds no timesteps to train on")
    rng = range(len(ds))
    it = progress(rng, desc="load items", total=len(ds), unit="item") if progress else rng
    items = [ds[i] for i in it]
    stack = {k: np.stack([it_[k] for it_ in items]) for k in ITEM_KEYS}
    if stack["action"].shape[-1] != 10:
        raise BadInputError(ds.buf.location, f"data/{ds.action_key} has {stack['action'].shape[-1]} values per "
                                             "timestep; the policy needs 10 (xyz, rot6d, gripper)")
    for k in ITEM_KEYS:
        if not np.all(np.isfinite(stack[k])):
            raise BadInputError(ds.buf.location, f"{k}: non-finite values (NaN or inf) in the data")
    return PolicyArrays(**{k: stack[k].astype(np.float32, copy=False) for k in ITEM_KEYS},
                        episode=np.array([x["episode"] for x in items]),
                        timestep=np.array([x["timestep"] for x in items]),
                        location=ds.buf.location, mask_config=ds.config, precomputed=ds.precomputed)


def data_hash(path: str | Path) -> str:
    """SHA-256 over the files training reads: clouds, states, actions, masks, point indices and the
    episode ends (the camera images and segmentation are left out: they are large and only reach
    training through the masks)."""
    from mc_core.checkpoint import fingerprint_files

    root = Path(path)
    if not root.is_dir():
        raise BadInputError(root, "not a replay buffer directory")
    files = []
    for sub in [f"data/{k}" for k in (CLOUD_KEY, STATE_KEY, "action", MASKS_KEY, INDICES_KEY)] + ["meta/episode_ends"]:
        d = root / sub
        if d.is_dir():
            files += [p for p in d.rglob("*") if p.is_file()]
    return fingerprint_files(files, root=root)
