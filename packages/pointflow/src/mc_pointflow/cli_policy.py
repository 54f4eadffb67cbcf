"""`mc pointflow train|eval|rollout`: the flow-matching policy. Heavy imports stay inside command bodies."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mc_core.options import FiniteFloat, RegistryChoice, device_option, quiet_option, seed_option, training_options
from mc_pointflow.cli_options import TaskChoice, object_ids
from mc_pointflow.limits import (
    MAX_BATCH,
    MAX_BLOCKS,
    MAX_CLOUD_POINTS,
    MAX_EPISODE_STEPS,
    MAX_EULER_STEPS,
    MAX_HORIZON,
    MAX_IMAGE_SIZE,
    MAX_OBS_STEPS,
    MAX_POINTS,
    MAX_WIDTH,
)


def _policy_buffers(task, data_root, buffer, valid_buffer):
    """(train buffer, valid buffer or None) from --buffer/--valid-buffer or --task/--data-root."""
    from mc_pointflow.tasks import buffer_path

    if buffer:
        return buffer, valid_buffer
    if not task:
        raise click.UsageError("give --buffer (a training replay buffer) or --task (with --data-root)")
    valid = valid_buffer or buffer_path(data_root, task, "valid")
    return str(buffer_path(data_root, task, "train")), (str(valid) if Path(valid).exists() else None)


@click.command("train")
@click.option("--task", type=TaskChoice(), default=None,
              help="Train on <data-root>/<task>/train_segmented (validate on valid_segmented when it exists).")
@click.option("--data-root", default="demos/sim", show_default=True, help="Directory holding one folder per task.")
@click.option("--buffer", type=click.Path(), default=None, help="Training replay buffer (instead of --task).")
@click.option("--valid-buffer", type=click.Path(), default=None, help="Validation replay buffer.")
@click.option("--out-dir", default="runs/pointflow", show_default=True, type=click.Path(file_okay=False),
              help="Run folder: checkpoints/ (last, best, final), metrics.csv, loss.png, train_log.json.")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Optimizer steps (default 500).")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Instead of --steps: passes over the training items (steps = epochs x items / batch size).")
@click.option("--attention-weight", type=FiniteFloat(min=0), default=1.0, show_default=True,
              help="Weight of the BCE between the attention logits and the masks (0 = unsupervised attention).")
@click.option("--attention-pos-weight", type=FiniteFloat(min=0, min_open=True), default=1.0, show_default=True,
              help="Weight of the attended points' terms in that BCE (torch's pos_weight; attended points are few).")
@click.option("--batch-size", type=click.IntRange(1, MAX_BATCH), default=32, show_default=True)
@click.option("--lr", type=FiniteFloat(min=0, min_open=True), default=1e-3, show_default=True,
              help="AdamW learning rate (constant after a 20-step warm-up, unless --lr-decay-steps).")
@click.option("--lr-decay-steps", type=click.IntRange(min=0), default=0, show_default=True,
              help="Cosine decay of the learning rate after the warm-up, to 1% of --lr at this step (constant "
                   "after it); 0 = no decay. Set it to --steps for a decay over the whole run.")
@click.option("--horizon", type=click.IntRange(1, MAX_HORIZON), default=16, show_default=True, help="Actions per chunk.")
@click.option("--n-obs-steps", type=click.IntRange(1, MAX_OBS_STEPS), default=2, show_default=True, help="Robot states of history.")
@click.option("--feat-dim", type=click.IntRange(1, MAX_WIDTH), default=128, show_default=True, help="Point feature size.")
@click.option("--point-width", type=click.IntRange(1, MAX_WIDTH), default=64, show_default=True,
              help="Width of the first per-point MLP.")
@click.option("--hidden", type=click.IntRange(1, MAX_WIDTH), default=256, show_default=True, help="Velocity network width.")
@click.option("--n-blocks", type=click.IntRange(0, MAX_BLOCKS), default=3, show_default=True,
              help="Residual blocks of the velocity network.")
@click.option("--log-every", type=click.IntRange(min=1), default=25, show_default=True,
              help="Steps per row of metrics.csv (with a validation pass when there is a validation buffer).")
@click.option("--ckpt-every", type=click.IntRange(min=0), default=100, show_default=True,
              help="Save OUT_DIR/checkpoints/last every N steps (0 = only at the end).")
@click.option("--val-items", type=click.IntRange(min=0), default=64, show_default=True,
              help="Validation items per validation pass (evenly spaced).")
@click.option("--object-ids", "first_id", type=int, default=None,
              help="Only for buffers without preprocessed masks: object ids for on-the-fly masks (slow).")
@click.argument("extra", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--set", "set_overrides", multiple=True, metavar="KEY=VALUE",
              help="Override an option by its config key (model.hidden=512, train.weight_decay=0), checked "
                   "against the defaults; the same as a bare KEY=VALUE argument.")
@click.option("--distance-threshold", type=FiniteFloat(min=0), default=0.01, show_default=True,
              help="With --object-ids: metres from an object point within which a point is attended.")
@click.option("--gripper-radius", type=FiniteFloat(min=0), default=0.05, show_default=True,
              help="With --object-ids: metres around the gripper that are attended.")
@click.option("--n-points", type=click.IntRange(1, MAX_POINTS), default=4096, show_default=True,
              help="With --object-ids: points sampled per timestep.")
@click.option("--threads", type=click.IntRange(min=0), default=0, show_default=True,
              help="CPU threads for torch (0 = torch's default).")
@training_options
@seed_option(0)
@quiet_option
def train_cmd(task, data_root, buffer, valid_buffer, out_dir, steps, epochs, attention_weight,
              attention_pos_weight, batch_size, lr, lr_decay_steps, horizon, n_obs_steps, feat_dim, point_width,
              hidden, n_blocks, log_every, ckpt_every, val_items, first_id, extra, set_overrides, distance_threshold,
              gripper_radius, n_points, threads, device, resume, max_minutes, seed, quiet):
    """Train the flow-matching policy with (supervised) 3D attention on a replay buffer.

    Uses the buffer's precomputed attention masks (`mc pointflow preprocess-masks`); a buffer without
    them needs --object-ids and its masks are computed on the fly (slow, with a warning). Runs
    mc-core's training loop: OUT_DIR/checkpoints/last (with the optimizer state, for an exact
    --resume), best (lowest validation flow loss, else training loss) and final, metrics.csv,
    loss.png and train_log.json; --max-minutes stops cleanly with a checkpoint; a NaN loss stops
    with exit 1 and keeps the last good checkpoint. Runs through accelerate: `accelerate launch
    -m mc_core ...` trains on several GPUs with the same flags.

    The seed's Hydra-style overrides work too: +experiment=pointflowmatch_so3_attention (supervised
    attention), log_wandb=BOOL (accepted; metrics go to metrics.csv), model.KEY=V and train.KEY=V.
    Without --task or --buffer it trains on the seed's default task, unplug_charger.

    \b
    Example:
      mc pointflow train --task unplug_charger_like --out-dir runs/pf --steps 1000
      mc pointflow train +experiment=pointflowmatch_so3_attention log_wandb=True   (the seed's command)
      mc pointflow train --buffer demos/sim/unplug_charger_like/train_segmented --out-dir runs/pf-free \\
          --attention-weight 0 --epochs 20
      mc pointflow train --task unplug_charger_like --out-dir runs/pf --steps 2000 --resume
    """
    from mc_core.progress import info
    from mc_pointflow.preprocess import mask_config as make_mask_config
    from mc_pointflow.train import apply_seed_overrides, train

    if steps is not None and epochs is not None:
        raise click.UsageError("give --steps or --epochs, not both")
    overrides = [x for x in extra if "=" in x] + list(set_overrides)
    more_ids = [x for x in extra if "=" not in x]
    bad = [x for x in more_ids if not x.lstrip("-").isdigit()]
    if bad:
        raise click.UsageError(f"unexpected argument {bad[0]!r} (object ids follow --object-ids; overrides are "
                               "KEY=VALUE)")
    default_task = not task and not buffer
    if default_task:
        task = "unplug_charger_like"
    train_path, valid_path = _policy_buffers(task, data_root, buffer, valid_buffer)
    if default_task:
        if not Path(train_path).exists():
            from mc_core.errors import BadInputError

            raise BadInputError(train_path, "no such replay buffer (the seed's default task unplug_charger; "
                                            "give --task or --buffer)")
        info("no --task or --buffer: training on the seed's default task, unplug_charger (unplug_charger_like)")
    ids = object_ids(first_id, tuple(int(x) for x in more_ids))
    mask_config = None if ids is None else make_mask_config(ids, distance_threshold=distance_threshold,
                                                            gripper_radius=gripper_radius, n_points=n_points)
    model_config = {"horizon": horizon, "n_obs_steps": n_obs_steps, "feat_dim": feat_dim, "point_width": point_width,
                    "hidden": hidden, "n_blocks": n_blocks}
    train_config = {"batch_size": batch_size, "lr": lr, "lr_decay_steps": lr_decay_steps,
                    "attention_weight": attention_weight,
                    "attention_pos_weight": attention_pos_weight, "seed": seed,
                    "log_every": log_every, "ckpt_every": ckpt_every, "val_items": val_items}
    model_config, train_config, extras = apply_seed_overrides(model_config, train_config, overrides)
    if extras.get("log_wandb"):
        info("log_wandb: wandb is not used (no network at run time); metrics go to OUT_DIR/metrics.csv")
    res = train(train_path, out_dir, valid_buffer=valid_path, mask_config=mask_config, steps=steps, epochs=epochs,
                resume=resume, device=device, model_config=model_config, train_config=train_config,
                threads=threads or None, max_minutes=max_minutes)
    stop = "" if res["stopped"] == "steps" else " (stopped by the time budget; continue with --resume)"
    info(f"trained {res['steps']} steps on {res['items']} items ({res['parameters']} parameters, "
         f"{res['steps_per_s'] or 0:.2f} steps/s); final loss "
         f"{'n/a' if res['final_loss'] is None else format(res['final_loss'], '.4f')}; "
         f"checkpoint {res['checkpoint']}{stop}")


@click.command("eval")
@click.option("--checkpoint", required=True, type=click.Path(), help="A pointflow-policy checkpoint directory.")
@click.option("--task", type=TaskChoice(), default=None, help="Evaluate on <data-root>/<task>/<split>_segmented.")
@click.option("--data-root", default="demos/sim", show_default=True)
@click.option("--split", type=click.Choice(["train", "valid"]), default="valid", show_default=True)
@click.option("--buffer", type=click.Path(), default=None, help="Replay buffer to evaluate on (instead of --task).")
@click.option("--steps", type=click.IntRange(1, MAX_EULER_STEPS), default=10, show_default=True,
              help="Euler steps when sampling action chunks.")
@click.option("--batch-size", type=click.IntRange(1, MAX_BATCH), default=32, show_default=True)
@click.option("--max-items", type=click.IntRange(min=1), default=None, help="Evaluate on this many evenly spaced items.")
@click.option("--out-csv", type=click.Path(dir_okay=False), default=None, help="Per-item metrics.")
@click.option("--out-json", type=click.Path(dir_okay=False), default=None, help="Summary (means) as JSON.")
@device_option
@seed_option(0)
@quiet_option
def eval_cmd(checkpoint, task, data_root, split, buffer, steps, batch_size, max_items, out_csv, out_json, device,
             seed, quiet):
    """Validation flow loss, error of sampled action chunks and attention IoU against the masks.

    Per timestep: the flow loss (noise fixed by --seed and the item), the error of a chunk sampled
    with --steps Euler steps against the demonstrated one (mean and final position error in metres,
    rotation error in degrees, gripper open/closed accuracy), and the attention IoU against the mask
    (sigmoid(logit) >= 0.5) plus the IoU of the k highest logits (k = points attended in the mask).
    Masks come from the buffer (precomputed) with the checkpoint's mask settings, else on the fly.

    \b
    Example:
      mc pointflow eval --checkpoint runs/pf/checkpoints/final --task unplug_charger_like --out-json eval.json
      mc pointflow eval --checkpoint runs/pf/checkpoints/final --buffer demos/sim/x/valid_segmented --steps 20 \\
          --seed 1 --out-csv items.csv
    """
    from mc_core.progress import progress
    from mc_pointflow.evaluate import evaluate_checkpoint
    from mc_pointflow.tasks import buffer_path

    if not buffer:
        if not task:
            raise click.UsageError("give --buffer or --task (with --data-root and --split)")
        buffer = str(buffer_path(data_root, task, split))
    summary = evaluate_checkpoint(checkpoint, buffer, steps=steps, seed=seed, batch_size=batch_size,
                                  max_items=max_items, device=device, out_csv=out_csv, out_json=out_json,
                                  progress=progress)
    click.echo(json.dumps(summary, indent=2))


@click.command("rollout")
@click.option("--checkpoint", type=click.Path(), default=None,
              help="A trained policy's checkpoint directory (pointflow-policy or any registered policy).")
@click.option("--policy", "--baseline", "policy", type=RegistryChoice("models", task="pointflow"), default=None,
              help="Instead of --checkpoint: a registered policy that needs no training: expert (the scripted "
                   "expert, an upper bound), hold (holds its start pose), mean-demo (replays the mean demo "
                   "trajectory of --buffer), or one a plugin registers for pointflow.")
@click.option("--task", type=TaskChoice(), default=None,
              help="Task of the sim (default: the checkpoint's; must match it).")
@click.option("--buffer", type=click.Path(), default=None,
              help="Demo replay buffer: the mean trajectory of --policy mean-demo (and its render settings).")
@click.option("--episodes", type=click.IntRange(1, 250_000), default=20, show_default=True,
              help="Episodes, each in a held-out scene (seeds disjoint from all collect-demos scenes).")
@click.option("--max-steps", type=click.IntRange(1, MAX_EPISODE_STEPS), default=None,
              help="Executed poses per episode before it counts as failed (default 2 x the demos' length).")
@click.option("--execute-steps", "-k", type=click.IntRange(1, MAX_HORIZON), default=8, show_default=True,
              help="Poses executed per predicted chunk before the policy is asked again (receding horizon).")
@click.option("--steps", type=click.IntRange(1, MAX_EULER_STEPS), default=10, show_default=True,
              help="Euler steps when sampling action chunks.")
@click.option("--image-size", type=click.IntRange(8, MAX_IMAGE_SIZE), default=None,
              help="Camera image size (default: as the training demos).")
@click.option("--n-cams", type=click.IntRange(1, 5), default=None, help="Cameras (default: as the training demos).")
@click.option("--cloud-points", type=click.IntRange(1, MAX_CLOUD_POINTS), default=None,
              help="Points of the merged cloud before the policy's sampling (default: as the training demos).")
@click.option("--demo-steps", type=click.IntRange(2, MAX_EPISODE_STEPS), default=None,
              help="Length of the scripted expert's trajectory (default: as the training demos).")
@click.option("--out-csv", type=click.Path(dir_okay=False), default=None, help="Per-episode results.")
@click.option("--out-json", type=click.Path(dir_okay=False), default=None,
              help="Summary (success rate with its Wilson 95% interval, distances) and per-episode rows.")
@click.option("--save-gif", type=click.Path(dir_okay=False), default=None,
              help="Animated GIF of the first episode: segmentation images of the cameras per step.")
@click.option("--gif-episodes", type=click.IntRange(min=1), default=1, show_default=True,
              help="With --save-gif: animate this many episodes (files NAME_ep<i>.gif when more than one).")
@device_option
@seed_option(0)
@quiet_option
def rollout_cmd(checkpoint, policy, task, buffer, episodes, max_steps, execute_steps, steps, image_size, n_cams,
                cloud_points, demo_steps, out_csv, out_json, save_gif, gif_episodes, device, seed, quiet):
    """Closed-loop rollouts in the kinematic sim; the task's success rate.

    Each episode resets the built-in sim with a held-out scene (seeded by --seed and the episode,
    disjoint from every demo scene), builds the observation as training does (the same point
    sampling, state history and normalisation), samples an action chunk, executes its first
    --execute-steps poses (moving the gripper and re-rendering each step) and asks again, until
    the task succeeds or --max-steps poses have been executed. Success is the task's own event:
    the gripper closes within 2 cm of the grasp pose (every scripted demo does; the expert
    baseline is the upper bound). Per episode: success, steps, final and closest distance to the
    grasp pose, grasp attempts, time; summary: success rate with a Wilson 95% interval.

    \b
    Example:
      mc pointflow rollout --checkpoint runs/pf/checkpoints/final --task unplug_charger_like \\
          --episodes 50 --seed 0 --out-json rollout.json --out-csv episodes.csv --save-gif ep0.gif
      mc pointflow rollout --checkpoint runs/pf/checkpoints/final --execute-steps 4 --max-steps 60 --steps 20
      mc pointflow rollout --policy expert --task unplug_charger_like --episodes 50
      mc pointflow rollout --policy mean-demo --buffer demos/sim/unplug_charger_like/train_segmented
    """
    from mc_core.progress import info, progress
    from mc_pointflow import rollout as ro

    if (checkpoint is None) == (policy is None):
        raise click.UsageError("give --checkpoint or --policy (one of them)")
    summary = ro.rollout(checkpoint=checkpoint, policy=policy, task=task, buffer=buffer, episodes=episodes,
                         max_steps=max_steps, execute_steps=execute_steps, euler_steps=steps, image_size=image_size,
                         n_cams=n_cams, cloud_points=cloud_points, demo_steps=demo_steps, seed=seed, device=device,
                         out_csv=out_csv, out_json=out_json, save_gif=save_gif, gif_episodes=gif_episodes,
                         progress=progress)
    summary.pop("per_episode")
    info(f"{summary['policy']}: success {ro.wilson_text(summary)}; final distance to the grasp pose "
         f"mean {100 * summary['final_dist_m_mean']:.1f} cm, median {100 * summary['final_dist_m_median']:.1f} cm")
    click.echo(json.dumps(summary, indent=2))


COMMANDS = [train_cmd, eval_cmd, rollout_cmd]
