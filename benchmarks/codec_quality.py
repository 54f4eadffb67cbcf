"""Quality target of codec (1/2) and size target of codec (2/2), on CamVid (development data).

Trains the default model (`rle-lm` with 2D context) on 80% of camvid/trainannot (a fixed split
written to <out-dir>/splits) within a time budget, then prints, on the other 20%: the model's ideal
code length, the actual coded size (range coder, verified lossless), every classical codec and
the JBIG-style context model, in bits per pixel, side by side.

    uv run python benchmarks/codec_quality.py --out-dir /tmp/codec_camvid [--skip-train]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-root", default="/work/shared/data/camvid/trainannot")
    ap.add_argument("--out-dir", default="/tmp/codec_camvid")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--arch", default="rle-lm")
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--coded-images", type=int, default=None,
                    help="actually code only this many hold-out images (all by default)")
    a = ap.parse_args(argv)

    import torch

    from mc_codec.data.masks import find_masks, make_splits
    from mc_codec.train import train_codec

    out = Path(a.out_dir)
    root = Path(a.data_root)
    rel = find_masks(root)
    splits = make_splits(rel, out / "splits", seed=0, val_frac=0.0, test_frac=0.2)
    print(f"CamVid: {len(splits['train'])} train / {len(splits['test'])} hold-out images")
    if not a.skip_train:
        t0 = time.perf_counter()
        resume = (out / "checkpoints" / "last").is_dir()
        train_codec(root, out, subdir="", arch=a.arch, epochs=a.epochs, batch_size=64, use_2d=True,
                    vocab_size=12, splits_dir=out / "splits", device="cpu", resume=resume)
        print(f"training took {time.perf_counter() - t0:.0f} s")
    torch.set_num_threads(1)
    from codec_common import holdout_table  # noqa: E402

    holdout_table(out / "checkpoints" / "best", root, splits["test"], a.coded_images)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
