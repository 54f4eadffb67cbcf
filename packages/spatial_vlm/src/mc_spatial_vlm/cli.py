"""`mc spatial-vlm ...` commands. Heavy libraries are imported inside command bodies."""

from __future__ import annotations

import click

from mc_core.cli import plugin_group
from mc_core.options import device_option, quiet_option, seed_option, shard_options

group = plugin_group("spatial-vlm", help="Multi-view spatial grounding tasks and evaluation for VLMs.")

MODEL_HELP = ("A baseline (center, not-visible, pixel-diff) or a local Hugging Face vision-language model "
              "folder (hf-vlm).")


def _model_options(f):
    f = click.option("--image-size", type=click.IntRange(min=14), default=448, show_default=True,
                     help="Side of the square images with --image-aspect-ratio resize.")(f)
    f = click.option("--image-aspect-ratio", type=click.Choice(["resize", "keep"]), default="resize",
                     show_default=True, help="resize: every image to --image-size squared; keep: as is.")(f)
    f = click.option("--diff-threshold", type=click.FloatRange(min=0), default=30.0, show_default=True,
                     help="pixel-diff only: a pixel has changed when its summed absolute RGB difference "
                          "(0-765) is above this.")(f)
    f = click.option("--chat-template", default=None,
                     help="Override the model's chat template: 'qwen2' or a path to a Jinja file.")(f)
    return f


def _predictor(model: str, device: str, max_new_tokens: int, chat_template, aspect: str, size: int,
               diff_threshold: float = 30.0):
    from mc_spatial_vlm.predictors import make_predictor

    return make_predictor(model, device=device, max_new_tokens=max_new_tokens, chat_template=chat_template,
                          image_aspect_ratio=aspect, image_size=size, threshold=diff_threshold)


@group.command("make-demo-data")
@click.option("--out-root", required=True, type=click.Path(file_okay=False), help="Where to write the x3 layout.")
@click.option("--train-scenes", type=click.IntRange(min=0), default=4, show_default=True)
@click.option("--val-scenes", type=click.IntRange(min=0), default=2, show_default=True)
@click.option("--objects-per-scene", type=click.IntRange(min=1, max=6), default=3, show_default=True)
@click.option("--width", type=click.IntRange(min=16), default=128, show_default=True)
@click.option("--height", type=click.IntRange(min=16), default=96, show_default=True)
@click.option("--spelling", type=click.Choice(["dialated", "dilated"]), default="dialated", show_default=True,
              help="File name of the dilated mask (the x3 data set spells it 'dialated').")
@seed_option(0)
@quiet_option
def make_demo_data_cmd(out_root, train_scenes, val_scenes, objects_per_scene, width, height, spelling, seed, quiet):
    """Write a synthetic x3 data set: 3D scenes seen by 5 cameras per object.

    Each object instance gets 5 views with original, inpainted (object removed), mask and
    dilated mask images; one view hides the object behind an occluder and one looks away
    from it (empty masks).

    \b
    Example:
      mc spatial-vlm make-demo-data --out-root demo_x3
    """
    from mc_core.progress import info, progress
    from mc_spatial_vlm.data.demo import make_demo_data

    counts = make_demo_data(out_root, train_scenes=train_scenes, val_scenes=val_scenes,
                            objects_per_scene=objects_per_scene, width=width, height=height, seed=seed,
                            spelling=spelling, progress=progress)
    for split, c in counts.items():
        info(f"{split}: {c['scenes']} scenes, {c['instances']} instances, {c['views']} views "
             f"({c['empty_views']} with empty masks)")


@group.command("build")
@click.option("--data-root", required=True, type=click.Path(), help="Root of the x3 layout.")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False), help="Where the JSONs and images go.")
@click.option("--mode", type=click.Choice(["anchor", "all"]), default="anchor", show_default=True,
              help="Pairing mode: anchor = first --anchor-k visible views are references; all = every visible view.")
@click.option("--anchor-k", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--alpha", type=click.FloatRange(0, 1), default=0.45, show_default=True,
              help="Opacity of the red overlay on the reference mask.")
