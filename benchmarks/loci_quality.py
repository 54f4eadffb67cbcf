"""Quality of the slot-segmenter vs non-learned baselines on moving-shapes.

Makes a training set and a held-out test set (different seeds), trains the model briefly on the
CPU, and prints fg-ari / matched-iou (per frame and per whole video) of the model, the median-cc
baseline and the all-background baseline on the test set, with the training time.

    uv run python benchmarks/loci_quality.py --steps 600
"""

from __future__ import annotations

import json
import time

from loci_common import loci_parser, make_data, start


def main() -> None:
    ap = loci_parser(__doc__)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--mask-weight", type=float, default=1.0,
                    help="weight of the supervised mask loss (0 = reconstruction only, unsupervised)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()


    from mc_core.factory import load_model
    from mc_loci import VideoSegmenter
    from mc_loci.baselines import run_baseline
    from mc_loci.data.moving_shapes import MovingShapes
    from mc_loci.evaluation import evaluate
    from mc_loci.training import train

    root = start(args, "loci_quality_")
    make_data(root / "train", args, args.train_videos, args.seed)
    make_data(root / "test", args, args.test_videos, args.seed + 1000)
    t0 = time.perf_counter()
    res = train(root / "train", root / "run", steps=args.steps, device="cpu", seed=args.seed,
                train_config={"ckpt_every": 0, "mask_weight": args.mask_weight})
    train_s = time.perf_counter() - t0
    model = load_model(res.checkpoint, task="loci", protocol=VideoSegmenter)
    test = MovingShapes(root / "test")

    rows = []
    for method in ("all-background", "median-cc", "model"):
        t1 = time.perf_counter()
        if method == "model":
            seg = model.segment
        else:
            seg = lambda v, m=method: run_baseline(m, v["rgb"])  # noqa: E731
        r = evaluate(test, seg, method=method)
        r["seconds_per_video"] = (time.perf_counter() - t1) / len(test)
        rows.append(r)

    print(f"moving-shapes: {args.train_videos} train / {args.test_videos} test videos, {args.frames} frames, "
          f"{args.size}x{args.size}; model {res.parameters} parameters, {args.steps} steps "
          f"(batch 8 clips x 4 frames, mask weight {args.mask_weight}), training {train_s:.0f} s on {args.threads} CPU thread(s)")
    print(f"{'method':16s} {'fg-ari':>8s} {'m-iou':>8s} {'fg-ari(vid)':>12s} {'m-iou(vid)':>11s} {'s/video':>8s}")
    for r in rows:
        print(f"{r['method']:16s} {r['fg_ari']:8.3f} {r['matched_iou']:8.3f} {r['fg_ari_video']:12.3f} "
              f"{r['matched_iou_video']:11.3f} {r['seconds_per_video']:8.3f}")
    if args.out_json:
        from mc_core.atomic import write_json

        for r in rows:
            r.pop("per_video")
        write_json(args.out_json, {"train_seconds": train_s, "steps": args.steps, "parameters": res.parameters,
                                   "rows": rows})
    print(json.dumps({"train_seconds": round(train_s, 1)}))


if __name__ == "__main__":
    main()
