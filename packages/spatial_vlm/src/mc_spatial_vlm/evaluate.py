"""Evaluate a predictor on a task JSON: answers, Hit@Mask, L2 and the seed's metrics.

A sample that cannot be evaluated (missing image, missing mask, a mask whose size differs from its
image, a predictor failure) is recorded with an `error` and counted as a miss; it never aborts the run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mc_spatial_vlm.answers import parse_answer
from mc_spatial_vlm.data.tasks import human_and_answer, is_concat, query_image, sample_images
from mc_spatial_vlm.data.x3 import image_size, infer_mask_path, read_mask
from mc_spatial_vlm.metrics import hit_at_mask, l2_error, summarize


def _gt(sample: dict[str, Any], answer_text: str | None):
    parsed = parse_answer(answer_text)
    if parsed.kind == "not_visible":
        return False, None
    if parsed.kind != "point":
        raise ValueError(f"cannot read the ground-truth answer {answer_text!r}")
    gt = sample.get("gt_point")
    return True, (tuple(gt) if isinstance(gt, list) and len(gt) == 2 else parsed.point)


def evaluate_sample(predictor, sample: dict[str, Any], image_folder: str = "/") -> dict[str, Any]:
    rec: dict[str, Any] = {"id": sample.get("id"), "pred_text": None, "pred_kind": "error", "pred_point": None,
                           "gt_visible": None, "gt_point": None, "l2": None, "hit": None, "mask": None,
                           "images": None, "error": None}
    try:
        prompt, answer = human_and_answer(sample)
        visible, gt = _gt(sample, answer)
        rec["gt_visible"], rec["gt_point"] = visible, (list(gt) if gt else None)
        images = sample_images(sample, image_folder)
        rec["images"] = images
        for p in images:
            if not Path(p).is_file():
                raise FileNotFoundError(f"{p}: image file not found")
        concat = is_concat(sample)
        rec["concat"] = concat
        text = predictor.predict(images, prompt, sample)
        pred = parse_answer(text)
        rec["pred_text"], rec["pred_kind"] = text, pred.kind
        rec["pred_point"] = list(pred.point) if pred.point else None
        if visible:
            rec["hit"] = False
            if pred.point is not None:
                rec["l2"] = l2_error(pred.point, gt)
            q = query_image(sample, image_folder)
            mpath = infer_mask_path(q) if q else None  # the seed's order; then the builder's record
            if mpath is None and sample.get("query_mask") and Path(sample["query_mask"]).is_file():
                mpath = Path(sample["query_mask"])
            if mpath is None:
                raise FileNotFoundError(f"{q}: no mask found for the query image")
            rec["mask"] = str(mpath)
            mask = read_mask(mpath, expect_size=image_size(q), image_path=q)
            rec["hit"] = hit_at_mask(pred.point, mask, concat=concat)
    except Exception as e:  # one bad sample never aborts the evaluation
        rec["error"] = f"{type(e).__name__}: {e}"
        if rec["gt_visible"] is None:
            rec["gt_visible"] = True  # unreadable ground truth: counted as a visible miss
        if rec["gt_visible"]:
            rec["hit"] = False
    return rec


def evaluate(predictor, samples: list[dict[str, Any]], *, image_folder: str = "/",
             progress: Callable | None = None, resume_path: str | Path | None = None,
             run_key: str = "") -> dict[str, Any]:
    """`{"metrics": {...seed keys...}, "results": [...]}`.

    With `resume_path`, each finished sample is appended to that JSON-lines file as it completes; a
    rerun with the same `run_key` (model + data) and sample count skips the samples already there.
    The caller removes the file once the final output is written.
    """
    import json

    done: dict[int, dict[str, Any]] = {}
    fh = None
    header = {"run_key": run_key, "num_samples": len(samples)}
    if resume_path is not None:
        rp = Path(resume_path)
        if rp.is_file():
            lines = rp.read_text().splitlines()
            try:
                same_run = bool(lines) and json.loads(lines[0]) == header
            except json.JSONDecodeError:
                same_run = False
            for line in lines[1:] if same_run else []:
                try:  # a line torn by an interruption ends what can be reused
                    rec = json.loads(line)
                    done[int(rec["index"])] = rec["result"]
                except (json.JSONDecodeError, KeyError, ValueError, TypeError):
                    break
        from mc_core.atomic import write_text

        write_text(rp, json.dumps(header) + "\n" + "".join(
            json.dumps({"index": i, "result": rec}) + "\n" for i, rec in sorted(done.items())))
        fh = open(rp, "a")
    results: list[dict[str, Any]] = []
    try:
        it = progress(range(len(samples)), desc="eval") if progress else range(len(samples))
        for i in it:
            if i in done:
                results.append(done[i])
                continue
            s = samples[i]
            rec = evaluate_sample(predictor, s if isinstance(s, dict) else {}, image_folder)
            results.append(rec)
            if fh is not None:
                fh.write(json.dumps({"index": i, "result": rec}) + "\n")
                fh.flush()
    finally:
        if fh is not None:
            fh.close()
    return {"metrics": summarize(results), "results": results}
