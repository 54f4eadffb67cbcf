"""`mc loci ...` commands. Heavy libraries are imported inside command bodies."""

from __future__ import annotations

import click

from mc_core.cli import plugin_group
from mc_core.options import device_option, quiet_option, seed_option, shard_options

group = plugin_group("loci", help="Object-centric segmentation of videos (Loci-Segmented).")

METHODS = ("model", "median-cc", "farthest-cc", "farthest-depth-cc", "learned-cc", "all-background")

# what --unsupervised picks for the options left unset (see mc_loci.train and the README)
UNSUPERVISED_RECIPE = {"appearance": "mean", "bg_depth": "estimate", "background": "farthest",
                       "recon_loss": "mixture"}
SUPERVISED_RECIPE = {"appearance": "decoded", "bg_depth": "head", "background": "median", "recon_loss": "mse"}


def bg_checkpoint_option(purpose: str):
    return click.option("--bg-checkpoint", type=click.Path(), default=None,
                        help=f"loci-background checkpoint (mc loci pretrain-bg) for {purpose}.")


@group.command("make-data")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False), help="Folder to write the data set to.")
@click.option("--videos", type=click.IntRange(min=1), default=64, show_default=True, help="Number of videos.")
@click.option("--frames", type=click.IntRange(min=1), default=8, show_default=True, help="Frames per video.")
@click.option("--size", type=click.IntRange(min=16), default=64, show_default=True, help="Frame height and width.")
@click.option("--min-objects", type=click.IntRange(min=1), default=2, show_default=True, help="Fewest objects per video.")
@click.option("--max-objects", type=click.IntRange(min=1, max=10), default=4, show_default=True,
              help="Most objects per video.")
@click.option("--camera-motion", type=click.Choice(["none", "pan"]), default="none", show_default=True,
              help="none: static camera. pan: the view slides over a 1.5x larger background at a "
                   "per-video constant velocity (1-2 px/frame at size 64, sub-pixel), bouncing off "
                   "its borders; videos also get camera (T,2), the view offsets.")
@seed_option(0)
@shard_options
@quiet_option
def make_data_cmd(out_dir, videos, frames, size, min_objects, max_objects, camera_motion, seed, num_shards,
                  shard_index, quiet):
    """Write the synthetic moving-shapes video data set (RGB, depth, instance masks).

    Each video is one npz (rgb uint8 (T,H,W,3), depth float32 (T,H,W), masks uint8 (T,H,W) with
    0 = background) under OUT_DIR/videos/, plus OUT_DIR/meta.json. Files are written atomically;
    video i depends only on (--seed, i), so shards and re-runs agree.

    \b
    Examples:
      mc loci make-data --out-dir shapes_train --videos 64 --frames 8 --seed 0
      mc loci make-data --out-dir shapes_test --videos 16 --seed 1
      mc loci make-data --out-dir pan_train --videos 64 --camera-motion pan
      mc loci make-data --out-dir big --videos 10000 --num-shards 8 --shard-index 3
    """
    from mc_core.options import shard_slice
    from mc_core.progress import info
    from mc_loci.data.moving_shapes import make_dataset

    if min_objects > max_objects:
        raise click.UsageError(f"--min-objects {min_objects} is above --max-objects {max_objects}")
    indices = shard_slice(list(range(videos)), num_shards, shard_index)
    out = make_dataset(out_dir, videos=videos, frames=frames, size=size, seed=seed, min_objects=min_objects,
                       max_objects=max_objects, indices=indices, camera_motion=camera_motion)
    info(f"wrote {len(indices)} video(s) to {out}")


