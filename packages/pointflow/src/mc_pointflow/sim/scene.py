"""A scripted tabletop scene rendered by ray casting (numpy only).

Objects are axis-aligned boxes, spheres and vertical cylinders on a table; pinhole cameras with
intrinsics K and camera-to-world extrinsics render depth, per-pixel object ids and the world-frame
point of every pixel (as RLBench's `*_point_cloud` observations). A gripper (a small box) moves
from a start pose above the table to the task's target object.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mc_pointflow.tasks import TASKS  # the one list of task names (re-exported here)

BACKGROUND_ID = 0
FAR = 4.0  # depth of rays that hit nothing (metres)
TABLE_ID, FLOOR_ID, GRIPPER_ID = 2, 3, 90
TABLE_HALF = (0.6, 0.6)  # table top spans x, y in [-0.6, 0.6] at z = 0
FLOOR_Z = -0.75


@dataclass
class Shape:
    kind: str  # "box" | "sphere" | "cylinder"
    id: int
    name: str
    center: np.ndarray  # (3,)
    size: np.ndarray  # box: half extents (3,); sphere: (r,); cylinder: (r, half height)

    def intersect(self, origin: np.ndarray, dirs: np.ndarray) -> np.ndarray:
        """Ray parameter of the first hit for unit `dirs` (N,3) from `origin` (3,); inf if none."""
        o = origin - self.center
        if self.kind == "box":
            with np.errstate(divide="ignore", invalid="ignore"):
                inv = 1.0 / dirs
                t1 = (-self.size - o) * inv
                t2 = (self.size - o) * inv
            tmin = np.nanmax(np.minimum(t1, t2), axis=1)
            tmax = np.nanmin(np.maximum(t1, t2), axis=1)
            hit = (tmax >= np.maximum(tmin, 0)) & (tmin > 0)
            return np.where(hit, tmin, np.inf)
        if self.kind == "sphere":
            r = self.size[0]
            b = dirs @ o
            c = o @ o - r * r
            disc = b * b - c
            t = -b - np.sqrt(np.maximum(disc, 0))
            return np.where((disc >= 0) & (t > 0), t, np.inf)
        if self.kind == "cylinder":
            r, h = self.size
            dx, dy, dz = dirs[:, 0], dirs[:, 1], dirs[:, 2]
            a = dx * dx + dy * dy
            b = 2 * (o[0] * dx + o[1] * dy)
            c = o[0] ** 2 + o[1] ** 2 - r * r
            disc = b * b - 4 * a * c
            with np.errstate(divide="ignore", invalid="ignore"):
                t_side = (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a)
                z_side = o[2] + t_side * dz
                side = np.where((disc >= 0) & (a > 1e-12) & (t_side > 0) & (np.abs(z_side) <= h), t_side, np.inf)
                t_cap = np.where(dz < 0, (h - o[2]) / dz, (-h - o[2]) / dz)
            px, py = o[0] + t_cap * dx, o[1] + t_cap * dy
            cap = np.where((t_cap > 0) & (px * px + py * py <= r * r), t_cap, np.inf)
            return np.minimum(side, cap)
        raise ValueError(f"unknown shape kind {self.kind!r}")


@dataclass
class Camera:
    name: str
    K: np.ndarray  # (3,3) intrinsics
    extrinsics: np.ndarray  # (4,4) camera-to-world; camera looks along its +z, y down
    height: int
    width: int
    _dirs: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def look_at(cls, name: str, eye, target, height: int, width: int, fov_deg: float = 60.0) -> Camera:
        eye, target = np.asarray(eye, float), np.asarray(target, float)
        fwd = target - eye
        fwd /= np.linalg.norm(fwd)
        up = np.array([0.0, 0.0, 1.0])
        right = np.cross(fwd, up)
        if np.linalg.norm(right) < 1e-6:
            right = np.array([1.0, 0.0, 0.0])
        right /= np.linalg.norm(right)
        down = np.cross(fwd, right)
        E = np.eye(4)
        E[:3, 0], E[:3, 1], E[:3, 2], E[:3, 3] = right, down, fwd, eye
        f = 0.5 * width / np.tan(np.deg2rad(fov_deg) / 2)
        K = np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1.0]])
        return cls(name, K, E, height, width)

    @property
    def position(self) -> np.ndarray:
        return self.extrinsics[:3, 3]

    def ray_dirs(self) -> np.ndarray:
        """Unit world-frame ray directions of all pixels, row-major (H*W, 3)."""
        if self._dirs is None:
            v, u = np.mgrid[0:self.height, 0:self.width]
            pix = np.stack([u.ravel(), v.ravel(), np.ones(u.size)], axis=1).astype(np.float64)
            cam = pix @ np.linalg.inv(self.K).T
            world = cam @ self.extrinsics[:3, :3].T
            self._dirs = world / np.linalg.norm(world, axis=1, keepdims=True)
        return self._dirs

    def render(self, shapes: list[Shape]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(depth (H,W) along the optical axis, ids (H,W) int32, world points (H*W,3) float32)."""
        dirs = self.ray_dirs()
        origin = self.position
        best = np.full(dirs.shape[0], np.inf)
        ids = np.full(dirs.shape[0], BACKGROUND_ID, dtype=np.int32)
        # table top (a thin plane at z=0 within the table extent) and the floor
        with np.errstate(divide="ignore", invalid="ignore"):
            for z, half, sid in ((0.0, TABLE_HALF, TABLE_ID), (FLOOR_Z, (3.0, 3.0), FLOOR_ID)):
                t = (z - origin[2]) / dirs[:, 2]
                p = origin + t[:, None] * dirs
                ok = (t > 0) & (np.abs(p[:, 0]) <= half[0]) & (np.abs(p[:, 1]) <= half[1])
                t = np.where(ok, t, np.inf)
                closer = t < best
                best[closer], ids[closer] = t[closer], sid
        for s in shapes:
            t = s.intersect(origin, dirs)
            closer = t < best
            best[closer], ids[closer] = t[closer], s.id
        best = np.where(np.isfinite(best), best, FAR)
        points = (origin + best[:, None] * dirs).astype(np.float32)
        depth = (best * (dirs @ self.extrinsics[:3, 2])).reshape(self.height, self.width)
        return depth.astype(np.float32), ids.reshape(self.height, self.width), points


