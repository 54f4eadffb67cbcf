"""Evaluation of a segmenter (a trained model or a baseline) on a moving-shapes data folder.

    from mc_loci import evaluate_data
    result = evaluate_data("shapes_test", method="median-cc")
    result["fg_ari"], result["matched_iou_video"]
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mc_loci.metrics import loci_iou_counts


def _frame_targets(video: Mapping[str, Any]) -> list[np.ndarray]:
    """The true objects of each frame: the file's mask stacks when it has them (HDF5), else the ids."""
    stacks = video.get("instance_masks")
    return list(stacks) if stacks is not None else list(np.asarray(video["masks"]))


def score_video(pred: np.ndarray, masks: np.ndarray, instance_masks: Sequence[np.ndarray] | None = None
                ) -> dict[str, Any]:
    """Scores of one video: pred and masks (T,H,W) ids; `instance_masks` the true mask stacks per frame
    when the data has them (Loci-Segmented's files; masks may overlap).

    ``iou``/``loci_fg_ari`` are Loci-Segmented's (:func:`~mc_loci.metrics.loci_iou_counts`,
    :func:`~mc_loci.metrics.loci_fg_ari`); ``fg_ari``/``matched_iou`` the standard ones, mean over the
    frames that have true objects; ``*_video`` over the whole video (ids must persist). ``frames``
    holds the per-frame values; ``empty_frames`` counts frames without true foreground (their
    ``fg_ari`` is NaN and left out of the mean; Loci-Segmented's ``loci_fg_ari`` scores them 1, as
    its code does; they add no object to ``iou``)."""
    from mc_core import registries

    metrics = registries().metrics  # the registered metrics: fg-ari, loci-fg-ari, matched-iou
    fg_ari, loci_fg_ari, matched_iou = (metrics.get(n) for n in ("fg-ari", "loci-fg-ari", "matched-iou"))

    def mean(values):
        vals = [v for v in values if not np.isnan(v)]
        return float(np.mean(vals)) if vals else float("nan")

    targets = list(instance_masks) if instance_masks is not None else list(np.asarray(masks))
    frames = []
    iou_sum, iou_count = 0.0, 0
    for t, (p, m) in enumerate(zip(pred, masks, strict=True)):
        s, n = loci_iou_counts(p, targets[t])
        iou_sum, iou_count = iou_sum + s, iou_count + n
        frames.append({"frame": t, "objects": n, "empty": not bool(np.any(m != 0)),
                       "iou": s / n if n else float("nan"), "fg_ari": fg_ari(p, m),
                       "loci_fg_ari": loci_fg_ari(p, targets[t]), "matched_iou": matched_iou(p, m)})
    same_count = instance_masks is not None and len({len(st) for st in targets}) == 1
    video_target = np.stack(targets, axis=1) if same_count else masks
    return {
        "iou": iou_sum / iou_count if iou_count else float("nan"),
        "iou_sum": iou_sum, "iou_objects": iou_count,
        "fg_ari": mean(f["fg_ari"] for f in frames),
        "loci_fg_ari": float(np.mean([f["loci_fg_ari"] for f in frames])),
        "matched_iou": mean(f["matched_iou"] for f in frames),
        "fg_ari_video": fg_ari(pred, masks),
        "loci_fg_ari_video": loci_fg_ari(pred, video_target),
        "matched_iou_video": matched_iou(pred, masks),
        "empty_frames": sum(f["empty"] for f in frames),
        "frames": frames,
    }


SUMMARY_KEYS = ("method", "videos", "frames", "empty_frames", "iou", "fg_ari", "loci_fg_ari", "matched_iou",
                "fg_ari_video", "loci_fg_ari_video", "matched_iou_video")

