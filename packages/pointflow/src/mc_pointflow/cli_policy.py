"""`mc pointflow train|eval|rollout`: the flow-matching policy. Heavy imports stay inside command bodies."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mc_core.options import device_option, quiet_option, seed_option
from mc_pointflow.cli import TASK_CHOICES, group


def _policy_buffers(task, data_root, buffer, valid_buffer):
    """(train buffer, valid buffer or None) from --buffer/--valid-buffer or --task/--data-root."""
    from mc_pointflow.preprocess import buffer_path

    if buffer:
        return buffer, valid_buffer
    if not task:
        raise click.UsageError("give --buffer (a training replay buffer) or --task (with --data-root)")
    valid = valid_buffer or buffer_path(data_root, task, "valid")
    return str(buffer_path(data_root, task, "train")), (str(valid) if Path(valid).exists() else None)


def _mask_config(first_id, more_ids, distance_threshold, gripper_radius, n_points):
    """Settings for on-the-fly masks when --object-ids is given; None: use the buffer's stored masks."""
    if more_ids and first_id is None:
        raise click.UsageError(f"unexpected arguments {' '.join(map(str, more_ids))}")
    if first_id is None:
        return None
    from mc_pointflow.masks import MaskConfig

    return MaskConfig(object_ids=(int(first_id),) + tuple(int(i) for i in more_ids),
                      distance_threshold=distance_threshold, gripper_radius=gripper_radius, n_points=n_points)


@group.command("train")
@click.option("--task", type=click.Choice(TASK_CHOICES), default=None,
              help="Train on <data-root>/<task>/train_segmented (validate on valid_segmented when it exists).")
@click.option("--data-root", default="demos/sim", show_default=True, help="Directory holding one folder per task.")
@click.option("--buffer", type=click.Path(), default=None, help="Training replay buffer (instead of --task).")
@click.option("--valid-buffer", type=click.Path(), default=None, help="Validation replay buffer.")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False),
              help="Run folder: checkpoints/, metrics.csv, loss_curve.png, train_log.json.")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Optimizer steps (default 500).")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Instead of --steps: passes over the training items (steps = epochs x items / batch size).")
@click.option("--resume", is_flag=True, help="Continue exactly from OUT_DIR/checkpoints/last.")
@click.option("--attention-weight", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Weight of the BCE between the attention logits and the masks (0 = unsupervised attention).")
@click.option("--attention-pos-weight", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Weight of the attended points' terms in that BCE (torch's pos_weight; attended points are few).")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True,
              help="AdamW learning rate (constant after a 20-step warm-up, unless --lr-decay-steps).")
@click.option("--lr-decay-steps", type=click.IntRange(min=0), default=0, show_default=True,
              help="Cosine decay of the learning rate after the warm-up, to 1% of --lr at this step (constant "
                   "after it); 0 = no decay. Set it to --steps for a decay over the whole run.")
@click.option("--horizon", type=click.IntRange(min=1), default=16, show_default=True, help="Actions per chunk.")
@click.option("--n-obs-steps", type=click.IntRange(min=1), default=2, show_default=True, help="Robot states of history.")
@click.option("--feat-dim", type=click.IntRange(min=1), default=128, show_default=True, help="Point feature size.")
@click.option("--point-width", type=click.IntRange(min=1), default=64, show_default=True,
              help="Width of the first per-point MLP.")
@click.option("--hidden", type=click.IntRange(min=1), default=256, show_default=True, help="Velocity network width.")
@click.option("--n-blocks", type=click.IntRange(min=0), default=3, show_default=True,
              help="Residual blocks of the velocity network.")
@click.option("--log-every", type=click.IntRange(min=1), default=25, show_default=True,
              help="Steps per row of metrics.csv (with a validation pass when there is a validation buffer).")
@click.option("--ckpt-every", type=click.IntRange(min=0), default=100, show_default=True,
              help="Save OUT_DIR/checkpoints/last every N steps (0 = only at the end).")
@click.option("--val-items", type=click.IntRange(min=0), default=64, show_default=True,
              help="Validation items per validation pass (evenly spaced).")
@click.option("--object-ids", "first_id", type=int, default=None,
              help="Only for buffers without preprocessed masks: object ids for on-the-fly masks (slow).")
@click.argument("more_ids", nargs=-1, type=int, metavar="")
@click.option("--distance-threshold", type=click.FloatRange(min=0), default=0.01, show_default=True,
              help="With --object-ids: metres from an object point within which a point is attended.")
