"""Commands that use the model's likelihood: eval-perplexity and sample-chain (Gibbs with the model
as energy). Bodies call mc_landcover.analysis.perplexity / .gibbs."""

from __future__ import annotations

import click

from mc_core.options import device_option, quiet_option, seed_option
from mc_landcover.cli_options import (
    TEMPERATURE,
    data_option,
    echo_verbose,
    model_options,
    resolve_data,
    verbose_option,
)


@click.command("eval-perplexity")
@model_options
@data_option()
@click.option("--n", "n_maps", type=click.IntRange(min=1, max=10_000_000), default=1000, show_default=True,
              help="Number of test maps (chosen at random with --seed).")
@click.option("--orders", "n_orders", type=click.IntRange(min=1, max=1000), default=4, show_default=True,
              help="K random orders to average over (each map gets a fresh random order per pass).")
@click.option("--batch-size", type=click.IntRange(min=1, max=65536), default=64, show_default=True)
@click.option("--save-results", type=click.Path(dir_okay=False), default=None, help="Write results as JSON.")
@click.option("--baselines/--no-baselines", default=True, show_default=True,
              help="Also score the same maps with JPEG XL, WebP, xz and adaptive context models "
                   "(per patch, primed on the train split of --data).")
@device_option
@seed_option(0)
@verbose_option
@quiet_option
def eval_perplexity_cmd(config, checkpoint, data, n_maps, n_orders, batch_size, save_results, baselines, device,
                        seed, verbose, quiet):
    """Perplexity and bits per pixel of the model on test maps, in K random orders and raster order.

    Each order defines its own factorisation of p(x); the spread over the K random orders is
    reported next to their mean, and raster order separately. Any model registered for the
    landcover task whose checkpoint offers a log-likelihood works here (see the README).

    \b
    Example:
      mc landcover eval-perplexity --config randar_nlcd_32 --checkpoint runs/nlcd32/final \\
          --data data_32.npz --n 1000 --orders 4 --save-results perplexity.json
    """
    from mc_core.atomic import write_json
    from mc_core.paths import check_outputs
    from mc_landcover.analysis.perplexity import eval_perplexity

    if checkpoint is None:
        raise click.UsageError("eval-perplexity needs --checkpoint (or --gpt-ckpt)")
    data = resolve_data(data, config)
    check_outputs([data, checkpoint], [save_results], not_inside_inputs=True)
    res = eval_perplexity(checkpoint, data, config=config, n_maps=n_maps, n_orders=n_orders,
                          batch_size=batch_size, seed=seed, device=device, baselines=baselines)
    ro, ra = res["random_orders"], res["raster_order"]
    click.echo(f"random orders (K={n_orders}): {ro['bits_per_pixel']:.4f} bits/pixel "
               f"(std over orders {ro['bits_per_pixel_std_over_orders']:.4f}, "
               f"min {ro['bits_per_pixel_min']:.4f}, max {ro['bits_per_pixel_max']:.4f}), "
               f"perplexity {ro['perplexity']:.4f}")
    click.echo(f"raster order:     {ra['bits_per_pixel']:.4f} bits/pixel, perplexity {ra['perplexity']:.4f}")
    click.echo(f"maps: {res['n_maps']} of {res['pixels_per_map']} pixels")
    for name, bpp in (res.get("baselines") or {}).items():
        click.echo(f"baseline {name:24s} {bpp:.4f} bits/pixel")
    if "ratio_to_best_primed" in res:
        click.echo(f"model / {res['best_primed']}: {res['ratio_to_best_primed']:.3f}")
    if save_results:
        write_json(save_results, res)
    echo_verbose(verbose, res)


@click.command("sample-chain")
@model_options
@click.option("--t", "t", type=click.IntRange(min=1), default=1000, show_default=True, help="Gibbs steps per chain.")
@click.option("--n-chains", type=click.IntRange(min=1, max=100_000), default=5, show_default=True)
@click.option("--block-size", type=click.IntRange(min=1), default=1, show_default=True,
              help="Resample a b x b block per step (joint, via the model's sampler) instead of one pixel.")
@click.option("--mh", is_flag=True,
              help="Metropolis-Hastings correction towards the model's joint likelihood in a fixed order.")
@click.option("--mh-order", type=click.Choice(["raster", "random"]), default="raster", show_default=True,
              help="The fixed order whose joint likelihood --mh targets (random = one fixed random order).")
@click.option("--init", type=click.Choice(["uniform", "sample", "data"]), default="uniform", show_default=True,
              help="Start from uniform noise, a model sample, or test maps (--data).")
@data_option("for --init data")
@click.option("--temperature", type=TEMPERATURE, default=1.0, show_default=True)
@click.option("--frame-interval", type=click.IntRange(min=1), default=100, show_default=True,
              help="Keep the state every this many steps.")
@click.option("--save-array", type=click.Path(dir_okay=False), default="chains.npz", show_default=True,
              help="npz with frames (n_frames, n_chains, H, W) uint8 class indices, steps, acceptance rate.")
@click.option("--output-file", type=click.Path(dir_okay=False), default=None, help="Also write a GIF of the chains.")
@device_option
@seed_option(0)
@verbose_option
@quiet_option
def sample_chain_cmd(config, checkpoint, t, n_chains, block_size, mh, mh_order, init, data, temperature,
                     frame_interval, save_array, output_file, device, seed, verbose, quiet):
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
    from mc_landcover.analysis.gibbs import sample_chain

    if checkpoint is None:
        raise click.UsageError("sample-chain needs --checkpoint (or --gpt-ckpt)")
    if init == "data":
        data = resolve_data(data, config)
    res = sample_chain(checkpoint, config=config, t=t, n_chains=n_chains, block_size=block_size, mh=mh,
                       mh_order=mh_order, init=init, data=data, temperature=temperature,
                       frame_interval=frame_interval, save_array=save_array, output_file=output_file, seed=seed,
                       device=device)
    click.echo(f"{n_chains} chains x {t} steps: {res.frames.shape[0]} frames -> {save_array}")
    click.echo(f"fraction of steps that changed the map: {res.changed_rate:.4f}")
    if res.acceptance_rate is not None:
        click.echo(f"MH acceptance rate: {res.acceptance_rate:.4f} (target: joint likelihood in {mh_order} order)")
    if output_file:
        click.echo(f"animation: {output_file}")
    echo_verbose(verbose, {"frames": list(res.frames.shape), "steps": res.steps.tolist(),
                           "acceptance_rate": res.acceptance_rate, "changed_rate": res.changed_rate})


COMMANDS: list[click.Command] = [eval_perplexity_cmd, sample_chain_cmd]
