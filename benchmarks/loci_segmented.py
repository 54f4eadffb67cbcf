"""Loci-Segmented (loci-s) against the cc baselines and the unsupervised slot segmenter.

Trains `mc loci pipeline` on procedural pan-camera videos with --minutes per stage (the issue
allows up to 30 CPU-minutes per stage), the slot segmenter (unsupervised, farthest background) with
the same total budget, then scores every method with iou / fg_ari / loci_fg_ari on held-out videos
(test seed), on the generalisation split (more objects) and on a Loci-format HDF5 test file written
by make-data --format loci-hdf5; and prints each stage's held-out quality (decoder mask IoU, PSNR of
RGB and depth). Run on a shared CPU: say so beside the figures.

    uv run python benchmarks/loci_segmented.py --minutes 3 --out-dir /tmp/loci/bench
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loci_common import loci_parser, make_data, start  # noqa: E402

BASELINES = ("all-background", "median-cc", "farthest-cc", "farthest-depth-cc")
KEYS = ("iou", "fg_ari", "loci_fg_ari")


def main() -> None:
    ap = loci_parser(__doc__)
    ap.add_argument("--minutes", type=float, default=3.0, help="time budget of each stage")
    ap.add_argument("--no-depth", action="store_true", help="also train the RGB-only pipeline (gain from depth)")
    args = ap.parse_args()
    work = start(args, "loci_segmented_")

    import mc_loci
    from mc_loci.data.moving_shapes import make_dataset
    from mc_loci.stages.configs import PIPELINE, depth_name
    from mc_loci.stages.pipeline import run_pipeline
    from mc_loci.stages.quality import stage_quality

    train = make_data(work / "train", args, args.train_videos, 0, "pan")
    tests = {"test": make_data(work / "test", args, args.test_videos, 1000, "pan")}
    tests["generalization"] = make_dataset(work / "gen", videos=args.test_videos, frames=args.frames, size=args.size,
                                           seed=2000, camera_motion="pan", split="generalization", progress_bar=False)
    tests["hdf5"] = make_dataset(work / "h5", videos=args.test_videos, frames=args.frames, size=args.size, seed=1000,
                                 camera_motion="pan", split="test", format="loci-hdf5", progress_bar=False)
    runs = {"loci-s-depth": ("pipe", True)} | ({"loci-s": ("pipe_rgb", False)} if args.no_depth else {})
    out: dict = {"minutes_per_stage": args.minutes, "stages": {}, "scores": {}}
    for name, (folder, depth) in runs.items():
        t = time.perf_counter()
        run_pipeline(train, work / folder, depth=depth, max_minutes=args.minutes, quiet=True)
        out[f"{name}_seconds"] = time.perf_counter() - t
        for stage, _ in PIPELINE:
            sname = depth_name(stage, depth)
            if "background" in sname:
                continue
            key = f"{folder}/{sname}"
            out["stages"][key] = stage_quality(work / folder / sname / "checkpoints" / "final", tests["test"])
            print(key, out["stages"][key], flush=True)
    total = args.minutes * len(PIPELINE)
    seg = mc_loci.train(train, work / "slots", steps=10 ** 6, unsupervised=True, max_minutes=total, quiet=True,
                        train_config={"clip_frames": min(4, args.frames)})
    bg = work / "pipe" / depth_name("pretrain-background", True) / "checkpoints" / "final"
    for split, data in tests.items():
        rows = {}
        for name, (folder, _) in runs.items():
            rows[name] = mc_loci.evaluate_data(data, method="model", checkpoint=work / folder / "final")
        rows["slot-segmenter"] = mc_loci.evaluate_data(data, method="model", checkpoint=seg.checkpoint)
        rows["learned-cc"] = mc_loci.evaluate_data(data, method="learned-cc", bg_checkpoint=bg)
        for b in BASELINES:
            rows[b] = mc_loci.evaluate_data(data, method=b)
        out["scores"][split] = {m: {k: r.get(k) for k in KEYS} for m, r in rows.items()}
        print(f"\n{split} ({args.test_videos} videos)")
        print(f"{'method':20s} " + " ".join(f"{k:>12s}" for k in KEYS))
        for m, r in out["scores"][split].items():
            print(f"{m:20s} " + " ".join(f"{r[k]:12.3f}" for k in KEYS))
    if args.out_json:
        Path(args.out_json).write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
