"""Inpainting commands: eval-inpaint, inpaint-sweep, plot-inpaint (bodies call mc_landcover.inpaint.experiment)."""

from __future__ import annotations

from pathlib import Path

import click

from mc_core.options import device_option, quiet_option, seed_option
from mc_landcover.cli_options import (
    RATIO,
    TEMPERATURE,
    data_option,
    echo_verbose,
    float_list,
    model_options,
    name_list,
    resolve_data,
    verbose_option,
)

METHODS = ("randar", "mode", "nearest", "potts")
MAX_IMAGES = 1_000_000


def echo_metrics(method: str, res: dict) -> None:
    a, s, b, c = res["accuracy"], res["sampled_accuracy"], res["log_loss_bits"], res["class_proportion_error"]
    click.echo(f"{method:8s} accuracy {a['mean']:.4f} [{a['low']:.4f}, {a['high']:.4f}]  "
               f"sampled {s['mean']:.4f}  log-loss {b['mean']:.3f} bits  macro-F1 {res['macro_f1']:.3f}  "
               f"class-proportion error {c['mean']:.4f}  (n={res['n_images']})")


@click.command("eval-inpaint")
@model_options
@data_option()
@click.option("--method", type=click.Choice(METHODS), default="randar", show_default=True,
              help="Who fills the hidden pixels: the model or a baseline (baselines need no checkpoint).")
@click.option("--n-images", type=click.IntRange(min=1, max=MAX_IMAGES), default=100, show_default=True)
@click.option("--size", type=click.IntRange(min=2), default=None,
              help="Crop maps to size x size (default: the maps' own size).")
@click.option("--mask-type", type=click.Choice(["interior", "random"]), default="interior", show_default=True)
@click.option("--mask-ratio", type=RATIO, default=0.25, show_default=True,
              help="Fraction of pixels hidden, strictly between 0 and 1.")
@click.option("--temperature", type=TEMPERATURE, default=1.0, show_default=True)
@click.option("--top-k", type=click.IntRange(min=1), default=None)
@click.option("--decode", type=click.Choice(["marginal", "confident"]), default="marginal", show_default=True,
              help="randar's fill: each hidden pixel's argmax given the known ones in one pass (marginal), or "
                   "the most confident pixels first, each step conditioned on those decoded before (confident).")
@click.option("--pixels-per-step", type=click.IntRange(min=1, max=1 << 20), default=16, show_default=True,
              help="Pixels fixed per pass with --decode confident.")
@click.option("--potts-model", type=click.Path(dir_okay=False), default=None,
              help="JSON of a fitted Potts model: read when it exists, else fitted and written there.")
@click.option("--save-results", type=click.Path(dir_okay=False), default=None, help="Write metrics as JSON.")
@click.option("--visualize", is_flag=True, help="Also write ground truth / masked / filled panels as PNG.")
@click.option("--visualize-out", type=click.Path(dir_okay=False), default=None,
              help="Where --visualize writes (default: next to --save-results, else inpaint_panels.png).")
@device_option
@seed_option(0)
@verbose_option
@quiet_option
def eval_inpaint_cmd(config, checkpoint, data, method, n_images, size, mask_type, mask_ratio, temperature,
                     top_k, decode, pixels_per_step, potts_model, save_results, visualize, visualize_out, device, seed, verbose, quiet):
    """Inpaint hidden pixels of test maps and score the fill over the hidden pixels.

    Reports argmax and sampled accuracy, log loss (nats, bits), per-class and macro F1 and the
    class-proportion error, with 95% t-intervals over images. The model conditions every hidden
    pixel on all known pixels; baselines: mode fill, nearest-neighbour fill, Potts MRF (Gibbs).

    \b
    Example:
      mc landcover eval-inpaint --config randar_nlcd_32 --checkpoint runs/nlcd32/final \\
          --data data_32.npz --n-images 100 --mask-type interior --mask-ratio 0.25 \\
          --save-results inpaint.json --visualize
      mc landcover eval-inpaint --method nearest --data data_32.npz --save-results nearest.json
    """
    from mc_landcover.inpaint.experiment import eval_inpaint

    if method == "randar" and checkpoint is None:
        raise click.UsageError("--method randar needs --checkpoint (or --gpt-ckpt)")
    data = resolve_data(data, config)
    panels = None
    if visualize:
        panels = visualize_out or (str(Path(save_results).with_suffix("")) + "_panels.png" if save_results
                                   else "inpaint_panels.png")
    run = eval_inpaint(data, method=method, checkpoint=checkpoint, config=config, n_images=n_images, size=size,
                       mask_type=mask_type, mask_ratio=mask_ratio, temperature=temperature, top_k=top_k,
                       potts_model=potts_model, seed=seed, device=device, save_results=save_results,
                       panels=panels, decode=decode, pixels_per_step=pixels_per_step)
    echo_metrics(method, run.record["metrics"])
    if panels:
        click.echo(f"panels: {panels}")
    echo_verbose(verbose, run.record)


