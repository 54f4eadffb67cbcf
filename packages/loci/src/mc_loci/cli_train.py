"""`mc loci train` and `mc loci pretrain-bg`: both run mc-core's one training loop."""

from __future__ import annotations

import click

from mc_core.options import FiniteFloat, quiet_option, seed_option, training_options


def _limit_threads() -> None:
    import torch

    torch.set_num_threads(max(1, min(torch.get_num_threads(), 4)))


@click.command("train")
@click.option("--data", required=True, type=click.Path(), help="moving-shapes data folder or Loci-Segmented HDF5 file (from make-data).")
@click.option("--size", type=click.IntRange(min=16, max=4096), default=None,
              help="HDF5 --data: resize frames to SIZE x SIZE (default: the file's side when square, else the "
                   "smaller side); eval then resizes to it by default.")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False), help="Run folder (checkpoints, log).")
@click.option("--steps", type=click.IntRange(min=1), default=300, show_default=True, help="Total training steps.")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True, help="Clips per step.")
@click.option("--clip-frames", type=click.IntRange(min=1), default=4, show_default=True,
              help="Frames per clip (at most the videos' length).")
@click.option("--lr", type=FiniteFloat(min=0, min_open=True), default=2e-3, show_default=True,
              help="Adam learning rate.")
@click.option("--num-slots", type=click.IntRange(min=1), default=5, show_default=True, help="Object slots.")
@click.option("--hidden", type=click.IntRange(min=1), default=32, show_default=True, help="Encoder channels.")
@click.option("--slot-dim", type=click.IntRange(min=1), default=32, show_default=True, help="Slot size.")
@click.option("--pixel-dim", type=click.IntRange(min=1), default=16, show_default=True, help="Pixel embedding size.")
@click.option("--no-depth-input", is_flag=True, help="Do not feed depth to the encoder (RGB only).")
@click.option("--unsupervised", is_flag=True,
              help="Train from reconstruction alone (no true masks): mask weight 0 and, unless set, "
                   "--appearance mean --bg-depth estimate --background farthest (median without "
                   "depth input) --recon-loss mixture.")
@click.option("--mask-weight", type=FiniteFloat(min=0), default=None,
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
@click.option("--bg-checkpoint", type=click.Path(), default=None,
              help="loci-background checkpoint (mc loci pretrain-bg) for --background learned.")
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
@click.option("--sigma", type=FiniteFloat(min=0, min_open=True), default=0.1, show_default=True,
              help="Std of the mixture components (colours in 0..1).")
@click.option("--usage-weight", type=FiniteFloat(min=0), default=0.0, show_default=True,
              help="Weight of the slot-sparsity prior (sum of sqrt of slot areas).")
@click.option("--recon-weight", type=FiniteFloat(min=0), default=1.0, show_default=True,
              help="Weight of the RGB and depth reconstruction loss.")
@click.option("--ckpt-every", type=click.IntRange(min=0), default=100, show_default=True,
              help="Save OUT_DIR/checkpoints/last every N steps (0 = only at the end).")
@click.option("--vis-every", type=click.IntRange(min=0), default=0, show_default=True,
              help="Write OUT_DIR/vis/step_N.gif every N steps: training video 0 | the model's objects | the "
                   "true objects (0 = never).")
@training_options
@seed_option(0)
@quiet_option
def train_cmd(data, size, out_dir, steps, batch_size, clip_frames, lr, num_slots, hidden, slot_dim, pixel_dim,
              no_depth_input, unsupervised, mask_weight, appearance, background, bg_checkpoint, fg_evidence, bg_depth,
              recon_loss, sigma, usage_weight, recon_weight, ckpt_every, vis_every, device, resume, max_minutes, seed, quiet):
    """Train the slot-segmenter model on a moving-shapes data folder (mc's training loop, accelerate).

    Writes OUT_DIR/checkpoints/{last,best,final} (last with the optimizer state, for --resume),
    OUT_DIR/metrics.csv, OUT_DIR/loss.png and OUT_DIR/train_log.json; prints a JSON summary.
    Checkpoints are safetensors + config.json (mc_core.checkpoint).

    \b
    Examples:
      mc loci make-data --out-dir shapes_train --videos 64
      mc loci train --data shapes_train --out-dir runs/loci --steps 300
      mc loci train --data shapes_train --out-dir runs/loci --steps 600 --resume
      mc loci train --data shapes_train --out-dir runs/unsup --steps 1000 --unsupervised --max-minutes 30
      mc loci train --data pan_train --out-dir runs/unsup_bg --unsupervised \\
          --background learned --bg-checkpoint runs/bg/checkpoints/final
      accelerate launch -m mc_core loci train --data shapes_train --out-dir runs/loci
    """
    import json

    from mc_loci.training import train

    _limit_threads()
    result = train(
        data, out_dir, steps=steps, resume=resume, device=device, seed=seed, max_minutes=max_minutes,
        unsupervised=unsupervised, bg_checkpoint=bg_checkpoint, quiet=quiet or None, size=size,
        model_config={"num_slots": num_slots, "hidden": hidden, "slot_dim": slot_dim, "pixel_dim": pixel_dim,
                      "depth_input": not no_depth_input, "appearance": appearance, "bg_depth": bg_depth,
                      "background": background, "fg_evidence": fg_evidence},
        train_config={"batch_size": batch_size, "clip_frames": clip_frames, "lr": lr, "mask_weight": mask_weight,
                      "recon_weight": recon_weight, "recon_loss": recon_loss, "sigma": sigma,
                      "usage_weight": usage_weight, "ckpt_every": ckpt_every,
                      "vis_every": vis_every})
    click.echo(json.dumps(result.as_dict(), indent=2))


@click.command("pretrain-bg")
@click.option("--data", required=True, type=click.Path(), help="moving-shapes data folder or Loci-Segmented HDF5 file (from make-data).")
@click.option("--size", type=click.IntRange(min=16, max=4096), default=None,
              help="HDF5 --data: resize frames to SIZE x SIZE (default: the file's side when square, else the "
                   "smaller side); eval then resizes to it by default.")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False), help="Run folder (checkpoints, log).")
