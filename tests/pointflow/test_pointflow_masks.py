"""Attention-mask maths: hard masks against a brute-force reference and the advanced options."""

from __future__ import annotations

import numpy as np
import pytest

from mc_pointflow.masks import (
    FrameTargets,
    MaskConfig,
    brute_force_mask,
    episode_masks,
    frame_attention,
    sample_point_indices,
    timestep_mask,
)
from mc_pointflow.sim.env import simulate_episode


@pytest.fixture(scope="module")
def episode():
    arrays, _ = simulate_episode("unplug_charger_like", 11, steps=4, image_size=32, n_cams=3, n_points=600)
    return arrays


def _frame(objects, ids, gripper=(5.0, 5.0, 5.0), velocity=(0.0, 0.0, 0.0), config=None):
    """A frame whose 'camera cloud' is the given object points with the given ids."""
    pts = np.asarray(objects, float).reshape(1, -1, 3)
    seg = np.asarray(ids).reshape(1, 1, -1)
    return FrameTargets(pts, seg, np.asarray(gripper, float), np.asarray(velocity, float), config)


def test_hard_mask_equals_brute_force(episode):
    cfg = MaskConfig(object_ids=(31, 34, 35, 92), distance_threshold=0.03, gripper_radius=0.05, n_points=500)
    masks, idx = episode_masks(episode, 7, cfg)
    assert masks.shape == (4, 500) and masks.dtype == np.float32
    for t in range(4):
        pts = episode["pcd_xyz"][t][idx[t]]
        ref = brute_force_mask(pts, episode["camera_point_clouds"][t], episode["segmentation_masks"][t],
                               episode["robot_state"][t, :3], cfg)
        np.testing.assert_array_equal(masks[t], ref)
    assert 0 < masks.mean() < 0.5  # some but not all points are attended


def test_sampling_uses_episode_times_1000_plus_t():
    a = sample_point_indices(5500, 4096, 3, 7)
    rng = np.random.default_rng(3 * 1000 + 7)
    np.testing.assert_array_equal(a, rng.choice(5500, size=4096, replace=False))
    assert len(np.unique(a)) == 4096
    assert not np.array_equal(a, sample_point_indices(5500, 4096, 3, 8))
    with pytest.raises(ValueError):
        sample_point_indices(100, 101, 0, 0)


def test_union_over_objects_and_per_object_thresholds(episode):
    t, ids = 1, (31, 92)
    pts = episode["pcd_xyz"][t][:400]
    args = (episode["camera_point_clouds"], episode["segmentation_masks"], episode["robot_state"])

    def mask(cfg):
        from mc_pointflow.masks import episode_frames

        frames = episode_frames(*args, cfg, [t])
        return timestep_mask(pts, t, 4, frames, cfg)

    both = mask(MaskConfig(object_ids=ids, distance_threshold=0.03, gripper_radius=0.0))
    a = mask(MaskConfig(object_ids=ids[:1], distance_threshold=0.03, gripper_radius=0.0))
    b = mask(MaskConfig(object_ids=ids[1:], distance_threshold=0.03, gripper_radius=0.0))
    np.testing.assert_array_equal(both, np.maximum(a, b))
    assert a.sum() > 0 and b.sum() > 0 and both.sum() > max(a.sum(), b.sum())
    # a wider threshold for one object only grows that object's region
    per = mask(MaskConfig(object_ids=ids, object_thresholds=(0.03, 0.08), gripper_radius=0.0))
    b_wide = mask(MaskConfig(object_ids=ids[1:], distance_threshold=0.08, gripper_radius=0.0))
    np.testing.assert_array_equal(per, np.maximum(a, b_wide))


def test_soft_attention_decays_with_distance():
    cfg = MaskConfig(object_ids=(1,), distance_threshold=0.01, gripper_radius=0.0, soft_sigma=0.02)
    frame = _frame([[0.0, 0.0, 0.0]], [1], config=cfg)
    d = np.array([0.0, 0.005, 0.02, 0.03, 0.05, 0.2])
    w = frame_attention(np.stack([d, 0 * d, 0 * d], 1), frame, cfg)
    assert w[0] == 1.0 and w[1] == 1.0  # inside the threshold
    assert np.all(np.diff(w[1:]) < 0)  # then strictly decreasing
    np.testing.assert_allclose(w[2], np.exp(-0.5 * (0.01 / 0.02) ** 2))
    assert w[-1] == 0.0  # beyond threshold + 3 sigma
    hard = frame_attention(np.stack([d, 0 * d, 0 * d], 1), frame, MaskConfig(object_ids=(1,), gripper_radius=0.0))
    np.testing.assert_array_equal(hard, [1, 1, 0, 0, 0, 0])


def test_velocity_attention_covers_points_ahead_of_the_gripper():
    base = {"object_ids": (1,), "distance_threshold": 0.01, "gripper_radius": 0.03}
    pts = np.array([[0.10, 0, 0], [-0.10, 0, 0], [0.10, 0.2, 0], [0.02, 0, 0]])
    frame = _frame([[9.0, 9.0, 9.0]], [1], gripper=(0, 0, 0), velocity=(0.05, 0, 0), config=MaskConfig(**base))
    off = frame_attention(pts, frame, MaskConfig(**base))
    on = frame_attention(pts, frame, MaskConfig(**base, velocity_horizon=3))
    np.testing.assert_array_equal(off, [0, 0, 0, 1])
    np.testing.assert_array_equal(on, [1, 0, 0, 1])  # ahead yes; behind and off to the side no


def test_temporal_smoothing_averages_neighbouring_frames():
    base = {"object_ids": (1,), "distance_threshold": 0.01, "gripper_radius": 0.0}
    # an object point that moves along x: at t it sits at x = 0.1 t
    T = 5
    cam = np.array([[[0.1 * t, 0.0, 0.0]] for t in range(T)]).reshape(T, 1, 1, 3)
    seg = np.ones((T, 1, 1, 1), np.int64)
    states = np.zeros((T, 10))
    pts = np.array([[0.2, 0, 0], [0.3, 0, 0], [0.5, 0, 0]])
    from mc_pointflow.masks import episode_frames

    cfg = MaskConfig(**base, smoothing_window=1, smoothing_sigma=1.0)
    frames = episode_frames(cam, seg, states, cfg, range(T))
    m = timestep_mask(pts, 2, T, frames, cfg)
    w = np.exp(-0.5 * np.array([1.0, 0.0, 1.0]))
    w /= w.sum()
    np.testing.assert_allclose(m, [w[1], w[2], 0.0], rtol=1e-6)
    raw = timestep_mask(pts, 2, T, frames, MaskConfig(**base))
    np.testing.assert_array_equal(raw, [1, 0, 0])
    # at the episode edge the window is cut and the weights renormalised
    m0 = timestep_mask(np.array([[0.0, 0, 0]]), 0, T, frames, cfg)
    np.testing.assert_allclose(m0, [1 / (1 + np.exp(-0.5))], rtol=1e-6)