@group.command("train")
@click.option("--data", required=True, type=click.Path(), help="moving-shapes data folder (from make-data).")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False), help="Run folder (checkpoints, log).")
@click.option("--steps", type=click.IntRange(min=1), default=300, show_default=True, help="Total training steps.")
@click.option("--resume", is_flag=True, help="Continue from OUT_DIR/checkpoints/last.")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True, help="Clips per step.")
@click.option("--clip-frames", type=click.IntRange(min=1), default=4, show_default=True, help="Frames per clip.")
@click.option("--lr", type=float, default=2e-3, show_default=True, help="Adam learning rate.")
@click.option("--num-slots", type=click.IntRange(min=1), default=5, show_default=True, help="Object slots.")
@click.option("--hidden", type=click.IntRange(min=1), default=32, show_default=True, help="Encoder channels.")
@click.option("--slot-dim", type=click.IntRange(min=1), default=32, show_default=True, help="Slot size.")
@click.option("--pixel-dim", type=click.IntRange(min=1), default=16, show_default=True, help="Pixel embedding size.")
@click.option("--no-depth-input", is_flag=True, help="Do not feed depth to the encoder (RGB only).")
@click.option("--unsupervised", is_flag=True,
              help="Train from reconstruction alone (no true masks): mask weight 0 and, unless set, "
                   "--appearance mean --bg-depth estimate --background farthest (median without "
                   "depth input) --recon-loss mixture.")
@click.option("--mask-weight", type=click.FloatRange(min=0), default=None,
              help="Weight of the Hungarian-matched mask loss (0 = reconstruction only). [default: 1, "
                   "0 with --unsupervised]")
@click.option("--appearance", type=click.Choice(["decoded", "mean"]), default=None,
              help="Slot colour/depth decoded from the slot, or the mean of the frame under the slot's "
                   "mask. [default: decoded; mean with --unsupervised]")
@click.option("--background", type=click.Choice(["median", "farthest", "learned"]), default=None,
              help="Background: temporal median, colour of the farthest surface (needs depth), or learned: "
                   "per frame by a pretrained background module (--bg-checkpoint, from pretrain-bg; it is "
                   "frozen and stored in this model's checkpoints). [default: median; farthest with "
                   "--unsupervised]")
@bg_checkpoint_option("--background learned")
# default none: over four seeds of benchmarks/loci_background.py neither input nor prior beat it beyond
# the seed-to-seed spread (see the README)
@click.option("--fg-evidence", type=click.Choice(["none", "input", "prior"]), default="none", show_default=True,
              help="With --background learned, what the segmenter does with the module's foreground logit: "
                   "ignore it, read its posterior as an input channel, or add it to the background's mask "
                   "logit as a prior.")
@click.option("--bg-depth", type=click.Choice(["head", "estimate"]), default=None,
              help="Background depth predicted by a head, or estimated like the background colour. "
                   "[default: head; estimate with --unsupervised]")
@click.option("--recon-loss", type=click.Choice(["mse", "mixture"]), default=None,
              help="MSE of the blended reconstruction, or per-pixel mixture NLL. "
                   "[default: mse; mixture with --unsupervised]")
@click.option("--sigma", type=click.FloatRange(min=0, min_open=True), default=0.1, show_default=True,
              help="Std of the mixture components (colours in 0..1).")
