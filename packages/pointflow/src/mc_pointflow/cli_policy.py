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
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True,
              help="AdamW learning rate (constant after a 20-step warm-up).")
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
def train_cmd(task, data_root, buffer, valid_buffer, out_dir, steps, epochs, resume, attention_weight, batch_size,
              lr, horizon, n_obs_steps, feat_dim, point_width, hidden, n_blocks, log_every, ckpt_every, val_items,
              first_id, more_ids, distance_threshold, gripper_radius, n_points, threads, device, seed, quiet):
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
    train_config = {"batch_size": batch_size, "lr": lr, "attention_weight": attention_weight, "seed": seed,
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