@click.command("inpaint-sweep")
@model_options
@data_option()
@click.option("--ratios", default="0.1,0.25,0.5,0.75,0.9,0.99", show_default=True, callback=float_list,
              help="Comma-separated mask ratios.")
@click.option("--mask-types", default="interior,random", show_default=True,
              callback=name_list(("interior", "random")))
@click.option("--methods", default="randar,nearest,mode,potts", show_default=True, callback=name_list(METHODS),
              help="Comma-separated methods; randar is skipped when no --checkpoint is given.")
@click.option("--n-images", type=click.IntRange(min=1, max=MAX_IMAGES), default=100, show_default=True)
@click.option("--size", type=click.IntRange(min=2), default=None)
@click.option("--temperature", type=TEMPERATURE, default=1.0, show_default=True)
@click.option("--top-k", type=click.IntRange(min=1), default=None)
@click.option("--decode", type=click.Choice(["marginal", "confident"]), default="marginal", show_default=True,
              help="randar's fill: each hidden pixel's argmax given the known ones in one pass (marginal), or "
                   "the most confident pixels first, each step conditioned on those decoded before (confident).")
@click.option("--pixels-per-step", type=click.IntRange(min=1, max=1 << 20), default=16, show_default=True,
              help="Pixels fixed per pass with --decode confident.")
@click.option("--out-dir", type=click.Path(file_okay=False), default="inpaint_sweep", show_default=True)
@click.option("--overwrite", is_flag=True, help="Redo runs whose JSON already exists (default: skip them).")
@device_option
@seed_option(0)
@verbose_option
@quiet_option
def inpaint_sweep_cmd(config, checkpoint, data, ratios, mask_types, methods, n_images, size, temperature,
                      top_k, decode, pixels_per_step, out_dir, overwrite, device, seed, verbose, quiet):
    """Inpainting accuracy over mask ratios, for both mask types, the model and the baselines.

    Writes one JSON per run (`<method>_<mask-type>_<ratio>.json`) and one summary per mask type
    (`sweep_<mask-type>.json`). Every (mask type, ratio) uses the same maps and masks for all
    methods. Restartable: runs whose JSON exists are skipped. (The seed's inpaint-experiment.sh.)

    \b
    Example:
      mc landcover inpaint-sweep --config randar_nlcd_32 --checkpoint runs/nlcd32/final \\
          --data data_32.npz --n-images 200 --out-dir sweep/
      mc landcover plot-inpaint sweep/ --out inpaint_accuracy.png
    """
    from mc_landcover.inpaint.experiment import inpaint_sweep

    def show(record):
        click.echo(f"{record['mask_type']:8s} ratio {record['mask_ratio']:<5g} ", nl=False)
        echo_metrics(record["method"], record["metrics"])

    summaries = inpaint_sweep(resolve_data(data, config), out_dir, ratios=ratios, mask_types=mask_types,
                              methods=methods, checkpoint=checkpoint, config=config, n_images=n_images, size=size,
                              temperature=temperature, top_k=top_k, overwrite=overwrite, seed=seed, device=device,
                              decode=decode, pixels_per_step=pixels_per_step, on_run=show)
    click.echo(f"results in {out_dir}/")
    echo_verbose(verbose, summaries)


@click.command("plot-inpaint")
@click.argument("results", nargs=-1, type=click.Path(exists=True), required=True)
@click.option("--out", type=click.Path(dir_okay=False), default="inpaint_accuracy.png", show_default=True)
@click.option("--metric", type=click.Choice(["accuracy", "sampled_accuracy", "class_proportion_error"]),
              default="accuracy", show_default=True)
@verbose_option
def plot_inpaint_cmd(results, out, metric, verbose):
    """Plot inpainting accuracy against mask ratio (PNG) from eval-inpaint / inpaint-sweep JSON.

    RESULTS are JSON files or directories of them (as written by inpaint-sweep).

    \b
    Example:
      mc landcover plot-inpaint sweep/ --out inpaint_accuracy.png
    """
    from mc_core.paths import check_outputs
    from mc_landcover.inpaint.experiment import collect_runs
    from mc_landcover.inpaint.plots import plot_accuracy_vs_ratio

    check_outputs(results, [out])
    runs = collect_runs(results)
    plot_accuracy_vs_ratio(out, runs, metric)
    click.echo(f"plotted {len(runs)} runs: {out}")
    echo_verbose(verbose, [{k: r[k] for k in ("method", "mask_type", "mask_ratio")} | {metric: r["metrics"][metric]}
                           for r in runs])


COMMANDS: list[click.Command] = [eval_inpaint_cmd, inpaint_sweep_cmd, plot_inpaint_cmd]