@click.option("--gripper-radius", type=click.FloatRange(min=0), default=0.05, show_default=True,
              help="With --object-ids: metres around the gripper that are attended.")
@click.option("--n-points", type=click.IntRange(min=1), default=4096, show_default=True,
              help="With --object-ids: points sampled per timestep.")
@click.option("--threads", type=click.IntRange(min=0), default=0, show_default=True,
              help="CPU threads for torch (0 = torch's default).")
@device_option
@seed_option(0)
@quiet_option
def train_cmd(task, data_root, buffer, valid_buffer, out_dir, steps, epochs, resume, attention_weight,
              attention_pos_weight, batch_size, lr, lr_decay_steps, horizon, n_obs_steps, feat_dim, point_width,
              hidden, n_blocks, log_every, ckpt_every, val_items, first_id, more_ids, distance_threshold,
              gripper_radius, n_points, threads, device, seed, quiet):
    """Train the flow-matching policy with (supervised) 3D attention on a replay buffer.

    Uses the buffer's precomputed attention masks (`mc pointflow preprocess-masks`); a buffer without
    them needs --object-ids and its masks are computed on the fly (slow, with a warning). Writes
    OUT_DIR/checkpoints/last (with the optimizer state, for --resume), OUT_DIR/checkpoints/final,
    metrics.csv and loss_curve.png. Runs through accelerate: `accelerate launch -m mc_core ...`
    trains on several GPUs with the same flags.

    \b
    Example:
      mc pointflow train --task unplug_charger_like --out-dir runs/pf --steps 1000
      mc pointflow train --buffer demos/sim/unplug_charger_like/train_segmented --out-dir runs/pf-free \\
          --attention-weight 0 --epochs 20
      mc pointflow train --task unplug_charger_like --out-dir runs/pf --steps 2000 --resume
    """
    from mc_core.progress import info
    from mc_pointflow.train import train

    if steps is not None and epochs is not None:
        raise click.UsageError("give --steps or --epochs, not both")
    train_path, valid_path = _policy_buffers(task, data_root, buffer, valid_buffer)
    mask_config = _mask_config(first_id, more_ids, distance_threshold, gripper_radius, n_points)
    model_config = {"horizon": horizon, "n_obs_steps": n_obs_steps, "feat_dim": feat_dim, "point_width": point_width,
                    "hidden": hidden, "n_blocks": n_blocks}
    train_config = {"batch_size": batch_size, "lr": lr, "lr_decay_steps": lr_decay_steps,
                    "attention_weight": attention_weight,
                    "attention_pos_weight": attention_pos_weight, "seed": seed,
                    "log_every": log_every, "ckpt_every": ckpt_every, "val_items": val_items}
    res = train(train_path, out_dir, valid_buffer=valid_path, mask_config=mask_config, steps=steps, epochs=epochs,
                resume=resume, device=device, model_config=model_config, train_config=train_config,
                threads=threads or None)
    info(f"trained {res['steps']} steps on {res['items']} items ({res['parameters']} parameters, "
         f"{res['steps_per_s'] or 0:.2f} steps/s); final loss {res['final_loss']:.4f}; checkpoint {res['checkpoint']}")


@group.command("eval")
@click.option("--checkpoint", required=True, type=click.Path(), help="A pointflow-policy checkpoint directory.")
@click.option("--task", type=click.Choice(TASK_CHOICES), default=None, help="Evaluate on <data-root>/<task>/<split>_segmented.")
@click.option("--data-root", default="demos/sim", show_default=True)
@click.option("--split", type=click.Choice(["train", "valid"]), default="valid", show_default=True)
@click.option("--buffer", type=click.Path(), default=None, help="Replay buffer to evaluate on (instead of --task).")
@click.option("--steps", type=click.IntRange(min=1), default=10, show_default=True,
              help="Euler steps when sampling action chunks.")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
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
    import numpy as np

    from mc_core.atomic import write_json
    from mc_core.device import resolve_device
    from mc_core.progress import progress
    from mc_pointflow.data.policy_data import load_policy_arrays
    from mc_pointflow.evaluate import evaluate_policy, write_rows
    from mc_pointflow.masks import MaskConfig
    from mc_pointflow.models.flow_policy import load_policy
    from mc_pointflow.preprocess import buffer_path

    if not buffer:
        if not task:
            raise click.UsageError("give --buffer or --task (with --data-root and --split)")
        buffer = str(buffer_path(data_root, task, split))
    dev = resolve_device(device)
    model, ck = load_policy(checkpoint, dev)
    mc = ck.meta.get("mask_config")
    arrays = load_policy_arrays(buffer, n_obs_steps=model.config.n_obs_steps, horizon=model.config.horizon,
                                mask_config=MaskConfig.from_json(mc) if mc else None, progress=progress)
    items = None
    if max_items is not None and max_items < len(arrays):
        items = np.unique(np.linspace(0, len(arrays) - 1, max_items).round().astype(int)).tolist()
    rows, summary = evaluate_policy(model, arrays, steps=steps, seed=seed, batch_size=batch_size, device=dev,
                                    items=items, progress=progress)
    summary.update({"checkpoint": str(ck.path), "buffer": arrays.location, "euler_steps": steps, "seed": seed,
                    "precomputed_masks": arrays.precomputed})
    if out_csv:
        write_rows(out_csv, rows)
    if out_json:
        write_json(out_json, summary)
    click.echo(json.dumps(summary, indent=2))


