"""Evaluation of a segmenter (a trained model or a baseline) on a moving-shapes data folder.

    from mc_loci import evaluate_data
    result = evaluate_data("shapes_test", method="median-cc")
    result["fg_ari"], result["matched_iou_video"]
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mc_loci.metrics import fg_ari, matched_iou


def score_video(pred: np.ndarray, masks: np.ndarray) -> dict[str, float]:
    """Per-frame means and whole-video scores of fg-ari and matched-iou for one video (T,H,W)."""
    def mean(values):
        vals = [v for v in values if not np.isnan(v)]
        return float(np.mean(vals)) if vals else float("nan")

    return {
        "fg_ari": mean(fg_ari(p, m) for p, m in zip(pred, masks)),
        "matched_iou": mean(matched_iou(p, m) for p, m in zip(pred, masks)),
        "fg_ari_video": fg_ari(pred, masks),
        "matched_iou_video": matched_iou(pred, masks),
    }


SUMMARY_KEYS = ("method", "videos", "fg_ari", "matched_iou", "fg_ari_video", "matched_iou_video")


def evaluate(data, segmenter: Any, *, method: str, progress_desc: str = "eval") -> dict[str, Any]:
    """Score `segmenter` (a VideoSegmenter, or a function video -> ids) on every video of `data`
    (a MovingShapes data set)."""
    from mc_core.errors import BadInputError
    from mc_core.progress import progress
    from mc_loci.segmenters import check_video

    segment: Callable[[dict], np.ndarray] = getattr(segmenter, "segment", segmenter)
    rows = []
    for i in progress(range(len(data)), desc=progress_desc, unit="video"):
        video = data[i]
        check_video(segmenter, video, data.paths[i])
        try:
            pred = np.asarray(segment(video))
        except ValueError as exc:  # e.g. a baseline that needs depth
            raise BadInputError(data.paths[i], str(exc)) from None
        if pred.shape != video["masks"].shape or not np.issubdtype(pred.dtype, np.integer):
            raise BadInputError(data.paths[i], f"the {method!r} segmenter returned {pred.dtype} {pred.shape}, "
                                               f"expected integer ids {video['masks'].shape}")
        rows.append({"video": Path(data.paths[i]).name, **score_video(pred, video["masks"])})
    keys = ("fg_ari", "matched_iou", "fg_ari_video", "matched_iou_video")
    summary = {k: float(np.nanmean([r[k] for r in rows])) for k in keys}
    return {"method": method, "videos": len(rows), **summary, "per_video": rows,
            "definitions": {
                "fg_ari": "foreground ARI per frame, mean over frames then videos",
                "matched_iou": "mean IoU of true objects after Hungarian matching, per frame, mean over frames then videos",
                "fg_ari_video": "foreground ARI over all frames of a video at once (ids must persist over time)",
                "matched_iou_video": "matched IoU of whole-video object tubes (ids must persist over time)",
            }}


def evaluate_data(data: str | os.PathLike, *, method: str = "model", checkpoint: str | os.PathLike | None = None,
                  bg_checkpoint: str | os.PathLike | None = None, device: Any = "auto",
                  out_json: str | os.PathLike | None = None, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Score a segmenter (:func:`mc_loci.segmenters.get_segmenter`: `method`, `checkpoint`,
    `bg_checkpoint`, `overrides`) on the data folder `data`; write the full result (per-video rows too) to
    `out_json` when given (never onto an input: checked before anything runs). Returns it."""
    from mc_core.atomic import write_json
    from mc_core.paths import check_outputs
    from mc_loci.data.moving_shapes import MovingShapes
    from mc_loci.segmenters import check_method_args, checkpoint_files, get_segmenter

    check_method_args(method, checkpoint, bg_checkpoint)
    ds = MovingShapes(data)
    check_outputs([ds.root, ds.root / "meta.json", *ds.paths, *checkpoint_files(checkpoint),
                   *checkpoint_files(bg_checkpoint)], [out_json])
    seg = get_segmenter(method, checkpoint=checkpoint, bg_checkpoint=bg_checkpoint, overrides=overrides,
                        device=device)
    result = evaluate(ds, seg, method=method)
    if overrides:
        result["overrides"] = list(overrides)
    result["data"] = str(data)
    if checkpoint is not None:
        result["checkpoint"] = str(checkpoint)
    if bg_checkpoint is not None:
        result["bg_checkpoint"] = str(bg_checkpoint)
    if out_json is not None:
        write_json(out_json, result)
    return result
