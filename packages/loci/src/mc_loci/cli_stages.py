"""The Loci-Segmented stage commands (one per stage, the seed's names) and ``main``, the seed's own
spelling (``mc loci main -cfg configs/<stage>.json --pretrain-objects --single-gpu --load-mask X``:
the stage comes from the config; with ``--save-*`` and ``--load`` it draws pictures instead)."""

from __future__ import annotations

import click

from mc_core.options import quiet_option, seed_option, training_options

LOAD_FLAGS = ("mask", "depth", "rgb", "stage1", "bg", "proposal")


def _limit_threads() -> None:
    import torch

    torch.set_num_threads(max(1, min(torch.get_num_threads(), 4)))


def stage_options(f):
    for flag in reversed(LOAD_FLAGS):
        f = click.option(f"--load-{flag}", f"load_{flag}", type=click.Path(), default=None,
                         help=f"Checkpoint to load the {flag} weights from"
                              + (" (a loci-background or loci-s checkpoint)." if flag == "bg" else "."))(f)
    f = click.option("--single-gpu", is_flag=True, hidden=True, help="Accepted for the seed's commands (no effect).")(f)
    f = click.option("--pretrain-objects", is_flag=True, help="The seed's flag of the object pretraining stages "
                                                              "(checked against the config's stage).")(f)
    f = click.option("--pretrain-bg", is_flag=True, help="The seed's flag of the background stage (checked).")(f)
    f = click.option("--steps", type=click.IntRange(min=1), default=None, help="Override the config's step count.")(f)
    f = click.option("--size", type=click.IntRange(min=16, max=4096), default=None,
                     help="HDF5 --data: resize frames to SIZE (default: the config's model size).")(f)
    f = click.option("--out-dir", required=True, type=click.Path(file_okay=False), help="Run folder.")(f)
    f = click.option("--data", required=True, type=click.Path(), help="Training data: moving-shapes folder or "
                                                                      "Loci-Segmented HDF5 file.")(f)
    return f


def _run(config, data, out_dir, size, steps, pretrain_objects, pretrain_bg, loads, device, resume, max_minutes,
         seed, quiet, expect_kind=None):
    import json

    from mc_core.errors import UsageError
    from mc_loci.stages import STAGES, load_config, run_stage

    _limit_threads()
    cfg = load_config(config)
    if expect_kind is not None and STAGES[cfg["stage"]] != expect_kind:
        raise UsageError(f"config {config!r} is stage {cfg['stage']}, not a {expect_kind} stage (use "
                         f"`mc loci {cfg['stage']}` or `mc loci main -cfg ...`)")
    result = run_stage(cfg, data, out_dir, load=loads, steps=steps, max_minutes=max_minutes, resume=resume,
                       device=device, seed=seed, quiet=quiet or None, size=size,
                       pretrain_objects=pretrain_objects, pretrain_bg=pretrain_bg)
    click.echo(json.dumps(result.as_dict(), indent=2))


def make_stage_command(name: str, kind: str, loads: tuple[str, ...], what: str, example: str) -> click.Command:
    def command(config, data, out_dir, size, steps, pretrain_bg, pretrain_objects, single_gpu, device, resume,
                max_minutes, seed, quiet, **load):
        given = {k[len("load_"):]: v for k, v in load.items() if v is not None}
        _run(config or name, data, out_dir, size, steps, pretrain_objects, pretrain_bg, given, device, resume,
             max_minutes, seed, quiet, expect_kind=kind)

    command.__doc__ = f"""{what}

    Runs mc's training loop with the shipped config {name}.json (or --config NAME|FILE): writes
    OUT_DIR/checkpoints/{{last,best,final}}, metrics.csv, loss.png and train_log.json; --resume
    continues, --max-minutes is the time budget. Takes {', '.join('--load-' + x for x in loads) or 'no --load-*'}.

    \b
    Example:
      {example}
    """
    command = seed_option(None)(quiet_option(training_options(stage_options(command))))
    command = click.option("--config", "-cfg", "config", default=None,
                           help=f"Stage config: a shipped name or a JSON file [default: {name}].")(command)
    return click.command(name)(command)


_S = "mc loci"
_D = "--data pan_train"
STAGE_COMMANDS = [
    make_stage_command("pretrain-mask-decoder", "mask", (), "Pretrain the mask decoder on single objects.",
                       f"{_S} pretrain-mask-decoder {_D} --out-dir runs/mask --pretrain-objects --max-minutes 5"),
    make_stage_command("pretrain-depth-decoder", "depth", (), "Pretrain the depth decoder on single objects.",
                       f"{_S} pretrain-depth-decoder {_D} --out-dir runs/depth --pretrain-objects"),
    make_stage_command("pretrain-rgb-decoder", "rgb", (), "Pretrain the RGB decoder on single objects.",
                       f"{_S} pretrain-rgb-decoder {_D} --out-dir runs/rgb --pretrain-objects"),
    *[make_stage_command(f"pretrain-encoder-decoder-stage1{s}", "stage1", ("mask", "depth", "rgb"),
                         "Pretrain the slot encoder with the pretrained decoders (one pass, no hyper-networks)"
                         + (", depth as input." if s else "."),
                         f"{_S} pretrain-encoder-decoder-stage1{s} {_D} --out-dir runs/s1 --pretrain-objects "
                         "--load-mask runs/mask/checkpoints/final --load-depth runs/depth/checkpoints/final "
                         "--load-rgb runs/rgb/checkpoints/final") for s in ("", "-depth")],
    *[make_stage_command(f"pretrain-encoder-decoder-stage2{s}", "stage2", ("stage1",),
                         "Train the encoder's hyper-networks with several encoder-decoder passes"
                         + (", depth as input." if s else "."),
                         f"{_S} pretrain-encoder-decoder-stage2{s} {_D} --out-dir runs/s2 --pretrain-objects "
                         "--load-stage1 runs/s1/checkpoints/final") for s in ("", "-depth")],
    *[make_stage_command(f"pretrain-background{s}", "background", (),
                         "Pretrain the background module without labels" + (", depth as input." if s else "."),
                         f"{_S} pretrain-background{s} {_D} --out-dir runs/bg --pretrain-bg") for s in ("", "-depth")],
    *[make_stage_command(f"loci-s{s}", "loci", ("stage1", "bg", "proposal"),
                         "Final Loci-Segmented training over videos, no mask labels" + (", depth as input." if s else "."),
                         f"{_S} loci-s{s} {_D} --out-dir runs/loci --load-stage1 runs/s2/checkpoints/final "
                         "--load-bg runs/bg/checkpoints/final") for s in ("", "-depth")],
]


