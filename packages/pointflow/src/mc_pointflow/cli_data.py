"""`mc pointflow collect-demos|object-names|preprocess-masks|verify-masks`: demo buffers and their
attention masks. Heavy libraries are imported inside command bodies."""

from __future__ import annotations

import json

import click

from mc_core.options import FiniteFloat, quiet_option, seed_option, shard_options
from mc_pointflow.cli_options import TaskChoice, object_ids, parse_floats
from mc_pointflow.limits import (
    MAX_CLOUD_POINTS,
    MAX_EPISODE_STEPS,
    MAX_IMAGE_SIZE,
    MAX_POINTS,
    MAX_SMOOTHING_WINDOW,
)
from mc_pointflow.sim.collect import MAX_EPISODES


@click.command("collect-demos")
@click.option("--task", type=TaskChoice(), required=True, help="Scripted task to demonstrate.")
@click.option("--episodes", type=click.IntRange(1, MAX_EPISODES), default=10, show_default=True,
              help="Episodes the split should hold (a rerun continues up to this number).")
@click.option("--split", type=click.Choice(["train", "valid"]), default="train", show_default=True)
@click.option("--out-dir", default=None, help="Task directory (default demos/sim/<task>); writes <split>_segmented/.")
@click.option("--steps", type=click.IntRange(2, MAX_EPISODE_STEPS), default=40, show_default=True, help="Timesteps per episode.")
@click.option("--image-size", type=click.IntRange(8, MAX_IMAGE_SIZE), default=64, show_default=True,
              help="Camera images are SIZE x SIZE.")
@click.option("--n-cams", type=click.IntRange(1, 5), default=5, show_default=True, help="Number of cameras.")
@click.option("--n-points", type=click.IntRange(1, MAX_CLOUD_POINTS), default=5500, show_default=True,
              help="Points in the merged, down-sampled cloud pcd_xyz.")
@click.option("--zarr-format", type=click.Choice(["2", "3"]), default="2", show_default=True,
              help="Zarr format of a new buffer (2 is readable by zarr-2 tools).")
@click.option("--compressor", type=click.Choice(["lz4", "zstd", "none"]), default="lz4", show_default=True)
@click.option("--noise", type=FiniteFloat(min=0), default=0.0, show_default=True,
              help="DART-style demos: the gripper drifts off the expert's path by about NOISE metres (smooth "
                   "random offsets), the recorded actions stay the expert's. 0 = clean demos.")
@seed_option(0)
@quiet_option
def collect_demos_cmd(task, episodes, split, out_dir, steps, image_size, n_cams, n_points, zarr_format,
                      compressor, noise, seed, quiet):
    """Write scripted demos with segmentation from a synthetic tabletop scene.

    Several cameras (intrinsics and extrinsics in the buffer's attrs) render depth and per-pixel
    object ids of boxes, spheres and cylinders on a table while a gripper moves to the target
    object. Keys: camera_point_clouds (T,C,H*W,3), segmentation_masks (T,C,H,W), depth, pcd_xyz
    (T,P,3), robot_state (T,10: xyz, rot6d, gripper), action (T,10: next robot state; with
    --noise the expert's next pose while the recorded states drift off it).

    \b
    Example:
      mc pointflow collect-demos --task unplug_charger_like --episodes 20 --split train
      mc pointflow collect-demos --task reach_target --episodes 5 --split valid --out-dir demos/sim/reach_target
      mc pointflow collect-demos --task unplug_charger_like --episodes 200 --noise 0.03
    """
    from mc_core.progress import info, progress
    from mc_pointflow.sim.collect import collect_demos

    out = out_dir or f"demos/sim/{task}"
    buf = collect_demos(task, episodes, split, out, seed=seed, steps=steps, image_size=image_size, n_cams=n_cams,
                        n_points=n_points, zarr_format=int(zarr_format), compressor=compressor, noise=noise,
                        progress=progress)
    info(f"{buf.location}: {buf.n_episodes} episodes, {buf.n_steps} timesteps, keys {', '.join(buf.keys())}")