@click.option("--usage-weight", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Weight of the slot-sparsity prior (sum of sqrt of slot areas).")
@click.option("--recon-weight", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Weight of the RGB and depth reconstruction loss.")
@click.option("--ckpt-every", type=click.IntRange(min=0), default=100, show_default=True,
              help="Save OUT_DIR/checkpoints/last every N steps (0 = only at the end).")
@device_option
@seed_option(0)
@quiet_option
def train_cmd(data, out_dir, steps, resume, batch_size, clip_frames, lr, num_slots, hidden, slot_dim, pixel_dim,
              no_depth_input, unsupervised, mask_weight, appearance, background, bg_checkpoint, fg_evidence, bg_depth,
              recon_loss, sigma, usage_weight, recon_weight, ckpt_every, device, seed, quiet):
    """Train the slot-segmenter model on a moving-shapes data folder (through accelerate).

    Writes OUT_DIR/checkpoints/last (with optimizer state, for --resume), OUT_DIR/checkpoints/final
    and OUT_DIR/train_log.json. Checkpoints are safetensors + config.json (mc_core.checkpoint).

    \b
    Examples:
      mc loci make-data --out-dir shapes_train --videos 64
      mc loci train --data shapes_train --out-dir runs/loci --steps 300
      mc loci train --data shapes_train --out-dir runs/loci --steps 600 --resume
      mc loci train --data shapes_train --out-dir runs/unsup --steps 1000 --unsupervised
      mc loci train --data pan_train --out-dir runs/unsup_bg --unsupervised \\
          --background learned --bg-checkpoint runs/bg/checkpoints/final
      accelerate launch -m mc_core loci train --data shapes_train --out-dir runs/loci
    """
    import json

    import torch

    from mc_loci.train import train

    if mask_weight is None:
        mask_weight = 0.0 if unsupervised else 1.0
    if unsupervised and mask_weight > 0:
        raise click.UsageError("--unsupervised trains without true masks; drop --mask-weight or set it to 0")
    if mask_weight == 0 and recon_weight == 0:
        raise click.UsageError("--mask-weight and --recon-weight cannot both be 0")
    recipe = dict(UNSUPERVISED_RECIPE if unsupervised else SUPERVISED_RECIPE)
    if unsupervised and no_depth_input:
        recipe["background"] = "median"
    chosen = {"appearance": appearance, "bg_depth": bg_depth, "background": background, "recon_loss": recon_loss}
    opts = {k: recipe[k] if v is None else v for k, v in chosen.items()}
    if no_depth_input and opts["background"] == "farthest":
        raise click.UsageError("--background farthest needs depth input (drop --no-depth-input)")
    if (opts["background"] == "learned") != (bg_checkpoint is not None):
        raise click.UsageError("--background learned and --bg-checkpoint go together")
    if fg_evidence != "none" and opts["background"] != "learned":
        raise click.UsageError("--fg-evidence needs --background learned (the module gives the foreground logit)")
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 4)))
    result = train(data, out_dir, steps=steps, resume=resume, device=device, seed=seed, bg_checkpoint=bg_checkpoint,
                   model_config={"num_slots": num_slots, "hidden": hidden, "slot_dim": slot_dim,
                                 "pixel_dim": pixel_dim, "depth_input": not no_depth_input,
                                 "appearance": opts["appearance"], "bg_depth": opts["bg_depth"],
                                 "background": opts["background"], "fg_evidence": fg_evidence},
                   train_config={"batch_size": batch_size, "clip_frames": clip_frames, "lr": lr,
                                 "mask_weight": mask_weight, "recon_weight": recon_weight,
                                 "recon_loss": opts["recon_loss"], "sigma": sigma, "usage_weight": usage_weight,
                                 "ckpt_every": ckpt_every})
    click.echo(json.dumps(result, indent=2))


def _load_model(checkpoint: str, device: str):
    from mc_core.device import resolve_device
    from mc_loci.models import load_model_checkpoint
    from mc_loci.models.slot_segmenter import MODEL_NAME, SlotSegmenter

    dev = resolve_device(device)
    model = load_model_checkpoint(checkpoint, SlotSegmenter, MODEL_NAME)[0]
    return model.to(dev).eval(), dev


def _segmenter(method: str, checkpoint: str | None, device: str, bg_checkpoint: str | None = None):
    from mc_core.errors import BadInputError
    from mc_loci.baselines import run_baseline

    if (method == "learned-cc") != (bg_checkpoint is not None):
        raise click.UsageError("--bg-checkpoint goes with --method learned-cc (a model trained with "
                               "--background learned keeps its background module in its checkpoint)")
    if method == "model":
        if not checkpoint:
            raise click.UsageError("--method model needs --checkpoint")
        from mc_loci.models.slot_segmenter import segment_video

        model, dev = _load_model(checkpoint, device)

        def seg(video):
            if model.config.needs_depth and video.get("depth") is None:
                raise BadInputError(None, "this model needs depth but the video has no 'depth' array")
            return segment_video(model, video, dev)

        return seg
    if method == "learned-cc":
        from mc_core.device import resolve_device
        from mc_loci.models.background import learned_cc, load_background_model

        dev = resolve_device(device)
        bg_model = load_background_model(bg_checkpoint, dev)

        def learned(video):
            if bg_model.config.depth_input and video.get("depth") is None:
                raise BadInputError(None, "this background model needs depth but the video has no 'depth' array")
            return learned_cc(bg_model, video, dev)

        return learned

    def base(video):
        if method.startswith("farthest") and video.get("depth") is None:
            raise BadInputError(None, f"{method} needs depth but the video has no 'depth' array")
        return run_baseline(method, video["rgb"], video.get("depth"))

    return base