@click.command("main")
@click.option("--config", "-cfg", "config", required=True, help="Stage config: a shipped name or JSON file; "
                                                                "`configs/<stage>.json` means the shipped one.")
@click.option("--data", required=True, type=click.Path(), help="Training data (or, with --save-*, the data to show).")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False), help="Run folder (or picture folder).")
@click.option("--size", type=click.IntRange(min=16, max=4096), default=None, help="HDF5 --data: resize to SIZE.")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Override the config's step count.")
@click.option("--pretrain-objects", is_flag=True, help="The seed's flag of the object pretraining stages.")
@click.option("--pretrain-bg", is_flag=True, help="The seed's flag of the background stage.")
@click.option("--single-gpu", is_flag=True, help="Accepted for the seed's commands (no effect).")
@click.option("--load", "load", type=click.Path(), default=None, help="With --save-*: the checkpoint to show.")
@click.option("--load-mask", type=click.Path(), default=None, help="Mask decoder checkpoint.")
@click.option("--load-depth", type=click.Path(), default=None, help="Depth decoder checkpoint.")
@click.option("--load-rgb", type=click.Path(), default=None, help="RGB decoder checkpoint.")
@click.option("--load-stage1", type=click.Path(), default=None, help="Encoder-decoder checkpoint.")
@click.option("--load-bg", type=click.Path(), default=None, help="Background checkpoint.")
@click.option("--load-proposal", type=click.Path(), default=None, help="Proposal network checkpoint.")
@click.option("--save-mask", is_flag=True, help="With --load: save mask decoder pictures.")
@click.option("--save-depth", is_flag=True, help="With --load: save depth decoder pictures.")
@click.option("--save-rgb", is_flag=True, help="With --load: save RGB decoder pictures.")
@click.option("--save-objects", is_flag=True, help="With --load: save encoder-decoder pictures.")
@click.option("--save-bg", is_flag=True, help="With --load: save background pictures.")
@click.option("--save", "save_all", is_flag=True, help="With --load: save pictures of the whole model on a video.")
@click.option("--add-text", is_flag=True, help="Label the pictures.")
@training_options
@seed_option(None)
@quiet_option
def main_cmd(config, data, out_dir, size, steps, pretrain_objects, pretrain_bg, single_gpu, load, load_mask, load_depth,
             load_rgb, load_stage1, load_bg, load_proposal, save_mask, save_depth, save_rgb, save_objects, save_bg,
             save_all, add_text, device, resume, max_minutes, seed, quiet):
    """The seed's `python -m model.main`: run the stage its config names, or draw pictures.

    \b
    Examples (the seed's commands, with --data and --out-dir added):
      mc loci main -cfg configs/pretrain-mask-decoder.json --pretrain-objects --single-gpu --data pan_train --out-dir runs/mask
      mc loci main -cfg configs/pretrain-encoder-decoder-stage1-depth.json --pretrain-objects --single-gpu \\
          --load-mask runs/mask/checkpoints/final --load-depth runs/depth/checkpoints/final \\
          --load-rgb runs/rgb/checkpoints/final --data pan_train --out-dir runs/s1
      mc loci main -cfg configs/pretrain-background-depth.json --pretrain-bg --single-gpu --data pan_train --out-dir runs/bg
      mc loci main -cfg configs/loci-s-depth.json --save --single-gpu --add-text --load runs/loci/checkpoints/final \\
          --data pan_test --out-dir vis
    """
    from mc_core.errors import UsageError

    modes = [m for m, on in (("mask", save_mask), ("depth", save_depth), ("rgb", save_rgb), ("objects", save_objects),
                             ("bg", save_bg), ("loci", save_all)) if on]
    if modes or load is not None:
        if load is None:
            raise UsageError("--save-* needs --load CHECKPOINT (the checkpoint to show)")
        if not modes:
            raise UsageError("--load goes with --save-*: give what to save")
        from mc_loci.stages import load_config
        from mc_loci.visualize import visualize

        load_config(config)  # checked, as the seed reads it
        for path in visualize(load, data, out_dir, modes=modes, add_text=add_text, seed=seed or 0):
            click.echo(str(path))
        return
    loads = {"mask": load_mask, "depth": load_depth, "rgb": load_rgb, "stage1": load_stage1, "bg": load_bg,
             "proposal": load_proposal}
    _run(config, data, out_dir, size, steps, pretrain_objects, pretrain_bg, loads, device, resume, max_minutes,
         seed, quiet)


COMMANDS = [*STAGE_COMMANDS, main_cmd]
