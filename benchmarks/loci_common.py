"""Set-up shared by the loci benchmarks: the data and run arguments, one quiet torch thread, the
work folder, and the moving-shapes train/test sets (test seed = training seed + 1000)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def loci_parser(doc: str) -> argparse.ArgumentParser:
    """An argument parser with the options every loci benchmark takes."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train-videos", type=int, default=64)
    ap.add_argument("--test-videos", type=int, default=32)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out-dir", default=None, help="keep data and runs here (default: a temp folder)")
    ap.add_argument("--out-json", default=None)
    return ap


def start(args, prefix: str) -> Path:
    """No progress bars, --threads torch threads; the work folder (--out-dir or a new temp folder)."""
    import torch

    from mc_core.progress import set_quiet

    set_quiet(True)
    torch.set_num_threads(args.threads)
    return Path(args.out_dir) if args.out_dir else Path(tempfile.mkdtemp(prefix=prefix))


def make_data(folder: Path, args, videos: int, seed: int, camera_motion: str = "none") -> Path:
    """A moving-shapes set of `videos` videos with the benchmark's frames and size."""
    from mc_loci.data.moving_shapes import make_dataset

    return make_dataset(folder, videos=videos, frames=args.frames, size=args.size, seed=seed,
                        camera_motion=camera_motion, progress_bar=False)
