"""The interface `mc loci eval` and `mc loci segment` need from a model: segment a video.

Every model registered for the loci commands (``task="loci"``), ours or a third party's, offers
it; the commands get models only through the registry (:mod:`mc_core.factory`) and check it.

A *video* is a mapping of numpy arrays, as :func:`mc_loci.data.moving_shapes.load_video` returns:

- ``rgb``   uint8   (T, H, W, 3)
- ``depth`` float32 (T, H, W), distance from the camera in 0..1 (may be absent)
- ``masks`` int64   (T, H, W), the true instance ids (absent when unknown; never read by a model)

``segment(video)`` returns instance ids (T, H, W), integers, 0 = background; the same id for the
same object in every frame (the whole-video scores ask for that). ``needs_depth`` says whether
the model reads ``depth``; the commands refuse, with a one-line error naming the video, a video
without it.

Two sorts of entries serve the loci commands:

- *trained* models (``slot-segmenter``, ``loci-background``): rebuilt from a checkpoint
  (``mc_core.factory.load_model(path, task="loci", protocol=VideoSegmenter)``); a registered
  target that has ``load_state_dict`` or ``from_checkpoint`` is one, unless it sets
  ``requires_checkpoint = False``;
- *baselines* (``all-background``, ``median-cc``, ``farthest-cc``, ``farthest-depth-cc``,
  ``learned-cc``): built from a config (``mc_core.factory.create_model(name, config, ...)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

__all__ = ["TASK", "VideoSegmenter", "requires_checkpoint"]

TASK = "loci"


@runtime_checkable
class VideoSegmenter(Protocol):
    """Segment a video into objects (see the module docstring)."""

    needs_depth: bool

    def segment(self, video: Mapping[str, np.ndarray]) -> np.ndarray:
        """Instance ids (T, H, W) (integers, 0 = background, ids kept over time) of `video`."""
        ...


def requires_checkpoint(target: Any) -> bool:
    """Whether a registered loci model is a trained one (built from a checkpoint), not a baseline."""
    flag = getattr(target, "requires_checkpoint", None)
    if flag is not None:
        return bool(flag)
    return hasattr(target, "load_state_dict") or hasattr(target, "from_checkpoint")
