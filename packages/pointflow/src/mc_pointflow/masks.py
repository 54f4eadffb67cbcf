"""3D attention masks: which sampled points lie near the task's objects or the gripper.

A point is attended (1.0) when it lies within `distance_threshold` of any point of the listed
objects (taken from the segmented camera point clouds) or within `gripper_radius` of the gripper.
Options: soft attention decaying with distance, temporal smoothing over neighbouring timesteps,
velocity-based attention ahead of the gripper's motion, per-object thresholds (the union over
objects is always taken).

The same functions serve the preprocessing command and the on-the-fly path of the dataset, so both
give identical masks for the same (episode, timestep).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

MASKS_KEY = "attention_masks"
INDICES_KEY = "attention_point_indices"
DONE_KEY = "attention_masks_done"  # meta/<DONE_KEY>: one flag per episode (restart and shards)
SEGMENTATION_KEYS = ("camera_point_clouds", "segmentation_masks")
CLOUD_KEY = "pcd_xyz"
STATE_KEY = "robot_state"


@dataclass(frozen=True)
class MaskConfig:
    """Everything that decides a mask; stored with the masks so they are never reused by mistake."""

    object_ids: tuple[int, ...]
    distance_threshold: float = 0.01
    gripper_radius: float = 0.05
    n_points: int = 4096
    object_thresholds: tuple[float, ...] | None = None  # per object id; default distance_threshold
    soft_sigma: float = 0.0  # > 0: weight exp(-0.5 (excess distance / sigma)^2) instead of a hard 0
    smoothing_window: int = 0  # > 0: average the attention over t-w..t+w (Gaussian weights)
    smoothing_sigma: float = 1.0  # in timesteps
    velocity_horizon: float = 0.0  # > 0: also attend points near the gripper's path for this many steps ahead
    version: int = field(default=1)

    def __post_init__(self):
        floats = {"distance_threshold": self.distance_threshold, "gripper_radius": self.gripper_radius,
                  "soft_sigma": self.soft_sigma, "smoothing_sigma": self.smoothing_sigma,
                  "velocity_horizon": self.velocity_horizon}
        for i, x in enumerate(self.object_thresholds or ()):
            floats[f"object_thresholds[{i}]"] = x
        for name, x in floats.items():
            if isinstance(x, bool) or not isinstance(x, (int, float, np.floating, np.integer)) \
                    or not math.isfinite(float(x)):
                raise ValueError(f"{name} must be a finite number, got {x!r}")
        if not self.object_ids:
            raise ValueError("object_ids must not be empty")
        if self.object_thresholds is not None and len(self.object_thresholds) != len(self.object_ids):
            raise ValueError("object_thresholds needs one value per object id")
        from mc_pointflow.limits import MAX_POINTS, MAX_SMOOTHING_WINDOW

        if self.n_points <= 0 or self.n_points > MAX_POINTS:
            raise ValueError(f"n_points must be 1..{MAX_POINTS}, got {self.n_points}")
        if self.smoothing_window > MAX_SMOOTHING_WINDOW:
            raise ValueError(f"smoothing_window must be at most {MAX_SMOOTHING_WINDOW}")
        if min(self.distance_threshold, self.gripper_radius, self.soft_sigma, self.velocity_horizon) < 0:
            raise ValueError("distances must be non-negative")
        if self.smoothing_window < 0 or self.smoothing_sigma <= 0:
            raise ValueError("smoothing_window must be >= 0 and smoothing_sigma > 0")

    def thresholds(self) -> np.ndarray:
        if self.object_thresholds is None:
            return np.full(len(self.object_ids), self.distance_threshold)
        return np.asarray(self.object_thresholds, dtype=np.float64)

    def to_json(self) -> dict:
        d = asdict(self)
        d["object_ids"] = [int(i) for i in self.object_ids]
        if self.object_thresholds is not None:
            d["object_thresholds"] = [float(x) for x in self.object_thresholds]
        return d

    @classmethod
    def from_json(cls, d: dict) -> MaskConfig:
        d = dict(d)
        d["object_ids"] = tuple(int(i) for i in d["object_ids"])
        if d.get("object_thresholds") is not None:
            d["object_thresholds"] = tuple(float(x) for x in d["object_thresholds"])
        return cls(**d)


def sample_seed(episode_idx: int, timestep: int) -> int:
    """The seed's sampling scheme: `episode_idx * 1000 + timestep` (timestep within the episode)."""
    return int(episode_idx) * 1000 + int(timestep)


