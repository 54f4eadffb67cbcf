"""Segment one video file and write the overlay GIF (``mc loci segment``).

    from mc_loci import segment_file
    out = segment_file("shapes_test/videos/video_00000.npz", "seg.gif", method="median-cc")
    out["ids"].shape, out["scores"]          # (T, H, W); iou, fg_ari, loci_fg_ari, matched_iou... when it has masks
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["segment_file"]


def segment_file(video: str | os.PathLike | None, out_gif: str | os.PathLike, *, method: str = "model",
                 checkpoint: str | os.PathLike | None = None, bg_checkpoint: str | os.PathLike | None = None,
                 out_npz: str | os.PathLike | None = None, fps: float = 4.0, scale: int = 3,
                 overrides: Sequence[str] = (), device: Any = "auto", data: str | os.PathLike | None = None,
                 index: int = 0, size: int | None = None) -> dict[str, Any]:
    """Segment the video npz `video` (or video `index` of the data set `data`, a folder or a
    Loci-Segmented HDF5 file, frames resized to `size`: :func:`mc_loci.data.open_data`) with :func:`~mc_loci.segmenters.get_segmenter` (`method`,
    `checkpoint`, `bg_checkpoint`, `overrides`) and write `out_gif` (input | predicted objects | true objects
    when the video has masks) and, when given, `out_npz` (``ids`` (T,H,W)). Outputs that are an
    input, or the same file twice, are refused before anything is written.

    Returns ``ids``, ``objects`` (the predicted ids) and ``scores`` (empty without true masks)."""
    import math

    import numpy as np

    from mc_core.atomic import atomic_path
    from mc_core.errors import BadInputError, UsageError
    from mc_core.paths import check_outputs
    from mc_loci.data.moving_shapes import load_video
    from mc_loci.evaluation import score_video
    from mc_loci.render import write_overlay_gif
    from mc_loci.segmenters import check_method_args, check_video, checkpoint_files, get_segmenter

    if not (isinstance(fps, int | float) and math.isfinite(fps) and fps > 0):
        raise UsageError(f"fps must be a positive finite number, got {fps!r}")
    if not (isinstance(scale, int) and 1 <= scale <= 16):
        raise UsageError(f"scale must be an integer in 1..16, got {scale!r}")
    check_method_args(method, checkpoint, bg_checkpoint)
    if (video is None) == (data is None):
        raise UsageError("give one of video or data")
    if data is not None:
        from mc_loci.data import open_eval_data

        ds = open_eval_data(data, size=size, checkpoint=checkpoint)
        if not (isinstance(index, int) and 0 <= index < len(ds)):
            raise UsageError(f"index must be in 0..{len(ds) - 1} (the data set has {len(ds)} videos), got {index!r}")
        inputs, source = [ds.root, *ds.input_files], ds.paths[index]
    else:
        from mc_loci.data.loci_hdf5 import is_hdf5

        if is_hdf5(video):
            raise BadInputError(video, "is an HDF5 data set, not a video npz: give it as data (--data) with "
                                       "index (--index)")
        inputs, source = [video], video
    check_outputs([*inputs, *checkpoint_files(checkpoint), *checkpoint_files(bg_checkpoint)], [out_gif, out_npz])
    if data is not None:
        vid = ds[index]
        vid.pop("instance_masks", None)
    else:
        vid = load_video(video, need_masks=False, need_depth=False)
    video = source
    seg = get_segmenter(method, checkpoint=checkpoint, bg_checkpoint=bg_checkpoint, overrides=overrides,
                        device=device)
    check_video(seg, vid, video)
    try:
        ids = np.asarray(seg.segment({k: v for k, v in vid.items() if k != "masks"}))
    except ValueError as exc:
        raise BadInputError(video, str(exc)) from None
    if ids.shape != vid["rgb"].shape[:3] or not np.issubdtype(ids.dtype, np.integer):
        raise BadInputError(video, f"the {method!r} segmenter returned {ids.dtype} {ids.shape}, expected "
                                   f"integer ids {vid['rgb'].shape[:3]}")
    write_overlay_gif(out_gif, vid["rgb"], ids, fps=fps, scale=scale, truth=vid.get("masks"))
    if out_npz is not None:
        with atomic_path(out_npz) as tmp:
            np.savez_compressed(tmp, ids=ids.astype(np.uint8 if ids.max(initial=0) < 256 else np.int32))
    scores = {}
    if "masks" in vid:
        full = score_video(ids, vid["masks"])
        scores = {k: full[k] for k in ("iou", "fg_ari", "loci_fg_ari", "matched_iou", "fg_ari_video",
                                       "loci_fg_ari_video", "matched_iou_video")}
    return {"video": str(Path(video)), "out_gif": str(out_gif), "ids": ids,
            "objects": sorted(int(i) for i in np.unique(ids) if i != 0), "scores": scores}
