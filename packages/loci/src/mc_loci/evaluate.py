"""Evaluation of a segmenter (the model or a baseline) on a moving-shapes data folder."""

from __future__ import annotations

from collections.abc import Callable
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


def evaluate(data, segment: Callable[[dict], np.ndarray], *, method: str, progress_desc: str = "eval") -> dict[str, Any]:
    from mc_core.progress import progress

    rows = []
    for i in progress(range(len(data)), desc=progress_desc, unit="video"):
        video = data[i]
        pred = segment(video)
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
