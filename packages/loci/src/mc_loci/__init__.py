"""Object-centric segmentation of videos (Loci-Segmented): the `loci` plugin of mc.

The public API, imported lazily (``import mc_loci`` stays light; torch loads on first use)::

    import mc_loci
    mc_loci.make_dataset("shapes", videos=8, frames=4, size=32)
    result = mc_loci.train("shapes", "runs/loci", steps=100, unsupervised=True)
    seg = mc_loci.get_segmenter("model", checkpoint=result.checkpoint)   # a VideoSegmenter
    ids = seg.segment(mc_loci.load_video("shapes/videos/video_00000.npz"))
    mc_loci.evaluate_data("shapes", method="median-cc")["fg_ari"]
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mc_loci.interface import VideoSegmenter, requires_checkpoint

__all__ = [
    "MovingShapes",
    "VideoSegmenter",
    "evaluate",
    "evaluate_data",
    "fg_ari",
    "get_segmenter",
    "load_background",
    "load_video",
    "make_dataset",
    "make_video",
    "matched_iou",
    "method_names",
    "pretrain_background",
    "requires_checkpoint",
    "score_video",
    "segment_file",
    "train",
]

_LAZY = {
    "MovingShapes": "mc_loci.data.moving_shapes",
    "load_video": "mc_loci.data.moving_shapes",
    "make_dataset": "mc_loci.data.moving_shapes",
    "make_video": "mc_loci.data.moving_shapes",
    "evaluate": "mc_loci.evaluation",
    "evaluate_data": "mc_loci.evaluation",
    "score_video": "mc_loci.evaluation",
    "fg_ari": "mc_loci.metrics",
    "matched_iou": "mc_loci.metrics",
    "get_segmenter": "mc_loci.segmenters",
    "method_names": "mc_loci.segmenters",
    "segment_file": "mc_loci.segmenting",
    "train": "mc_loci.training",
    "pretrain_background": "mc_loci.background_train",
    "load_background": "mc_loci.models.background",
}

if TYPE_CHECKING:
    from mc_loci.background_train import pretrain_background
    from mc_loci.data.moving_shapes import MovingShapes, load_video, make_dataset, make_video
    from mc_loci.evaluation import evaluate, evaluate_data, score_video
    from mc_loci.metrics import fg_ari, matched_iou
    from mc_loci.models.background import load_background
    from mc_loci.segmenters import get_segmenter, method_names
    from mc_loci.segmenting import segment_file
    from mc_loci.training import train


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mc_loci' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
