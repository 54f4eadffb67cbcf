"""Codec data tools: `mc codec prepare-a2d2` and `mc codec info`. Heavy libraries are imported inside command bodies."""

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
    import json
    from pathlib import Path

    from mc_codec.data import a2d2
    from mc_codec.data.masks import write_mask
    from mc_core.atomic import write_json
    from mc_core.errors import BadInputError, UsageError
    from mc_core.progress import info, progress
    from mc_core.shards import shard_slice

    legend_path = Path(class_list) if class_list else a2d2.find_class_list(a2d2_root)
    legend = a2d2.load_legend(legend_path, merge_variants=merge_variants)
    ignore = ignore_id if unknown_to_ignore else None
    if ignore is not None and ignore < len(legend.names):
        raise UsageError(f"--ignore-id {ignore} collides with a class id (the legend has ids "
                         f"0..{len(legend.names) - 1})")
    table = {"legend": str(legend_path), "merge_variants": merge_variants,
             "ignore_id": ignore, "classes": legend.table(ignore)}

    out_root_p = Path(out_root)
    table_path = out_root_p / "class_names.json"
    if table_path.is_file() and not overwrite:
        try:
            old = json.loads(table_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise BadInputError(table_path, f"unreadable id table ({exc}); use --overwrite") from None
        if old.get("classes") != table["classes"]:
            raise BadInputError(table_path, "existing masks were written with a different id table "
                                            "(other legend or flags); use --overwrite or a new --out-root")
    write_json(table_path, table)

    files = shard_slice(a2d2.label_files(a2d2_root, camera), num_shards, shard_index)
    out_dir = out_root_p / out_subdir
    done = skipped = 0
    for seq, path in progress(files, desc="prepare-a2d2", unit="img"):
        target = out_dir / a2d2.output_name(seq, path)
        if target.is_file() and not overwrite:
            skipped += 1
            continue
        rgb = a2d2.read_rgb_label(path)
        ids = a2d2.colours_to_ids(rgb, legend, ignore_id=ignore, source=path)
        write_mask(target, ids)
        done += 1
    info(f"prepare-a2d2: {done} converted, {skipped} already present, {len(legend.names)} classes "
         f"-> {out_dir} (id table: {table_path})")


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
    from pathlib import Path

    from mc_codec.container import unpack
    from mc_core.errors import BadInputError

    for f in files:
        path = Path(f)
        if not path.is_file():
            raise BadInputError(path, "not found")
        data = path.read_bytes()
        header, payload = unpack(data, source=path)
        h, w = header.shape
        rec = {"file": str(path), "format_version": header.version, "shape": [h, w],
               "dtype": header.dtype, "kind": header.kind_name, "classes": list(header.classes),
               "model_digest": header.model_digest.hex() or None, "mask_crc32": f"{header.mask_crc:08x}",
               "file_bytes": len(data), "payload_bytes": len(payload),
               "bits_per_pixel": round(8 * len(data) / (h * w), 6) if h * w else None}
        if as_json:
            click.echo(json.dumps(rec))
            continue
        classes = ", ".join(map(str, header.classes[:24])) + (" ..." if len(header.classes) > 24 else "")
        click.echo(f"{path}: .mcz v{header.version}, {h}x{w} {header.dtype}, kind {header.kind_name}, "
                   f"{len(header.classes)} classes [{classes}]")
        click.echo(f"  {len(data)} bytes ({len(data) - len(payload)} header + {len(payload)} payload), "
                   f"{rec['bits_per_pixel']} bits/pixel; model {rec['model_digest'] or '-'}; "
                   f"mask CRC-32 {rec['mask_crc32']}")


COMMANDS: list = [prepare_a2d2, info_cmd]
