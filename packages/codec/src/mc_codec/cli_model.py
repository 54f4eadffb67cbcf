"""Codec commands: cache, train, eval, compress/decompress and the codec matrix.

torch and the models are imported inside the command bodies, so `mc --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from mc_core.errors import BadInputError, UsageError
from mc_core.options import device_option, quiet_option, seed_option, shard_options

ARCHES = ("rle-lm", "msdzip")


def _folder(data_root, subdir) -> Path:
    return Path(data_root) / subdir if subdir else Path(data_root)


def _splits(data_root, subdir, splits_dir, seed=0, by_sequence=False):
    from mc_codec.data.masks import find_masks, make_splits

    folder = _folder(data_root, subdir)
    rel = find_masks(data_root, subdir)
    return folder, make_splits(rel, splits_dir, seed=seed, by_sequence=by_sequence, data_dir=folder)


def _source(folder, rel_paths, use_2d, row_cache_dir):
    from mc_codec.rows import MaskSource

    if row_cache_dir:
        from mc_codec.cache import CacheSource

        return CacheSource(row_cache_dir, rel_paths, use_2d=use_2d)
    return MaskSource(folder, rel_paths, use_2d)


@click.command("cache")
@click.option("--data-root", required=True, type=click.Path(file_okay=False), help="Folder of mask PNGs.")
@click.option("--subdir", default="", help="Sub-folder of --data-root holding the masks.")
@click.option("--cache-dir", required=True, type=click.Path(file_okay=False), help="Where the npz files go.")
@click.option("--manifest-out", type=click.Path(dir_okay=False), default=None,
              help="Manifest CSV (default: <cache-dir>/manifest.csv; sharded: manifest-<i>-of-<n>.csv).")
@click.option("--include-above-features/--no-above-features", default=False, show_default=True,
              help="Store the 2D context of the row above (for --use-2d-context models).")
@click.option("--compress", type=click.Choice(["npz", "none"]), default="npz", show_default=True,
              help="npz: compressed npz; none: plain npz (faster reads, larger).")
@click.option("--verify", type=click.IntRange(min=0), default=0, show_default=True,
              help="Re-derive this many random images and compare with the cache.")
@shard_options
@seed_option(0)
@quiet_option
def cache_cmd(data_root, subdir, cache_dir, manifest_out, include_above_features, compress, verify,
              num_shards, shard_index, seed, quiet):
    """Precompute the row-RLE tokens of every mask (restartable, shardable).

    \b
    Example:
      mc codec cache --data-root data --subdir warped_masks --cache-dir data/cache_rle_row_v1 \\
        --manifest-out data/cache_rle_row_v1/manifest.csv --include-above-features \\
        --compress npz --verify 2
    """
    from mc_codec.cache import build_cache, verify_cache, write_manifest
    from mc_codec.data.masks import find_masks
    from mc_core.options import shard_slice
    from mc_core.progress import info, progress

    folder = _folder(data_root, subdir)
    rel = shard_slice(find_masks(data_root, subdir), num_shards, shard_index)
    rows = build_cache(folder, rel, Path(cache_dir), use_2d=include_above_features,
                       compress=compress == "npz",
                       progress=lambda it: progress(it, desc="cache", unit="img"))
    if manifest_out is None:
        name = "manifest.csv" if num_shards == 1 else f"manifest-{shard_index}-of-{num_shards}.csv"
        manifest_out = Path(cache_dir) / name
    write_manifest(Path(manifest_out), rows)
    info(f"cached {len(rows)} images; manifest {manifest_out}")
    if verify:
        n = verify_cache(folder, Path(cache_dir), rel, verify, seed, include_above_features, 64)
        info(f"verified {n} images against their PNGs: identical")


@click.command("train")
@click.option("--data-root", required=True, type=click.Path(file_okay=False), help="Folder of mask PNGs.")
@click.option("--subdir", default="", help="Sub-folder of --data-root holding the masks.")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False), help="Run folder.")
@click.option("--epochs", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True, help="Rows per batch.")
@click.option("--lr", type=float, default=3e-3, show_default=True)
@click.option("--arch", type=click.Choice(ARCHES), default="rle-lm", show_default=True)
@click.option("--use-2d-context", is_flag=True, help="Each token also sees the row above.")
@click.option("--row-cache-dir", type=click.Path(file_okay=False), default=None,
              help="Read tokens lazily from a row cache made by `mc codec cache`.")
@click.option("--splits-dir", type=click.Path(file_okay=False), default=None,
              help="train/val/test.txt (reused when present; default <out-dir>/splits).")
@click.option("--by-sequence", is_flag=True, help="Split by sequence (file-name prefix).")
@click.option("--vocab-size", type=click.IntRange(min=2), default=None,
              help="Number of class ids the model knows (default: max id in the data + 1).")
@click.option("--hidden-dim", type=click.IntRange(min=4), default=None, help="Hidden width (both archs).")
@click.option("--embed-dim", type=click.IntRange(min=2), default=None, help="rle-lm: feature embedding size.")
@click.option("--timesteps", type=click.IntRange(min=1), default=16, show_default=True, help="msdzip: context tokens.")
@click.option("--vocab-dim", type=click.IntRange(min=2), default=16, show_default=True, help="msdzip: embedding size.")
@click.option("--ffn-dim", type=click.IntRange(min=4), default=256, show_default=True, help="msdzip: feed-forward width.")
@click.option("--layers", type=click.IntRange(min=1), default=4, show_default=True, help="msdzip: MLP blocks.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True, help="torch CPU threads.")
@click.option("--resume", is_flag=True, help="Continue from <out-dir>/checkpoints/last.")
@device_option
@seed_option(0)
@quiet_option
def train_cmd(data_root, subdir, out_dir, epochs, batch_size, lr, arch, use_2d_context, row_cache_dir,
              splits_dir, by_sequence, vocab_size, hidden_dim, embed_dim, timesteps, vocab_dim, ffn_dim,
              layers, threads, resume, device, seed, quiet):
    """Train a next-token model of row-RLE tokens (ideal code length = its loss).

    \b
    Example:
      mc codec train --data-root data --out-dir output/lm_rle_baseline --epochs 5 \\
        --batch-size 64 --use-2d-context
      mc codec train --data-root data --out-dir output/lm_msdzip --arch msdzip \\
        --timesteps 16 --vocab-dim 16 --hidden-dim 128 --ffn-dim 256 --layers 4
      accelerate launch -m mc_core codec train --data-root data --out-dir output/run
    """
    from mc_codec.train import TrainConfig, train
    from mc_core.checkpoint import fingerprint_files
    from mc_core.progress import info

    out = Path(out_dir)
    folder, splits = _splits(data_root, subdir, splits_dir or out / "splits", seed, by_sequence)
    if not splits["train"]:
        raise BadInputError(folder, "the training split is empty")
    if arch == "rle-lm":
        margs = {k: v for k, v in {"hidden_dim": hidden_dim, "embed_dim": embed_dim}.items() if v}
    else:
        margs = {"timesteps": timesteps, "vocab_dim": vocab_dim, "ffn_dim": ffn_dim, "layers": layers,
                 "hidden_dim": hidden_dim or 128}
    cfg = TrainConfig(arch=arch, epochs=epochs, batch_size=batch_size, lr=lr, use_2d=use_2d_context,
                      seed=seed, vocab_size=vocab_size, model_args=margs, threads=threads)
    train_src = _source(folder, splits["train"], use_2d_context, row_cache_dir)
    val_src = _source(folder, splits["val"], use_2d_context, row_cache_dir)
    meta = {"data_sha256": fingerprint_files([folder / p for p in splits["train"]], folder),
            "train_images": len(splits["train"]), "args": {
                "data_root": str(data_root), "subdir": subdir, "epochs": epochs, "batch_size": batch_size,
                "lr": lr, "arch": arch, "use_2d_context": use_2d_context, "seed": seed}}
    res = train(cfg, train_src, val_src, out, device=device, resume=resume, meta=meta, log=info)
    what = "val bits/pixel" if splits["val"] else "train bits/token (no val split)"
    click.echo(f"best {what}: {res['best_val_bpp']:.4f}; checkpoints in {out / 'checkpoints'}")


@click.command("eval")
@click.option("--data-root", required=True, type=click.Path(file_okay=False))
@click.option("--subdir", default="")
@click.option("--checkpoint", required=True, type=click.Path(), help="Checkpoint folder (e.g. out/checkpoints/best).")
@click.option("--split", type=click.Choice(["train", "val", "test"]), default="val", show_default=True)
@click.option("--splits-dir", required=True, type=click.Path(file_okay=False))
@click.option("--out-csv", required=True, type=click.Path(dir_okay=False))
@click.option("--row-cache-dir", type=click.Path(file_okay=False), default=None)
@device_option
@quiet_option
def eval_cmd(data_root, subdir, checkpoint, split, splits_dir, out_csv, row_cache_dir, device, quiet):
    """Ideal code length (model cross-entropy) per image: CSV row per image and a summary.

    \b
    Example:
      mc codec eval --data-root data --checkpoint output/lm_rle_baseline/checkpoints/best \\
        --split val --splits-dir output/lm_rle_baseline/splits --out-csv output/lm_val_metrics.csv
    """
    import time

    import torch

    from mc_codec.coding.api import load_model
    from mc_codec.evaluate import image_bits
    from mc_core.atomic import write_csv
    from mc_core.device import resolve_device
    from mc_core.progress import progress

    torch.set_num_threads(1)
    cm = load_model(checkpoint)
    dev = resolve_device(device)
    cm.model.to(dev)
    folder, splits = _splits(data_root, subdir, splits_dir)
    rel = splits[split]
    if not rel:
        raise BadInputError(Path(splits_dir) / f"{split}.txt", "split is empty")
    src = _source(folder, rel, cm.model.use_2d, row_cache_dir)
    rows = []
    t0 = time.perf_counter()
    for i in progress(range(len(src)), desc=f"eval {split}", unit="img"):
        tok = src.tokens(i)
        if tok.max_id >= cm.vocab_size:
            raise BadInputError(folder / rel[i], f"class id {tok.max_id} is beyond the model's vocabulary "
                                                 f"({cm.vocab_size})")
        r = image_bits(cm.model, tok, dev)
        rows.append({"image": rel[i], "height": tok.height, "width": tok.width, "tokens": r["tokens"],
                     "bits": r["bits"], "bits_per_pixel": r["bits"] / r["pixels"],
                     "class_bits": r["class_bits"], "length_bits": r["length_bits"],
                     "mantissa_bits": r["mantissa_bits"]})
    dt = time.perf_counter() - t0
    write_csv(out_csv, rows)
    pix = sum(r["height"] * r["width"] for r in rows)
    bits = sum(r["bits"] for r in rows)
    click.echo(f"{split}: {len(rows)} images, {pix / 1e6:.2f} MP, {bits / 8 / 1024:.1f} KiB ideal, "
               f"{bits / pix:.4f} bits/pixel, {dt / (pix / 1e6):.2f} s per megapixel; CSV {out_csv}")


def _inputs(inp: Path, suffix: str, out: Path) -> list[tuple[Path, Path]]:
    if inp.is_dir():
        files = sorted(p for p in inp.rglob(f"*{suffix}") if p.is_file() and not p.name.startswith("."))
        if not files:
            raise BadInputError(inp, f"no *{suffix} files found")
        return [(p, out / p.relative_to(inp)) for p in files]
    if not inp.exists():
        raise BadInputError(inp, "not found")
    return [(inp, out)]


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

    For a folder, outputs newer than their input are skipped (so an interrupted run resumes;
    --overwrite redoes them). Every file is written atomically.

    \b
    Example:
      mc codec compress mask.png mask.mcz
      mc codec compress masks/ compressed/ --checkpoint output/lm/checkpoints/best
      mc codec compress masks/ compressed/ --band-height 16 --jobs 8
    """
    import functools

    from mc_codec.coding.api import load_model
    from mc_codec.workers import default_jobs, map_with_model
    from mc_core.progress import info, progress

    cm = load_model(checkpoint)
    todo, skipped = _todo(Path(inp), Path(out), ".png", ".mcz", overwrite)
    sizes = map_with_model(functools.partial(_compress_one, band_height=band_height), todo, cm,
                           jobs or default_jobs(), lambda it: progress(it, total=len(todo),
                                                                      desc="compress", unit="img"))
    info(f"{len(todo)} file(s): {sum(a for a, _ in sizes)} bytes of PNG -> {sum(b for _, b in sizes)} bytes"
         + (f"; {skipped} already up to date" if skipped else ""))