DEFINITIONS = {
    "iou": "Loci-Segmented's IoU: per frame, predicted and true objects matched one-to-one (Hungarian, maximising "
           "the intersection, as its evaluation); the matched IoUs of all frames of all videos summed and divided "
           "by the number of true objects of all frames (an unmatched true object counts 0)",
    "fg_ari": "standard foreground ARI (as SAVi / Slot Attention; = sklearn adjusted_rand_score on true-foreground "
              "pixels) per frame, mean over the frames with foreground, then over videos",
    "loci_fg_ari": "Loci-Segmented's own fg_ari: true-foreground pixels predicted as background stay in the pair "
                   "total; per frame, mean over all frames (frames without foreground score 1, as its code)",
    "matched_iou": "mean IoU of true objects after Hungarian matching on IoU, per frame, mean over frames then videos",
    "fg_ari_video": "standard foreground ARI over all frames of a video at once (ids must persist), mean over videos",
    "loci_fg_ari_video": "Loci-Segmented's seq_fg_ari: its fg_ari over a whole video (the k-th mask of every frame "
                         "is one object), mean over videos",
    "matched_iou_video": "matched IoU of whole-video object tubes (ids must persist over time), mean over videos",
    "empty_frames": "frames without any true foreground (reported; see fg_ari and loci_fg_ari for how they count)",
}


def evaluate(data, segmenter: Any, *, method: str, progress_desc: str = "eval") -> dict[str, Any]:
    """Score `segmenter` (a VideoSegmenter, or a function video -> ids) on every video of `data`
    (a loci data set: :func:`mc_loci.data.open_data`)."""
    from mc_core.errors import BadInputError
    from mc_core.progress import progress
    from mc_loci.segmenters import check_video

    segment: Callable[[dict], np.ndarray] = getattr(segmenter, "segment", segmenter)
    names = getattr(data, "video_names", None) or [Path(p).name for p in data.paths]
    rows = []
    for i in progress(range(len(data)), desc=progress_desc, unit="video"):
        video = data[i]
        if "masks" not in video:
            raise BadInputError(data.paths[i], "the data set has no true instance masks to score against")
        check_video(segmenter, video, data.paths[i])
        model_input = {k: v for k, v in video.items() if k not in ("masks", "instance_masks")}
        try:
            pred = np.asarray(segment(model_input))
        except ValueError as exc:  # e.g. a baseline that needs depth
            raise BadInputError(data.paths[i], str(exc)) from None
        if pred.shape != video["masks"].shape or not np.issubdtype(pred.dtype, np.integer):
            raise BadInputError(data.paths[i], f"the {method!r} segmenter returned {pred.dtype} {pred.shape}, "
                                               f"expected integer ids {video['masks'].shape}")
        rows.append({"video": names[i], **score_video(pred, video["masks"], video.get("instance_masks"))})
    keys = ("fg_ari", "matched_iou", "fg_ari_video", "loci_fg_ari_video", "matched_iou_video")
    summary = {k: float(np.nanmean([r[k] for r in rows])) if not all(np.isnan(r[k]) for r in rows)
               else float("nan") for k in keys}
    n_objects = sum(r["iou_objects"] for r in rows)
    summary["iou"] = sum(r["iou_sum"] for r in rows) / n_objects if n_objects else float("nan")
    all_frames = [f for r in rows for f in r["frames"]]
    summary["loci_fg_ari"] = float(np.mean([f["loci_fg_ari"] for f in all_frames]))
    return {"method": method, "videos": len(rows), "frames": len(all_frames),
            "empty_frames": sum(r["empty_frames"] for r in rows), **summary, "per_video": rows,
            "definitions": dict(DEFINITIONS)}


def _method_args(method: str, checkpoint, bg_checkpoint, several: bool) -> tuple[Any, Any]:
    """The (checkpoint, bg_checkpoint) `method` takes; with several methods each takes only what fits it."""
    from mc_loci.segmenters import check_method_args

    if not several:
        check_method_args(method, checkpoint, bg_checkpoint)
        return checkpoint, bg_checkpoint
    from mc_core.factory import model_entry
    from mc_loci.interface import TASK, requires_checkpoint

    trained = method == "model" or requires_checkpoint(model_entry(method, task=TASK).load())
    ck = checkpoint if trained else None
    bg = bg_checkpoint if method == "learned-cc" else None
    check_method_args(method, ck, bg)
    return ck, bg


