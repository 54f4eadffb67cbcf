"""`mc loci eval` and `mc loci segment`: score or show a segmenter (a trained model or a baseline),
got from the model registry by name (`--method`)."""

from __future__ import annotations

import click

from mc_core.options import FiniteFloat, RegistryChoice, device_option, quiet_option

TASK = "loci"  # mc_loci.interface.TASK (not imported: keep `mc --help` light)

METHOD_HELP = ("model: the model --checkpoint holds (any model registered for mc loci); or a registered name: "
               "a trained model (slot-segmenter, loci-background: --checkpoint must hold it) or a baseline: "
               "median-cc (temporal-median background + connected components), farthest-cc (the same with the "
               "farthest-surface background; needs depth), farthest-depth-cc (foreground by depth alone: "
               "nearer than the farthest surface by more than 0.1), learned-cc (components of the learned "
               "background module's foreground map; needs --bg-checkpoint), all-background. "
               "`mc list models --task loci` lists them.")


def method_option(f, multiple: bool = False):
    if multiple:
        return click.option("--method", "methods", type=RegistryChoice("models", task=TASK, extra=("model",)),
                            multiple=True, help=METHOD_HELP + " Repeat it to score several methods on the same "
                            "data in one table (default: model).")(f)
    return click.option("--method", type=RegistryChoice("models", task=TASK, extra=("model",)), default="model",
                        show_default=True, help=METHOD_HELP)(f)


def methods_option(f):
    return method_option(f, multiple=True)


def set_option(f):
    return click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                        help="A baseline's config, checked against its defaults (repeatable), e.g. "
                             "--method median-cc --set threshold=20 --set min_area=4.")(f)


def bg_checkpoint_option(f):
    return click.option("--bg-checkpoint", type=click.Path(), default=None,
                        help="loci-background checkpoint (mc loci pretrain-bg) for --method learned-cc.")(f)


@click.command("eval")
@click.option("--data", required=True, type=click.Path(),
              help="moving-shapes data folder, or a Loci-Segmented HDF5 file, with true masks.")
@click.option("--checkpoint", type=click.Path(), default=None, help="Model checkpoint (for a trained model).")
@click.option("--size", type=click.IntRange(min=16, max=4096), default=None,
              help="HDF5 data: resize frames to SIZE x SIZE (default: the size the --checkpoint model was "
                   "trained on; without one, the file's side when square, else the smaller side).")
@methods_option
@bg_checkpoint_option
@set_option
@click.option("--out-json", type=click.Path(dir_okay=False), default=None,
              help="Write the metrics (with per-video rows) here; never onto an input.")
@device_option
@quiet_option
def eval_cmd(data, checkpoint, size, methods, bg_checkpoint, overrides, out_json, device, quiet):
    """Score the model and/or baselines on a data folder or a Loci-Segmented HDF5 file.

    Reports Loci-Segmented's iou and loci_fg_ari (as its evaluation computes them), the standard
    fg_ari (as SAVi / Slot Attention) and matched_iou, per frame and over whole videos (for which an
    object must keep its id), and how many frames have no true foreground. Several --method give
    one table. --out-json also holds per-video and per-frame rows and the definitions.

    \b
    Examples:
      mc loci eval --data shapes_test --checkpoint runs/loci/checkpoints/final --out-json model.json
      mc loci eval --data shapes_test --method median-cc --out-json baseline.json
      mc loci eval --data shapes_test --method median-cc --set threshold=20
      mc loci eval --data pan_test --method learned-cc --bg-checkpoint runs/bg/checkpoints/final
      mc loci eval --data movi_c-test-128x128-v1.hdf5 --size 64 --checkpoint C \\
          --method model --method median-cc --method farthest-cc
    """
    import json

    from mc_loci.evaluation import SUMMARY_KEYS, evaluate_data, format_table

    methods = list(methods) or ["model"]
    result = evaluate_data(data, method=methods if len(methods) > 1 else methods[0], checkpoint=checkpoint,
                           bg_checkpoint=bg_checkpoint, device=device, out_json=out_json, overrides=overrides,
                           size=size)
    if "table" in result:
        click.echo(format_table(result["table"]))
    else:
        click.echo(json.dumps({k: result[k] for k in SUMMARY_KEYS}, indent=2))


@click.command("segment")
@click.option("--video", type=click.Path(), default=None, help="A video npz (rgb, depth[, masks]) as make-data writes.")
@click.option("--data", type=click.Path(), default=None,
              help="Instead of --video: a data folder or Loci-Segmented HDF5 file; segments its video --index.")
@click.option("--index", type=click.IntRange(min=0), default=0, show_default=True, help="The video of --data.")
@click.option("--size", type=click.IntRange(min=16, max=4096), default=None,
              help="HDF5 --data: resize frames to SIZE x SIZE (default as eval: the --checkpoint model's size).")
@click.option("--out-gif", required=True, type=click.Path(dir_okay=False), help="Overlay GIF to write.")
@click.option("--checkpoint", type=click.Path(), default=None, help="Model checkpoint (for a trained model).")
@method_option
@bg_checkpoint_option
@set_option
@click.option("--out-npz", type=click.Path(dir_okay=False), default=None, help="Also write the ids (T,H,W) here.")
@click.option("--fps", type=FiniteFloat(min=0.1), default=4.0, show_default=True, help="GIF frame rate.")
@click.option("--scale", type=click.IntRange(min=1, max=16), default=3, show_default=True, help="GIF upscaling.")
@device_option
@quiet_option
def segment_cmd(video, data, index, size, out_gif, checkpoint, method, bg_checkpoint, overrides, out_npz, fps, scale,
                device, quiet):
    """Segment one video and write a GIF: input | predicted objects | (true objects, if known).

    \b
    Examples:
      mc loci segment --checkpoint runs/loci/checkpoints/final \\
          --video shapes_test/videos/video_00000.npz --out-gif seg.gif
      mc loci segment --method median-cc --video shapes_test/videos/video_00003.npz --out-gif cc.gif
      mc loci segment --method median-cc --data h5/moving-shapes-test-64x64-v1.hdf5 --index 2 --out-gif h5.gif
      mc loci segment --method learned-cc --bg-checkpoint runs/bg/checkpoints/final \\
          --video pan_test/videos/video_00000.npz --out-gif bg_cc.gif
    """
    from mc_core.errors import UsageError
    from mc_core.progress import info
    from mc_loci.segmenting import segment_file

    if (video is None) == (data is None):
        raise UsageError("give one of --video or --data")
    out = segment_file(video, out_gif, method=method, checkpoint=checkpoint, bg_checkpoint=bg_checkpoint,
                       out_npz=out_npz, fps=fps, scale=scale, overrides=overrides, device=device, data=data,
                       index=index, size=size)
    info(f"wrote {out_gif} ({out['ids'].shape[0]} frames, object ids {out['objects']})")
    if out["scores"]:
        click.echo(" ".join(f"{k}={v:.3f}" for k, v in out["scores"].items()))


COMMANDS = [eval_cmd, segment_cmd]
