"""Learned background module vs per-video background estimates, on panning-camera and static videos.

One run: makes a pan-camera training set (seed S) and held-out pan and static test sets (seed
S+1000, the same objects in both), pretrains the loci-background module on the pan training set
(no masks), and prints for each test set and background (median, farthest, learned):

- PSNR (dB) of the background colour against the true, noise-free background, on the pixels no
  object covers (uncovered) and on those it covers (under objects: inpainting);
- IoU of the foreground map against the true foreground (median/farthest: a colour difference to
  the estimate above 30 of 255 in some channel, the rule of median-cc; learned: logit > 0);
- fg-ari / matched-iou of the connected-component baselines median-cc, farthest-cc, learned-cc;
- with --seg-steps > 0, the unsupervised slot segmenter (`train --unsupervised`) trained on the pan
  set with the farthest background and with the learned one, scored on the pan test set.

    uv run python benchmarks/loci_background.py --bg-steps 600 --seg-steps 600

With --out-dir, a rerun after an interruption resumes the training runs instead of restarting them.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path


def resumable(run_dir: Path) -> tuple[bool, float]:
    """Whether a run folder from an earlier, interrupted benchmark can be resumed, and the training
    seconds it already spent (so a rerun with the same --out-dir does not train again)."""
    import json as _json

    if not (run_dir / "checkpoints" / "last" / "state.safetensors").exists():
        return False, 0.0
    log = run_dir / "train_log.json"
    spent = _json.loads(log.read_text())["result"]["train_seconds"] if log.exists() else 0.0
    return True, float(spent)


def psnr(a, b, where) -> float:
    import numpy as np

    mse = float(((a - b) ** 2)[where].mean())
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-10))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train-videos", type=int, default=64)
    ap.add_argument("--test-videos", type=int, default=32)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--bg-steps", type=int, default=600, help="background pretraining steps")
    ap.add_argument("--seg-steps", type=int, default=0, help="unsupervised slot-segmenter steps (0 = skip)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out-dir", default=None, help="keep data and runs here (default: a temp folder)")
    ap.add_argument("--out-json", default=None)
    args = ap.parse_args()

    import numpy as np
    import torch

    from mc_core.progress import set_quiet
    from mc_loci.background_train import pretrain_background
    from mc_loci.baselines import estimate_background, run_baseline
    from mc_loci.data.moving_shapes import MovingShapes, make_dataset, make_video
    from mc_loci.evaluate import evaluate
    from mc_loci.models.background import estimate_video, learned_cc, load_background_model

    set_quiet(True)
    torch.set_num_threads(args.threads)
    root = Path(args.out_dir) if args.out_dir else Path(tempfile.mkdtemp(prefix="loci_bg_"))
    size_kw = {"frames": args.frames, "size": args.size}
    make_dataset(root / "pan_train", videos=args.train_videos, seed=args.seed, camera_motion="pan",
                 progress_bar=False, **size_kw)
    tests = {}
    for cam in ("pan", "none"):
        make_dataset(root / f"test_{cam}", videos=args.test_videos, seed=args.seed + 1000, camera_motion=cam,
                     progress_bar=False, **size_kw)
        tests[cam] = MovingShapes(root / f"test_{cam}")

    resume, spent = resumable(root / "bg")
    res = pretrain_background(root / "pan_train", root / "bg", steps=args.bg_steps, device="cpu", seed=args.seed,
                              resume=resume, train_config={"ckpt_every": 100})
    bg_seconds = spent + res["train_seconds"]
    bg_model = load_background_model(res["checkpoint"])

    quality = {}
    for cam in tests:
        rows = {m: [] for m in ("median", "farthest", "learned")}
        for i in range(args.test_videos):
            v = make_video(args.seed + 1000, i, camera_motion=cam, with_background=True, **size_kw)
            true_fg = v["masks"] > 0
            uncovered = np.repeat(~true_fg[..., None], 3, -1)
            for m in rows:
                if m == "learned":
                    est = estimate_video(bg_model, v)
                    colour, fg = est["colour"], est["fg_logit"] > 0
                else:
                    colour = np.broadcast_to(estimate_background(v["rgb"], v["depth"], m)[0], v["rgb"].shape)
                    fg = np.abs(v["rgb"].astype(np.float32) - colour).max(-1) > 30
                rows[m].append((psnr(colour, v["background"], uncovered), psnr(colour, v["background"], ~uncovered),
                                (fg & true_fg).sum() / max(1, (fg | true_fg).sum())))
        quality[cam] = {m: dict(zip(("psnr_uncovered", "psnr_covered", "fg_iou"), np.mean(r, 0).tolist()))
                        for m, r in rows.items()}

    segmenters = {
        "median-cc": lambda v: run_baseline("median-cc", v["rgb"]),
        "farthest-cc": lambda v: run_baseline("farthest-cc", v["rgb"], v["depth"]),
        "learned-cc": lambda v: learned_cc(bg_model, v),
    }
    scores = {cam: {name: evaluate(ds, seg, method=name) for name, seg in segmenters.items()}
              for cam, ds in tests.items()}

    seg_info = {}
    if args.seg_steps > 0:
        from mc_core.checkpoint import load_checkpoint
        from mc_loci.models.slot_segmenter import SlotSegmenter, SlotSegmenterConfig, segment_video
        from mc_loci.train import train

        for name, background in (("slots+farthest", "farthest"), ("slots+learned", "learned")):
            resume, spent = resumable(root / f"seg_{background}")
            r = train(root / "pan_train", root / f"seg_{background}", steps=args.seg_steps, device="cpu",
                      seed=args.seed, bg_checkpoint=res["checkpoint"] if background == "learned" else None,
                      resume=resume, model_config={"appearance": "mean", "bg_depth": "estimate",
                                                   "background": background},
                      train_config={"mask_weight": 0.0, "recon_loss": "mixture", "ckpt_every": 100})
            seg_info[name] = spent + r["train_seconds"]
            ck = load_checkpoint(r["checkpoint"])
            model = SlotSegmenter(SlotSegmenterConfig.from_dict(ck.config["model"]))
            model.load_state_dict(ck.state_dict)
            for cam, ds in tests.items():
                scores[cam][name] = evaluate(ds, lambda v, m=model: segment_video(m, v), method=name)

    print(f"moving-shapes: {args.train_videos} pan training videos (seed {args.seed}), {args.test_videos} test "
          f"videos per camera (seed {args.seed + 1000}), {args.frames} frames, {args.size}x{args.size}; "
          f"{args.threads} CPU thread(s)")
    print(f"loci-background: {res['parameters']} parameters, {args.bg_steps} steps, {bg_seconds:.0f} s")
    for name, sec in seg_info.items():
        print(f"{name}: {args.seg_steps} steps, {sec:.0f} s")
    print(f"\n{'camera':6s} {'background':10s} {'PSNR uncov':>10s} {'PSNR under':>10s} {'fg IoU':>7s}")
    for cam, q in quality.items():
        for m, r in q.items():
            print(f"{cam:6s} {m:10s} {r['psnr_uncovered']:10.2f} {r['psnr_covered']:10.2f} {r['fg_iou']:7.3f}")
    print(f"\n{'camera':6s} {'method':15s} {'fg-ari':>7s} {'m-iou':>7s} {'fg-ari(v)':>9s} {'m-iou(v)':>9s}")
    for cam, sc in scores.items():
        for name, r in sc.items():
            print(f"{cam:6s} {name:15s} {r['fg_ari']:7.3f} {r['matched_iou']:7.3f} {r['fg_ari_video']:9.3f} "
                  f"{r['matched_iou_video']:9.3f}")
    if args.out_json:
        from mc_core.atomic import write_json

        for sc in scores.values():
            for r in sc.values():
                r.pop("per_video", None)
        write_json(args.out_json, {"quality": quality, "scores": scores, "bg_seconds": bg_seconds,
                                   "seg_seconds": seg_info, "args": vars(args)})
    print(json.dumps({"bg_seconds": round(bg_seconds, 1), **{k: round(v, 1) for k, v in seg_info.items()}}))


if __name__ == "__main__":
    main()
