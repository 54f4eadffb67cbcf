"""`mc spatial-vlm eval`, `zero-shot` and `visualize`: scoring answers and looking at them."""

from __future__ import annotations

import click

from mc_core.options import device_option, quiet_option, seed_option
from mc_spatial_vlm.options import MODEL_HELP, PredictorChoice, model_options, predictor_options, warn


@click.command("eval")
@click.option("--model", "--model-name-or-path", "--model_name_or_path", "model", type=PredictorChoice(),
              default=None, help=MODEL_HELP)
@click.option("--predictions", type=click.Path(dir_okay=False), default=None,
              help="Score answers made elsewhere instead of running a model: JSON lines, each "
                   '{"id": ..., "pred_text": ...}, matched to the samples by id.')
@click.option("--data-json", "--data_json", "data_json", required=True, type=click.Path(),
              help="A task JSON written by build.")
@click.option("--image-folder", "--image_folder", "image_folder", default="/", show_default=True,
              help="Base folder of relative image paths.")
@click.option("--output-json", "--output_json", "output_json", required=True, type=click.Path(dir_okay=False),
              help="Metrics and per-sample results.")
@click.option("--limit", type=click.IntRange(min=0), default=None, help="Only the first N samples.")
@model_options
@device_option
@quiet_option
def eval_cmd(model, predictions, data_json, image_folder, output_json, limit, max_new_tokens, chat_template,
             diff_threshold, image_aspect_ratio, image_size, device, quiet):
    """Evaluate a model or baseline (or answers made elsewhere) on one task JSON.

    Writes {"metrics": {...}, "results": [...]}: the seed's 13 metric keys, computed as its
    tools/eval_spatial_tasks.py computes them, and our stricter ones beside them (see the README).
    Finished samples are kept in OUTPUT_JSON.partial.jsonl while running, so an interrupted run
    started again with the same model and data goes on where it stopped.

    \b
    Example:
      mc spatial-vlm eval --model pixel-diff --data-json tasks/t2b_val_multi.json \\
        --output-json runs/t2b_val_multi.json --diff-threshold 30
      mc spatial-vlm eval --model_name_or_path ./my-qwen2-vl --data_json tasks/t1_val_multi.json \\
        --image_folder / --chat_template qwen2 --image_aspect_ratio resize --max_new_tokens 64 \\
        --output_json runs/t1.json
      mc spatial-vlm eval --predictions answers.jsonl --data-json tasks/t1_val_multi.json --output-json runs/t1.json
    """
    from mc_core.errors import UsageError
    from mc_core.progress import info, progress
    from mc_spatial_vlm.evaluate import evaluate_task_json, format_metrics
    from mc_spatial_vlm.predictors import make_predictor, predictor_run_key

    if (model is None) == (predictions is None):
        raise UsageError("give either --model or --predictions")
    options = predictor_options(device, max_new_tokens, chat_template, image_aspect_ratio, image_size,
                                diff_threshold)
    predictor = make_predictor(model, **options) if model is not None else None
    res = evaluate_task_json(data_json, output_json, predictor=predictor, predictions_jsonl=predictions,
                             image_folder=image_folder, limit=limit, progress=progress, warn=warn,
                             run_key=predictor_run_key(model, options) if model is not None else "")
    click.echo(format_metrics(res["metrics"]))
    info(f"wrote {output_json}")


@click.command("visualize")
@click.option("--eval-json", required=True, type=click.Path(dir_okay=False), help="An output JSON of eval.")
@click.option("--out-png", required=True, type=click.Path(dir_okay=False), help="The picture to write.")
@click.option("--data-json", type=click.Path(dir_okay=False), default=None,
              help="The task JSON that eval ran on; needed only for eval JSONs without image paths.")
@click.option("--image-folder", default="/", show_default=True, help="Base folder of relative image paths.")
@click.option("--show", type=click.Choice(["all", "correct", "wrong", "error"]), default="all", show_default=True,
              help="Which samples: correct = hits and right NOT_VISIBLE; wrong = the rest (errors included).")