@click.option("--use-dilated-mask", is_flag=True, help="Use the dilated mask for overlays and ground truth.")
@click.option("--emit-concat", type=click.Choice(["0", "1"]), default="1", show_default=True,
              help="Also write the side-by-side Task1 concat set.")
@seed_option(0)
@shard_options
@quiet_option
def build_cmd(data_root, out_dir, mode, anchor_k, alpha, use_dilated_mask, emit_concat, seed, num_shards,
              shard_index, quiet):
    """Build Task1 (multi, concat), Task2A and Task2B JSONs from an x3 data root.

    Restartable: images already in OUT_DIR are kept. With --num-shards N each shard writes its
    images and OUT_DIR/shards/*.json; run once more without sharding to write the full JSONs
    (fast: it reuses the images).

    \b
    Example:
      mc spatial-vlm build --data-root demo_x3 --out-dir tasks --mode anchor \\
        --anchor-k 1 --alpha 0.45 --use-dilated-mask --emit-concat 1
      mc spatial-vlm build --data-root x3 --out-dir tasks --num-shards 8 --shard-index 3
    """
    from mc_core.progress import info, progress
    from mc_spatial_vlm.build import build_tasks

    counts = build_tasks(data_root, out_dir, mode=mode, anchor_k=anchor_k, alpha=alpha,
                         use_dilated_mask=use_dilated_mask, emit_concat=emit_concat == "1", seed=seed,
                         num_shards=num_shards, shard_index=shard_index, progress=progress)
    for name, n in counts.items():
        info(f"{name}: {n} samples")


@group.command("eval")
@click.option("--model", "--model-name-or-path", "model", required=True, help=MODEL_HELP)
@click.option("--data-json", required=True, type=click.Path(), help="A task JSON written by build.")
@click.option("--image-folder", default="/", show_default=True, help="Base folder of relative image paths.")
@click.option("--output-json", required=True, type=click.Path(dir_okay=False), help="Metrics and per-sample results.")
@click.option("--max-new-tokens", type=click.IntRange(min=1), default=64, show_default=True)
@_model_options
@device_option
@quiet_option
def eval_cmd(model, data_json, image_folder, output_json, max_new_tokens, chat_template, diff_threshold,
             image_aspect_ratio, image_size, device, quiet):
    """Evaluate a model or baseline on one task JSON (greedy decoding).

    Writes {"metrics": {...}, "results": [...]}; a sample that fails is recorded with its error.
    Finished samples are kept in OUTPUT_JSON.partial.jsonl while running, so an interrupted run
    started again with the same model and data goes on where it stopped.

    \b
    Example:
      mc spatial-vlm eval --model pixel-diff --data-json tasks/t2b_val_multi.json \\
        --output-json runs/t2b_val_multi.json --diff-threshold 30
      mc spatial-vlm eval --model ./my-qwen2-vl --data-json tasks/t1_val_multi.json \\
        --image-aspect-ratio resize --max-new-tokens 64 --output-json runs/t1.json
    """
    import os

    from mc_core.atomic import write_json
    from mc_core.progress import info, progress
    from mc_spatial_vlm.data.tasks import load_task_json
    from mc_spatial_vlm.evaluate import evaluate

    samples = load_task_json(data_json)
    predictor = _predictor(model, device, max_new_tokens, chat_template, image_aspect_ratio, image_size,
                           diff_threshold)
    partial = f"{output_json}.partial.jsonl"
    key = (f"{os.path.abspath(model) if os.path.isdir(model) else model}|{os.path.abspath(data_json)}|{max_new_tokens}"
           + (f"|{diff_threshold}" if model == "pixel-diff" else ""))
    res = evaluate(predictor, samples, image_folder=image_folder, progress=progress, resume_path=partial, run_key=key)
    write_json(output_json, res)
    os.remove(partial)
    errors = sum(1 for r in res["results"] if r.get("error"))
    m = res["metrics"]
    fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    click.echo(f"total {m['total']}  hit@mask {fmt(m['hit_at_mask'])}  not-visible acc "
               f"{fmt(m['not_visible_accuracy'])}  mean L2 {fmt(m['mean_l2_error'])}  errors {errors}")
    info(f"wrote {output_json}")


