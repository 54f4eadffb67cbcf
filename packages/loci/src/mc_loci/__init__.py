"""Object-centric segmentation of videos (Loci-Segmented): the `loci` plugin of mc.

The public API, imported lazily (``import mc_loci`` stays light; torch loads on first use)::

    import mc_loci
    mc_loci.make_dataset("shapes", videos=8, frames=4, size=32)
    result = mc_loci.train("shapes", "runs/loci", steps=100, unsupervised=True)
    seg = mc_loci.get_segmenter("model", checkpoint=result.checkpoint)   # a VideoSegmenter
    ids = seg.segment(mc_loci.load_video("shapes/videos/video_00000.npz"))
    mc_loci.evaluate_data("shapes", method="median-cc")["fg_ari"]
    # Loci-Segmented's HDF5 layout: write one, read it (or the paper's files), score methods in one table
    h5 = mc_loci.make_dataset("h5", videos=8, frames=4, size=32, split="test", format="loci-hdf5")
    mc_loci.evaluate_data(h5, method=["median-cc", "farthest-cc"])["table"]   # iou, fg_ari, loci_fg_ari, ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mc_core.lazy import lazy_exports
from mc_loci.interface import VideoSegmenter, requires_checkpoint

__all__ = [
    "LociHDF5",
    "MovingShapes",
    "VideoSegmenter",
    "evaluate",
    "evaluate_data",
    "fg_ari",
    "format_table",
    "get_segmenter",
    "hdf5_file_name",
    "load_background",
    "load_video",
    "loci_fg_ari",
    "loci_iou",
    "loci_iou_counts",
    "make_dataset",
    "make_video",
    "matched_iou",
    "method_names",
    "open_data",
    "parse_hdf5_name",
    "pretrain_background",
    "requires_checkpoint",
    "score_video",
    "segment_file",
    "train",
    "write_loci_hdf5",
]

_LAZY = {
    "LociHDF5": "mc_loci.data.loci_hdf5",
    "hdf5_file_name": "mc_loci.data.loci_hdf5",
    "parse_hdf5_name": "mc_loci.data.loci_hdf5",
    "write_loci_hdf5": "mc_loci.data.loci_hdf5",
    "open_data": "mc_loci.data",
    "format_table": "mc_loci.evaluation",
    "loci_fg_ari": "mc_loci.metrics",
    "loci_iou": "mc_loci.metrics",
    "loci_iou_counts": "mc_loci.metrics",
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
    from mc_loci.data import open_data
    from mc_loci.data.loci_hdf5 import LociHDF5, hdf5_file_name, parse_hdf5_name, write_loci_hdf5
    from mc_loci.data.moving_shapes import MovingShapes, load_video, make_dataset, make_video
    from mc_loci.evaluation import evaluate, evaluate_data, format_table, score_video
    from mc_loci.metrics import fg_ari, loci_fg_ari, loci_iou, loci_iou_counts, matched_iou
    from mc_loci.models.background import load_background
    from mc_loci.segmenters import get_segmenter, method_names
    from mc_loci.segmenting import segment_file
    from mc_loci.training import train


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