def sample_point_indices(n_stored: int, n_points: int, episode_idx: int, timestep: int) -> np.ndarray:
    """Indices of the `n_points` points drawn (without replacement) from a stored cloud of `n_stored`."""
    if n_points > n_stored:
        raise ValueError(f"n_points {n_points} exceeds the {n_stored} stored points")
    rng = np.random.default_rng(sample_seed(episode_idx, timestep))
    return rng.choice(n_stored, size=n_points, replace=False).astype(np.int64)


def index_dtype(n_stored: int):
    return np.uint16 if n_stored <= np.iinfo(np.uint16).max + 1 else np.int32


class FrameTargets:
    """What the points of one timestep are compared against: object points (one KD-tree per
    distinct threshold) and the gripper position and velocity."""

    def __init__(self, cam_points: np.ndarray, seg: np.ndarray, gripper: np.ndarray,
                 velocity: np.ndarray, config: MaskConfig):
        from scipy.spatial import cKDTree

        pts = np.asarray(cam_points).reshape(-1, 3)
        ids = np.asarray(seg).reshape(-1)
        if ids.shape[0] != pts.shape[0]:
            raise ValueError(f"segmentation has {ids.shape[0]} pixels but the camera clouds {pts.shape[0]} points")
        thr = config.thresholds()
        wanted = np.asarray(config.object_ids)
        hit = np.isin(ids, wanted)  # select first, convert only the object points to float64
        obj_pts = pts[hit].astype(np.float64)
        obj_ids = ids[hit]
        self.trees: list[tuple[float, object]] = []
        for t in np.unique(thr):
            sel = np.isin(obj_ids, wanted[thr == t])
            if sel.any():
                self.trees.append((float(t), cKDTree(obj_pts[sel])))
        self.gripper = np.asarray(gripper, dtype=np.float64)
        self.velocity = np.asarray(velocity, dtype=np.float64)


def _soft(excess: np.ndarray, sigma: float) -> np.ndarray:
    return np.exp(-0.5 * (excess / sigma) ** 2)


def _reach(config: MaskConfig) -> float:
    """Distance beyond a threshold at which soft attention is cut to 0."""
    return 3.0 * config.soft_sigma if config.soft_sigma > 0 else 0.0


def frame_attention(points: np.ndarray, frame: FrameTargets, config: MaskConfig) -> np.ndarray:
    """Attention in [0, 1] of `points` (N,3) against one frame's objects and gripper."""
    pts = np.asarray(points, dtype=np.float64)
    out = np.zeros(pts.shape[0], dtype=np.float64)
    reach = _reach(config)
    for thr, tree in frame.trees:
        d, _ = tree.query(pts, k=1, distance_upper_bound=(thr + reach) * (1 + 1e-9) + 1e-12)
        out = np.maximum(out, _weight(d, thr, config))
    if config.gripper_radius <= 0:  # radius 0 switches the gripper terms off
        return out
    # gripper sphere
    dg = np.sqrt(((pts - frame.gripper) ** 2).sum(axis=1))
    out = np.maximum(out, _weight(dg, config.gripper_radius, config))
    # the capsule the gripper sweeps over the next `velocity_horizon` steps
    if config.velocity_horizon > 0:
        seg = frame.velocity * config.velocity_horizon
        L2 = float(seg @ seg)
        if L2 > 1e-12:
            s = np.clip(((pts - frame.gripper) @ seg) / L2, 0.0, 1.0)
            closest = frame.gripper + s[:, None] * seg
            dv = np.sqrt(((pts - closest) ** 2).sum(axis=1))
            out = np.maximum(out, _weight(dv, config.gripper_radius, config))
    return out


def _weight(d: np.ndarray, thr: float, config: MaskConfig) -> np.ndarray:
    hard = (d <= thr).astype(np.float64)
    if config.soft_sigma <= 0:
        return hard
    excess = np.maximum(d - thr, 0.0)
    w = np.where(np.isfinite(d) & (excess <= _reach(config)), _soft(np.where(np.isfinite(d), excess, 0.0),
                                                                   config.soft_sigma), 0.0)
    return np.maximum(hard, w)


