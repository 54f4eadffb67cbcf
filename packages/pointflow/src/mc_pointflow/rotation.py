"""The 6D rotation representation of the sim (first two columns of the rotation matrix).

A network output in 6D is turned into a rotation by Gram-Schmidt (continuous, unlike Euler angles
or quaternions with their sign flip); errors between rotations are geodesic angles.
"""

from __future__ import annotations

import numpy as np


def rot6d_to_matrix(r6: np.ndarray) -> np.ndarray:
    """(..., 6) -> (..., 3, 3): columns a, b of the 6D vector orthonormalised, c = a x b."""
    r6 = np.asarray(r6, dtype=np.float64)
    a, b = r6[..., :3], r6[..., 3:6]
    x = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-9)
    b = b - (x * b).sum(-1, keepdims=True) * x
    y = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-9)
    z = np.cross(x, y)
    return np.stack([x, y, z], axis=-1)


def project_rot6d(r6: np.ndarray) -> np.ndarray:
    """The nearest valid 6D rotation (Gram-Schmidt), same shape as the input."""
    m = rot6d_to_matrix(r6)
    return np.concatenate([m[..., :, 0], m[..., :, 1]], axis=-1).astype(np.asarray(r6).dtype, copy=False)


def geodesic_deg(r6_a: np.ndarray, r6_b: np.ndarray) -> np.ndarray:
    """Angle in degrees of the rotation between two (batches of) 6D rotations."""
    ra, rb = rot6d_to_matrix(r6_a), rot6d_to_matrix(r6_b)
    tr = np.einsum("...ij,...ij->...", ra, rb)  # trace(ra^T rb)
    return np.degrees(np.arccos(np.clip((tr - 1.0) / 2.0, -1.0, 1.0)))