def _rollout_settings(recorded: dict | None, source, task, overrides: dict, needed: bool) -> dict:
    """Task and rendering settings of the rollout: flags over what the demos recorded; without a
    record, a checkpoint's rollout needs the flags (a baseline takes collect-demos' defaults)."""
    from mc_core.errors import BadInputError

    rec = dict(recorded or {})
    if task and rec.get("task") and rec["task"] != task:
        raise BadInputError(source, f"made from {rec['task']!r} demos, not {task!r}")
    defaults = {"image_size": 64, "n_cams": 5, "cloud_points": 5500, "episode_steps": 40}
    out = {k: overrides.get(k) if overrides.get(k) is not None else rec.get(k) for k in defaults}
    missing = [k for k, v in out.items() if v is None]
    if missing and needed:
        flags = ", ".join("--" + {"cloud_points": "cloud-points", "episode_steps": "demo-steps"}.get(k, k.replace("_", "-"))
                          for k in missing)
        raise BadInputError(source, f"no record of how its demos were rendered; give {flags}")
    out = {k: (defaults[k] if v is None else int(v)) for k, v in out.items()}
    out["task"] = task or rec.get("task")
    if not out["task"]:
        raise click.UsageError("give --task")
    out["demo_seed"] = rec.get("seed")
    return out


def _gif_path(path: str, i: int, n: int) -> Path:
    p = Path(path)
    return p if n == 1 else p.with_name(f"{p.stem}_ep{i}{p.suffix or '.gif'}")


@group.command("rollout")
@click.option("--checkpoint", type=click.Path(), default=None, help="A pointflow-policy checkpoint directory.")
@click.option("--baseline", type=click.Choice(["expert", "hold", "mean-demo"]), default=None,
              help="Instead of --checkpoint: the scripted expert (upper bound), a policy that holds its start "
                   "pose, or a replay of the mean demo trajectory of --buffer.")
@click.option("--task", type=click.Choice(TASK_CHOICES), default=None,
              help="Task of the sim (default: the checkpoint's; must match it).")
@click.option("--buffer", type=click.Path(), default=None,
              help="Demo replay buffer: the mean trajectory of --baseline mean-demo (and its render settings).")
@click.option("--episodes", type=click.IntRange(1, 250_000), default=20, show_default=True,
              help="Episodes, each in a held-out scene (seeds disjoint from all collect-demos scenes).")
@click.option("--max-steps", type=click.IntRange(min=1), default=None,
              help="Executed poses per episode before it counts as failed (default 2 x the demos' length).")
@click.option("--execute-steps", "-k", type=click.IntRange(min=1), default=8, show_default=True,
              help="Poses executed per predicted chunk before the policy is asked again (receding horizon).")
@click.option("--steps", type=click.IntRange(min=1), default=10, show_default=True,
              help="Euler steps when sampling action chunks.")
@click.option("--image-size", type=click.IntRange(min=8), default=None,
              help="Camera image size (default: as the training demos).")
@click.option("--n-cams", type=click.IntRange(1, 5), default=None, help="Cameras (default: as the training demos).")
@click.option("--cloud-points", type=click.IntRange(min=1), default=None,
              help="Points of the merged cloud before the policy's sampling (default: as the training demos).")