@group.command("eval")
@click.option("--data", required=True, type=click.Path(), help="moving-shapes data folder with true masks.")
@click.option("--checkpoint", type=click.Path(), default=None, help="Model checkpoint (for --method model).")
@click.option("--method", type=click.Choice(METHODS), default="model", show_default=True,
              help="The trained model, or a baseline: median-cc (temporal-median background + connected "
                   "components), farthest-cc (the same with the farthest-surface background; needs depth), "
                   "farthest-depth-cc (foreground by depth alone: nearer than the farthest surface by more "
                   "than 0.1), learned-cc (components of the learned background module's foreground map; needs "
                   "--bg-checkpoint), all-background.")
@bg_checkpoint_option("--method learned-cc")
@click.option("--out-json", type=click.Path(dir_okay=False), default=None, help="Write the metrics here.")
@device_option
@quiet_option
def eval_cmd(data, checkpoint, method, bg_checkpoint, out_json, device, quiet):
    """Score the model (or a baseline) with fg-ari and matched-iou on a data folder.

    Reports per-frame scores (mean over frames, then videos) and whole-video scores, for which an
    object must keep its id over time.

    \b
    Examples:
      mc loci eval --data shapes_test --checkpoint runs/loci/checkpoints/final --out-json model.json
      mc loci eval --data shapes_test --method median-cc --out-json baseline.json
      mc loci eval --data pan_test --method learned-cc --bg-checkpoint runs/bg/checkpoints/final
    """
    import json

    from mc_core.atomic import write_json
    from mc_loci.data.moving_shapes import MovingShapes
    from mc_loci.evaluate import evaluate

    if method == "model" and not checkpoint:
        raise click.UsageError("--method model needs --checkpoint")
    ds = MovingShapes(data)
    seg = _segmenter(method, checkpoint, device, bg_checkpoint)
    result = evaluate(ds, seg, method=method)
    result["data"] = str(data)
    if checkpoint:
        result["checkpoint"] = str(checkpoint)
    if bg_checkpoint:
        result["bg_checkpoint"] = str(bg_checkpoint)
    if out_json:
        write_json(out_json, result)
    summary = {k: result[k] for k in ("method", "videos", "fg_ari", "matched_iou", "fg_ari_video", "matched_iou_video")}
    click.echo(json.dumps(summary, indent=2))


@group.command("segment")
@click.option("--video", required=True, type=click.Path(), help="A video npz (rgb, depth[, masks]) as make-data writes.")
@click.option("--out-gif", required=True, type=click.Path(dir_okay=False), help="Overlay GIF to write.")
@click.option("--checkpoint", type=click.Path(), default=None, help="Model checkpoint (for --method model).")
@click.option("--method", type=click.Choice(METHODS), default="model", show_default=True, help="Model or baseline.")
@bg_checkpoint_option("--method learned-cc")
@click.option("--out-npz", type=click.Path(dir_okay=False), default=None, help="Also write the ids (T,H,W) here.")
@click.option("--fps", type=click.FloatRange(min=0.1), default=4.0, show_default=True, help="GIF frame rate.")
@click.option("--scale", type=click.IntRange(min=1, max=16), default=3, show_default=True, help="GIF upscaling.")
@device_option
def segment_cmd(video, out_gif, checkpoint, method, bg_checkpoint, out_npz, fps, scale, device):
    """Segment one video and write a GIF: input | predicted objects | (true objects, if known).

    \b
    Examples:
      mc loci segment --checkpoint runs/loci/checkpoints/final \\
          --video shapes_test/videos/video_00000.npz --out-gif seg.gif
      mc loci segment --method median-cc --video shapes_test/videos/video_00003.npz --out-gif cc.gif
      mc loci segment --method learned-cc --bg-checkpoint runs/bg/checkpoints/final \\
          --video pan_test/videos/video_00000.npz --out-gif bg_cc.gif
    """
    import numpy as np

    from mc_core.atomic import atomic_path
    from mc_core.progress import info
    from mc_loci.data.moving_shapes import load_video
    from mc_loci.render import write_overlay_gif

    seg = _segmenter(method, checkpoint, device, bg_checkpoint)
    from mc_core.errors import BadInputError

    vid = load_video(video, need_masks=False, need_depth=False)
    try:
        ids = seg(vid)
    except BadInputError as exc:
        raise BadInputError(exc.path or video, exc.problem) from None
    write_overlay_gif(out_gif, vid["rgb"], ids, fps=fps, scale=scale, truth=vid.get("masks"))
    if out_npz:
        with atomic_path(out_npz) as tmp:
            np.savez_compressed(tmp, ids=ids.astype(np.uint8 if ids.max(initial=0) < 256 else np.int32))
    objects = sorted(int(i) for i in np.unique(ids) if i != 0)
    info(f"wrote {out_gif} ({ids.shape[0]} frames, object ids {objects})")
    if "masks" in vid:
        from mc_loci.evaluate import score_video

        click.echo(" ".join(f"{k}={v:.3f}" for k, v in score_video(ids, vid["masks"]).items()))