def default_cameras(image_size: int, n_cams: int = 5) -> list[Camera]:
    """RLBench-like views: left/right shoulder, overhead, front and a low side camera."""
    views = [
        ("left_shoulder", (-0.9, 0.8, 0.9)),
        ("right_shoulder", (-0.9, -0.8, 0.9)),
        ("overhead", (0.05, 0.0, 1.5)),
        ("front", (1.2, 0.0, 0.6)),
        ("side", (0.0, 1.3, 0.45)),
    ]
    if not 1 <= n_cams <= len(views):
        raise ValueError(f"n_cams must be 1..{len(views)}")
    return [Camera.look_at(n, eye, (0.0, 0.0, 0.05), image_size, image_size) for n, eye in views[:n_cams]]




def make_objects(task: str, rng: np.random.Generator) -> tuple[list[Shape], int]:
    """Objects of one episode with randomised placement; returns (shapes, target object id)."""
    def xy(lo=-0.35, hi=0.35):
        return rng.uniform(lo, hi, size=2)

    if task == "reach_target":
        target = Shape("sphere", 11, "target", np.r_[xy(), 0.15 + rng.uniform(0, 0.2)], np.array([0.04]))
        d1 = Shape("sphere", 12, "distractor0", np.r_[xy(), 0.1 + rng.uniform(0, 0.25)], np.array([0.04]))
        d2 = Shape("sphere", 13, "distractor1", np.r_[xy(), 0.1 + rng.uniform(0, 0.25)], np.array([0.04]))
        return [target, d1, d2], target.id
    if task == "unplug_charger_like":
        c = xy(-0.25, 0.25)
        # ids follow the seed's unplug_charger example: [31, 34, 35, 92]
        socket = Shape("box", 92, "wall_socket", np.r_[c, 0.12], np.array([0.03, 0.08, 0.12]))
        charger = Shape("box", 31, "charger", np.r_[c + [-0.06, 0], 0.12], np.array([0.03, 0.04, 0.05]))
        prong_a = Shape("cylinder", 34, "charger_prong_a", np.r_[c + [-0.095, 0.015], 0.12], np.array([0.006, 0.02]))
        prong_b = Shape("cylinder", 35, "charger_prong_b", np.r_[c + [-0.095, -0.015], 0.12], np.array([0.006, 0.02]))
        mug = Shape("cylinder", 40, "mug", np.r_[xy(), 0.05], np.array([0.04, 0.05]))
        block = Shape("box", 41, "block", np.r_[xy(), 0.025], np.array([0.025, 0.025, 0.025]))
        return [socket, charger, prong_a, prong_b, mug, block], charger.id
    raise ValueError(f"unknown task {task!r} (choose from {', '.join(TASKS)})")


def rot6d_from_yaw(yaw: float) -> np.ndarray:
    """Gripper pointing down (tool z = -world z) rotated by yaw: first two rotation columns."""
    c, s = np.cos(yaw), np.sin(yaw)
    R = np.array([[c, s, 0.0], [s, -c, 0.0], [0.0, 0.0, -1.0]])
    return np.concatenate([R[:, 0], R[:, 1]])


