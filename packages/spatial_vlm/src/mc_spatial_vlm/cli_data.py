"""`mc spatial-vlm make-demo-data` and `build`: the x3 data and the task JSONs."""

from __future__ import annotations

import click

from mc_core.options import FiniteFloat, quiet_option, seed_option, shard_options
from mc_spatial_vlm.options import warn


@click.command("make-demo-data")
@click.option("--out-root", "--out_root", "out_root", required=True, type=click.Path(file_okay=False),
              help="Where to write the x3 layout (train/ and validation/).")
@click.option("--train-scenes", type=click.IntRange(min=0), default=4, show_default=True)
@click.option("--val-scenes", type=click.IntRange(min=0), default=2, show_default=True)
@click.option("--objects-per-scene", type=click.IntRange(min=1, max=6), default=3, show_default=True)
@click.option("--width", type=click.IntRange(min=16, max=4096), default=128, show_default=True)
@click.option("--height", type=click.IntRange(min=16, max=4096), default=96, show_default=True)
@click.option("--val-folder", type=click.Choice(["validation", "val"]), default="validation", show_default=True,
              help="Name of the validation split folder (the x3 data set: validation).")
@click.option("--spelling", type=click.Choice(["dialated", "dilated"]), default="dialated", show_default=True,
              help="File name of the dilated mask (the x3 data set spells it 'dialated').")
@seed_option(0)
@quiet_option
def make_demo_data_cmd(out_root, train_scenes, val_scenes, objects_per_scene, width, height, val_folder, spelling,
                       seed, quiet):
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
                            spelling=spelling, val_folder=val_folder, progress=progress)
    for split, c in counts.items():
        info(f"{split}: {c['scenes']} scenes, {c['instances']} instances, {c['views']} views "
             f"({c['empty_views']} with empty masks)")


@click.command("build")
@click.option("--data-root", "--data_root", "data_root", required=True, type=click.Path(),
              help="Root of the x3 layout (train/ and validation/ or val/).")
@click.option("--out-dir", "--out_dir", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Where the JSONs and images go.")
@click.option("--mode", type=click.Choice(["anchor", "allpairs", "all"]), default="anchor", show_default=True,
              help="Pairs: anchor = view --anchor-k is the reference of every other view; allpairs (or all) "
                   "= every ordered pair of views.")
@click.option("--anchor-k", "--anchor_k", "anchor_k", type=click.IntRange(min=1), default=1, show_default=True,
              help="The anchor view index (1-5) with --mode anchor.")
@click.option("--alpha", type=FiniteFloat(0, 1), default=0.45, show_default=True,
              help="Opacity of the red overlay on the reference mask.")
@click.option("--use-dilated-mask/--no-use-dilated-mask", "--use_dilated_mask/--no_use_dilated_mask",
              "use_dilated_mask", default=True, show_default=True,
              help="Masks for overlays and ground truth: *_mask_dialated.png (falling back to *_mask.png), "
                   "as the seed, which always uses it; --no-use-dilated-mask prefers *_mask.png.")
@click.option("--emit-concat", "--emit_concat", "emit_concat", type=click.Choice(["0", "1"]), default="1",
              show_default=True, help="Also write the side-by-side Task1 concat set.")
@click.option("--concat-answer", type=click.Choice(["query", "full"]), default="query", show_default=True,
              help="Task1 concat answers: query = the seed's (the point over the query image, the same text as "
                   "Task1 multi); full = over the whole side-by-side image, as the prompt asks and eval reads "
                   "it (ours; not the seed's files).")
@seed_option(42)
@shard_options
@quiet_option
def build_cmd(data_root, out_dir, mode, anchor_k, alpha, use_dilated_mask, emit_concat, concat_answer, seed,
              num_shards, shard_index, quiet):
    """Build Task1 (multi, concat), Task2A and Task2B JSONs from an x3 data root.

    The same 8 JSON files as the seed's tools/build_spatial_tasks_x3.py (ids, pairs, prompts,
    answers, the seeded random fallback of the ground-truth point), with its flags as aliases.
    Every mask is checked before anything is written. Restartable: images already in OUT_DIR are
    kept when the same data root, --alpha and mask choice made them. With --num-shards N each
    shard writes its images and OUT_DIR/shards/*.json; run once more without sharding to write
    the full JSONs.

    \b
    Example:
      mc spatial-vlm build --data-root demo_x3 --out-dir tasks --mode anchor \\
        --anchor-k 1 --alpha 0.45 --use-dilated-mask --emit-concat 1
      mc spatial-vlm build --data_root x3 --out_dir tasks --mode allpairs --emit_concat 0
    """
    from mc_core.progress import info, progress
    from mc_spatial_vlm.build import build_tasks

    counts = build_tasks(data_root, out_dir, mode=mode, anchor_k=anchor_k, alpha=alpha,
                         use_dilated_mask=use_dilated_mask, emit_concat=emit_concat == "1",
                         concat_answer=concat_answer, seed=seed,
                         num_shards=num_shards, shard_index=shard_index, progress=progress, warn=warn)
    for name, n in counts.items():
        info(f"{name}: {n} samples")


COMMANDS = [make_demo_data_cmd, build_cmd]
