"""Land-cover analysis commands: eval-inpaint, inpaint-sweep, plot-inpaint, eval-perplexity,
sample-chain, compare-information, zip-info-content, viz-embed, prob-dev.

Heavy libraries (torch, scipy, matplotlib) are imported inside the command bodies.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from mc_core.errors import BadInputError, UsageError
from mc_core.options import device_option, quiet_option, seed_option

METHODS = ("randar", "mode", "nearest", "potts")


# ----------------------------------------------------------------------------- shared helpers

def _ratio(ctx, param, value):
    if value is None:
        return value
    if not 0.0 < value < 1.0:
        raise click.BadParameter(f"{value} is not strictly between 0 and 1", ctx, param)
    return value


def _load_model(config, checkpoint, device):
    """A RandAR model from a config and a checkpoint; a mismatch is bad input (exit 2)."""
    if config is None or checkpoint is None:
        raise UsageError("this needs both --config and --checkpoint")
    from mc_core.device import resolve_device
    from mc_core.errors import McError
    from mc_landcover.models.randar import load_randar

    dev = resolve_device(device)
    try:
        model = load_randar(config, checkpoint, device=dev)
    except McError:
        raise
    except (RuntimeError, KeyError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise BadInputError(checkpoint, f"does not match config {config}: {first}") from None
    model.eval()
    return model, dev


def _num_classes() -> int:
    from mc_landcover.legend import NUM_CLASSES

    return NUM_CLASSES


def _class_names() -> list[str]:
    from mc_landcover.legend import NAMES

    return list(NAMES)


def _data_option(f):
    return click.option("--data", "data", type=click.Path(dir_okay=False), required=True,
                        help="Patches npz made by `mc landcover prepare` (its test split is used).")(f)


def _model_options(f):
    f = click.option("--checkpoint", type=click.Path(), default=None,
                     help="Checkpoint directory of a trained RandAR model.")(f)
    f = click.option("--config", default=None,
                     help="Model config the checkpoint was trained with (YAML path or a shipped name).")(f)
    return f


def _potts_for(data, potts_path, num_classes, rng, quiet_msg=True):
    from mc_core.progress import info
    from mc_landcover.inpaint.data import load_maps
    from mc_landcover.inpaint.potts import PottsModel, fit_potts

    if potts_path and Path(potts_path).is_file():
        return PottsModel.load(potts_path)
    train = load_maps(data, "train", allow_empty=True)
    if train.shape[0] == 0:
        raise BadInputError(data, "the train set is empty: the Potts baseline is fitted on it")
    info(f"fitting Potts MRF by pseudo-likelihood on {train.shape[0]} training maps")
    model = fit_potts(train, num_classes, rng=rng)
    info(f"Potts: beta={model.beta:.3f}")
    if potts_path:
        model.save(potts_path)
    return model


def _echo_metrics(method, res):
    a, s, b, c = res["accuracy"], res["sampled_accuracy"], res["log_loss_bits"], res["class_proportion_error"]
    click.echo(f"{method:8s} accuracy {a['mean']:.4f} [{a['low']:.4f}, {a['high']:.4f}]  "
               f"sampled {s['mean']:.4f}  log-loss {b['mean']:.3f} bits  macro-F1 {res['macro_f1']:.3f}  "
               f"class-proportion error {c['mean']:.4f}  (n={res['n_images']})")


def _run_one(method, maps, hidden, *, data, rng, model, potts, prior, device, temperature, top_k, seed):
    from mc_landcover.inpaint.run import evaluate

    return evaluate(method, maps, hidden, _num_classes(), rng, class_names=_class_names(),
                    model=model, potts=potts, prior=prior, device=device, temperature=temperature,
                    top_k=top_k, seed=seed)


def _prepare_inpaint(data, n_images, size, seed):
    import numpy as np

    from mc_core.seeding import seed_everything
    from mc_landcover.inpaint.data import load_maps, select_maps

    rng = seed_everything(seed)
    maps = select_maps(load_maps(data, "test"), n_images, size, rng, data)
    train = load_maps(data, "train", allow_empty=True)
    from mc_landcover.inpaint.run import training_prior

    return rng, maps, training_prior(train, _num_classes()), np


# ----------------------------------------------------------------------------- eval-inpaint

@click.command("eval-inpaint")
@_model_options
@_data_option
@click.option("--method", type=click.Choice(METHODS), default="randar", show_default=True,
              help="Who fills the hidden pixels: the model or a baseline (baselines need no checkpoint).")
@click.option("--n-images", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--size", type=click.IntRange(min=2), default=None,
              help="Crop maps to size x size (default: the maps' own size).")
@click.option("--mask-type", type=click.Choice(["interior", "random"]), default="interior", show_default=True)
@click.option("--mask-ratio", type=float, default=0.25, show_default=True, callback=_ratio,
              help="Fraction of pixels hidden, strictly between 0 and 1.")
@click.option("--temperature", type=click.FloatRange(min=0.0, min_open=True), default=1.0, show_default=True)
@click.option("--top-k", type=click.IntRange(min=1), default=None)
@click.option("--potts-model", type=click.Path(dir_okay=False), default=None,
              help="JSON of a fitted Potts model: read when it exists, else fitted and written there.")
@click.option("--save-results", type=click.Path(dir_okay=False), default=None, help="Write metrics as JSON.")
@click.option("--visualize", is_flag=True, help="Also write ground truth / masked / filled panels as PNG.")
@click.option("--visualize-out", type=click.Path(dir_okay=False), default=None,
              help="Where --visualize writes (default: next to --save-results, else inpaint_panels.png).")
@device_option
@seed_option(0)
@quiet_option
def eval_inpaint(config, checkpoint, data, method, n_images, size, mask_type, mask_ratio, temperature,
                 top_k, potts_model, save_results, visualize, visualize_out, device, seed, quiet):
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
    from mc_core.atomic import write_json
    from mc_landcover.inpaint.masks import make_masks

    model = dev = None
    if method == "randar":
        model, dev = _load_model(config, checkpoint, device)
    rng, maps, prior, np = _prepare_inpaint(data, n_images, size, seed)
    hidden = make_masks(maps.shape[0], maps.shape[1], maps.shape[2], mask_type, mask_ratio, rng)
    potts = _potts_for(data, potts_model, _num_classes(), rng) if method == "potts" else None
    infill, res = _run_one(method, maps, hidden, data=data, rng=rng, model=model, potts=potts, prior=prior,
                           device=dev or "cpu", temperature=temperature, top_k=top_k, seed=seed)
    _echo_metrics(method, res)
    record = {"method": method, "mask_type": mask_type, "mask_ratio": mask_ratio, "size": int(maps.shape[1]),
              "n_images": int(maps.shape[0]), "seed": seed, "data": str(data), "config": config,
              "checkpoint": checkpoint, "temperature": temperature, "top_k": top_k,
              "potts_beta": None if potts is None else potts.beta, "metrics": res}
    if save_results:
        write_json(save_results, record)
    if visualize:
        from mc_landcover.inpaint.plots import save_panels

        out = visualize_out or (str(Path(save_results).with_suffix("")) + "_panels.png" if save_results
                                else "inpaint_panels.png")
        save_panels(out, maps, hidden, infill.argmax, infill.sampled,
                    title=f"{method}, {mask_type} mask, ratio {mask_ratio}")
        click.echo(f"panels: {out}")


# ----------------------------------------------------------------------------- inpaint-sweep

def _parse_floats(ctx, param, value):
    try:
        vals = [float(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of numbers", ctx, param) from None
    bad = [v for v in vals if not 0.0 < v < 1.0]
    if bad or not vals:
        raise click.BadParameter(f"mask ratios must lie strictly between 0 and 1, got {value}", ctx, param)
    return vals


def _parse_names(choices):
    def cb(ctx, param, value):
        names = [v.strip() for v in value.split(",") if v.strip()]
        bad = [n for n in names if n not in choices]
        if bad or not names:
            raise click.BadParameter(f"unknown {', '.join(bad) or 'empty list'}; choose from {', '.join(choices)}",
                                     ctx, param)
        return names
    return cb


@click.command("inpaint-sweep")
@_model_options
@_data_option
@click.option("--ratios", default="0.1,0.25,0.5,0.75,0.9,0.99", show_default=True, callback=_parse_floats,
              help="Comma-separated mask ratios.")
@click.option("--mask-types", default="interior,random", show_default=True,
              callback=_parse_names(("interior", "random")))
@click.option("--methods", default="randar,nearest,mode,potts", show_default=True,
              callback=_parse_names(METHODS),
              help="Comma-separated methods; randar is skipped when no --checkpoint is given.")
@click.option("--n-images", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--size", type=click.IntRange(min=2), default=None)
@click.option("--temperature", type=click.FloatRange(min=0.0, min_open=True), default=1.0, show_default=True)
@click.option("--top-k", type=click.IntRange(min=1), default=None)
@click.option("--out-dir", type=click.Path(file_okay=False), default="inpaint_sweep", show_default=True)
@click.option("--overwrite", is_flag=True, help="Redo runs whose JSON already exists (default: skip them).")
@device_option
@seed_option(0)
@quiet_option
def inpaint_sweep(config, checkpoint, data, ratios, mask_types, methods, n_images, size, temperature,
                  top_k, out_dir, overwrite, device, seed, quiet):
    """Inpainting accuracy over mask ratios, for both mask types, the model and the baselines.

    Writes one JSON per run (`<method>_<mask-type>_<ratio>.json`) and one summary per mask type
    (`sweep_<mask-type>.json`). Every (mask type, ratio) uses the same maps and masks for all
    methods. Restartable: runs whose JSON exists are skipped.

    \b
    Example:
      mc landcover inpaint-sweep --config randar_nlcd_32 --checkpoint runs/nlcd32/final \\
          --data data_32.npz --n-images 200 --out-dir sweep/
      mc landcover plot-inpaint sweep/ --out inpaint_accuracy.png
    """
    from mc_core.atomic import write_json
    from mc_core.progress import info
    from mc_core.seeding import seed_everything
    from mc_landcover.inpaint.data import load_maps, select_maps
    from mc_landcover.inpaint.masks import make_masks
    from mc_landcover.inpaint.run import training_prior

    import numpy as np

    if "randar" in methods and checkpoint is None:
        info("no --checkpoint: skipping method randar")
        methods = [m for m in methods if m != "randar"]
        if not methods:
            raise UsageError("nothing to run: only randar was asked for and no --checkpoint was given")
    model = dev = None
    if "randar" in methods:
        model, dev = _load_model(config, checkpoint, device)
    rng = seed_everything(seed)
    maps = select_maps(load_maps(data, "test"), n_images, size, rng, data)
    prior = training_prior(load_maps(data, "train", allow_empty=True), _num_classes())
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    potts = _potts_for(data, out / "potts_model.json", _num_classes(), rng) if "potts" in methods else None
    for mt_i, mt in enumerate(mask_types):
        summary = []
        for r_i, ratio in enumerate(ratios):
            # masks depend only on (seed, mask type, ratio), so all methods see the same ones
            mrng = np.random.default_rng([seed, mt_i, r_i])
            hidden = make_masks(maps.shape[0], maps.shape[1], maps.shape[2], mt, ratio, mrng)
            for method in methods:
                path = out / f"{method}_{mt}_{ratio:g}.json"
                if path.exists() and not overwrite:
                    record = json.loads(path.read_text())
                else:
                    frng = np.random.default_rng([seed, mt_i, r_i, METHODS.index(method)])
                    _, res = _run_one(method, maps, hidden, data=data, rng=frng, model=model, potts=potts,
                                      prior=prior, device=dev or "cpu", temperature=temperature,
                                      top_k=top_k, seed=seed)
                    record = {"method": method, "mask_type": mt, "mask_ratio": ratio,
                              "size": int(maps.shape[1]), "n_images": int(maps.shape[0]), "seed": seed,
                              "data": str(data), "config": config, "checkpoint": checkpoint,
                              "temperature": temperature, "top_k": top_k, "metrics": res}
                    write_json(path, record)
                click.echo(f"{mt:8s} ratio {ratio:<5g} ", nl=False)
                _echo_metrics(method, record["metrics"])
                summary.append(record)
        write_json(out / f"sweep_{mt}.json", {"mask_type": mt, "runs": summary})
    click.echo(f"results in {out}/")


# ----------------------------------------------------------------------------- plot-inpaint

@click.command("plot-inpaint")
@click.argument("results", nargs=-1, type=click.Path(exists=True), required=True)
@click.option("--out", type=click.Path(dir_okay=False), default="inpaint_accuracy.png", show_default=True)
@click.option("--metric", type=click.Choice(["accuracy", "sampled_accuracy", "class_proportion_error"]),
              default="accuracy", show_default=True)
def plot_inpaint(results, out, metric):
    """Plot inpainting accuracy against mask ratio (PNG) from eval-inpaint / inpaint-sweep JSON.

    RESULTS are JSON files or directories of them (as written by inpaint-sweep).

    \b
    Example:
      mc landcover plot-inpaint sweep/ --out inpaint_accuracy.png
    """
    from mc_landcover.inpaint.plots import plot_accuracy_vs_ratio

    files = []
    for r in results:
        p = Path(r)
        files.extend(sorted(p.glob("*.json")) if p.is_dir() else [p])
    runs = []
    for f in files:
        try:
            d = json.loads(f.read_text())
        except (OSError, ValueError) as e:
            raise BadInputError(f, f"not readable JSON ({e})") from None
        if isinstance(d, dict) and "runs" in d:
            continue  # per-mask-type summaries repeat the single runs
        if not (isinstance(d, dict) and {"method", "mask_type", "mask_ratio", "metrics"} <= d.keys()):
            if len(results) == 1 and not Path(results[0]).is_dir():
                raise BadInputError(f, "not an inpainting result (needs method, mask_type, mask_ratio, metrics)")
            continue
        runs.append(d)
    if not runs:
        raise BadInputError(results[0], "no inpainting results found")
    plot_accuracy_vs_ratio(out, runs, metric)
    click.echo(f"plotted {len(runs)} runs: {out}")


COMMANDS: list = [eval_inpaint, inpaint_sweep, plot_inpaint]
