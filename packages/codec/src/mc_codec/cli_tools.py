"""Codec data tools: `mc codec prepare-a2d2` (library: `data.a2d2.convert_a2d2`) and `mc codec info`
(library: `container.describe_file`)."""

from __future__ import annotations

import click

from mc_core.options import quiet_option, shard_options


@click.command("prepare-a2d2")
@click.option("--a2d2-root", required=True, type=click.Path(file_okay=False, path_type=str),
              help="A2D2 root holding camera_lidar_semantic/ (and class_list.json).")
@click.option("--out-root", required=True, type=click.Path(file_okay=False, path_type=str),
              help="Output data root; masks go to OUT_ROOT/OUT_SUBDIR/<sequence>/*.png.")
@click.option("--camera", default="front_center", show_default=True,
              help="Camera whose labels to convert (label/cam_<camera>/).")
@click.option("--out-subdir", default="warped_masks", show_default=True,
              help="Sub-folder of --out-root for the id masks (the --subdir of the other commands).")
@click.option("--class-list", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Colour legend JSON [default: the data set's class_list.json].")
@click.option("--merge-variants", is_flag=True,
              help='One id per base name: "Car 1".."Car 4" -> "Car" (default: one id per colour).')
@click.option("--unknown-to-ignore", is_flag=True,
              help="Map colours missing from the legend to --ignore-id (default: stop with an error).")
@click.option("--ignore-id", type=click.IntRange(0, 65535), default=255, show_default=True,
              help="Id for unknown colours with --unknown-to-ignore.")
@click.option("--overwrite", is_flag=True, help="Convert again images whose output already exists.")
@shard_options
@quiet_option
def prepare_a2d2(a2d2_root, out_root, camera, out_subdir, class_list, merge_variants, unknown_to_ignore,
                 ignore_id, overwrite, num_shards, shard_index, quiet):
    """Convert A2D2 RGB semantic labels to single-channel class-id PNGs.

    Reads camera_lidar_semantic/<sequence>/label/cam_<camera>/*.png, maps colours to ids with the
    data set's class_list.json (ids follow the legend's order) and writes
    OUT_ROOT/OUT_SUBDIR/<sequence>/<name>.png (8-bit, or 16-bit if needed) plus the id-to-name
    table OUT_ROOT/class_names.json. Existing outputs are skipped, so an interrupted run resumes;
    every file is written atomically.

    \b
    Example:
      mc codec prepare-a2d2 --a2d2-root /data/a2d2 --out-root out/a2d2_ids \\
          --camera front_center --out-subdir warped_masks
      mc codec prepare-a2d2 --a2d2-root /data/a2d2 --out-root out/a2d2_ids \\
          --merge-variants --unknown-to-ignore --num-shards 8 --shard-index 3
    """
    from mc_codec.data.a2d2 import convert_a2d2
    from mc_core.progress import info, progress

    res = convert_a2d2(a2d2_root, out_root, camera=camera, out_subdir=out_subdir, class_list=class_list,
                       merge_variants=merge_variants,
                       ignore_id=ignore_id if unknown_to_ignore else None, overwrite=overwrite,
                       num_shards=num_shards, shard_index=shard_index,
                       progress=lambda it: progress(it, desc="prepare-a2d2", unit="img"))
    info(f"prepare-a2d2: {res['converted']} converted, {res['skipped']} already present, "
         f"{res['classes']} classes -> {res['out_dir']} (id table: {res['table']})")


@click.command("info")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file instead of text.")
def info_cmd(files, as_json):
    """Show what `.mcz` files hold, without decoding them.

    Prints the format version, shape, dtype, payload kind, class ids, the model digest, the mask
    CRC and the sizes of header and payload. Checks the file (magic, version, file check) on the
    way, so a damaged file is reported as such (exit 2).

    \b
    Example:
      mc codec info mask.mcz
      mc codec info out/*.mcz --json
    """
    import json

    from mc_codec.container import describe_file

    for f in files:
        rec = describe_file(f)
        if as_json:
            click.echo(json.dumps(rec))
            continue
        classes = ", ".join(map(str, rec["classes"][:24])) + (" ..." if len(rec["classes"]) > 24 else "")
        h, w = rec["shape"]
        click.echo(f"{rec['file']}: .mcz v{rec['format_version']}, {h}x{w} {rec['dtype']}, kind {rec['kind']}, "
                   f"{len(rec['classes'])} classes [{classes}]")
        click.echo(f"  {rec['file_bytes']} bytes ({rec['file_bytes'] - rec['payload_bytes']} header + "
                   f"{rec['payload_bytes']} payload), {rec['bits_per_pixel']} bits/pixel; model "
                   f"{rec['model_digest'] or '-'}; mask CRC-32 {rec['mask_crc32']}")


COMMANDS: list = [prepare_a2d2, info_cmd]
