"""`mc codec cache`, `train` and `eval`: row caches, training and ideal-bits evaluation.

Each command parses its flags and calls one library function (`cache.cache_rows`,
`train.train_codec`, `evaluate.evaluate_split`); torch is imported inside them.
"""

from __future__ import annotations

from pathlib import Path

import click

from mc_codec.data.paths import SUBDIR_HELP
from mc_core.options import (
    FiniteFloat,
    RegistryChoice,
    device_option,
    quiet_option,
    seed_option,
    shard_options,
    training_options,
)

# The built-in models' constructor flags; any other model gets --model-arg KEY=VALUE only.
ARCH_FLAGS = {"rle-lm": ("hidden_dim", "embed_dim"),
              "msdzip": ("timesteps", "vocab_dim", "hidden_dim", "ffn_dim", "layers")}


@click.command("cache")
@click.option("--data-root", required=True, type=click.Path(file_okay=False),
              help="Folder of mask PNGs.")
@click.option("--subdir", default=None, help=SUBDIR_HELP)
@click.option("--cache-dir", required=True, type=click.Path(file_okay=False),
              help="Where the npz files go.")
@click.option("--manifest-out", type=click.Path(dir_okay=False), default=None,
              help="Manifest CSV (default: <cache-dir>/manifest.csv; sharded: manifest-<i>-of-<n>.csv).")
@click.option("--include-above-features/--no-above-features",
              default=False, show_default=True,
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
    from mc_codec.cache import cache_rows
    from mc_core.progress import info, progress

    res = cache_rows(data_root, cache_dir, subdir=subdir, manifest_out=manifest_out,
                     use_2d=include_above_features, compress=compress == "npz", verify=verify,
                     num_shards=num_shards, shard_index=shard_index, seed=seed,
                     progress=lambda it: progress(it, desc="cache", unit="img"))
    info(f"cached {res['images']} images; manifest {res['manifest']}")
    if res["verified"]:
        info(f"verified {res['verified']} images against their PNGs: identical")


def _model_args(arch: str, flags: dict, extra: tuple[str, ...]) -> dict:
    from mc_core.config import yaml_load
    from mc_core.errors import UsageError

    args = {k: flags[k] for k in ARCH_FLAGS.get(arch, ()) if flags.get(k) is not None}
    if arch == "msdzip":
        args.setdefault("hidden_dim", 128)
    for item in extra:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--model-arg {item!r}: expected KEY=VALUE")
        args[key.strip().replace("-", "_")] = yaml_load(value)
    return args


@click.command("train")
@click.option("--data-root", required=True, type=click.Path(file_okay=False),
              help="Folder of mask PNGs.")
@click.option("--subdir", default=None, help=SUBDIR_HELP)
@click.option("--out-dir", required=True, type=click.Path(file_okay=False), help="Run folder.")
@click.option("--epochs", type=click.IntRange(min=1), default=5, show_default=True,
              help="Passes over the training rows (steps = epochs x ceil(rows / batch size)).")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True,
              help="Rows per batch.")
@click.option("--lr", type=FiniteFloat(min=0, min_open=True), default=3e-3, show_default=True,
              help="AdamW learning rate.")
@click.option("--arch", type=RegistryChoice("models", task="codec"), default="rle-lm", show_default=True,
              help="Any model registered for `mc codec` (see `mc list models`).")
@click.option("--use-2d-context/--no-2d-context", default=None,
              help="Each token also sees the row above [default: as the --row-cache-dir was built, "
                   "else yes: the stronger model].")
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
@click.option("--model-arg", "model_arg", multiple=True, metavar="KEY=VALUE",
              help="Another constructor argument of the model (any arch), e.g. --model-arg prior=0.5.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True, help="torch CPU threads.")
@click.option("--context-prior/--no-context-prior", default=True, show_default=True,
              help="After training, store the primed context-model counts of the training split with "
                   "the checkpoints (context_prior.npz; the matrix's context-model-primed rows).")
@training_options
@seed_option(0)
@quiet_option
def train_cmd(data_root, subdir, out_dir, epochs, batch_size, lr, arch, use_2d_context, row_cache_dir,
              splits_dir, by_sequence, vocab_size, hidden_dim, embed_dim, timesteps, vocab_dim, ffn_dim,
              layers, model_arg, threads, context_prior, device, resume, max_minutes, seed, quiet):
    """Train a next-token model of row-RLE tokens (ideal code length = its loss).

    Runs mc-core's training loop: --resume continues exactly, --max-minutes stops cleanly,
    checkpoints last/best/final (best: lowest validation bits per pixel), metrics.csv, loss.png.

    \b
    Example:
      mc codec train --data-root data --out-dir output/lm_rle_baseline --epochs 5 \\
        --batch-size 64 --use-2d-context
      mc codec train --data-root data --out-dir output/lm_msdzip --arch msdzip \\
        --timesteps 16 --vocab-dim 16 --hidden-dim 128 --ffn-dim 256 --layers 4
      accelerate launch -m mc_core codec train --data-root data --out-dir output/run
    """
    from mc_codec.train import train_codec

    flags = {"hidden_dim": hidden_dim, "embed_dim": embed_dim, "timesteps": timesteps,
             "vocab_dim": vocab_dim, "ffn_dim": ffn_dim, "layers": layers}
    res = train_codec(data_root, out_dir, subdir=subdir, arch=arch,
                      model_args=_model_args(arch, flags, model_arg), epochs=epochs, batch_size=batch_size,
                      lr=lr, use_2d=use_2d_context, splits_dir=splits_dir, by_sequence=by_sequence,
                      vocab_size=vocab_size, row_cache_dir=row_cache_dir, seed=seed, threads=threads,
                      device=device, resume=resume, max_minutes=max_minutes, quiet=quiet or None,
                      context_prior=context_prior)
    what = "val bits/pixel" if "val_bpp" in res.final_metrics else "train bits/token (no val split)"
    best = "-" if res.best is None else f"{res.best:.4f}"
    click.echo(f"best {what}: {best}; {res.steps} steps ({res.stopped}); checkpoints in "
               f"{Path(out_dir) / 'checkpoints'}")


@click.command("eval")
@click.option("--data-root", required=True, type=click.Path(file_okay=False))
@click.option("--subdir", default=None, help=SUBDIR_HELP)
@click.option("--checkpoint", required=True, type=click.Path(),
              help="Checkpoint folder (e.g. out/checkpoints/best; the seed's best.pt means that folder).")
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
    from mc_codec.evaluate import evaluate_split
    from mc_core.progress import progress

    res = evaluate_split(data_root, checkpoint, splits_dir=splits_dir, split=split, subdir=subdir,
                         out_csv=out_csv, row_cache_dir=row_cache_dir, device=device,
                         progress=lambda it: progress(it, desc=f"eval {split}", unit="img"))
    pix, bits = res["pixels"], res["bits"]
    click.echo(f"{split}: {res['images']} images, {pix / 1e6:.2f} MP, {bits / 8 / 1024:.1f} KiB ideal, "
               f"{bits / pix:.4f} bits/pixel, {res['seconds'] / (pix / 1e6):.2f} s per megapixel; "
               f"CSV {out_csv}")


COMMANDS = [cache_cmd, train_cmd, eval_cmd]
