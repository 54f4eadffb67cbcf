"""Evaluate a predictor (or answers made elsewhere) on a task JSON: the seed's metrics and ours.

Per sample, as the seed's evaluator (RoboRefer-FineTuning `tools/eval_spatial_tasks.py`):
the ground truth is parsed from the answer text (`conversations[1].value`, see `answers.parse_gt`);
the answer by `answers.parse_prediction`; a sample whose prediction fails (a missing image, a
predictor error) is scored as the empty answer and recorded with its `error`; the query image is
`query_original` (else the last image of a list of two or more), its mask is found by
`data.x3.infer_mask_path` and read as grey level > 0; Hit@Mask as in `metrics`. It never aborts
the run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mc_core.errors import BadInputError, UsageError
from mc_spatial_vlm.answers import parse_gt, parse_prediction
from mc_spatial_vlm.data.tasks import human_and_answer, is_concat, query_image, sample_images
from mc_spatial_vlm.data.x3 import Warn, image_size, infer_mask_path, read_mask, stderr_warning
from mc_spatial_vlm.interface import Predictor

_NO_PREDICTION = object()


def _metric(name: str):
    """A registered metric (``mc list metrics --task spatial-vlm``)."""
    from mc_core import registries

    return registries().metrics.get(name)


def _predict(predictor: Predictor | None, sample: dict[str, Any], prompt: str, images: list[str],
             pred_text: Any) -> str:
    if pred_text is not _NO_PREDICTION:
        return "" if pred_text is None else str(pred_text)
    if predictor is None:
        raise ValueError("no predictor and no prediction for this sample")
    for p in images:
        if not Path(p).is_file():
            raise FileNotFoundError(f"{p}: image file not found")
    text = predictor.predict(images, prompt, sample)
    if not isinstance(text, str):
        raise TypeError(f"the predictor returned {type(text).__name__}, not the answer text")
    return text


def evaluate_sample(predictor: Predictor | None, sample: dict[str, Any], image_folder: str = "/",
                    pred_text: Any = _NO_PREDICTION) -> dict[str, Any]:
    """One sample's record: the seed's fields (`pred_text`, `pred_parsed`, `gt`, `l2_error`,
    `success_l2_010`, `hit_mask`) and ours (`pred_kind`, `pred_point`, `gt_visible`, `gt_point`,
    `l2`, `hit`, `mask`, `images`, `concat`, `error`). `pred_text` given: score that answer instead
    of asking `predictor`."""
    rec: dict[str, Any] = {"id": sample.get("id"), "pred_text": "", "pred_parsed": None, "gt": None,
                           "l2_error": None, "success_l2_010": False, "hit_mask": None,
                           "pred_kind": "unparseable", "pred_point": None, "gt_visible": True, "gt_point": None,
                           "l2": None, "hit": None, "mask": None, "images": None, "concat": is_concat(sample),
                           "error": None, "mask_error": None}
    try:
        prompt, gt_text = human_and_answer(sample)
    except ValueError as e:  # malformed sample: a visible miss, as an unreadable ground truth
        rec["error"], rec["hit"] = f"ValueError: {e}", False
        rec["pred_parsed"] = {"is_not_visible": False, "coord": None}
        return rec
    gt = parse_gt(gt_text)
    rec["gt"] = {"text": gt_text, "is_not_visible": gt.not_visible, "coord": list(gt.point) if gt.point else None}
    rec["gt_visible"], rec["gt_point"] = not gt.not_visible, rec["gt"]["coord"]
    try:
        rec["images"] = sample_images(sample, image_folder)
        text = _predict(predictor, sample, prompt, rec["images"], pred_text)
    except Exception as e:  # noqa: BLE001 - one bad sample never aborts the evaluation
        rec["error"] = f"{type(e).__name__}: {e}"
        text = ""
    pred = parse_prediction(text)
    rec["pred_text"], rec["pred_kind"] = text, pred.kind
    rec["pred_point"] = list(pred.point) if pred.point else None
    rec["pred_parsed"] = {"is_not_visible": pred.not_visible, "coord": rec["pred_point"]}
    if gt.not_visible:
        rec["success_l2_010"] = pred.not_visible  # the seed counts a right NOT_VISIBLE as a success
        return rec
    rec["hit"] = False
    if pred.point is not None and gt.point is not None:
        rec["l2"] = rec["l2_error"] = _metric("l2-error")(pred.point, gt.point)
        rec["success_l2_010"] = rec["l2"] <= 0.10
    q = query_image(sample, image_folder)
    mpath = infer_mask_path(q) if q else None
    if mpath is None:  # the seed leaves it out of Hit@Mask; the strict figure counts a miss
        rec["mask_error"] = f"no mask found for the query image {q}"
        return rec
    rec["mask"] = str(mpath)
    try:
        mask = read_mask(mpath)
    except BadInputError as e:
        rec["mask_error"] = str(e)
        return rec
    if pred.point is not None:
        rec["hit_mask"] = rec["hit"] = _metric("hit-at-mask")(pred.point, mask, concat=rec["concat"])
    try:  # the seed maps the point in the mask's own size; a mask of another size than its image is said
        w, h = image_size(q)
        rec["mask_size_differs"] = (w, h) != (mask.shape[1], mask.shape[0])
    except BadInputError:
        pass
    return rec


def load_predictions(path: str | Path) -> dict[str, str]:
    """Answers made elsewhere: JSON lines, each an object with `id` and `pred_text`; id -> text."""
    p = Path(path)
    try:
        lines = p.read_text().splitlines()
    except FileNotFoundError:
        raise BadInputError(p, "predictions file not found") from None
    except IsADirectoryError:
        raise BadInputError(p, "is a folder, not a JSON-lines predictions file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise BadInputError(p, f"cannot be read ({e})") from None
    out: dict[str, str] = {}
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise BadInputError(p, f"line {n}: malformed JSON ({e.msg})") from None
        if not isinstance(obj, dict) or "id" not in obj or "pred_text" not in obj:
            raise BadInputError(p, f"line {n}: expected an object with 'id' and 'pred_text'")
        sid, text = str(obj["id"]), obj["pred_text"]
        if text is not None and not isinstance(text, str):
            raise BadInputError(p, f"line {n}: 'pred_text' must be a string, got {type(text).__name__}")
        if sid in out:
            raise BadInputError(p, f"line {n}: id {sid!r} appears twice")
        out[sid] = text or ""
    return out


def evaluate(predictor: Predictor | None, samples: list[dict[str, Any]], *, image_folder: str = "/",
             predictions: dict[str, str] | None = None, progress: Callable | None = None,
             resume_path: str | Path | None = None, run_key: str = "",
             warn: Warn | None = stderr_warning) -> dict[str, Any]:
    """`{"metrics": {...}, "results": [...]}` of `predictor` (or of `predictions`, id -> answer text).

    With `predictions`, a sample without an answer there is scored as the empty answer and counted
    in `metrics["missing_predictions"]`; answers whose id is not a sample are counted in
    `metrics["extra_predictions"]`; both are reported through `warn`.
    With `resume_path`, each finished sample is appended to that JSON-lines file as it completes; a
    rerun with the same `run_key` (model + data) and sample count skips the samples already there.
    The caller removes the file once the final output is written.
    """
    if predictor is None and predictions is None:
        raise ValueError("give a predictor or predictions")
    missing: list[str] = []
    if predictions is not None:
        ids = [s.get("id") if isinstance(s, dict) else None for s in samples]
        known = {str(i) for i in ids if i is not None}
        missing = [str(i) for i in ids if str(i) not in predictions]
        extra = [i for i in predictions if i not in known]
        if warn and missing:
            warn(f"{len(missing)} samples have no prediction (scored as empty answers), e.g. {missing[0]}")
        if warn and extra:
            warn(f"{len(extra)} predictions match no sample id (ignored), e.g. {extra[0]}")
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
            s = samples[i] if isinstance(samples[i], dict) else {}
            text: Any = _NO_PREDICTION
            if predictions is not None:
                text = predictions.get(str(s.get("id")), "")
            rec = evaluate_sample(predictor, s, image_folder, pred_text=text)
            results.append(rec)
            if fh is not None:
                fh.write(json.dumps({"index": i, "result": rec}) + "\n")
                fh.flush()
    finally:
        if fh is not None:
            fh.close()
    metrics = _metric("spatial-summary")(results)
    odd = [r["id"] for r in results if r.get("mask_size_differs")]
    if warn and odd:
        warn(f"{len(odd)} query masks differ in size from their query image (the point is mapped in the "
             f"mask's own size, as the seed does), e.g. {odd[0]}")
    if predictions is not None:
        metrics["missing_predictions"] = len(missing)
        metrics["extra_predictions"] = len(extra)
    return {"metrics": metrics, "results": results}


def format_metrics(m: dict[str, Any]) -> str:
    """One line: the seed's headline figures with our strict ones beside them."""
    def f(v: Any) -> str:
        return "-" if v is None else f"{v:.3f}"

    return (f"total {m['total']}  hit@mask {f(m['hit_at_mask'])} ({m['hit_at_mask_count']}/{m['hit_at_mask_total']}) "
            f"strict {f(m.get('hit_at_mask_strict'))}  not-visible acc {f(m['not_visible_accuracy'])}  "
            f"mean L2 {f(m['mean_l2_error'])}  S@0.02/0.05/0.10 {f(m['success_002'])}/{f(m['success_005'])}/"
            f"{f(m['success_010'])}  unparseable {m.get('unparseable_answers', 0)}  "
            f"failed {m.get('failed_samples', 0)}")


