"""The baselines under Loci-Segmented's evaluation, on the procedural test splits, from folders and
from Loci-format HDF5 files (no training).

Makes held-out test sets (static camera, pan camera, pan + textured background, and the
generalization split with more objects than training), each as a moving-shapes folder and as a
Loci-Segmented HDF5 file (`make-data --format loci-hdf5`), and prints, per set and baseline,
Loci-Segmented's `iou` and `loci_fg_ari` beside the standard `fg_ari` and `matched_iou`. The
folder-vs-HDF5 rows show what the HDF5 layout's JPEG frames and 8-bit depth change.

    uv run python benchmarks/loci_eval_splits.py --videos 16 --frames 8 --size 64
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

METHODS = ("all-background", "median-cc", "farthest-cc", "farthest-depth-cc")
SETS = {  # name: make_dataset options
    "static": {"split": "test"},
    "pan": {"camera_motion": "pan", "split": "test"},
    "pan+textured": {"camera_motion": "pan", "background": "textured", "split": "test"},
    "generalization (5-7 objects)": {"split": "generalization"},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=16)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=1000, help="test-set seed (training sets use others)")
    ap.add_argument("--out-dir", type=Path, default=None)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    from mc_loci import evaluate_data, make_dataset

    root = args.out_dir or Path(tempfile.mkdtemp(prefix="loci_eval_splits_"))
    keys = ("iou", "loci_fg_ari", "fg_ari", "matched_iou", "loci_fg_ari_video", "fg_ari_video")
    print(f"{args.videos} videos x {args.frames} frames, {args.size}x{args.size}, seed {args.seed}; data in {root}")
    print(f"| set | format | method | {' | '.join(keys)} |")
    print("|---|---|---|" + "---:|" * len(keys))
    t0 = time.perf_counter()
    for i, (name, opts) in enumerate(SETS.items()):
        common = dict(videos=args.videos, frames=args.frames, size=args.size, seed=args.seed, progress_bar=False,
                      **opts)
        folder = make_dataset(root / f"set{i}", **common)
        h5 = make_dataset(root / f"set{i}_h5", format="loci-hdf5", **common)
        for fmt, data in (("folder", folder), ("hdf5", h5)):
            out = evaluate_data(data, method=list(METHODS))
            for row in out["table"]:
                print(f"| {name} | {fmt} | {row['method']} | " + " | ".join(f"{row[k]:.3f}" for k in keys) + " |")
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