@click.option("--steps", type=click.IntRange(min=1), default=600, show_default=True, help="Total training steps.")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True, help="Clips per step.")
@click.option("--clip-frames", type=click.IntRange(min=1), default=3, show_default=True,
              help="Frames per clip (the latent is carried over them; at most the videos' length).")
@click.option("--lr", type=FiniteFloat(min=0, min_open=True), default=2e-3, show_default=True,
              help="Adam learning rate.")
@click.option("--hidden", type=click.IntRange(min=1), default=32, show_default=True, help="Conv channels.")
@click.option("--latent-channels", type=click.IntRange(min=1), default=4, show_default=True,
              help="Channels of the bottleneck grid.")
@click.option("--downsample", type=click.IntRange(min=1, max=5), default=2, show_default=True,
              help="Stride-2 stages: the bottleneck grid is at 1/2**N resolution.")
@click.option("--no-depth-input", is_flag=True, help="RGB only: do not read or predict depth.")
@click.option("--no-temporal", is_flag=True, help="Per frame only: do not carry the latent over frames.")
@click.option("--ckpt-every", type=click.IntRange(min=0), default=100, show_default=True,
              help="Save OUT_DIR/checkpoints/last every N steps (0 = only at the end).")
@click.option("--vis-every", type=click.IntRange(min=0), default=0, show_default=True,
              help="Write OUT_DIR/vis/step_N.gif every N steps: training video 0 | the model's objects | the "
                   "true objects (0 = never).")
@training_options
@seed_option(0)
@quiet_option
def pretrain_bg_cmd(data, size, out_dir, steps, batch_size, clip_frames, lr, hidden, latent_channels, downsample,
                    no_depth_input, no_temporal, ckpt_every, vis_every, device, resume, max_minutes, seed, quiet):
    """Pretrain the learned background module (loci-background) without true masks.

    The module predicts every frame's background colour (and depth) through a small bottleneck,
    including under the objects, plus a per-pixel foreground logit; it is fitted by EM on a
    per-pixel mixture of "background" (a Gaussian around the prediction) and "outlier" (uniform),
    so objects need no labels. Writes OUT_DIR/checkpoints/{last,best,final} (last with the
    optimizer state, for --resume), OUT_DIR/metrics.csv, loss.png and train_log.json. Use the
    result with `mc loci train --background learned --bg-checkpoint ...` or
    `mc loci eval --method learned-cc`.

    \b
    Examples:
      mc loci make-data --out-dir pan_train --videos 64 --camera-motion pan
      mc loci pretrain-bg --data pan_train --out-dir runs/bg --steps 600
      mc loci pretrain-bg --data pan_train --out-dir runs/bg --steps 1200 --resume
      mc loci eval --data pan_test --method learned-cc --bg-checkpoint runs/bg/checkpoints/final
    """
    import json

    from mc_loci.background_train import pretrain_background

    _limit_threads()
    result = pretrain_background(
        data, out_dir, steps=steps, resume=resume, device=device, seed=seed, max_minutes=max_minutes,
        quiet=quiet or None, size=size,
        model_config={"hidden": hidden, "latent_channels": latent_channels, "downsample": downsample,
                      "depth_input": not no_depth_input, "temporal": not no_temporal},
        train_config={"batch_size": batch_size, "clip_frames": clip_frames, "lr": lr, "ckpt_every": ckpt_every,
                      "vis_every": vis_every})
    click.echo(json.dumps(result.as_dict(), indent=2))


COMMANDS = [train_cmd, pretrain_bg_cmd]