def evaluate_task_json(data_json: str | Path, output_json: str | Path, *, predictor: Predictor | None = None,
                       predictions_jsonl: str | Path | None = None, image_folder: str = "/", run_key: str = "",
                       limit: int | None = None, progress: Callable | None = None,
                       warn: Warn | None = stderr_warning) -> dict[str, Any]:
    """Evaluate `predictor` (or the answers in `predictions_jsonl`) on the task JSON `data_json`;
    write `{"metrics", "results"}` to `output_json` (atomically) and return it.

    An output that is also an input (the task JSON, the predictions) is refused before anything
    is written. `limit`: only the first `limit` samples (the seed's `--limit`). Finished samples are kept in `<output_json>.partial.jsonl` while running, so an
    interrupted run started again with the same `run_key` goes on where it stopped.
    """
    import os

    from mc_core import registries
    from mc_core.atomic import write_text
    from mc_core.paths import check_outputs

    partial = f"{output_json}.partial.jsonl"
    check_outputs([data_json, predictions_jsonl], [output_json, partial])
    if limit is not None and limit < 0:
        raise UsageError(f"limit must be >= 0, got {limit}")
    samples = registries().datasets.get("x3-tasks")(data_json)
    if limit is not None:
        samples = samples[:limit]
    predictions = load_predictions(predictions_jsonl) if predictions_jsonl is not None else None
    ids = [s.get("id") for s in samples if isinstance(s, dict)]
    if predictions is not None and len(set(map(str, ids))) != len(ids):
        raise BadInputError(data_json, "sample ids are not unique, so predictions cannot be matched by id")
    if predictions is not None:
        run_key = f"predictions|{Path(predictions_jsonl).resolve()}|{os.path.getmtime(predictions_jsonl)}"
    res = evaluate(predictor, samples, image_folder=image_folder, predictions=predictions, progress=progress,
                   resume_path=partial, run_key=f"{run_key}|{Path(data_json).resolve()}|{limit}", warn=warn)
    write_text(output_json, json.dumps(res, indent=2, ensure_ascii=False))
    os.remove(partial)
    return res