def _todo(inp: Path, out: Path, suffix: str, out_suffix: str, overwrite: bool):
    """(the (src, dst) pairs to do, how many folder outputs are already up to date)."""
    pairs = _inputs(inp, suffix, out)
    if not inp.is_dir():
        return pairs, 0
    pairs = [(src, dst.with_suffix(out_suffix)) for src, dst in pairs]
    todo = [(s, d) for s, d in pairs if overwrite or not _up_to_date(s, d)]
    return todo, len(pairs) - len(todo)


def _up_to_date(src: Path, dst: Path) -> bool:
    return dst.is_file() and dst.stat().st_mtime >= src.stat().st_mtime


def _compress_one(cm, pair, *, band_height: int) -> tuple[int, int]:
    from mc_codec.coding.api import encode
    from mc_codec.data.masks import read_mask
    from mc_core.atomic import write_bytes

    src, dst = pair
    try:
        data = encode(read_mask(src), cm, band_height=band_height)
    except BadInputError as exc:
        raise BadInputError(src, exc.problem) from None
    write_bytes(dst, data)
    return src.stat().st_size, len(data)


def _decompress_one(cm, pair) -> None:
    from mc_codec.coding.api import decode
    from mc_codec.data.masks import write_mask

    src, dst = pair
    try:
        data = src.read_bytes()
    except OSError as exc:
        raise BadInputError(src, f"cannot read ({exc.strerror})") from None
    write_mask(dst, decode(data, cm, source=src))


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

    \b
    Example:
      mc codec decompress mask.mcz mask.png
      mc codec decompress compressed/ restored/
    """
    from mc_codec.coding.api import load_model
    from mc_codec.workers import default_jobs, map_with_model
    from mc_core.progress import progress

    cm = load_model(checkpoint)
    todo, _ = _todo(Path(inp), Path(out), ".mcz", ".png", overwrite)
    map_with_model(_decompress_one, todo, cm, jobs or default_jobs(),
                   lambda it: progress(it, total=len(todo), desc="decompress", unit="img"))


@click.command("matrix")
@click.option("--data-root", type=click.Path(file_okay=False), default=None,
              help="Folder of mask PNGs (default: the samples shipped with mc-codec).")
@click.option("--subdir", default="")
@click.option("--checkpoint", type=click.Path(), default=None, help="Codec checkpoint (default: the shipped model).")
@click.option("--splits-dir", type=click.Path(file_okay=False), default=None,
              help="train/val/test.txt (default: the samples' splits; made if missing).")
@click.option("--split", type=click.Choice(["train", "val", "test"]), default="test", show_default=True)
@click.option("--out-csv", type=click.Path(dir_okay=False), default="codec_matrix.csv", show_default=True,
              help="Per-image CSV; the bar chart goes beside it as .png.")
@click.option("--codecs", default=None, help="Comma-separated classical codecs (default: all installed).")
@click.option("--arch", type=click.Choice(ARCHES), default=None,
              help="Expected architecture of --checkpoint (checked; any is accepted by default).")
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
    import torch

    from mc_codec.coding.api import load_model
    from mc_codec.matrix import format_summary, plot_summary, run_matrix, summarize, write_csv
    from mc_core.progress import progress

    torch.set_num_threads(1)
    if data_root is None:
        from mc_codec.samples import sample_root

        data_root = sample_root() / "masks"
        if splits_dir is None:
            splits_dir = sample_root() / "splits"
    if splits_dir is None:
        raise UsageError("--splits-dir is required with --data-root")
    cm = load_model(checkpoint)
    if arch and cm.name != arch:
        raise BadInputError(cm.path, f"checkpoint holds a {cm.name!r} model, not {arch!r}")
    folder, splits = _splits(data_root, subdir, splits_dir)
    rel = splits[split]
    if not rel:
        raise BadInputError(Path(splits_dir) / f"{split}.txt", "split is empty")
    wanted = [c.strip() for c in codecs.split(",")] if codecs else None
    if not jobs:
        from mc_codec.workers import default_jobs

        jobs = default_jobs()
    rows = run_matrix(folder, rel, cm, codecs=wanted, jobs=jobs,
                      progress=lambda it: progress(it, desc="matrix", unit="img", total=len(rel)))
    summary = summarize(rows)
    write_csv(Path(out_csv), rows)
    chart = Path(out_csv).with_suffix(".png")
    plot_summary(chart, summary, title=f"{len(rel)} {split} masks, model {cm.name}")
    pix = sum(r["_pixels"] for r in rows if r["codec"] == "learned")
    click.echo(f"{len(rel)} images ({pix / 1e6:.2f} MP), model {cm.name} ({cm.path})")
    click.echo(format_summary(summary))
    click.echo(f"CSV {out_csv}; chart {chart}")
    if any(s["lossless"] is False for s in summary):
        from mc_core.errors import McError

        raise McError("a codec did not round-trip losslessly (see the 'lossless' column)")


COMMANDS = [cache_cmd, train_cmd, eval_cmd, compress_cmd, decompress_cmd, matrix_cmd]
