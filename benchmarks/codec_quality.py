"""Quality and size of the learned codec on CamVid (development data), honestly held out.

`--by-sequence` (the honest figure): whole CamVid sequences (file-name prefix, `--holdout`,
default 0006R0) are held out; the model trains on the other sequences within a time budget
(`--max-minutes`, default 30; one torch thread). The default without it is the random-frame split
(80/20 of all frames): frames of one sequence are near-duplicates, so that split flatters every
model that learns from the training split; it is printed labelled as such.

Prints, on the hold-out images, side by side in bits per pixel: the model's ideal code length,
the actual coded `.mcz` size (range coder, verified lossless), JPEG XL effort 10, PNG at maximum
compression and the other classical codecs, the adaptive context model with empty counts, and the
context models primed on the training split (4 and 8 neighbours; their counts are stored with the
checkpoint, `context_prior.npz`). With `--by-sequence` the classical and count baselines on the
random-frame split follow, labelled, for comparison.

    uv run python benchmarks/codec_quality.py --by-sequence --out-dir /tmp/codec_seq [--skip-train]
    uv run python benchmarks/codec_quality.py --out-dir /tmp/codec_frames      # random frames
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def sequence_splits(rel: list[str], out: Path, holdout: list[str]) -> dict[str, list[str]]:
    """train = every sequence but `holdout`, test = `holdout` (written to out/*.txt)."""
    from mc_codec.data.masks import make_splits, sequence_of
    from mc_core.atomic import write_text

    if not (out / "train.txt").is_file():
        test = sorted(r for r in rel if sequence_of(r) in holdout)
        train = sorted(r for r in rel if sequence_of(r) not in holdout)
        if not test or not train:
            raise SystemExit(f"--holdout {','.join(holdout)} leaves an empty split")
        for name, items in (("train", train), ("val", []), ("test", test)):
            write_text(out / f"{name}.txt", "".join(f"{r}\n" for r in items))
    return make_splits(rel, out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", default="/work/shared/data/camvid/trainannot")
    ap.add_argument("--out-dir", default="/tmp/codec_camvid")
    ap.add_argument("--by-sequence", action="store_true", help="hold out whole sequences (honest)")
    ap.add_argument("--holdout", default="0006R0", help="comma-separated sequences held out")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--max-minutes", type=float, default=30.0)
    ap.add_argument("--arch", default="rle-lm")
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--coded-images", type=int, default=None,
                    help="actually code only this many hold-out images (all by default)")
    a = ap.parse_args(argv)

    import torch

    from mc_codec.data.masks import find_masks, make_splits
    from mc_codec.primed import PRIOR_FILE, write_checkpoint_priors
    from mc_codec.train import train_codec

    out = Path(a.out_dir)
    root = Path(a.data_root)
    rel = find_masks(root)
    if a.by_sequence:
        splits = sequence_splits(rel, out / "splits", [s for s in a.holdout.split(",") if s])
        label = f"held-out sequences {a.holdout}"
    else:
        splits = make_splits(rel, out / "splits", seed=0, val_frac=0.0, test_frac=0.2)
        label = "RANDOM-FRAME split (flattering: frames of the training sequences)"
    print(f"CamVid, {label}: {len(splits['train'])} train / {len(splits['test'])} hold-out images")
    if not a.skip_train:
        t0 = time.perf_counter()
        resume = (out / "checkpoints" / "last").is_dir()
        train_codec(root, out, subdir="", arch=a.arch, epochs=a.epochs, batch_size=64, use_2d=True,
                    vocab_size=12, splits_dir=out / "splits", device="cpu", resume=resume,
                    max_minutes=a.max_minutes)
        print(f"training took {time.perf_counter() - t0:.0f} s")
    ck = out / "checkpoints" / "best"
    if not (ck / PRIOR_FILE).is_file():  # a checkpoint trained before the priors were stored
        write_checkpoint_priors(out / "checkpoints", root, splits["train"], 12)
    torch.set_num_threads(1)
    from codec_common import baseline_table, holdout_table  # noqa: E402

    holdout_table(ck, root, splits["test"], a.coded_images, label=label)
    if a.by_sequence:
        frames = make_splits(rel, out / "frame_splits", seed=0, val_frac=0.0, test_frac=0.2)
        print("\nfor comparison, RANDOM-FRAME split (flattering; baselines only, primed on its own "
              f"training frames): {len(frames['train'])} train / {len(frames['test'])} hold-out")
        baseline_table(root, frames["train"], frames["test"])


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
