"""Unsupervised vs supervised slot-segmenter vs non-learned baselines on moving-shapes.

Makes a training set and a held-out test set (different seeds), trains the slot-segmenter twice on
one CPU thread (supervised: Hungarian-matched mask loss + reconstruction; unsupervised: the
`mc loci train --unsupervised` recipe, reconstruction only, no true masks), and prints fg-ari /
matched-iou (per frame and per whole video) on the test set for both models and the baselines
all-background, median-cc and farthest-cc, with the training times.

    uv run python benchmarks/loci_unsupervised.py --sup-steps 600 --unsup-steps 1000
"""

from __future__ import annotations

import json
import time

from loci_common import loci_parser, make_data, start

UNSUPERVISED_MODEL = {"appearance": "mean", "bg_depth": "estimate", "background": "farthest"}
UNSUPERVISED_TRAIN = {"mask_weight": 0.0, "recon_loss": "mixture"}


def main() -> None:
    ap = loci_parser(__doc__)
    ap.add_argument("--sup-steps", type=int, default=600, help="supervised training steps (0 = skip)")
    ap.add_argument("--unsup-steps", type=int, default=1000, help="unsupervised training steps")
    ap.add_argument("--usage-weight", type=float, default=0.0, help="slot-sparsity prior (unsupervised)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()


    from mc_core.factory import load_model
    from mc_loci import VideoSegmenter
    from mc_loci.baselines import run_baseline
    from mc_loci.data.moving_shapes import MovingShapes
    from mc_loci.evaluation import evaluate
    from mc_loci.training import train

    root = start(args, "loci_unsup_")
    make_data(root / "train", args, args.train_videos, args.seed)
    make_data(root / "test", args, args.test_videos, args.seed + 1000)
    test = MovingShapes(root / "test")

    runs = []
    if args.sup_steps > 0:
        runs.append(("supervised", args.sup_steps, {}, {}))
    runs.append(("unsupervised", args.unsup_steps, UNSUPERVISED_MODEL,
                 {**UNSUPERVISED_TRAIN, "usage_weight": args.usage_weight}))
    models, info = {}, {}
    for name, steps, mcfg, tcfg in runs:
        t0 = time.perf_counter()
        res = train(root / "train", root / f"run_{name}", steps=steps, device="cpu", seed=args.seed,
                    model_config=mcfg, train_config={"ckpt_every": 0, **tcfg})
        info[name] = {"steps": steps, "train_seconds": time.perf_counter() - t0, "parameters": res.parameters}
        model = load_model(res.checkpoint, task="loci", protocol=VideoSegmenter)
        models[name] = model

    rows = []
    for method in ("all-background", "median-cc", "farthest-cc", *models):
        t1 = time.perf_counter()
        if method in models:
            seg = models[method].segment
        else:
            seg = lambda v, m=method: run_baseline(m, v["rgb"], v["depth"])  # noqa: E731
        r = evaluate(test, seg, method=method)
        r["seconds_per_video"] = (time.perf_counter() - t1) / len(test)
        rows.append(r)

    print(f"moving-shapes: {args.train_videos} train / {args.test_videos} test videos (seeds {args.seed} / "
          f"{args.seed + 1000}), {args.frames} frames, {args.size}x{args.size}; batch 8 clips x 4 frames, "
          f"{args.threads} CPU thread(s)")
    for name, i in info.items():
        print(f"  {name}: {i['steps']} steps, {i['parameters']} parameters, training {i['train_seconds']:.0f} s")
    print(f"{'method':16s} {'fg-ari':>8s} {'m-iou':>8s} {'fg-ari(vid)':>12s} {'m-iou(vid)':>11s} {'s/video':>8s}")
    for r in rows:
        print(f"{r['method']:16s} {r['fg_ari']:8.3f} {r['matched_iou']:8.3f} {r['fg_ari_video']:12.3f} "
              f"{r['matched_iou_video']:11.3f} {r['seconds_per_video']:8.3f}")
    if args.out_json:
        from mc_core.atomic import write_json

        for r in rows:
            r.pop("per_video")
        write_json(args.out_json, {"runs": info, "rows": rows, "args": vars(args)})
    print(json.dumps({k: round(v["train_seconds"], 1) for k, v in info.items()}))


if __name__ == "__main__":
    main()