# The task's phases (the scripted demo and the success check share them): approach a pre-grasp
# pose PRE_GRASP_HEIGHT above the top of the target object, descend to the grasp pose GRASP_HEIGHT
# above it, close the gripper there.
PRE_GRASP_HEIGHT = 0.12
GRASP_HEIGHT = 0.02
GRASP_TOLERANCE = 0.02  # metres: a gripper that closes this near the grasp pose has grasped


def target_top(shape: Shape) -> np.ndarray:
    """The centre of the top of an object (a sphere's top point)."""
    return shape.center + np.array([0.0, 0.0, shape.size[-1] if shape.kind != "sphere" else shape.size[0]])


def grasp_position(shape: Shape) -> np.ndarray:
    """Where the gripper closes on the target object (the scripted demo's last pose)."""
    return target_top(shape) + np.array([0.0, 0.0, GRASP_HEIGHT])


def is_open(state: np.ndarray) -> bool:
    return bool(state[9] >= 0.5)


def grasps(prev_state: np.ndarray, state: np.ndarray, grasp: np.ndarray,
           tolerance: float = GRASP_TOLERANCE) -> bool:
    """The task's success event: the gripper closes (open in `prev_state`, closed in `state`) with
    its position within `tolerance` of the grasp position. A gripper that closes elsewhere grasps
    nothing (it may open and try again); a closed gripper pushed onto the grasp pose does not count."""
    return (is_open(prev_state) and not is_open(state)
            and float(np.linalg.norm(np.asarray(state[:3], float) - grasp)) <= tolerance)


def first_grasp(states: np.ndarray, grasp: np.ndarray, tolerance: float = GRASP_TOLERANCE) -> int | None:
    """Index of the first state of a trajectory (T, 10) at which the task succeeds, else None."""
    for t in range(1, len(states)):
        if grasps(states[t - 1], states[t], grasp, tolerance):
            return t
    return None


def gripper_trajectory(target: np.ndarray, steps: int, rng: np.random.Generator) -> np.ndarray:
    """(steps, 10) robot states: xyz, rot6d, gripper open (1) / closed (0).

    `target` is the top of the target object. Moves from a random start above the table to the
    pre-grasp pose above it, descends to the grasp pose and closes the gripper for the last steps.
    """
    start = np.array([rng.uniform(-0.2, 0.2), rng.uniform(-0.2, 0.2), 0.55])
    pre = target + np.array([0.0, 0.0, PRE_GRASP_HEIGHT])
    n1 = max(1, round(steps * 0.6))
    s = np.linspace(0, 1, steps)
    pos = np.empty((steps, 3))
    for i in range(len(s)):
        if i < n1:
            w = i / max(n1 - 1, 1)
            w = w * w * (3 - 2 * w)
            pos[i] = (1 - w) * start + w * pre
        else:
            w = (i - n1 + 1) / max(steps - n1, 1)
            w = w * w * (3 - 2 * w)
            pos[i] = (1 - w) * pre + w * (target + np.array([0.0, 0.0, GRASP_HEIGHT]))
    yaw0, yaw1 = rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5)
    rot = np.stack([rot6d_from_yaw(yaw0 + (yaw1 - yaw0) * u) for u in s])
    grip = np.ones((steps, 1))
    grip[int(steps * 0.9):] = 0.0
    return np.concatenate([pos, rot, grip], axis=1).astype(np.float32)


def gripper_shape(xyz: np.ndarray) -> Shape:
    return Shape("box", GRIPPER_ID, "gripper", np.asarray(xyz, float) + [0, 0, 0.03], np.array([0.02, 0.05, 0.03]))


def object_names(shapes: list[Shape]) -> dict[int, str]:
    names = {BACKGROUND_ID: "background", TABLE_ID: "table", FLOOR_ID: "floor", GRIPPER_ID: "gripper"}
    names.update({s.id: s.name for s in shapes})
    return dict(sorted(names.items()))


def downsample_cloud(points: np.ndarray, n: int, rng: np.random.Generator,
                     bounds=((-0.7, 0.7), (-0.7, 0.7), (-0.01, 0.8))) -> np.ndarray:
    """Crop the merged camera cloud to the workspace and draw `n` points (with replacement if short)."""
    lo = np.array([b[0] for b in bounds])
    hi = np.array([b[1] for b in bounds])
    keep = np.all((points >= lo) & (points <= hi), axis=1)
    pts = points[keep]
    if pts.shape[0] == 0:
        pts = points
    idx = rng.choice(pts.shape[0], size=n, replace=pts.shape[0] < n)
    return pts[idx].astype(np.float32)
