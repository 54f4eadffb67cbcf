"""`mc codec compress` and `decompress`: files and folders to and from `.mcz` (library:
:mod:`mc_codec.files`)."""

from __future__ import annotations

import click

from mc_core.options import quiet_option


@click.command("compress")
@click.argument("inp", metavar="IN", type=click.Path())
@click.argument("out", metavar="OUT", type=click.Path())
@click.option("--checkpoint", type=click.Path(), default=None, help="Codec checkpoint (default: the shipped model).")
@click.option("--band-height", type=click.IntRange(1, 65535), default=64, show_default=True,  # tokens.DEFAULT_BAND_HEIGHT
              help="Rows per band. Bands decode in parallel; a band's first row has no row above, so "
                   "smaller bands decode faster but compress less (CamVid: 16 rows, 1.5x faster, +7%).")
@click.option("--overwrite", is_flag=True, help="Folders: redo outputs that are already up to date.")
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=0,
              help="Worker processes for folders (0: one per CPU core).  [default: 0]")
@quiet_option
def compress_cmd(inp, out, checkpoint, band_height, overwrite, jobs, quiet):
    """Compress a mask PNG (or a folder of them) into .mcz files with the learned codec.

    For a folder, an output is skipped when it is newer than its input and was made with the
    same model and band height (so an interrupted run resumes; --overwrite redoes them). An
    output that is also an input is refused. Every file is written atomically.

    \b
    Example:
      mc codec compress mask.png mask.mcz
      mc codec compress masks/ compressed/ --checkpoint output/lm/checkpoints/best
      mc codec compress masks/ compressed/ --band-height 16 --jobs 8
    """
    from mc_codec.files import compress_path
    from mc_core.progress import info, progress

    res = compress_path(inp, out, checkpoint, band_height=band_height, overwrite=overwrite, jobs=jobs,
                        progress=lambda it: progress(it, desc="compress", unit="img"))
    info(f"{res['files']} file(s): {res['png_bytes']} bytes of PNG -> {res['mcz_bytes']} bytes"
         + (f"; {res['skipped']} already up to date" if res["skipped"] else ""))


@click.command("decompress")
@click.argument("inp", metavar="IN", type=click.Path())
@click.argument("out", metavar="OUT", type=click.Path())
@click.option("--checkpoint", type=click.Path(), default=None, help="Codec checkpoint (default: the shipped model).")
@click.option("--overwrite", is_flag=True, help="Folders: redo outputs that are already up to date.")
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=0,
              help="Worker processes for folders (0: one per CPU core).  [default: 0]")
@quiet_option
def decompress_cmd(inp, out, checkpoint, overwrite, jobs, quiet):
    """Decompress a .mcz file (or a folder of them) back to the exact mask PNG.

    For a folder, outputs newer than their input are skipped (--overwrite redoes them).
    Decoding refuses a header whose shape needs more memory than MC_CODEC_MAX_DECODE_MB
    (default 1024 MiB) before allocating it.

    \b
    Example:
      mc codec decompress mask.mcz mask.png
      mc codec decompress compressed/ restored/
    """
    from mc_codec.files import decompress_path
    from mc_core.progress import progress

    decompress_path(inp, out, checkpoint, overwrite=overwrite, jobs=jobs,
                    progress=lambda it: progress(it, desc="decompress", unit="img"))


COMMANDS = [compress_cmd, decompress_cmd]
