"""Information-content commands: compare-information, zip-info-content (bodies call
mc_landcover.analysis.information)."""

from __future__ import annotations

import click

from mc_core.options import seed_option
from mc_landcover.cli_options import data_option, echo_verbose, resolve_data, verbose_option


def _config_option(f):
    return click.option("--config", default=None,
                        help="A model config (YAML path or shipped name) whose data.path is the data "
                             "when --data is absent (as the seed's scripts read it).")(f)


@click.command("compare-information")
@data_option()
@_config_option
@click.option("--text-path", type=click.Path(dir_okay=False), required=True,
              help="A text file; its bytes are the symbols compared with land-cover pixels.")
@click.option("--n", "n_maps", type=click.IntRange(min=1), default=1000, show_default=True, help="Test maps used.")
@click.option("--save-results", type=click.Path(dir_okay=False), default=None)
@seed_option(0)
@verbose_option
def compare_information_cmd(data, config, text_path, n_maps, save_results, seed, verbose):
    """Conditional bigram entropy H(X2|X1) of land cover (horizontal and vertical neighbours)
    next to that of a text's bytes, in bits per symbol.

    \b
    Example:
      mc landcover compare-information --data data_32.npz --text-path tiny_shakespeare.txt
      mc landcover compare-information --config randar_nlcd_32.yaml --text-path tiny_shakespeare.txt
    """
    from mc_core.atomic import write_json
    from mc_core.paths import check_outputs
    from mc_landcover.analysis.information import compare_information

    data = resolve_data(data, config)
    check_outputs([data, text_path], [save_results])
    res = compare_information(data, text_path, n_maps=n_maps, seed=seed)
    lc, tx = res["land_cover"], res["text"]
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
        write_json(save_results, res)
    echo_verbose(verbose, res)


@click.command("zip-info-content")
@data_option()
@_config_option
@click.option("--text-path", type=click.Path(dir_okay=False), default=None, help="A text file to compare with.")
@click.option("--n", "n_maps", type=click.IntRange(min=1), default=1000, show_default=True, help="Test maps used.")
@click.option("--save-results", type=click.Path(dir_okay=False), default=None)
@seed_option(0)
@verbose_option
def zip_info_content_cmd(data, config, text_path, n_maps, save_results, seed, verbose):
    """Deflate and xz compression of land-cover maps (one byte per pixel) next to a text.

    Ratios are compressed / raw size; bits per symbol = 8 x compressed bytes / symbols.

    \b
    Example:
      mc landcover zip-info-content --data data_32.npz --text-path enwik_sample.txt
    """
    from mc_core.atomic import write_json
    from mc_core.paths import check_outputs
    from mc_landcover.analysis.information import zip_info_content

    data = resolve_data(data, config)
    check_outputs([data, text_path], [save_results])
    res = zip_info_content(data, text_path, n_maps=n_maps, seed=seed)
    click.echo(f"{'':12s}{'raw bytes':>12s}{'deflate':>10s}{'xz':>10s}{'deflate b/sym':>15s}{'xz b/sym':>10s}")
    for name in ("land_cover", "text"):
        if name in res:
            r = res[name]
            click.echo(f"{name:12s}{r['raw_bytes']:>12d}{r['deflate_ratio']:>10.4f}{r['xz_ratio']:>10.4f}"
                       f"{r['deflate_bits_per_symbol']:>15.4f}{r['xz_bits_per_symbol']:>10.4f}")
    if save_results:
        write_json(save_results, res)
    echo_verbose(verbose, res)


COMMANDS: list[click.Command] = [compare_information_cmd, zip_info_content_cmd]