@group.command("pretrain-bg")
@click.option("--data", required=True, type=click.Path(), help="moving-shapes data folder (from make-data).")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False), help="Run folder (checkpoints, log).")
@click.option("--steps", type=click.IntRange(min=1), default=600, show_default=True, help="Total training steps.")
@click.option("--resume", is_flag=True, help="Continue from OUT_DIR/checkpoints/last.")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True, help="Clips per step.")
@click.option("--clip-frames", type=click.IntRange(min=1), default=3, show_default=True,
              help="Frames per clip (the latent is carried over them).")
@click.option("--lr", type=float, default=2e-3, show_default=True, help="Adam learning rate.")
@click.option("--hidden", type=click.IntRange(min=1), default=32, show_default=True, help="Conv channels.")
@click.option("--latent-channels", type=click.IntRange(min=1), default=4, show_default=True,
              help="Channels of the bottleneck grid.")
@click.option("--downsample", type=click.IntRange(min=1, max=5), default=2, show_default=True,
              help="Stride-2 stages: the bottleneck grid is at 1/2**N resolution.")
@click.option("--no-depth-input", is_flag=True, help="RGB only: do not read or predict depth.")
@click.option("--no-temporal", is_flag=True, help="Per frame only: do not carry the latent over frames.")
@click.option("--ckpt-every", type=click.IntRange(min=0), default=100, show_default=True,
              help="Save OUT_DIR/checkpoints/last every N steps (0 = only at the end).")
@device_option
@seed_option(0)
@quiet_option
def pretrain_bg_cmd(data, out_dir, steps, resume, batch_size, clip_frames, lr, hidden, latent_channels, downsample,
                    no_depth_input, no_temporal, ckpt_every, device, seed, quiet):
    """Pretrain the learned background module (loci-background) without true masks.

    The module predicts every frame's background colour (and depth) through a small bottleneck,
    including under the objects, plus a per-pixel foreground logit; it is fitted by EM on a
    per-pixel mixture of "background" (a Gaussian around the prediction) and "outlier" (uniform),
    so objects need no labels. Writes OUT_DIR/checkpoints/last (with optimizer state, for
    --resume), OUT_DIR/checkpoints/final and OUT_DIR/train_log.json. Use the result with
    `mc loci train --background learned --bg-checkpoint ...` or `mc loci eval --method learned-cc`.

    \b
    Examples:
      mc loci make-data --out-dir pan_train --videos 64 --camera-motion pan
      mc loci pretrain-bg --data pan_train --out-dir runs/bg --steps 600
      mc loci pretrain-bg --data pan_train --out-dir runs/bg --steps 1200 --resume
      mc loci eval --data pan_test --method learned-cc --bg-checkpoint runs/bg/checkpoints/final
    """
    import json

    import torch

    from mc_loci.background_train import pretrain_background

    torch.set_num_threads(max(1, min(torch.get_num_threads(), 4)))
    result = pretrain_background(
        data, out_dir, steps=steps, resume=resume, device=device, seed=seed,
        model_config={"hidden": hidden, "latent_channels": latent_channels, "downsample": downsample,
                      "depth_input": not no_depth_input, "temporal": not no_temporal},
        train_config={"batch_size": batch_size, "clip_frames": clip_frames, "lr": lr, "ckpt_every": ckpt_every})
    click.echo(json.dumps(result, indent=2))
