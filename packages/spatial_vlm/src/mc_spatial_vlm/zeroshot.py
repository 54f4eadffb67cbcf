"""Zero-shot pipeline: build the task JSONs if missing, evaluate the four validation sets, summarise."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

EVAL_SETS = ("t1_val_multi", "t1_val_concat", "t2a_val_multi", "t2b_val_multi")
PICTURE_SAMPLES = 16  # tiles in each eval/<task>.png
# the seed's summary figures, then ours (strict Hit@Mask, unparseable answers, failed samples)
SEED_SUMMARY = ("hit_at_mask", "not_visible_accuracy", "mean_l2_error", "success_002", "success_005", "success_010")
OUR_SUMMARY = ("hit_at_mask_strict", "unparseable_answers", "failed_samples")
SUMMARY_COLUMNS = ("task", "total", *SEED_SUMMARY, *OUR_SUMMARY)


def summary_rows(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for task, res in results.items():
        m = res["metrics"]
        rows.append({"task": task, "total": m["total"], **{k: m.get(k) for k in (*SEED_SUMMARY, *OUR_SUMMARY)}})
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    def cell(v: Any) -> str:
        return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))

    table = [list(SUMMARY_COLUMNS)] + [[cell(r[c]) for c in SUMMARY_COLUMNS] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(SUMMARY_COLUMNS))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in table)


def run_zero_shot(predictor, out_dir: str | Path, *, tasks_dir: str | Path | None = None,
                  data_root: str | Path | None = None, seed: int = 0, build_kwargs: dict | None = None,
                  progress: Callable | None = None, echo: Callable[[str], None] = print,
                  status: Callable[[str], None] | None = None, run_key: str = "") -> list[dict[str, Any]]:
    """Evaluate `predictor` on the four validation sets (building them first when missing, from
    `data_root` or from demo data made in `out_dir/demo_data`); write `out_dir/summary.json`,
    `summary.csv` and `eval/<set>.json|png`; print the summary table through `echo`."""
    from mc_core.atomic import write_json, write_text
    from mc_spatial_vlm.build import build_tasks
    from mc_spatial_vlm.data.demo import make_demo_data
    from mc_spatial_vlm.data.tasks import load_task_json
    from mc_spatial_vlm.evaluate import evaluate
    from mc_spatial_vlm.visualize import visualize_results

    status = status or echo
    out = Path(out_dir)
    tasks = Path(tasks_dir) if tasks_dir else out / "tasks"
    if not all((tasks / f"{name}.json").is_file() for name in EVAL_SETS):
        if data_root is None:
            data_root = out / "demo_data"
            if not any((Path(data_root) / f).is_dir() for f in ("validation", "val")):
                status(f"making demo data in {data_root}")
                make_demo_data(data_root, seed=seed)
        status(f"building task JSONs in {tasks}")
        build_tasks(data_root, tasks, seed=seed, progress=progress, **(build_kwargs or {}))
    results = {}
    for name in EVAL_SETS:
        partial = out / "eval" / f"{name}.json.partial.jsonl"
        key = (f"{run_key or getattr(predictor, 'name', type(predictor).__name__)}|"
               f"{getattr(predictor, 'model_path', '')}|{(tasks / name).resolve()}|{getattr(predictor, 'threshold', '')}")
        res = evaluate(predictor, load_task_json(tasks / f"{name}.json"), progress=progress, resume_path=partial,
                       run_key=key)
        write_json(out / "eval" / f"{name}.json", res)
        visualize_results(res["results"], out / "eval" / f"{name}.png", max_samples=PICTURE_SAMPLES)
        partial.unlink()
        results[name] = res
    rows = summary_rows(results)
    write_json(out / "summary.json", rows)
    csv = ",".join(SUMMARY_COLUMNS) + "\n" + "".join(
        ",".join("" if r[c] is None else str(r[c]) for c in SUMMARY_COLUMNS) + "\n" for r in rows)
    write_text(out / "summary.csv", csv)
    echo(format_table(rows))
    return rows
