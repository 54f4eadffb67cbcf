"""`mc loci pipeline` (every Loci-Segmented stage in order) and `mc loci visualize` (pictures per stage)."""

from __future__ import annotations

import click

from mc_core.options import FiniteFloat, device_option, quiet_option, seed_option


@click.command("pipeline")
@click.option("--data", required=True, type=click.Path(), help="Training data: moving-shapes folder or HDF5 file.")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False), help="Folder of the stages' runs.")
@click.option("--depth/--no-depth", default=True, show_default=True, help="Depth as input (the *-depth configs).")
@click.option("--max-minutes", type=FiniteFloat(min=0, min_open=True), default=None,
              help="Time budget of each stage (a stage that used it up counts as finished).")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Override every stage's step count.")
@click.option("--size", type=click.IntRange(min=16, max=4096), default=None, help="HDF5 --data: resize to SIZE.")
@device_option
@seed_option(None)
@quiet_option
def pipeline_cmd(data, out_dir, depth, max_minutes, steps, size, device, seed, quiet):
    """Train Loci-Segmented: every stage in order, ending with OUT_DIR/final.

    Decoders (mask, depth, rgb) on single objects, encoder-decoder stage 1 and 2, the background
    module, then loci-s over videos (no mask labels), each in OUT_DIR/<stage> with the shipped
    config and the checkpoints of the stages before it. Run it again to finish an interrupted
    pipeline: finished stages are skipped, an interrupted one resumes.

    \b
    Examples:
      mc loci make-data --out-dir pan_train --videos 64 --camera-motion pan
      mc loci pipeline --data pan_train --out-dir runs/pipe --max-minutes 5
      mc loci eval --data pan_test --checkpoint runs/pipe/final --method model --method farthest-cc
    """
    import json

    import torch

    from mc_loci.stages.pipeline import run_pipeline

    torch.set_num_threads(max(1, min(torch.get_num_threads(), 4)))
    summary = run_pipeline(data, out_dir, depth=depth, max_minutes=max_minutes, steps=steps, device=device,
                           seed=seed, quiet=quiet or None, size=size)
    click.echo(json.dumps({"final": summary["final"], "stages": [{k: s[k] for k in ("stage", "was")}
                                                                 for s in summary["stages"]]}, indent=2))


@click.command("visualize")
@click.option("--checkpoint", required=True, type=click.Path(), help="A loci-s (any stage) or loci-background checkpoint.")
@click.option("--data", required=True, type=click.Path(), help="Data to show: moving-shapes folder or HDF5 file.")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False), help="Where the PNG and GIF files go.")
@click.option("--save-mask", is_flag=True, help="mask.png: single objects [true | decoded mask].")
@click.option("--save-depth", is_flag=True, help="depth.png: single objects [true | decoded depth].")
@click.option("--save-rgb", is_flag=True, help="rgb.png: single objects [true | decoded colour].")
@click.option("--save-objects", is_flag=True, help="objects.png: frames through the encoder-decoder passes.")
@click.option("--save-bg", is_flag=True, help="bg.png, bg.gif: the background module over a video.")
@click.option("--save", "save_all", is_flag=True, help="loci.png, loci.gif: the whole model over a video.")
@click.option("--add-text", is_flag=True, help="Label columns and frames.")
@click.option("--index", type=click.IntRange(min=0), default=0, show_default=True, help="Video to show.")
@click.option("--count", type=click.IntRange(min=1, max=64), default=8, show_default=True, help="Objects/frames per grid.")
@seed_option(0)
@quiet_option
def visualize_cmd(checkpoint, data, out_dir, save_mask, save_depth, save_rgb, save_objects, save_bg, save_all, add_text,
                  index, count, seed, quiet):
    """Pictures of a stage's checkpoint (the seed's --save-* modes): PNG grids and GIFs.

    \b
    Examples:
      mc loci visualize --checkpoint runs/pipe/pretrain-mask-decoder/checkpoints/final --data pan_test \\
          --out-dir vis --save-mask --add-text
      mc loci visualize --checkpoint runs/pipe/final --data pan_test --out-dir vis --save --save-bg --add-text
    """
    from mc_loci.visualize import visualize

    modes = [m for m, on in (("mask", save_mask), ("depth", save_depth), ("rgb", save_rgb), ("objects", save_objects),
                             ("bg", save_bg), ("loci", save_all)) if on]
    for path in visualize(checkpoint, data, out_dir, modes=modes, add_text=add_text, index=index, count=count,
                          seed=seed):
        if not quiet:
            click.echo(str(path))


COMMANDS = [pipeline_cmd, visualize_cmd]