@click.command("object-names")
@click.option("--buffer", "buffer", required=True, type=click.Path(), help="Replay buffer with segmentation.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def object_names_cmd(buffer, as_json):
    """List object ids with their names and pixel counts in data/segmentation_masks.

    \b
    Example:
      mc pointflow object-names --buffer demos/sim/unplug_charger_like/train_segmented
    """
    from mc_core.errors import BadInputError
    from mc_pointflow.data.replay_buffer import ReplayBuffer
    from mc_pointflow.preprocess import pixel_counts

    buf = ReplayBuffer.open(buffer)
    if "segmentation_masks" not in buf:
        raise BadInputError(buf.location, "missing key data/segmentation_masks (collect demos with segmentation)")
    names = buf.attrs.get("object_names", {})
    counts = pixel_counts(buf)
    rows = [{"id": i, "name": names.get(str(i), "?"), "pixels": n} for i, n in counts.items()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'ID':>6}  {'PIXELS':>12}  NAME")
    for r in rows:
        click.echo(f"{r['id']:>6}  {r['pixels']:>12}  {r['name']}")


@click.command("preprocess-masks")
@click.option("--task", type=TaskChoice(), default=None, help="Task (finds <data-root>/<task>/<split>_segmented).")
@click.option("--data-root", "--data_root", default="demos/sim", show_default=True, help="Directory holding one folder per task.")
@click.option("--split", type=click.Choice(["train", "valid", "both"]), default="both", show_default=True)
@click.option("--buffer", multiple=True, type=click.Path(), help="Explicit buffer path(s) instead of --task/--split.")
@click.option("--object-ids", "--object_ids", "first_id", type=int, default=None,
              help="Object ids to attend, space separated (default: the task's, e.g. 31 34 35 92).")
@click.argument("more_ids", nargs=-1, type=int, metavar="")
@click.option("--distance-threshold", "--distance_threshold", type=FiniteFloat(min=0), default=0.01, show_default=True,
              help="Metres from an object point within which a point is attended.")
@click.option("--object-thresholds", "--object_thresholds", default=None,
              help="Per-object distance thresholds, one per object id (e.g. '0.01,0.02,0.02,0.01').")
@click.option("--gripper-radius", "--gripper_radius", type=FiniteFloat(min=0), default=0.05, show_default=True,
              help="Metres around the gripper that are always attended (0 = off).")
@click.option("--n-points", "--n_points", type=click.IntRange(1, MAX_POINTS), default=4096, show_default=True,
              help="Points sampled per timestep (must match training).")
@click.option("--soft-sigma", "--soft_sigma", type=FiniteFloat(min=0), default=0.0, show_default=True,
              help="Soft attention: weight exp(-0.5 (d/sigma)^2) by the distance beyond a threshold (0 = hard).")
@click.option("--smoothing-window", "--smoothing_window", type=click.IntRange(0, MAX_SMOOTHING_WINDOW), default=0, show_default=True,
              help="Temporal smoothing: average the attention over t-W..t+W (0 = off).")
@click.option("--smoothing-sigma", "--smoothing_sigma", type=FiniteFloat(min=0, min_open=True), default=1.0, show_default=True,
              help="Width in timesteps of the Gaussian smoothing weights.")
@click.option("--velocity-horizon", "--velocity_horizon", type=FiniteFloat(min=0), default=0.0, show_default=True,
              help="Velocity-based attention: also attend points within the gripper radius of the path the "
                   "gripper sweeps over this many steps ahead (0 = off).")
@click.option("--overwrite", is_flag=True, help="Recompute masks that already exist.")
@shard_options
@quiet_option
def preprocess_masks_cmd(task, data_root, split, buffer, first_id, more_ids, distance_threshold, object_thresholds,
                         gripper_radius, n_points, soft_sigma, smoothing_window, smoothing_sigma, velocity_horizon,
                         overwrite, num_shards, shard_index, quiet):
    """Precompute 3D attention masks into data/attention_masks of each buffer.

    A sampled point is attended when it lies within --distance-threshold of a point of any listed
    object (from the segmented camera clouds) or within --gripper-radius of the gripper. The
    sampled point indices (seed episode*1000+timestep) are stored in data/attention_point_indices
    and reused by the dataset. Existing masks are never overwritten without --overwrite: a rerun
    with the same settings continues unfinished episodes and skips finished buffers; other
    settings are refused (exit 2). --num-shards/--shard-index split the episodes.

    \b
    Example:
      mc pointflow preprocess-masks --task unplug_charger --split both \\
          --object-ids 31 34 35 92 --distance-threshold 0.01 --gripper-radius 0.05 --n-points 4096
      (the seed's command; `unplug_charger` is our simulated unplug_charger_like, the seed's
      underscore spellings such as --n_points work too; `mc pointflow script preprocess_masks.sh`
      is the seed's bash/preprocess_masks.sh)
      mc pointflow preprocess-masks --task unplug_charger_like --overwrite --soft-sigma 0.01
    """
    from mc_core.progress import info, progress
    from mc_pointflow.preprocess import mask_config, preprocess_masks
    from mc_pointflow.tasks import task_buffers

    ids = object_ids(first_id, more_ids)
    if ids is None and task is None:
        raise click.UsageError("give --object-ids (or --task for its default ids)")
    thresholds = parse_floats(object_thresholds, "--object-thresholds")
    if thresholds is not None and len(thresholds) != len(ids or ()) and ids is not None:
        raise click.BadParameter(f"needs {len(ids)} values (one per object id), got {len(thresholds)}",
                                 param_hint="--object-thresholds")
    if not buffer and task is None:
        raise click.UsageError("give --task (with --data-root) or --buffer")
    config = mask_config(ids, task=task, distance_threshold=distance_threshold, gripper_radius=gripper_radius,
                         n_points=n_points, object_thresholds=thresholds, soft_sigma=soft_sigma,
                         smoothing_window=smoothing_window, smoothing_sigma=smoothing_sigma,
                         velocity_horizon=velocity_horizon)
    results = preprocess_masks(task_buffers(task, data_root, split, buffer), config, overwrite=overwrite,
                               num_shards=num_shards, shard_index=shard_index, progress=progress)
    for res in results:
        if res.already_done:
            info(f"{res.location}: data/attention_masks already exists with these settings; nothing written "
                 "(pass --overwrite to recompute)")
            continue
        cov = list(res.coverage.values())
        extra = f", mean attended fraction {sum(cov) / len(cov):.4f}" if cov else ""
        info(f"{res.location}: wrote masks for {len(res.episodes_done)} episodes, "
             f"{len(res.episodes_skipped)} already done{extra}")


@click.command("verify-masks")
@click.option("--task", type=TaskChoice(), default=None)
@click.option("--data-root", default="demos/sim", show_default=True)
@click.option("--split", type=click.Choice(["train", "valid", "both"]), default="both", show_default=True)
@click.option("--buffer", multiple=True, type=click.Path(), help="Explicit buffer path(s) instead of --task/--split.")
@click.option("--batch-size", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--out-json", default=None, type=click.Path(), help="Also write the report as JSON.")
@click.option("--plot", default=None, type=click.Path(),
              help="Write a PNG of the first timestep's points coloured by attention.")
def verify_masks_cmd(task, data_root, split, buffer, batch_size, out_json, plot):
    """Check preprocessed masks: existence, shapes, coverage per episode and one dataset batch.

    Exits 1 when a buffer has no (or incomplete) masks.

    \b
    Example:
      mc pointflow verify-masks --task unplug_charger_like
      mc pointflow verify-masks --buffer demos/sim/reach_target/train_segmented --plot mask.png
    """
    from mc_core.errors import McError
    from mc_pointflow.tasks import task_buffers
    from mc_pointflow.verify import verify_buffers

    if not buffer and task is None:
        raise click.UsageError("give --task (with --data-root) or --buffer")
    reports, failed = verify_buffers(task_buffers(task, data_root, split, buffer), batch_size=batch_size,
                                     plot=plot, out_json=out_json), []
    for rep in reports:
        click.echo(f"{rep['buffer']}:")
        if not rep["masks_found"]:
            click.echo("  no preprocessed attention masks found (run `mc pointflow preprocess-masks`)")
            failed.append(rep["buffer"])
            continue
        click.echo(f"  attention_masks {tuple(rep['masks_shape'])} {rep['masks_dtype']}, "
                   f"indices {tuple(rep['indices_shape'])} {rep['indices_dtype']}")
        click.echo(f"  episodes done {rep['episodes_done']}/{rep['n_episodes']}, "
                   f"stored mask bytes per timestep {rep['mask_bytes_per_timestep']:.0f}")
        click.echo(f"  settings {json.dumps(rep['mask_config'])}")
        c = rep["coverage"]
        click.echo(f"  attended fraction: mean {c['mean']:.4f} min {c['min']:.4f} max {c['max']:.4f}")
        for e in rep["per_episode"]:
            click.echo(f"    episode {e['episode']:>4}: mean {e['mean']:.4f} min {e['min']:.4f} max {e['max']:.4f}")
        b = rep.get("batch")
        if b:
            click.echo("  dataset batch: " + ", ".join(f"{k} {tuple(v)}" for k, v in b.items()))
        if rep["episodes_done"] < rep["n_episodes"]:
            failed.append(rep["buffer"])
    if failed:
        raise McError(f"masks missing or incomplete in {', '.join(failed)}")



COMMANDS = [collect_demos_cmd, object_names_cmd, preprocess_masks_cmd, verify_masks_cmd]
