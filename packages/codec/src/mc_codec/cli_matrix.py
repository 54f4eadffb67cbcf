"""`mc codec matrix`: the learned codec against the classical codecs (library:
:func:`mc_codec.matrix.codec_matrix`)."""

from __future__ import annotations

import click

from mc_codec.data.paths import SUBDIR_HELP
from mc_core.options import RegistryChoice, quiet_option


@click.command("matrix")
@click.option("--data-root", type=click.Path(file_okay=False), default=None,
              help="Folder of mask PNGs (default: the samples shipped with mc-codec).")
@click.option("--subdir", default=None, help=SUBDIR_HELP)
@click.option("--checkpoint", type=click.Path(), default=None,
              help="Codec checkpoint (default: the shipped model; the seed's best.pt means the folder best).")
@click.option("--splits-dir", type=click.Path(file_okay=False), default=None,
              help="train/val/test.txt (default: the samples' splits; made if missing).")
@click.option("--split", type=click.Choice(["train", "val", "test"]), default="test", show_default=True)
@click.option("--out-csv", type=click.Path(dir_okay=False), default="codec_matrix.csv", show_default=True,
              help="Per-image CSV; the bar chart goes beside it as .png.")
@click.option("--codecs", default=None, help="Comma-separated classical codecs (default: all installed).")
@click.option("--arch", type=RegistryChoice("models", task="codec"), default=None,
              help="Expected model of --checkpoint (checked; any is accepted by default).")
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=0,
              help="Worker processes, one image each at a time (default 0: one per CPU core).")
@quiet_option
def matrix_cmd(data_root, subdir, checkpoint, splits_dir, split, out_csv, codecs, arch, jobs, quiet):
    """Code every image of a split with the learned codec (verified lossless) and the classical
    codecs; print bits per pixel, ratio to PNG and MP/s, write a CSV and a bar chart.

    \b
    Example:
      mc codec matrix
      mc codec matrix --data-root data --subdir warped_masks \\
        --checkpoint output/lm_msdzip/checkpoints/best --splits-dir output/lm_msdzip/splits \\
        --out-csv output/lm_msdzip/lm_matrix.csv
    """
    from mc_codec.matrix import codec_matrix, format_summary
    from mc_core.errors import McError, UsageError
    from mc_core.progress import progress

    if data_root is not None and splits_dir is None:
        raise UsageError("--splits-dir is required with --data-root")
    res = codec_matrix(data_root, checkpoint, subdir=subdir, splits_dir=splits_dir, split=split,
                       out_csv=out_csv, codecs=codecs, arch=arch, jobs=jobs,
                       progress=lambda it: progress(it, desc="matrix", unit="img"))
    click.echo(f"{res['images']} images ({res['pixels'] / 1e6:.2f} MP), model {res['model']} "
               f"({res['checkpoint']})")
    click.echo(format_summary(res["summary"]))
    click.echo(f"CSV {res['csv']}; chart {res['chart']}")
    if any(s["lossless"] is False for s in res["summary"]):
        raise McError("a codec did not round-trip losslessly (see the 'lossless' column)")


COMMANDS = [matrix_cmd]