@click.option("--demo-steps", type=click.IntRange(min=2), default=None,
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
def rollout_cmd(checkpoint, baseline, task, buffer, episodes, max_steps, execute_steps, steps, image_size, n_cams,
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
      mc pointflow rollout --baseline expert --task unplug_charger_like --episodes 50
      mc pointflow rollout --baseline mean-demo --buffer demos/sim/unplug_charger_like/train_segmented
    """
    from mc_core.atomic import write_csv, write_json
    from mc_core.device import resolve_device
    from mc_core.errors import BadInputError
    from mc_core.progress import info, progress
    from mc_pointflow import rollout as ro
    from mc_pointflow.data.replay_buffer import ReplayBuffer
    from mc_pointflow.sim.collect import demo_settings
    from mc_pointflow.sim.env import TabletopEnv

    if (checkpoint is None) == (baseline is None):
        raise click.UsageError("give --checkpoint or --baseline (one of them)")
    if baseline == "mean-demo" and not buffer:
        raise click.UsageError("--baseline mean-demo needs --buffer (the demos to average)")
    overrides = {"image_size": image_size, "n_cams": n_cams, "cloud_points": cloud_points, "episode_steps": demo_steps}
    dev = resolve_device(device)
    info_extra: dict = {}
    if checkpoint is not None:
        from mc_pointflow.models.flow_policy import load_policy

        model, ck = load_policy(checkpoint, dev)
        recorded = ck.meta.get("demo_settings")
        train_buf = ck.meta.get("train_buffer")
        if recorded is None and train_buf and Path(train_buf).is_dir():
            recorded = demo_settings(ReplayBuffer.open(train_buf))
        settings = _rollout_settings(recorded, ck.path, task, overrides, needed=True)
        n_points = int(ck.meta.get("n_points") or (ck.meta.get("mask_config") or {}).get("n_points") or 0)
        if n_points < 1:
            raise BadInputError(ck.path, "the checkpoint does not record its points per observation (meta n_points)")
        if n_points > settings["cloud_points"]:
            raise BadInputError(ck.path, f"the policy takes {n_points} points but the cloud has {settings['cloud_points']}")
        if execute_steps > model.config.horizon:
            raise click.BadParameter(f"{execute_steps} exceeds the policy's horizon {model.config.horizon}",
                                     param_hint="--execute-steps")
        policy = ro.FlowPolicy(model, n_points, euler_steps=steps, seed=seed, device=dev)
        info_extra = {"checkpoint": str(ck.path), "n_points": n_points, "euler_steps": steps,
                      "horizon": model.config.horizon}
    else:
        recorded = demo_settings(ReplayBuffer.open(buffer)) if buffer else None
        settings = _rollout_settings(recorded, buffer, task, overrides, needed=False)
        if baseline == "expert":
            policy = ro.ExpertPolicy(execute_steps)
        elif baseline == "hold":
            policy = ro.HoldPolicy(execute_steps)
        else:
            policy = ro.MeanDemoPolicy.from_buffer(buffer, execute_steps)
        info_extra = {"baseline": baseline}
    if max_steps is None:
        max_steps = 2 * settings["episode_steps"]
    env = TabletopEnv(settings["task"], image_size=settings["image_size"], n_cams=settings["n_cams"],
                      n_points=settings["cloud_points"], demo_steps=settings["episode_steps"])
    n_gif = min(gif_episodes, episodes) if save_gif else 0
    rows, summary, frames = ro.run_rollouts(env, policy, episodes=episodes, seed=seed, max_steps=max_steps,
                                            execute_steps=execute_steps, keep_frames_of=n_gif, progress=progress)
    summary.update({"policy": policy.name, **info_extra, "task": settings["task"], "seed": seed,
                    "max_steps": max_steps, "execute_steps": execute_steps, "sim": settings,
                    "scene_seeds": [rows[0]["scene_seed"], rows[-1]["scene_seed"]]})
    for i, fr in enumerate(frames):
        ro.write_gif(_gif_path(save_gif, i, n_gif), fr, title=f"{policy.name} ep {i}")
    if out_csv:
        write_csv(out_csv, rows, ro.ROW_COLUMNS)
    if out_json:
        write_json(out_json, {**summary, "per_episode": rows})
    info(f"{policy.name}: success {ro.wilson_text(summary)}; final distance to the grasp pose "
         f"mean {100 * summary['final_dist_m_mean']:.1f} cm, median {100 * summary['final_dist_m_median']:.1f} cm")
    click.echo(json.dumps(summary, indent=2))