@click.option("--max-samples", type=click.IntRange(min=1), default=24, show_default=True,
              help="Draw the first N matching samples, in the order of the eval JSON.")
@click.option("--columns", type=click.IntRange(min=1, max=64), default=4, show_default=True)
@click.option("--tile-height", type=click.IntRange(min=32, max=2048), default=160, show_default=True,
              help="Height in pixels of the images in each tile.")
@quiet_option
def visualize_cmd(eval_json, out_png, data_json, image_folder, show, max_samples, columns, tile_height, quiet):
    """Draw eval results as a PNG grid: images, ground-truth mask and point, predicted point.

    On the query image the mask is tinted cyan, the ground-truth point is a green ring and the
    answer a red cross; the caption gives HIT / MISS / NV OK / NV WRONG / ERROR, the id and the
    answer. Nothing is written when no sample matches --show.

    \b
    Example:
      mc spatial-vlm eval --model center --data-json tasks/t1_val_multi.json --output-json runs/t1.json
      mc spatial-vlm visualize --eval-json runs/t1.json --out-png runs/t1_wrong.png --show wrong
    """
    from mc_core.progress import info, progress
    from mc_spatial_vlm.visualize import visualize_eval_json

    n = visualize_eval_json(eval_json, out_png, data_json=data_json, image_folder=image_folder, show=show,
                            max_samples=max_samples, columns=columns, height=tile_height, progress=progress)
    if n == 0:
        click.echo(f"nothing to draw: no sample of {eval_json} matches --show {show}")
        return
    click.echo(f"drew {n} samples")
    info(f"wrote {out_png}")


@click.command("zero-shot")
@click.option("--model", "--model-name-or-path", "--model_name_or_path", "model", required=True,
              type=PredictorChoice(), help=MODEL_HELP)
@click.option("--out-dir", "--out_dir", "out_dir", required=True, type=click.Path(file_okay=False))
@click.option("--tasks-dir", type=click.Path(file_okay=False), default=None,
              help="Task JSONs (built here if missing). Default: OUT_DIR/tasks.")
@click.option("--data-root", "--data_root", "data_root", type=click.Path(file_okay=False), default=None,
              help="x3 data to build from. Default: demo data made in OUT_DIR/demo_data.")
@model_options
@device_option
@seed_option(42)
@quiet_option
def zero_shot_cmd(model, out_dir, tasks_dir, data_root, max_new_tokens, chat_template, diff_threshold,
                  image_aspect_ratio, image_size, device, seed, quiet):
    """Evaluate on the four validation sets and print a summary table (saved as JSON and CSV).

    Sets: t1_val_multi, t1_val_concat, t2a_val_multi, t2b_val_multi. Each gets OUT_DIR/eval/<set>.json
    and a picture of its first 16 samples, OUT_DIR/eval/<set>.png (see `visualize`). The summary
    shows the seed's figures (Hit@Mask, NOT_VISIBLE acc, mean L2, Success@0.02/0.05/0.10) and ours
    (strict Hit@Mask, unparseable answers, failed samples) beside them.

    \b
    Example:
      mc spatial-vlm zero-shot --model center --out-dir runs/zs_center
      mc spatial-vlm zero-shot --model ./my-qwen2-vl --data-root x3 --out-dir runs/zs
    """
    from mc_core.progress import info, progress
    from mc_spatial_vlm.predictors import make_predictor, predictor_run_key
    from mc_spatial_vlm.zeroshot import run_zero_shot

    options = predictor_options(device, max_new_tokens, chat_template, image_aspect_ratio, image_size,
                                diff_threshold)
    predictor = make_predictor(model, **options)
    run_zero_shot(predictor, out_dir, tasks_dir=tasks_dir, data_root=data_root, seed=seed, progress=progress,
                  echo=click.echo, status=info, run_key=predictor_run_key(model, options))
    info(f"wrote {out_dir}/summary.json, summary.csv, eval/*.json and eval/*.png")


COMMANDS = [eval_cmd, zero_shot_cmd, visualize_cmd]
