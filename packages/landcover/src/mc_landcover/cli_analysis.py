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
    if checkpoint is None:
        raise UsageError("this needs --checkpoint (and optionally --config to check it against)")
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
                     help="Model config the checkpoint was trained with (YAML path or a shipped name); "
                          "checked against the checkpoint [default: the checkpoint's own].")(f)
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
    # the fit's pixel subsample has its own fixed seed: the fit depends on the data only, and
    # fitting (or reading a cached fit) leaves the caller's random stream untouched
    import numpy as np

    model = fit_potts(train, num_classes, rng=np.random.default_rng(0))
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
    import numpy as np

    from mc_core.atomic import write_json
    from mc_core.progress import info
    from mc_core.seeding import seed_everything
    from mc_landcover.inpaint.data import load_maps, select_maps
    from mc_landcover.inpaint.masks import make_masks
    from mc_landcover.inpaint.run import training_prior

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




# ----------------------------------------------------------------------------- eval-perplexity

@click.command("eval-perplexity")
@_model_options
@_data_option
@click.option("--n", "n_maps", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Number of test maps (chosen at random with --seed).")
@click.option("--orders", "n_orders", type=click.IntRange(min=1), default=4, show_default=True,
              help="K random orders to average over (each map gets a fresh random order per pass).")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--save-results", type=click.Path(dir_okay=False), default=None, help="Write results as JSON.")
@device_option
@seed_option(0)
@quiet_option
def eval_perplexity(config, checkpoint, data, n_maps, n_orders, batch_size, save_results, device, seed, quiet):
    """Perplexity and bits per pixel of the model on test maps, in K random orders and raster order.

    Each order defines its own factorisation of p(x); the spread over the K random orders is
    reported next to their mean, and raster order separately.

    \b
    Example:
      mc landcover eval-perplexity --config randar_nlcd_32 --checkpoint runs/nlcd32/final \\
          --data data_32.npz --n 1000 --orders 4 --save-results perplexity.json
    """
    from mc_core.atomic import write_json
    from mc_core.seeding import seed_everything
    from mc_landcover.analysis.perplexity import evaluate_perplexity
    from mc_landcover.inpaint.data import load_maps, select_maps

    model, dev = _load_model(config, checkpoint, device)
    rng = seed_everything(seed)
    maps = select_maps(load_maps(data, "test"), n_maps, None, rng, data)
    if maps.shape[1] != model.size:
        raise BadInputError(data, f"maps are {maps.shape[1]}x{maps.shape[2]} but the model is {model.size}x{model.size}")
    res = evaluate_perplexity(model, maps, n_orders, batch_size=batch_size, seed=seed, device=dev)
    ro, ra = res["random_orders"], res["raster_order"]
    click.echo(f"random orders (K={n_orders}): {ro['bits_per_pixel']:.4f} bits/pixel "
               f"(std over orders {ro['bits_per_pixel_std_over_orders']:.4f}, "
               f"min {ro['bits_per_pixel_min']:.4f}, max {ro['bits_per_pixel_max']:.4f}), "
               f"perplexity {ro['perplexity']:.4f}")
    click.echo(f"raster order:     {ra['bits_per_pixel']:.4f} bits/pixel, perplexity {ra['perplexity']:.4f}")
    click.echo(f"maps: {res['n_maps']} of {maps.shape[1]}x{maps.shape[2]}")
    if save_results:
        write_json(save_results, {"data": str(data), "config": config, "checkpoint": checkpoint, "seed": seed,
                                  **res})


# ----------------------------------------------------------------------------- sample-chain

@click.command("sample-chain")
@_model_options
@click.option("--t", "t", type=click.IntRange(min=1), default=1000, show_default=True, help="Gibbs steps per chain.")
@click.option("--n-chains", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--block-size", type=click.IntRange(min=1), default=1, show_default=True,
              help="Resample a b x b block per step (joint, via the model's sampler) instead of one pixel.")
@click.option("--mh", is_flag=True,
              help="Metropolis-Hastings correction towards the model's joint likelihood in a fixed order.")
@click.option("--mh-order", type=click.Choice(["raster", "random"]), default="raster", show_default=True,
              help="The fixed order whose joint likelihood --mh targets (random = one fixed random order).")
@click.option("--init", type=click.Choice(["uniform", "sample", "data"]), default="uniform", show_default=True,
              help="Start from uniform noise, a model sample, or test maps (--data).")
@click.option("--data", type=click.Path(dir_okay=False), default=None, help="Patches npz for --init data.")
@click.option("--temperature", type=click.FloatRange(min=0.0, min_open=True), default=1.0, show_default=True)
@click.option("--frame-interval", type=click.IntRange(min=1), default=100, show_default=True,
              help="Keep the state every this many steps.")
@click.option("--save-array", type=click.Path(dir_okay=False), default="chains.npz", show_default=True,
              help="npz with frames (n_frames, n_chains, H, W) uint8 class indices, steps, acceptance rate.")
@click.option("--output-file", type=click.Path(dir_okay=False), default=None, help="Also write a GIF of the chains.")
@device_option
@seed_option(0)
@quiet_option
def sample_chain(config, checkpoint, t, n_chains, block_size, mh, mh_order, init, data, temperature,
                 frame_interval, save_array, output_file, device, seed, quiet):
    """Gibbs sampling with the model as energy: resample a pixel (or block) given all others.

    The resampled pixels go last in the order, so their distribution is the model's conditional
    given every other pixel. A random-order model's conditionals from different orders need not
    agree with one joint distribution, so plain Gibbs need not converge to one; --mh corrects
    each proposal towards the joint likelihood under one fixed order and reports the acceptance rate.

    \b
    Example:
      mc landcover sample-chain --config randar_nlcd_32 --checkpoint runs/nlcd32/final \\
          --t 20000 --n-chains 5 --save-array chains.npz --frame-interval 100
      mc landcover sample-chain --config randar_nlcd_32 --checkpoint runs/nlcd32/final \\
          --t 100 --n-chains 3 --frame-interval 5 --output-file chains.gif --mh
    """
    import numpy as np
    import torch

    from mc_core.atomic import atomic_write
    from mc_core.seeding import seed_everything
    from mc_landcover.analysis.gibbs import run_chains, save_chain_gif

    if mh and block_size != 1:
        raise UsageError("--mh needs --block-size 1")
    model, dev = _load_model(config, checkpoint, device)
    if block_size > model.size:
        raise UsageError(f"--block-size {block_size} is larger than the {model.size}x{model.size} maps")
    rng = seed_everything(seed)
    size = model.size
    if init == "uniform":
        x0 = rng.integers(0, model.num_classes, size=(n_chains, size, size))
    elif init == "sample":
        x0 = model.sample(n_chains, generator=torch.Generator().manual_seed(seed)).cpu().numpy()
    else:
        if data is None:
            raise UsageError("--init data needs --data D.npz")
        from mc_landcover.inpaint.data import load_maps, select_maps

        maps = load_maps(data, "test")
        if maps.shape[1] < size:
            raise BadInputError(data, f"maps are {maps.shape[1]}x{maps.shape[2]}, smaller than the model's {size}")
        x0 = select_maps(maps, n_chains, size, rng, data)
        if x0.shape[0] < n_chains:
            x0 = x0[rng.integers(0, x0.shape[0], n_chains)]
    res = run_chains(model, x0, t, frame_interval=frame_interval, block=block_size, mh=mh, mh_order=mh_order,
                     temperature=temperature, seed=seed, device=dev)
    with atomic_write(save_array, "wb") as f:
        np.savez_compressed(f, frames=res.frames, steps=res.steps,
                            acceptance_rate=np.float64(np.nan if res.acceptance_rate is None else res.acceptance_rate),
                            changed_rate=np.float64(res.changed_rate), mh=np.bool_(mh), block_size=np.int64(block_size))
    click.echo(f"{n_chains} chains x {t} steps: {res.frames.shape[0]} frames -> {save_array}")
    click.echo(f"fraction of steps that changed the map: {res.changed_rate:.4f}")
    if res.acceptance_rate is not None:
        click.echo(f"MH acceptance rate: {res.acceptance_rate:.4f} (target: joint likelihood in {mh_order} order)")
    if output_file:
        save_chain_gif(output_file, res.frames, res.steps)
        click.echo(f"animation: {output_file}")


# ----------------------------------------------------------------------------- information content

def _read_text(path) -> bytes:
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise BadInputError(p, f"cannot read text file ({e.strerror or e})") from None
    if len(data) < 2:
        raise BadInputError(p, "text file is empty")
    return data


def _info_maps(data, n, seed):
    from mc_core.seeding import seed_everything
    from mc_landcover.inpaint.data import load_maps, select_maps

    rng = seed_everything(seed)
    return select_maps(load_maps(data, "test"), n, None, rng, data)


@click.command("compare-information")
@_data_option
@click.option("--text-path", type=click.Path(dir_okay=False), required=True,
              help="A text file; its bytes are the symbols compared with land-cover pixels.")
@click.option("--n", "n_maps", type=click.IntRange(min=1), default=1000, show_default=True, help="Test maps used.")
@click.option("--save-results", type=click.Path(dir_okay=False), default=None)
@seed_option(0)
def compare_information(data, text_path, n_maps, save_results, seed):
    """Conditional bigram entropy H(X2|X1) of land cover (horizontal and vertical neighbours)
    next to that of a text's bytes, in bits per symbol.

    \b
    Example:
      mc landcover compare-information --data data_32.npz --text-path tiny_shakespeare.txt
    """
    from mc_core.atomic import write_json
    from mc_landcover.analysis.information import map_bigram_entropy, text_bigram_entropy

    maps = _info_maps(data, n_maps, seed)
    text = _read_text(text_path)
    lc, tx = map_bigram_entropy(maps), text_bigram_entropy(text)
    click.echo(f"{'':28s}{'land cover':>12s}{'text bytes':>12s}")
    click.echo(f"{'alphabet size':28s}{lc['alphabet_size']:>12d}{tx['alphabet_size']:>12d}")
    click.echo(f"{'H(X) bits':28s}{lc['unigram_entropy_bits']:>12.4f}{tx['unigram_entropy_bits']:>12.4f}")
    click.echo(f"{'H(X2|X1) bits, horizontal':28s}{lc['conditional_entropy_horizontal_bits']:>12.4f}"
               f"{tx['conditional_entropy_bits']:>12.4f}")
    click.echo(f"{'H(X2|X1) bits, vertical':28s}{lc['conditional_entropy_vertical_bits']:>12.4f}{'':>12s}")
    click.echo(f"{'H(X2|X1) / log2(alphabet)':28s}"
               f"{lc['conditional_entropy_horizontal_bits'] / max(lc['max_entropy_bits'], 1e-12):>12.4f}"
               f"{tx['conditional_entropy_bits'] / max(tx['max_entropy_bits'], 1e-12):>12.4f}")
    if save_results:
        write_json(save_results, {"data": str(data), "text_path": str(text_path), "n_maps": int(maps.shape[0]),
                                  "land_cover": lc, "text": tx})


@click.command("zip-info-content")
@_data_option
@click.option("--text-path", type=click.Path(dir_okay=False), default=None, help="A text file to compare with.")
@click.option("--n", "n_maps", type=click.IntRange(min=1), default=1000, show_default=True, help="Test maps used.")
@click.option("--save-results", type=click.Path(dir_okay=False), default=None)
@seed_option(0)
def zip_info_content(data, text_path, n_maps, save_results, seed):
    """Deflate and xz compression of land-cover maps (one byte per pixel) next to a text.

    Ratios are compressed / raw size; bits per symbol = 8 x compressed bytes / symbols.

    \b
    Example:
      mc landcover zip-info-content --data data_32.npz --text-path enwik_sample.txt
    """
    from mc_core.atomic import write_json
    from mc_landcover.analysis.information import compression_stats, maps_to_bytes

    maps = _info_maps(data, n_maps, seed)
    rows = {"land_cover": compression_stats(maps_to_bytes(maps))}
    if text_path:
        rows["text"] = compression_stats(_read_text(text_path))
    click.echo(f"{'':12s}{'raw bytes':>12s}{'deflate':>10s}{'xz':>10s}{'deflate b/sym':>15s}{'xz b/sym':>10s}")
    for name, r in rows.items():
        click.echo(f"{name:12s}{r['raw_bytes']:>12d}{r['deflate_ratio']:>10.4f}{r['xz_ratio']:>10.4f}"
                   f"{r['deflate_bits_per_symbol']:>15.4f}{r['xz_bits_per_symbol']:>10.4f}")
    if save_results:
        write_json(save_results, {"data": str(data), "text_path": text_path, "n_maps": int(maps.shape[0]), **rows})


# ----------------------------------------------------------------------------- viz-embed, prob-dev

@click.command("viz-embed")
@_model_options
@click.option("--data", type=click.Path(dir_okay=False), default=None,
              help="Patches npz (`mc landcover prepare`): also embed test maps, one point per map.")
@click.option("--n-embeddings", type=click.IntRange(min=2), default=100, show_default=True,
              help="How many test maps to embed (with --data; the first N).")
@click.option("--method", type=click.Choice(["auto", "umap", "pca"]), default="auto", show_default=True,
              help="auto = UMAP when umap-learn is installed, else PCA.")
@click.option("--out", type=click.Path(dir_okay=False), default="embeddings.png", show_default=True)
@click.option("--save-array", type=click.Path(dir_okay=False), default=None,
              help="npz with the class embeddings and, with --data, the map vectors, their 2D "
                   "coordinates and dominant classes.")
@device_option
@seed_option(0)
def viz_embed(config, checkpoint, data, n_embeddings, method, out, save_array, device, seed):
    """Plot the model's embedding space in 2D (PNG): the class embeddings, one labelled point per
    NLCD class, and with --data one point per test map (the mean of the model's final hidden
    states over the map), coloured by the map's dominant class.

    With --data it also prints how well the map vectors group by dominant class: the leave-one-out
    1-nearest-neighbour agreement against its chance level.

    \b
    Example:
      mc landcover viz-embed --config randar_nlcd_32 --checkpoint runs/nlcd32/final --out embed.png
      mc landcover viz-embed --checkpoint runs/nlcd32/final --data data_32.npz --n-embeddings 100 \\
          --method umap --out embed.png
    """
    import numpy as np

    from mc_core.atomic import atomic_write
    from mc_landcover.analysis.embeddings import (
        class_embeddings,
        dominant_class,
        knn_agreement,
        map_embeddings,
        plot_embeddings,
        project_2d,
    )
    from mc_landcover.legend import COLORS, NAMES

    model, _ = _load_model(config, checkpoint, "cpu" if device == "auto" else device)
    emb = class_embeddings(model)
    coords, used, extra = project_2d(emb, method, seed)
    note = (f", explained variance {extra['explained_variance_ratio'][0]:.2f} + "
            f"{extra['explained_variance_ratio'][1]:.2f}" if "explained_variance_ratio" in extra else "")
    arrays = {"class_embeddings": emb, "class_coords": coords}
    panel = None
    if data is not None:
        from mc_landcover.inpaint.data import load_maps

        maps = load_maps(data, "test")[:n_embeddings]
        if maps.shape[1] != model.size or maps.shape[2] != model.size:
            raise BadInputError(data, f"maps are {maps.shape[1]}x{maps.shape[2]} but the model is "
                                      f"{model.size}x{model.size}")
        if len(maps) < 2:
            raise BadInputError(data, f"the test split has {len(maps)} map(s); embedding needs 2 or more")
        feats = map_embeddings(model, maps)
        dom = dominant_class(maps, emb.shape[0])
        m_coords, m_used, _ = project_2d(feats, method, seed)
        agree, chance = knn_agreement(feats, dom)
        panel = (m_coords, COLORS[dom], m_used,
                 f"{len(maps)} test maps ({m_used.upper()}), colour = dominant class; 1-NN agreement "
                 f"{agree:.2f} (chance {chance:.2f})")
        arrays.update(map_features=feats, map_coords=m_coords, dominant_class=dom)
    plot_embeddings(out, coords, NAMES[: emb.shape[0]], COLORS[: emb.shape[0]], used, maps_panel=panel)
    click.echo(f"{emb.shape[0]} class embeddings ({emb.shape[1]}-d) projected with {used.upper()}{note}")
    if panel is not None:
        click.echo(f"{len(feats)} test maps embedded ({feats.shape[1]}-d): leave-one-out 1-NN dominant-class "
                   f"agreement {agree:.3f} (chance {chance:.3f})")
    click.echo(f"plot: {out}")
    if save_array:
        with atomic_write(save_array, "wb") as f:
            np.savez_compressed(f, **arrays)


@click.command("prob-dev")
@_model_options
@_data_option
@click.option("--method", type=click.Choice(["randar", "potts"]), default="randar", show_default=True)
@click.option("--image-index", type=click.IntRange(min=0), default=None,
              help="Which test map (default: the test map with the most developed pixels).")
@click.option("--mask-type", type=click.Choice(["interior", "random"]), default="interior", show_default=True)
@click.option("--mask-ratio", type=float, default=0.25, show_default=True, callback=_ratio)
@click.option("--n-samples", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--temperature", type=click.FloatRange(min=0.0, min_open=True), default=1.0, show_default=True)
@click.option("--top-k", type=click.IntRange(min=1), default=None)
@click.option("--out", type=click.Path(dir_okay=False), default="prob_dev.png", show_default=True)
@click.option("--save-array", type=click.Path(dir_okay=False), default=None,
              help="npz with the probability map, the truth, the mask and the samples.")
@device_option
@seed_option(0)
@quiet_option
def prob_dev(config, checkpoint, data, method, image_index, mask_type, mask_ratio, n_samples, temperature,
             top_k, out, save_array, device, seed, quiet):
    """Per-pixel probability of development (NLCD 21-24) in an inpainted region, from many samples.

    Hides a region of one test map, draws --n-samples joint fills, and plots the fraction of
    samples in which each pixel is developed, as a heatmap PNG.

    \b
    Example:
      mc landcover prob-dev --config randar_nlcd_32 --checkpoint runs/nlcd32/final \\
          --data data_32.npz --n-samples 200 --mask-ratio 0.25 --out prob_dev.png
    """
    import numpy as np

    from mc_core.atomic import atomic_write
    from mc_core.seeding import seed_everything
    from mc_landcover.analysis.probdev import developed_probability, draw_samples, plot_probdev
    from mc_landcover.inpaint.data import load_maps
    from mc_landcover.inpaint.masks import make_masks
    from mc_landcover.legend import DEVELOPED_INDICES

    model = dev = potts = None
    if method == "randar":
        model, dev = _load_model(config, checkpoint, device)
    rng = seed_everything(seed)
    maps = load_maps(data, "test")
    if image_index is None:
        image_index = int(np.isin(maps, DEVELOPED_INDICES).sum(axis=(1, 2)).argmax())
    if image_index >= maps.shape[0]:
        raise UsageError(f"--image-index {image_index} is out of range: the test set has {maps.shape[0]} maps")
    x = maps[image_index]
    if model is not None and x.shape[0] != model.size:
        raise BadInputError(data, f"maps are {x.shape[0]}x{x.shape[1]} but the model is {model.size}x{model.size}")
    hidden = make_masks(1, x.shape[0], x.shape[1], mask_type, mask_ratio, rng)[0]
    if method == "potts":
        potts = _potts_for(data, None, _num_classes(), rng)
    samples = draw_samples(method, x, hidden, n_samples, model=model, potts=potts, device=dev or "cpu",
                           temperature=temperature, top_k=top_k, seed=seed, rng=rng)
    prob = developed_probability(samples, DEVELOPED_INDICES)
    truth_dev = float(np.isin(x[hidden], DEVELOPED_INDICES).mean())
    plot_probdev(out, x, hidden, prob, samples[0],
                 title=f"{method}: test map {image_index}, {n_samples} samples, {mask_type} mask {mask_ratio}")
    click.echo(f"test map {image_index}: developed fraction in the hidden region: truth {truth_dev:.3f}, "
               f"expected under {method} {float(prob[hidden].mean()):.3f}")
    click.echo(f"heatmap: {out}")
    if save_array:
        with atomic_write(save_array, "wb") as f:
            np.savez_compressed(f, prob=prob, truth=x.astype(np.uint8), hidden=hidden, samples=samples.astype(np.uint8))


COMMANDS: list = [eval_inpaint, inpaint_sweep, plot_inpaint, eval_perplexity, sample_chain,
                  compare_information, zip_info_content, viz_embed, prob_dev]