@group.command("visualize")
@click.option("--eval-json", required=True, type=click.Path(dir_okay=False), help="An output JSON of eval.")
@click.option("--out-png", required=True, type=click.Path(dir_okay=False), help="The picture to write.")
@click.option("--data-json", type=click.Path(dir_okay=False), default=None,
              help="The task JSON that eval ran on; needed only for eval JSONs without image paths.")
@click.option("--image-folder", default="/", show_default=True, help="Base folder of relative image paths.")
@click.option("--show", type=click.Choice(["all", "correct", "wrong", "error"]), default="all", show_default=True,
              help="Which samples: correct = hits and right NOT_VISIBLE; wrong = the rest (errors included).")
@click.option("--max-samples", type=click.IntRange(min=1), default=24, show_default=True,
              help="Draw the first N matching samples, in the order of the eval JSON.")
@click.option("--columns", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--tile-height", type=click.IntRange(min=32), default=160, show_default=True,
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
    from mc_spatial_vlm.data.tasks import load_task_json
    from mc_spatial_vlm.visualize import attach_images, load_eval_json, visualize_results

    results = load_eval_json(eval_json)
    samples = load_task_json(data_json) if data_json else None
    results = attach_images(results, eval_json, samples, data_json, image_folder)
    n = visualize_results(results, out_png, show=show, max_samples=max_samples, columns=columns,
                          height=tile_height, progress=progress)
    if n == 0:
        click.echo(f"nothing to draw: no sample of {eval_json} matches --show {show}")
        return
    click.echo(f"drew {n} samples")
    info(f"wrote {out_png}")


@group.command("zero-shot")
@click.option("--model", "--model-name-or-path", "model", required=True, help=MODEL_HELP)
@click.option("--out-dir", required=True, type=click.Path(file_okay=False))
@click.option("--tasks-dir", type=click.Path(file_okay=False), default=None,
              help="Task JSONs (built here if missing). Default: OUT_DIR/tasks.")
@click.option("--data-root", type=click.Path(file_okay=False), default=None,
              help="x3 data to build from. Default: demo data made in OUT_DIR/demo_data.")
@click.option("--max-new-tokens", type=click.IntRange(min=1), default=64, show_default=True)
@_model_options
@device_option
@seed_option(0)
@quiet_option
def zero_shot_cmd(model, out_dir, tasks_dir, data_root, max_new_tokens, chat_template, diff_threshold,
                  image_aspect_ratio, image_size, device, seed, quiet):
    """Evaluate on the four validation sets and print a summary table (saved as JSON and CSV).

    Sets: t1_val_multi, t1_val_concat, t2a_val_multi, t2b_val_multi. Each gets OUT_DIR/eval/<set>.json
    and a picture of its first 16 samples, OUT_DIR/eval/<set>.png (see `visualize`).

    \b
    Example:
      mc spatial-vlm zero-shot --model center --out-dir runs/zs_center
      mc spatial-vlm zero-shot --model ./my-qwen2-vl --data-root x3 --out-dir runs/zs
    """
    from mc_core.progress import info, progress
    from mc_spatial_vlm.zeroshot import run_zero_shot

    predictor = _predictor(model, device, max_new_tokens, chat_template, image_aspect_ratio, image_size,
                           diff_threshold)
    run_zero_shot(predictor, out_dir, tasks_dir=tasks_dir, data_root=data_root, seed=seed, progress=progress,
                  echo=click.echo, status=info)
    info(f"wrote {out_dir}/summary.json, summary.csv, eval/*.json and eval/*.png")


@group.command("check-dataloader")
@click.option("--data-json", required=True, type=click.Path())
@click.option("--model", "--model-name-or-path", "model", required=True, type=click.Path(),
              help="Local HF model folder (only its processor is loaded).")
@click.option("--image-folder", default="/", show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--image-aspect-ratio", type=click.Choice(["resize", "keep"]), default="resize", show_default=True)
@click.option("--image-size", type=click.IntRange(min=14), default=448, show_default=True)
@click.option("--model-max-length", type=click.IntRange(min=16), default=8192, show_default=True)
def check_dataloader_cmd(data_json, model, image_folder, batch_size, image_aspect_ratio, image_size,
                         model_max_length):
    """Build the SFT dataset and dataloader, take one batch and check it (no training).

    \b
    Example:
      mc spatial-vlm check-dataloader --data-json tasks/t1_train_multi.json --model ./my-qwen2-vl
    """
    from mc_spatial_vlm.sft import check_dataloader

    try:
        check_dataloader(data_json, model, image_folder=image_folder, batch_size=batch_size,
                         image_aspect_ratio=image_aspect_ratio, image_size=image_size,
                         model_max_length=model_max_length, echo=click.echo)
    except AssertionError as e:
        from mc_core.errors import BadInputError

        raise BadInputError(data_json, f"dataloader check failed: {e}") from None


@group.command("sft")
@click.option("--model", "--model-name-or-path", "model", required=True, type=click.Path(),
              help="Local HF vision-language model folder to fine-tune.")
@click.option("--data-json", required=True, type=click.Path())
@click.option("--out-dir", required=True, type=click.Path(file_okay=False),
              help="The fine-tuned model folder (loadable by eval --model OUT_DIR).")
@click.option("--image-folder", default="/", show_default=True)
@click.option("--freeze-vision", is_flag=True, help="Do not train the vision tower.")
@click.option("--image-aspect-ratio", type=click.Choice(["resize", "keep"]), default="resize", show_default=True)
@click.option("--image-size", type=click.IntRange(min=14), default=448, show_default=True)
@click.option("--model-max-length", type=click.IntRange(min=16), default=8192, show_default=True)
@click.option("--max-steps", type=click.IntRange(min=1), default=500, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True, help="Per device.")
@click.option("--grad-accum", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--lr", type=float, default=1e-5, show_default=True)
@click.option("--log-every", type=click.IntRange(min=0), default=10, show_default=True)
@click.option("--save-every", type=click.IntRange(min=0), default=100, show_default=True,
              help="Save a resume point (OUT_DIR.resume/) every N steps; 0: never.")
@click.option("--resume", is_flag=True, help="Continue from OUT_DIR.resume/ if it exists.")
@device_option
@seed_option(0)
@quiet_option
def sft_cmd(model, data_json, out_dir, image_folder, freeze_vision, image_aspect_ratio, image_size,
            model_max_length, max_steps, batch_size, grad_accum, lr, log_every, save_every, resume, device, seed,
            quiet):
    """Supervised fine-tuning on a task JSON; only answer tokens count in the loss.

    Runs through Hugging Face accelerate, so `accelerate launch -m mc_core spatial-vlm sft ...`
    trains on several GPUs. Writes the model folder with train.log, train_log.json, loss.csv and
    mc_meta.json (base model, versions, training args, data hash). While it runs, one line per
    step goes to OUT_DIR.train.log: follow it with `tail -f runs/sft_t1.train.log`.

    \b
    Example:
      mc spatial-vlm sft --model ./my-qwen2-vl --data-json tasks/t1_train_multi.json \\
        --out-dir runs/sft_t1 --freeze-vision --image-aspect-ratio resize \\
        --model-max-length 8192 --max-steps 300
    """
    from mc_core.progress import info, progress
    from mc_spatial_vlm.sft import train_sft

    log = train_sft(model, data_json, out_dir, image_folder=image_folder, freeze_vision_tower=freeze_vision,
                    image_aspect_ratio=image_aspect_ratio, image_size=image_size, model_max_length=model_max_length,
                    max_steps=max_steps, batch_size=batch_size, lr=lr, grad_accum=grad_accum, seed=seed,
                    device=device, log_every=log_every, save_every=save_every, resume=resume, progress=progress,
                    echo=info)
    if log["losses"]:
        click.echo(f"steps {log['steps']}  first loss {log['losses'][0]:.4f}  last loss {log['losses'][-1]:.4f}")
    info(f"wrote {out_dir}")
