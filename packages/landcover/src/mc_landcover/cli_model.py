"""Land-cover commands: prepare, train, generate. Heavy libraries are imported inside the bodies."""

from __future__ import annotations

import json

import click

from mc_core.options import FiniteFloat, device_option, quiet_option, seed_option, shard_options, training_options
from mc_landcover.cli_options import TEMPERATURE, checkpoint_option


@click.command("prepare")
@click.option("--raster", type=click.Path(dir_okay=False), default=None,
              help="NLCD class raster (GeoTIFF, .img, ...). Default: the NLCD sample shipped with the package.")
@click.option("--elevation", type=click.Path(dir_okay=False), default=None,
              help="Optional elevation raster (DEM), resampled bilinearly onto the class grid as channel 1.")
@click.option("--size", type=click.IntRange(min=2), default=32, show_default=True, help="Patch side in pixels.")
@click.option("--out", type=click.Path(), default=None,
              help="Output npz, or zarr store with --format zarr [default: data_<size>.npz / .zarr].")
@click.option("--format", "fmt", type=click.Choice(["auto", "npz", "zarr"]), default="auto", show_default=True,
              help="npz (the seed's format) or one chunked zarr v3 store that sharded writers fill in place "
                   "and `train` reads lazily; auto: zarr when --out ends in .zarr.")
@click.option("--test-fraction", type=FiniteFloat(min=0.0, max=1.0, max_open=True), default=0.1, show_default=True,
              help="Fraction of spatial blocks held out for testing.")
@click.option("--stride", type=click.IntRange(min=1), default=None, help="Step between patches [default: --size].")
@click.option("--block", type=click.IntRange(min=2), default=None,
              help="Side of the spatial blocks assigned wholly to train or test [default: 4 x --size].")
@click.option("--max-patches", type=click.IntRange(min=1), default=None, help="Stop after this many patches.")
@click.option("--preview", type=click.Path(dir_okay=False), default=None,
              help="PNG preview of sample patches [default: <out>_preview.png].")
@shard_options
@click.option("--overwrite", is_flag=True,
              help="With --num-shards > 1 (npz) or --format zarr: redo this shard even if its part file or its "
                   "block rows are already complete.")
@seed_option(0)
@quiet_option
def prepare_cmd(raster, elevation, size, out, fmt, test_fraction, stride, block, max_patches, preview,
                num_shards, shard_index, overwrite, seed, quiet):
    """Cut square NLCD patches into a train/test npz, reading the raster window by window.

    Patches with nodata are dropped; train and test come from separate spatial blocks, so no
    test patch overlaps a train patch. Writes `train_data`/`test_data` (N, C, H, W) uint8
    (channel 0 = class index in the NLCD legend, channel 1 = elevation scaled to 0..255 when
    --elevation is given), `train_coords`/`test_coords` (lon, lat of patch centres) and the legend.

    With --num-shards N --shard-index I, this process handles every N-th block from block I and
    writes the part file <out stem>.shard-I-of-N.npz (a complete part with the same arguments is
    skipped on a rerun); `mc landcover prepare-merge --out OUT --num-shards N` then writes the
    same npz an unsharded run would.

    With --format zarr (or --out X.zarr) every shard writes its rows of blocks (I, I+N, ...)
    straight into the one store: no merge; a rerun skips the block rows already done; a block row
    counts as done only once its done-marker is written, so a killed writer loses nothing but the
    row it was cutting. `train --data X.zarr` reads it lazily.

    \b
    Example:
      mc landcover prepare --size 16 --out data_16.npz
      mc landcover prepare --raster nlcd_2021_land_cover_l48_20230630.img --size 32 --out data_32.npz
      mc landcover prepare --raster nlcd.img --size 32 --out data_32.npz \\
          --num-shards 64 --shard-index $SLURM_ARRAY_TASK_ID
      mc landcover prepare --raster nlcd.img --size 32 --out nlcd_32.zarr \\
          --num-shards 64 --shard-index $SLURM_ARRAY_TASK_ID
    """
    from mc_landcover.data.prepare import patch_format, prepare

    if preview and num_shards > 1:
        raise click.UsageError("--preview goes with `mc landcover prepare-merge` when --num-shards > 1")
    if preview and patch_format(out or "", fmt) == "zarr":
        raise click.UsageError("--preview is not written with --format zarr")
    out = out or f"data_{size}.{'zarr' if fmt == 'zarr' else 'npz'}"
    click.echo(json.dumps(prepare(raster, out=out, size=size, elevation=elevation,
                                  test_fraction=test_fraction, stride=stride, block=block, max_patches=max_patches,
                                  preview=preview, num_shards=num_shards, shard_index=shard_index,
                                  overwrite=overwrite, seed=seed, format=fmt)))


@click.command("prepare-merge")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="The --out given to the sharded `prepare` runs; the merged npz is written there.")
@click.option("--num-shards", type=click.IntRange(min=2), required=True,
              help="The --num-shards of those runs (all parts 0..N-1 must exist).")
