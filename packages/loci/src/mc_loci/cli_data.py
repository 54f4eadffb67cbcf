"""`mc loci make-data`: write the synthetic moving-shapes data set."""

from __future__ import annotations

import click

from mc_core.options import quiet_option, seed_option, shard_options


@click.command("make-data")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False), help="Folder to write the data set to.")
@click.option("--videos", type=click.IntRange(min=1), default=64, show_default=True, help="Number of videos.")
@click.option("--frames", type=click.IntRange(min=1), default=8, show_default=True, help="Frames per video.")
@click.option("--size", type=click.IntRange(min=16), default=64, show_default=True, help="Frame height and width.")
@click.option("--min-objects", type=click.IntRange(min=1), default=2, show_default=True, help="Fewest objects per video.")
@click.option("--max-objects", type=click.IntRange(min=1, max=10), default=4, show_default=True,
              help="Most objects per video.")
@click.option("--camera-motion", type=click.Choice(["none", "pan"]), default="none", show_default=True,
              help="none: static camera. pan: the view slides over a 1.5x larger background at a "
                   "per-video constant velocity (1-2 px/frame at size 64, sub-pixel), bouncing off "
                   "its borders; videos also get camera (T,2), the view offsets.")
@click.option("--background", type=click.Choice(["smooth", "textured"]), default="smooth", show_default=True,
              help="smooth: a low-contrast colour ramp and two waves. textured: adds a high-contrast rotated "
                   "checkerboard of colour offsets and fine waves (same objects and camera).")
@click.option("--split", type=click.Choice(["train", "test", "generalization"]), default="train", show_default=True,
              help="generalization: more objects than training, max-objects+1 .. max-objects+3 (at most 10). "
                   "train and test draw min-objects..max-objects (use another --seed for test). Names the "
                   "HDF5 file.")
@click.option("--format", "fmt", type=click.Choice(["folder", "loci-hdf5"]), default="folder", show_default=True,
              help="folder: meta.json + one npz per video. loci-hdf5: one Loci-Segmented HDF5 file "
                   "OUT_DIR/<name>-<split>-<S>x<S>-v1.hdf5 (JPEG frames, 8-bit PNG depth, 0/255 masks).")
@click.option("--name", default="moving-shapes", show_default=True, help="Data-set name of the HDF5 file.")
@click.option("--overwrite", is_flag=True,
              help="Replace a data set made with other settings in OUT_DIR (its videos are deleted). "
                   "Without it that is refused; with the same settings the videos already there are kept.")
@seed_option(0)
@shard_options
@quiet_option
def make_data_cmd(out_dir, videos, frames, size, min_objects, max_objects, camera_motion, background, split, fmt,
                  name, overwrite, seed, num_shards, shard_index, quiet):
    """Write the synthetic moving-shapes video data set (RGB, depth, instance masks).

    Each video is one npz (rgb uint8 (T,H,W,3), depth float32 (T,H,W), masks uint8 (T,H,W) with
    0 = background) under OUT_DIR/videos/, plus OUT_DIR/meta.json. Files are written atomically;
    video i depends only on (--seed, i), so shards and re-runs agree, and a rerun with the same
    settings only writes the videos that are missing.

    \b
    Examples:
      mc loci make-data --out-dir shapes_train --videos 64 --frames 8 --seed 0
      mc loci make-data --out-dir shapes_test --videos 16 --seed 1
      mc loci make-data --out-dir pan_train --videos 64 --camera-motion pan
      mc loci make-data --out-dir big --videos 10000 --num-shards 8 --shard-index 3
      mc loci make-data --out-dir gen --videos 16 --seed 2 --split generalization --background textured
      mc loci make-data --out-dir h5 --videos 16 --seed 1 --split test --format loci-hdf5
          (writes h5/moving-shapes-test-64x64-v1.hdf5)
    """
    from mc_loci.data.moving_shapes import make_dataset

    make_dataset(out_dir, videos=videos, frames=frames, size=size, seed=seed, min_objects=min_objects,
                 max_objects=max_objects, camera_motion=camera_motion, num_shards=num_shards,
                 shard_index=shard_index, overwrite=overwrite, background=background, split=split, format=fmt,
                 name=name)


COMMANDS = [make_data_cmd]