def smoothing_weights(t: int, T: int, config: MaskConfig) -> list[tuple[int, float]]:
    """(timestep, weight) pairs averaged for timestep t of an episode of length T (weights sum to 1)."""
    w = config.smoothing_window
    if w <= 0:
        return [(t, 1.0)]
    ts = [u for u in range(t - w, t + w + 1) if 0 <= u < T]
    ws = np.array([np.exp(-0.5 * ((u - t) / config.smoothing_sigma) ** 2) for u in ts])
    ws /= ws.sum()
    return list(zip(ts, ws.tolist()))


def gripper_velocity(states: np.ndarray, t: int) -> np.ndarray:
    """Per-step gripper displacement at t (forward difference; backward at the last step)."""
    T = states.shape[0]
    if T < 2:
        return np.zeros(3)
    if t + 1 < T:
        return states[t + 1, :3].astype(np.float64) - states[t, :3]
    return states[t, :3].astype(np.float64) - states[t - 1, :3]


def episode_frames(cam_points: np.ndarray, seg: np.ndarray, states: np.ndarray, config: MaskConfig,
                   timesteps: Sequence[int], offset: int = 0) -> dict[int, FrameTargets]:
    """FrameTargets for the given timesteps of one episode (`states` whole; `cam_points` and `seg`
    start at timestep `offset` of the episode)."""
    return {t: FrameTargets(cam_points[t - offset], seg[t - offset], states[t, :3], gripper_velocity(states, t),
                            config)
            for t in timesteps}


def timestep_mask(points: np.ndarray, t: int, T: int, frames: dict[int, FrameTargets],
                  config: MaskConfig) -> np.ndarray:
    """The float32 mask of `points` at timestep t (needs frames of t's smoothing window)."""
    acc = np.zeros(points.shape[0], dtype=np.float64)
    for u, w in smoothing_weights(t, T, config):
        acc += w * frame_attention(points, frames[u], config)
    return acc.astype(np.float32)


def needed_timesteps(t: int, T: int, config: MaskConfig) -> list[int]:
    return [u for u, _ in smoothing_weights(t, T, config)]


def episode_masks(episode: dict[str, np.ndarray], episode_idx: int, config: MaskConfig,
                  indices: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(masks (T, n_points) float32, indices (T, n_points)) for a whole episode.

    `episode` holds `camera_point_clouds`, `segmentation_masks`, `pcd_xyz` and `robot_state`.
    """
    cloud = episode[CLOUD_KEY]
    T, n_stored = cloud.shape[0], cloud.shape[1]
    if indices is None:
        indices = np.stack([sample_point_indices(n_stored, config.n_points, episode_idx, t) for t in range(T)])
    frames = episode_frames(episode["camera_point_clouds"], episode["segmentation_masks"],
                            episode[STATE_KEY], config, range(T))
    masks = np.stack([timestep_mask(cloud[t][indices[t]], t, T, frames, config) for t in range(T)])
    return masks, indices


def brute_force_mask(points: np.ndarray, cam_points: np.ndarray, seg: np.ndarray, gripper: np.ndarray,
                     config: MaskConfig, block: int = 512) -> np.ndarray:
    """Reference for hard masks without options: all pairwise distances (slow; for checks and benchmarks)."""
    pts = np.asarray(points, dtype=np.float64)
    cp = np.asarray(cam_points, dtype=np.float64).reshape(-1, 3)
    ids = np.asarray(seg).reshape(-1)
    out = np.zeros(pts.shape[0], dtype=bool)
    for oid, thr in zip(config.object_ids, config.thresholds()):
        obj = cp[ids == oid]
        if obj.shape[0] == 0:
            continue
        for s in range(0, pts.shape[0], block):
            d2 = ((pts[s:s + block, None, :] - obj[None, :, :]) ** 2).sum(-1)
            out[s:s + block] |= (d2 <= thr * thr).any(axis=1)
    if config.gripper_radius > 0:
        out |= ((pts - gripper) ** 2).sum(1) <= config.gripper_radius ** 2
    return out.astype(np.float32)
