"""Picture commands about a model: viz-embed (embedding space) and prob-dev (probability of
development). Bodies call mc_landcover.analysis.embeddings / .probdev."""

from __future__ import annotations

import click

from mc_core.options import device_option, quiet_option, seed_option
from mc_landcover.cli_options import (
    RATIO,
    TEMPERATURE,
    data_option,
    echo_verbose,
    model_options,
    resolve_data,
    verbose_option,
)


@click.command("viz-embed")
@model_options
@data_option("also embed test maps, one point per map")
@click.option("--n-embeddings", type=click.IntRange(min=2, max=1_000_000), default=100, show_default=True,
              help="How many test maps to embed (with --data; the first N).")
@click.option("--method", type=click.Choice(["auto", "umap", "pca"]), default="auto", show_default=True,
              help="auto = UMAP when umap-learn is installed, else PCA.")
@click.option("--out", "--output-file", "out", type=click.Path(dir_okay=False), default="embeddings.png",
              show_default=True)
@click.option("--save-array", type=click.Path(dir_okay=False), default=None,
              help="npz with the class embeddings and, with --data, the map vectors, their 2D "
                   "coordinates and dominant classes.")
@device_option
@seed_option(0)
@verbose_option
def viz_embed_cmd(config, checkpoint, data, n_embeddings, method, out, save_array, device, seed, verbose):
    """Plot the model's embedding space in 2D (PNG): the class embeddings, one labelled point per
    NLCD class, and with --data one point per test map (the mean of the model's final hidden
    states over the map), coloured by the map's dominant class.

    With --data (or a --config with data.path, the seed's viz-embed-space.py --n-embeddings) it
    also prints how well the map vectors group by dominant class: the leave-one-out
    1-nearest-neighbour agreement against its chance level.

    \b
    Example:
      mc landcover viz-embed --config randar_nlcd_32 --checkpoint runs/nlcd32/final --out embed.png
      mc landcover viz-embed --checkpoint runs/nlcd32/final --data data_32.npz --n-embeddings 100 \\
          --method umap --out embed.png
    """
    from mc_landcover.analysis.embeddings import viz_embed

    if checkpoint is None:
        raise click.UsageError("viz-embed needs --checkpoint (or --gpt-ckpt)")
    if data is None:
        from pathlib import Path

        from mc_core.progress import info

        data = resolve_data(None, config, required=False)
        if data is not None and not Path(data).is_file():
            info(f"{data} (data.path of --config) not found: plotting the class embeddings only")
            data = None
    res = viz_embed(checkpoint, config=config, data=data, n_embeddings=n_embeddings, method=method, out=out,
                    save_array=save_array, seed=seed, device=device)
    note = ""
    if "explained_variance_ratio" in res:
        ev = res["explained_variance_ratio"]
        note = f", explained variance {ev[0]:.2f} + {ev[1]:.2f}"
    click.echo(f"{res['n_classes']} class embeddings ({res['dim']}-d) projected with {res['method'].upper()}{note}")
    if "n_maps" in res:
        click.echo(f"{res['n_maps']} test maps embedded ({res['map_dim']}-d): leave-one-out 1-NN dominant-class "
                   f"agreement {res['knn_agreement']:.3f} (chance {res['knn_chance']:.3f})")
    click.echo(f"plot: {out}")
    echo_verbose(verbose, res)


@click.command("prob-dev")
@model_options
@data_option()
@click.option("--method", type=click.Choice(["randar", "potts"]), default="randar", show_default=True)
@click.option("--image-index", type=click.IntRange(min=0), default=None,
              help="Which test map (default: the test map with the most developed pixels).")
@click.option("--mask-type", type=click.Choice(["interior", "random"]), default="interior", show_default=True)
@click.option("--mask-ratio", type=RATIO, default=0.25, show_default=True)
@click.option("--n-samples", type=click.IntRange(min=1, max=100_000), default=100, show_default=True)
@click.option("--temperature", type=TEMPERATURE, default=1.0, show_default=True)
@click.option("--top-k", type=click.IntRange(min=1), default=None)
@click.option("--out", "--output-file", "out", type=click.Path(dir_okay=False), default="prob_dev.png",
              show_default=True)
@click.option("--save-array", type=click.Path(dir_okay=False), default=None,
              help="npz with the probability map, the truth, the mask and the samples.")
@device_option
@seed_option(0)
@verbose_option
@quiet_option
def prob_dev_cmd(config, checkpoint, data, method, image_index, mask_type, mask_ratio, n_samples, temperature,
                 top_k, out, save_array, device, seed, verbose, quiet):
    """Per-pixel probability of development (NLCD 21-24) in an inpainted region, from many samples.

    Hides a region of one test map, draws --n-samples joint fills, and plots the fraction of
    samples in which each pixel is developed, as a heatmap PNG (the seed's viz-prob-dev-plot.py).

    \b
    Example:
      mc landcover prob-dev --config randar_nlcd_32 --checkpoint runs/nlcd32/final \\
          --data data_32.npz --n-samples 200 --mask-ratio 0.25 --out prob_dev.png
    """
    from mc_landcover.analysis.probdev import prob_dev

    if method == "randar" and checkpoint is None:
        raise click.UsageError("prob-dev --method randar needs --checkpoint (or --gpt-ckpt)")
    res = prob_dev(resolve_data(data, config), checkpoint=checkpoint, config=config, method=method,
                   image_index=image_index, mask_type=mask_type, mask_ratio=mask_ratio, n_samples=n_samples,
                   temperature=temperature, top_k=top_k, out=out, save_array=save_array, seed=seed, device=device)
    click.echo(f"test map {res['image_index']}: developed fraction in the hidden region: truth "
               f"{res['truth_developed_fraction']:.3f}, expected under {method} "
               f"{res['expected_developed_fraction']:.3f}")
    click.echo(f"heatmap: {out}")
    echo_verbose(verbose, {k: v for k, v in res.items() if k not in ("prob", "truth", "hidden")})


COMMANDS: list[click.Command] = [viz_embed_cmd, prob_dev_cmd]
