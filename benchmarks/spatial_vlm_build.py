"""Throughput of `build` (samples per minute on one core, image writing included).

Makes a synthetic x3 data set (not timed), then times `build_tasks` into an empty folder and
reports samples/minute, counting every JSON sample written (Task1 multi + concat, Task2A, Task2B).

    uv run python benchmarks/spatial_vlm_build.py [--scenes 40] [--width 320 --height 240]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenes", type=int, default=40)
    ap.add_argument("--objects", type=int, default=3)
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--height", type=int, default=240)
    ap.add_argument("--mode", default="allpairs", choices=["allpairs", "anchor"])
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from mc_spatial_vlm.build import build_tasks
    from mc_spatial_vlm.data.demo import make_demo_data

    tmp = Path(tempfile.mkdtemp(prefix="svlm_bench_"))
    try:
        make_demo_data(tmp / "data", train_scenes=args.scenes, val_scenes=max(1, args.scenes // 4),
                       objects_per_scene=args.objects, width=args.width, height=args.height)
        t0, c0 = time.perf_counter(), time.process_time()
        counts = build_tasks(tmp / "data", tmp / "tasks", mode=args.mode, use_dilated_mask=True)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        n = sum(counts.values())
        images = sum(1 for _ in (tmp / "tasks").rglob("*_marked.png")) + sum(1 for _ in (tmp / "tasks").rglob("*_concat.jpg"))
        print(f"images {args.width}x{args.height}, mode {args.mode}: {n} samples, {images} images written")
        print(f"wall {wall:.2f} s -> {n / wall * 60:,.0f} samples/min (wall, one process)")
        print(f"cpu  {cpu:.2f} s -> {n / cpu * 60:,.0f} samples/min (per core of CPU time)")
        print("target: >= 10,000 samples/min on one core")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