def evaluate_data(data: str | os.PathLike, *, method: str | Sequence[str] = "model",
                  checkpoint: str | os.PathLike | None = None, bg_checkpoint: str | os.PathLike | None = None,
                  device: Any = "auto", out_json: str | os.PathLike | None = None, overrides: Sequence[str] = (),
                  size: int | None = None) -> dict[str, Any]:
    """Score a segmenter (:func:`mc_loci.segmenters.get_segmenter`: `method`, `checkpoint`,
    `bg_checkpoint`, `overrides`) on `data`, a moving-shapes folder or a Loci-Segmented HDF5 file
    (frames resized to `size`, by default to the side the checkpoint's model was trained on; see
    :func:`mc_loci.data.open_eval_data`); write the full result (per-video
    and per-frame rows too) to `out_json` when given (never onto an input: checked before anything
    runs). Returns it.

    `method` may be a list of names (a trained model and baselines): each is scored on the same
    data (`checkpoint` goes to the trained ones, `bg_checkpoint` to ``learned-cc``) and the result
    holds ``table`` (one row of :data:`SUMMARY_KEYS` per method) and ``results`` (each in full)."""
    from mc_core.atomic import write_json
    from mc_core.errors import UsageError
    from mc_core.paths import check_outputs
    from mc_loci.data import open_eval_data
    from mc_loci.segmenters import checkpoint_files, get_segmenter

    methods = [method] if isinstance(method, str) else list(method)
    if not methods:
        raise UsageError("method: give at least one method")
    if len(set(methods)) != len(methods):
        raise UsageError(f"method: a method is named twice ({', '.join(methods)})")
    several = len(methods) > 1
    if several and overrides:
        raise UsageError("overrides configure one baseline: give one method with them")
    args = [_method_args(m, checkpoint, bg_checkpoint, several) for m in methods]
    if several and checkpoint is not None and not any(a[0] is not None for a in args):
        raise UsageError("checkpoint is given but no method is a trained model (add method 'model')")
    ds = open_eval_data(data, size=size, checkpoint=checkpoint if any(a[0] is not None for a in args) else None)
    check_outputs([ds.root, *ds.input_files, *checkpoint_files(checkpoint), *checkpoint_files(bg_checkpoint)],
                  [out_json])
    results = []
    for m, (ck, bg) in zip(methods, args, strict=True):
        seg = get_segmenter(m, checkpoint=ck, bg_checkpoint=bg, overrides=overrides, device=device)
        result = evaluate(ds, seg, method=m, progress_desc=f"eval {m}" if several else "eval")
        if overrides:
            result["overrides"] = list(overrides)
        result["data"] = str(data)
        result["size"] = ds.size
        if ck is not None:
            result["checkpoint"] = str(ck)
        if bg is not None:
            result["bg_checkpoint"] = str(bg)
        results.append(result)
    if several:
        out: dict[str, Any] = {"data": str(data), "table": [{k: r[k] for k in SUMMARY_KEYS} for r in results],
                               "results": results, "definitions": dict(DEFINITIONS)}
    else:
        out = results[0]
    if out_json is not None:
        write_json(out_json, out)
    return out


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The summary rows of several methods as a plain-text table (one line per method)."""
    keys = [k for k in SUMMARY_KEYS if k not in ("videos", "frames", "empty_frames")]
    width = max([len("method"), *(len(str(r["method"])) for r in rows)])
    head = "method".ljust(width) + "".join(f" {k:>17}" for k in keys[1:])
    lines = [head]
    for r in rows:
        lines.append(str(r["method"]).ljust(width) + "".join(f" {float(r[k]):17.4f}" for k in keys[1:]))
    if rows:
        r = rows[0]
        lines.append(f"({r['videos']} videos, {r['frames']} frames, {r['empty_frames']} without foreground)")
    return "\n".join(lines)
