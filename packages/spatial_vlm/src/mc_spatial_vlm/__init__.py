"""Multi-view spatial grounding tasks and evaluation for VLMs.

The public API (imported lazily, so `import mc_spatial_vlm` stays light)::

    from mc_spatial_vlm import build_tasks, evaluate_task_json, make_demo_data, make_predictor

    make_demo_data("demo_x3")
    build_tasks("demo_x3", "tasks")                       # the seed's 8 task JSONs
    res = evaluate_task_json("tasks/t2b_val_multi.json", "runs/t2b.json",
                             predictor=make_predictor("pixel-diff"))
    print(res["metrics"]["hit_at_mask"], res["metrics"]["hit_at_mask_strict"])
"""

from __future__ import annotations

from mc_core.lazy import lazy_exports

_EXPORTS = {
    "Predictor": "mc_spatial_vlm.interface",
    "Answer": "mc_spatial_vlm.answers",
    "NOT_VISIBLE": "mc_spatial_vlm.answers",
    "format_point": "mc_spatial_vlm.answers",
    "parse_gt": "mc_spatial_vlm.answers",
    "parse_prediction": "mc_spatial_vlm.answers",
    "build_tasks": "mc_spatial_vlm.build",
    "gt_point": "mc_spatial_vlm.build",
    "make_demo_data": "mc_spatial_vlm.data.demo",
    "load_task_json": "mc_spatial_vlm.data.tasks",
    "scan_instances": "mc_spatial_vlm.data.x3",
    "evaluate": "mc_spatial_vlm.evaluate",
    "evaluate_sample": "mc_spatial_vlm.evaluate",
    "evaluate_task_json": "mc_spatial_vlm.evaluate",
    "load_predictions": "mc_spatial_vlm.evaluate",
    "SEED_METRIC_KEYS": "mc_spatial_vlm.metrics",
    "STRICT_METRIC_KEYS": "mc_spatial_vlm.metrics",
    "hit_at_mask": "mc_spatial_vlm.metrics",
    "summarize": "mc_spatial_vlm.metrics",
    "CenterPredictor": "mc_spatial_vlm.predictors",
    "NotVisiblePredictor": "mc_spatial_vlm.predictors",
    "PixelDiffPredictor": "mc_spatial_vlm.predictors",
    "make_predictor": "mc_spatial_vlm.predictors",
    "check_dataloader": "mc_spatial_vlm.sft",
    "train_sft": "mc_spatial_vlm.sft",
    "visualize_eval_json": "mc_spatial_vlm.visualize",
    "visualize_results": "mc_spatial_vlm.visualize",
    "run_zero_shot": "mc_spatial_vlm.zeroshot",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
