"""A kinematic environment over the scripted tabletop scene, and the scripted demos made with it.

No physics: `reset(seed)` lays out a seeded scene (objects, the scripted expert's trajectory and
its start pose), `step(state)` puts the gripper at any pose and re-renders the cameras and the
merged, down-sampled cloud. A demo is the expert's trajectory stepped through the same
environment, so a policy that repeats the expert's poses sees exactly the demo's observations
(the cloud sampling draws from the scene's generator, one draw per rendered step).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mc_pointflow.sim.scene import (
    TASKS,
    default_cameras,
    downsample_cloud,
    grasp_position,
    grasps,
    gripper_shape,
    gripper_trajectory,
    make_objects,
    object_names,
    target_top,
)


@dataclass
class Frame:
    depth: np.ndarray            # (C, H, W) float32
    segmentation: np.ndarray     # (C, H, W) int32 object ids
    camera_points: np.ndarray    # (C, H*W, 3) float32 world point of every pixel
    pcd: np.ndarray              # (P, 3) float32 merged cloud cropped to the workspace


class TabletopEnv:
    """One task of the scripted scene with cameras; `reset(seed)` then `step(state)` per timestep.

    States are the sim's 10-D robot states (xyz, rot6d, gripper open 1 / closed 0). `step` takes a
    commanded pose: the gripper is binarised at 0.5 (the gripper is open or closed), the rest is
    taken as given."""

    def __init__(self, task: str, *, image_size: int = 64, n_cams: int = 5, n_points: int = 5500,
                 demo_steps: int = 40):
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r} (choose from {', '.join(TASKS)})")
        from mc_pointflow.limits import MAX_CLOUD_POINTS, MAX_EPISODE_STEPS, MAX_IMAGE_SIZE

        if not 2 <= demo_steps <= MAX_EPISODE_STEPS:
            raise ValueError(f"demo_steps must be 2..{MAX_EPISODE_STEPS}")
        if not 8 <= image_size <= MAX_IMAGE_SIZE or not 1 <= n_points <= MAX_CLOUD_POINTS:
            raise ValueError(f"image_size must be 8..{MAX_IMAGE_SIZE} and n_points 1..{MAX_CLOUD_POINTS}")
        self.task, self.n_points, self.demo_steps = task, int(n_points), int(demo_steps)
        self.cameras = default_cameras(image_size, n_cams)
        self.rng: np.random.Generator | None = None

    def reset(self, seed: int) -> Frame:
        """A new scene from `seed`: the same objects, start pose and expert trajectory as the demo
        that `simulate_episode(task, seed)` records. Returns the first frame."""
        self.rng = np.random.default_rng(seed)
        self.shapes, self.target_id = make_objects(self.task, self.rng)
        target = next(s for s in self.shapes if s.id == self.target_id)
        self.grasp = grasp_position(target)
        self.expert_states = gripper_trajectory(target_top(target), self.demo_steps, self.rng)
        self.state = self.expert_states[0].copy()
        self.t = 0
        return self.render()

    def step(self, state) -> tuple[Frame, bool]:
        """Move the gripper to `state` (kinematically) and render; (frame, whether the task
        succeeded with this move: the gripper closed at the grasp pose)."""
        if self.rng is None:
            raise RuntimeError("call reset() first")
        new = np.asarray(state, dtype=np.float32).reshape(-1)[:10].copy()
        new[9] = 1.0 if new[9] >= 0.5 else 0.0
        done = grasps(self.state, new, self.grasp)
        self.state = new
        self.t += 1
        return self.render(), done

    def distance_to_grasp(self) -> float:
        return float(np.linalg.norm(self.state[:3].astype(np.float64) - self.grasp))

    def render(self) -> Frame:
        """Render every camera with the gripper at the current state and draw the merged cloud."""
        scene = self.shapes + [gripper_shape(self.state[:3])]
        n, cam0 = len(self.cameras), self.cameras[0]
        depth = np.empty((n, cam0.height, cam0.width), np.float32)
        seg = np.empty((n, cam0.height, cam0.width), np.int32)
        points = np.empty((n, cam0.height * cam0.width, 3), np.float32)
        for c, cam in enumerate(self.cameras):
            depth[c], seg[c], points[c] = cam.render(scene)
        pcd = downsample_cloud(points.reshape(-1, 3), self.n_points, self.rng)
        return Frame(depth, seg, points, pcd)

    def camera_meta(self) -> list[dict]:
        return [{"name": c.name, "K": c.K.tolist(), "extrinsics": c.extrinsics.tolist(),
                 "height": c.height, "width": c.width} for c in self.cameras]


NOISE_CORRELATION = 0.9  # step-to-step correlation of the demo perturbation (a smooth drift)


def position_perturbation(steps: int, noise: float, rng: np.random.Generator,
                          correlation: float = NOISE_CORRELATION) -> np.ndarray:
    """(steps, 3) offsets of the gripper position from the expert's: an AR(1) drift per axis with
    stationary standard deviation `noise` (metres), zero at the start pose."""
    off = np.zeros((steps, 3))
    innovation = noise * np.sqrt(1.0 - correlation ** 2)
    for t in range(1, steps):
        off[t] = correlation * off[t - 1] + innovation * rng.standard_normal(3)
    return off


def simulate_episode(task: str, seed: int, *, steps: int = 40, image_size: int = 64, n_cams: int = 5,
                     n_points: int = 5500, noise: float = 0.0) -> tuple[dict[str, np.ndarray], dict]:
    """One scripted demo: arrays with keys of the real pipeline, plus metadata (names, cameras).

    With `noise` > 0 (metres) the demo is DART-style: the gripper is driven along the expert's
    trajectory plus a smooth random drift (`position_perturbation`, drawn from its own generator
    so the scene is the same as without noise), the observations and robot states are those of
    the perturbed gripper, and the actions stay the expert's clean next poses, so every item
    shows how to get back onto the demonstration from a state a little off it."""
    env = TabletopEnv(task, image_size=image_size, n_cams=n_cams, n_points=n_points, demo_steps=steps)
    frames = [env.reset(seed)]
    states = env.expert_states
    executed = states
    if noise > 0:
        executed = states.copy()
        executed[:, :3] += position_perturbation(steps, noise, np.random.default_rng((int(seed), 1))).astype(np.float32)
    for t in range(1, steps):
        frames.append(env.step(executed[t])[0])
    # the action of step t is the expert's pose the controller moves to next (last one repeats)
    action = np.concatenate([states[1:], states[-1:]], axis=0)
    arrays = {
        "camera_point_clouds": np.stack([f.camera_points for f in frames]),
        "segmentation_masks": np.stack([f.segmentation for f in frames]),
        "depth": np.stack([f.depth for f in frames]),
        "pcd_xyz": np.stack([f.pcd for f in frames]),
        "robot_state": executed,
        "action": action,
    }
    meta = {
        "object_names": {str(k): v for k, v in object_names(env.shapes).items()},
        "target_object_id": env.target_id,
        "cameras": env.camera_meta(),
    }
    return arrays, meta