@click.option("--preview", type=click.Path(dir_okay=False), default=None,
              help="PNG preview of sample patches [default: <out>_preview.png].")
@click.option("--remove-parts", is_flag=True, help="Delete the part files once the npz is written.")
@quiet_option
def prepare_merge_cmd(out, num_shards, preview, remove_parts, quiet):
    """Assemble the part files of a sharded `prepare` into the npz an unsharded run writes.

    Checks that the parts are shards 0..N-1 of one run (same arguments, same input files) and
    puts the patches back in block order, applies --max-patches and scales the elevation channel
    over the whole data set, so the result equals `prepare` without shard flags.

    \b
    Example:
      mc landcover prepare --size 16 --out data_16.npz --num-shards 2 --shard-index 0
      mc landcover prepare --size 16 --out data_16.npz --num-shards 2 --shard-index 1
      mc landcover prepare-merge --out data_16.npz --num-shards 2
    """
    from mc_landcover.data.prepare import prepare_merge

    click.echo(json.dumps(prepare_merge(out, num_shards, preview=preview, remove_parts=remove_parts)))


@click.command("import-npz")
@click.argument("src", type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The npz to write (not SRC).")
@click.option("--classes", type=click.Choice(["auto", "codes", "indices"]), default="auto", show_default=True,
              help="Channel 0 holds raw NLCD codes (11..95) or indices 0..19 in legend order; auto: codes "
                   "when any value is 20 or more.")
@click.option("--drop-unknown", is_flag=True,
              help="Drop patches holding a value that is no class (e.g. nodata) instead of stopping.")
@click.option("--preview", type=click.Path(dir_okay=False), default=None,
              help="PNG preview of sample patches [default: <out>_preview.png].")
@quiet_option
def import_npz_cmd(src, out, classes, drop_unknown, preview, quiet):
    """Convert a patches npz in the seed's format (from its prep-dataset notebook) for this package.

    SRC has `train_data`/`test_data` (N, C, H, W) of any numeric dtype, channel 0 the class,
    channel 1 (optional) elevation in metres, and optionally `train_coords`/`test_coords`. The
    result is what `prepare` writes (classes as legend indices, elevation scaled to 0..255 with
    the metres kept, the legend stored), so train, generate and every analysis command read it.

    \b
    Example:
      mc landcover import-npz data/data_32.npz --out data_32_mc.npz
      mc landcover import-npz old.npz --out new.npz --classes codes --drop-unknown
    """
    from mc_landcover.data.prepare import import_npz

    click.echo(json.dumps(import_npz(src, out, classes=classes, drop_unknown=drop_unknown, preview=preview)))


@click.command("train")
@click.option("--config", default="tiny", show_default=True,
              help="YAML config: a path or a shipped name (tiny, randar_nlcd_16, randar_nlcd_32).")
@click.option("--data", type=click.Path(), default=None,
              help="npz or zarr store from `prepare` (a store is read lazily, a few chunks a step) "
                   "[default: the config's data.path; tiny: the embedded sample].")
@click.option("--out-dir", type=click.Path(file_okay=False), default=None,
              help="Where checkpoints, pictures and the log go [default: runs/<config name>].")
@click.option("--max-steps", "--steps", "max_steps", type=click.IntRange(min=1, max=10**9), default=None,
              help="Override train.max_steps.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config value, e.g. --set train.lr=1e-3 (repeatable).")
@click.option("--seed", type=int, default=None, help="Override train.seed.")
@training_options
@quiet_option
def train_cmd(config, data, out_dir, resume, max_steps, overrides, seed, device, max_minutes, quiet):
    """Train RandAR on NLCD patches (random visiting order per sample) through mc's one training loop.

    Writes <out-dir>/checkpoints/{last,best,final} (safetensors + config.json), gen_/gt_/pred_*.png
    in NLCD colours every train.vis_every steps, metrics.csv, loss.png and train_log.json.
    --resume continues exactly; --max-minutes stops cleanly with a checkpoint. On several GPUs or
    nodes run the same command under `accelerate launch -m mc_core landcover train ...`.

    \b
    Example:
      mc landcover train --config tiny --out-dir runs/tiny
      mc landcover train --config tiny --out-dir runs/tiny --resume --max-steps 600
      accelerate launch -m mc_core landcover train --config randar_nlcd_32 --data data_32.npz
    """
    from mc_landcover.train import train

    result = train(config, data=data, out_dir=out_dir, resume=resume, device=device, seed=seed,
                   max_steps=max_steps, max_minutes=max_minutes, overrides=list(overrides), quiet=quiet or None)
    from accelerate import PartialState

    if PartialState().is_main_process:
        click.echo(json.dumps(result))


@click.command("generate")
@click.option("--config", default=None, help="Model config (path or shipped name) [default: the checkpoint's].")
@checkpoint_option(required=True)
@click.option("--n", type=click.IntRange(min=1, max=4096), default=4, show_default=True, help="How many maps.")
@click.option("--size", type=int, default=None, help="Map side; must match the model [default: the model's].")
@click.option("--out", "--output-file", type=click.Path(dir_okay=False), default="samples.png", show_default=True,
              help="PNG grid of the generated maps; a .gif name (the seed's --output-file X.gif) writes "
                   "the animation there instead.")
@click.option("--animation", type=click.Path(dir_okay=False), default=None,
              help="Also write a GIF of the maps filling in, step by step.")
@click.option("--nrows", type=click.IntRange(min=1), default=None, help="Grid rows.")
@click.option("--ncols", type=click.IntRange(min=1), default=None, help="Grid columns.")
@click.option("--steps", type=int, default=None,
              help="Parallel decoding steps (cosine schedule) [default: one pixel per step].")
@click.option("--temperature", type=TEMPERATURE, default=1.0, show_default=True)
@click.option("--top-k", type=int, default=None, help="Sample among the k most likely classes only.")
@click.option("--save-array", type=click.Path(dir_okay=False), default=None,
              help="Also save the maps as npz (`maps` indices, `codes` NLCD codes).")
@seed_option(0)
@device_option
@quiet_option
def generate_cmd(config, checkpoint, n, size, out, animation, nrows, ncols, steps, temperature, top_k,
                 save_array, seed, device, quiet):
    """Generate land-cover maps from scratch in random order, with parallel decoding.

    \b
    Example:
      mc landcover generate --checkpoint runs/tiny/checkpoints/final --n 4 --out samples.png
      mc landcover generate --config randar_nlcd_32 --checkpoint ckpt/final --n 4 --size 32 \\
          --steps 32 --animation generation.gif --nrows 2 --ncols 2 --seed 1
    """
    from mc_landcover.generate import generate

    result = generate(config, checkpoint, n=n, size=size, out=out, animation=animation, nrows=nrows,
                      ncols=ncols, steps=steps, temperature=temperature, top_k=top_k, seed=seed,
                      device=device, save_array=save_array)
    click.echo(json.dumps(result))


@click.command("generate-wide")
@click.option("--config", default=None, help="Model config (path or shipped name) [default: the checkpoint's].")
@checkpoint_option(required=True)
@click.option("--width", type=int, required=True, help="Width of each map in pixels (at least the model's size).")
@click.option("--height", type=int, default=None, help="Height of each map [default: the model's size, one strip].")
@click.option("--overlap", type=int, default=None,
              help="Pixels each window shares with the previous one, 0 = independent tiles [default: half the window].")
@click.option("--n", type=click.IntRange(min=1, max=4096), default=1, show_default=True,
              help="How many maps (stacked in the picture).")
@click.option("--out", "--output-file", type=click.Path(dir_okay=False), default="wide.png", show_default=True,
              help="PNG of the maps, one per row.")
@click.option("--animation", type=click.Path(dir_okay=False), default=None,
              help="Also write a GIF revealing the pixels in the order they were generated.")
@click.option("--frames", type=int, default=120, show_default=True, help="Frames in the GIF (at most).")
@click.option("--scale", type=int, default=None, help="Screen pixels per map pixel [default: up to 1024 wide, max 8].")
@click.option("--steps", type=int, default=None,
              help="Parallel decoding steps per window (cosine schedule) [default: one pixel per step].")
@click.option("--temperature", type=TEMPERATURE, default=1.0, show_default=True)
@click.option("--top-k", type=int, default=None, help="Sample among the k most likely classes only.")
@click.option("--save-array", type=click.Path(dir_okay=False), default=None,
              help="Also save npz: `maps` indices, `codes` NLCD codes, `reveal` step of each pixel, `windows`.")
@seed_option(0)
@device_option
@quiet_option
def generate_wide_cmd(config, checkpoint, width, height, overlap, n, out, animation, frames, scale, steps,
                      temperature, top_k, save_array, seed, device, quiet):
    """Generate maps larger than the model's window by sliding-window outpainting.

    Windows of the model's size are placed every (size - overlap) pixels, row by row; each one
    keeps the pixels earlier windows generated in it and samples the rest conditioned on them,
    so the map continues across window edges. --overlap 0 gives independent tiles (visible seams).
    The GIF reveals the pixels in generation order (the seed's wide panoramic animation).

    \b
    Example:
      mc landcover generate-wide --checkpoint runs/tiny/checkpoints/final --width 128 \\
          --steps 16 --out wide.png --animation wide.gif --seed 1
      mc landcover generate-wide --checkpoint runs/nlcd32/checkpoints/final --width 256 --height 64 \\
          --overlap 16 --steps 32 --n 2 --save-array wide.npz
    """
    from mc_landcover.generate import generate_wide_files

    result = generate_wide_files(config, checkpoint, width=width, height=height, overlap=overlap, n=n, out=out,
                                 animation=animation, frames=frames, scale=scale, steps=steps,
                                 temperature=temperature, top_k=top_k, seed=seed, device=device,
                                 save_array=save_array)
    click.echo(json.dumps(result))


COMMANDS: list = [prepare_cmd, prepare_merge_cmd, import_npz_cmd, train_cmd, generate_cmd, generate_wide_cmd]
