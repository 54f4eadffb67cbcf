"""Documented upper limits on sizes, so work and memory stay bounded by what a user can mean
(a typo such as `--image-size 100000` is refused at once, not after allocating tens of GiB)."""

from __future__ import annotations

from mc_core.errors import UsageError

MAX_IMAGE_SIZE = 512          # camera images are at most 512 x 512
MAX_CLOUD_POINTS = 200_000    # points of the stored, merged cloud per timestep
MAX_POINTS = 65_536           # points per observation and per mask
MAX_EPISODE_STEPS = 10_000    # timesteps of a demo (and poses of a rollout episode)
MAX_WIDTH = 8192              # point_width, feat_dim, hidden, time_dim of the policy
MAX_BLOCKS = 64               # residual blocks of the velocity network
MAX_HORIZON = 1024            # actions per chunk
MAX_OBS_STEPS = 64            # robot states of history
MAX_BATCH = 65_536            # batch size
MAX_EULER_STEPS = 10_000      # Euler steps when sampling
MAX_SMOOTHING_WINDOW = 1000   # temporal smoothing half-width of masks


def check_at_most(name: str, value: int, limit: int) -> int:
    """`value` unless it exceeds `limit` (UsageError naming `name` and the limit)."""
    if int(value) > limit:
        raise UsageError(f"{name} {value} exceeds the limit of {limit}")
    return int(value)
