"""Learned background module vs per-video background estimates, on panning-camera and static videos,
and what the slot segmenter makes of each.

One run, per seed S (``--seeds``, default 0): makes a pan-camera training set (seed S) and held-out
pan and static test sets (seed S+1000, the same objects in both), pretrains the loci-background
module on the pan training set (no masks) twice, reading RGB and depth and reading RGB only (the
colour-only control), and prints for each test set:

- background quality (median, farthest, learned, learned RGB-only): PSNR (dB) of the background
  colour against the true, noise-free background, on the pixels no object covers (uncovered) and on
  those it covers (under objects: inpainting), and the IoU of the foreground map against the true
  foreground (median/farthest: a colour difference to the estimate above 30 of 255 in some channel,
  the rule of median-cc; farthest+depth: a depth nearer than the estimate's by more than 0.1, the
  rule of farthest-depth-cc;
  learned: foreground logit > 0);
- fg-ari / matched-iou of the connected-component baselines median-cc, farthest-cc,
  farthest-depth-cc, learned-cc and learned-cc with the RGB-only module;
- the unsupervised slot segmenter (`train --unsupervised`, trained on the pan set) with the farthest
  background and with the learned one, the latter with each way of using the module's foreground
  logit (`--fg-evidence none|input|prior`), each also with diagnostics of where it goes wrong: pixel
  precision and recall of its foreground (argmax not background) and the fraction of true
  background pixels that some slot's component explains better than the background component.

With several seeds (``--seeds 0 1``), the seeds after the first repeat only the headline: the
depth-reading module, farthest-cc, farthest-depth-cc, learned-cc and the slot segmenters; a last
table gives the mean and the per-seed values.

    uv run python benchmarks/loci_background.py --bg-steps 600 --seg-steps 500 --seeds 0 1 2 3

Runtime on one thread of a 2-core CPU shared with another training job: about 18 minutes for seed 0
(15 of them training: two modules of ~3 min, four slot segmenters of 1-3 min) and about 12 more per
further seed, so about an hour for the four seeds of the README. With --out-dir, a rerun after an
interruption resumes the training runs instead of restarting them (and finished runs are not
repeated; then a four-seed run takes about 5 minutes of evaluation).
"""

from __future__ import annotations

import time
from pathlib import Path

from loci_common import loci_parser, make_data, start

# the slot segmenters compared: (name, background, fg_evidence)
SLOT_VARIANTS = (("slots+farthest", "farthest", "none"), ("slots+learned", "learned", "none"),
                 ("slots+learned+input", "learned", "input"), ("slots+learned+prior", "learned", "prior"))


def resumable(run_dir: Path) -> bool:
    """Whether a run folder from an earlier, interrupted benchmark can be resumed (so a rerun with
    the same --out-dir does not train again; the training seconds reported add up all invocations)."""
    return (run_dir / "checkpoints" / "last" / "state.safetensors").exists()


def psnr(a, b, where) -> float:
    import numpy as np

    mse = float(((a - b) ** 2)[where].mean())
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-10))


def iou(a, b) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def background_quality(args, seed: int, cam: str, modules: dict) -> dict:
    """Mean over the test videos of PSNR uncovered / under objects and foreground IoU per background."""
    import numpy as np

    from mc_loci.baselines import colour_foreground, depth_foreground, estimate_background
    from mc_loci.data.moving_shapes import make_video
    from mc_loci.models.background import estimate_video

    names = ["median", "farthest", "farthest+depth", *modules]
    rows = {m: [] for m in names}
    for i in range(args.test_videos):
        v = make_video(seed + 1000, i, camera_motion=cam, with_background=True, frames=args.frames, size=args.size)
        true_fg = v["masks"] > 0
        uncovered = np.repeat(~true_fg[..., None], 3, -1)
        for m in names:
            if m in modules:
                est = estimate_video(modules[m], v)
                colour, fg = est["colour"], est["fg_logit"] > 0
            else:
                colour, bg_depth = estimate_background(v["rgb"], v["depth"], m.split("+")[0])
                colour = np.broadcast_to(colour, v["rgb"].shape)
                fg = depth_foreground(v["depth"], bg_depth) if m.endswith("+depth") else colour_foreground(v["rgb"], colour)
            rows[m].append((psnr(colour, v["background"], uncovered), psnr(colour, v["background"], ~uncovered),
                            iou(fg, true_fg)))
    return {m: dict(zip(("psnr_uncovered", "psnr_covered", "fg_iou"), np.mean(r, 0).tolist())) for m, r in rows.items()}


def slot_diagnostics(model, data, sigma: float) -> dict:
    """Where the slot segmenter's foreground goes wrong, over a test set: pixel precision and recall
    of its foreground (argmax not background), the share of the frame it gives the background, and
    the fraction of true background pixels where some slot's component (colour and depth) is nearer
    the frame than the background component, with the background component's mean squared error
    there in units of the mixture's 2 sigma^2 (the per-pixel cost it pays in the mixture NLL); and
    how it groups, per frame: object coverage, the mean over true objects of the largest share of
    the object's pixels that one predicted id (a slot, or the background) holds (below 1: split or
    lost), and slot purity, the mean over predicted slots of the largest share of the slot's pixels
    that lie on one true object or on the background (below 1: merged)."""
    import numpy as np
    import torch

    from mc_loci.models.slot_segmenter import video_tensors

    model.eval()
    tp = fp = fn = bg_pred = n = slot_better = bg_px = 0
    bg_cost = 0.0
    coverage, purity = [], []
    for i in range(len(data)):
        v = data[i]
        with torch.no_grad():
            rgb, depth, bg = video_tensors(v, "cpu", model.config.background)
            out = model(rgb, depth, bg)
            err = ((out["comp_rgb"] - rgb[:, :, None]) ** 2).sum(3) + ((out["comp_depth"] - depth[:, :, None]) ** 2).sum(3)
        err = err[0].numpy()  # (T,1+K,H,W)
        ids = out["logits"][0].argmax(1).numpy()
        pred_fg = ids > 0
        for p, m in zip(ids, v["masks"]):
            coverage += [np.bincount(p[m == j]).max() / (m == j).sum() for j in np.unique(m) if j > 0]
            purity += [np.bincount(m[p == k]).max() / (p == k).sum() for k in np.unique(p) if k > 0]
        true_fg = v["masks"] > 0
        tp += int((pred_fg & true_fg).sum())
        fp += int((pred_fg & ~true_fg).sum())
        fn += int((~pred_fg & true_fg).sum())
        bg_pred += int((~pred_fg).sum())
        n += pred_fg.size
        on_bg = ~true_fg
        bg_px += int(on_bg.sum())
        slot_better += int(((err[:, 1:].min(1) < err[:, 0]) & on_bg).sum())
        bg_cost += float((err[:, 0] / (2 * sigma * sigma))[on_bg].sum())
    return {"fg_precision": tp / max(1, tp + fp), "fg_recall": tp / max(1, tp + fn), "bg_share": bg_pred / n,
            "slot_better_on_bg": slot_better / max(1, bg_px), "bg_cost_on_bg": bg_cost / max(1, bg_px),
            "object_coverage": float(np.mean(coverage)), "slot_purity": float(np.mean(purity))}


def run_seed(args, seed: int, root: Path, full: bool) -> dict:
    """Data, pretraining, baselines and slot segmenters of one seed; returns its figures."""
    from mc_core.factory import load_model
    from mc_loci import VideoSegmenter
    from mc_loci.background_train import pretrain_background
    from mc_loci.baselines import run_baseline
    from mc_loci.data.moving_shapes import MovingShapes
    from mc_loci.evaluation import evaluate
    from mc_loci.models.background import learned_cc, load_background
    from mc_loci.training import DEFAULT_TRAIN, train

    make_data(root / "pan_train", args, args.train_videos, seed, camera_motion="pan")
    tests = {}
    for cam in ("pan", "none"):
        make_data(root / f"test_{cam}", args, args.test_videos, seed + 1000, camera_motion=cam)
        tests[cam] = MovingShapes(root / f"test_{cam}")

    seconds, modules, checkpoints = {}, {}, {}
    for name, depth_input in (("learned", True), ("learned-rgb", False))[: 2 if full else 1]:
        run_dir = root / ("bg" if depth_input else "bg_rgb")
        resume = resumable(run_dir)
        res = pretrain_background(root / "pan_train", run_dir, steps=args.bg_steps, device="cpu", seed=seed,
                                  resume=resume, model_config={"depth_input": depth_input},
                                  train_config={"ckpt_every": 100})
        seconds[f"pretrain {name}"] = res.train_seconds
        checkpoints[name] = res.checkpoint
        modules[name] = load_background(res.checkpoint)

    quality = {cam: background_quality(args, seed, cam, modules) for cam in tests} if full else {}
    segmenters = {
        "median-cc": lambda v: run_baseline("median-cc", v["rgb"]),
        "farthest-cc": lambda v: run_baseline("farthest-cc", v["rgb"], v["depth"]),
        "farthest-depth-cc": lambda v: run_baseline("farthest-depth-cc", v["rgb"], v["depth"]),
        **{f"{name}-cc": (lambda v, m=m: learned_cc(m, v)) for name, m in modules.items()},
    }
    if not full:
        segmenters = {k: segmenters[k] for k in ("farthest-cc", "farthest-depth-cc", "learned-cc")}
    scores = {cam: {name: evaluate(ds, seg, method=name) for name, seg in segmenters.items()}
              for cam, ds in tests.items()}

    diagnostics = {cam: {} for cam in tests}
    for name, background, fg_evidence in SLOT_VARIANTS if args.seg_steps > 0 else ():
        run_dir = root / f"seg_{name.split('+', 1)[1].replace('+', '_')}"
        resume = resumable(run_dir)
        r = train(root / "pan_train", run_dir, steps=args.seg_steps, device="cpu", seed=seed,
                  bg_checkpoint=checkpoints["learned"] if background == "learned" else None, resume=resume,
                  model_config={"appearance": "mean", "bg_depth": "estimate", "background": background,
                                "fg_evidence": fg_evidence},
                  train_config={"mask_weight": 0.0, "recon_loss": "mixture", "ckpt_every": 100})
        seconds[name] = r.train_seconds
        model = load_model(r.checkpoint, task="loci", protocol=VideoSegmenter)
        for cam, ds in tests.items():
            scores[cam][name] = evaluate(ds, model.segment, method=name)
            if full:
                diagnostics[cam][name] = slot_diagnostics(model, ds, float(DEFAULT_TRAIN["sigma"]))
    for sc in scores.values():
        for r in sc.values():
            r.pop("per_video", None)
            r.pop("definitions", None)
    return {"seed": seed, "quality": quality, "scores": scores, "diagnostics": diagnostics, "seconds": seconds}


def print_seed(res: dict) -> None:
    print(f"\n=== seed {res['seed']} ===")
    print("training seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in res["seconds"].items()))
    if res["quality"]:
        print(f"\n{'camera':6s} {'background':14s} {'PSNR uncov':>10s} {'PSNR under':>10s} {'fg IoU':>7s}")
        for cam, q in res["quality"].items():
            for m, r in q.items():
                print(f"{cam:6s} {m:14s} {r['psnr_uncovered']:10.2f} {r['psnr_covered']:10.2f} {r['fg_iou']:7.3f}")
    print(f"\n{'camera':6s} {'method':20s} {'fg-ari':>7s} {'m-iou':>7s} {'fg-ari(v)':>9s} {'m-iou(v)':>9s}")
    for cam, sc in res["scores"].items():
        for name, r in sc.items():
            print(f"{cam:6s} {name:20s} {r['fg_ari']:7.3f} {r['matched_iou']:7.3f} {r['fg_ari_video']:9.3f} "
                  f"{r['matched_iou_video']:9.3f}")
    if any(res["diagnostics"].values()):
        print(f"\n{'camera':6s} {'slot model':20s} {'fg prec':>7s} {'fg rec':>7s} {'bg share':>8s} "
              f"{'slot<bg on bg':>13s} {'bg cost':>7s} {'coverage':>8s} {'purity':>6s}")
        for cam, dg in res["diagnostics"].items():
            for name, d in dg.items():
                print(f"{cam:6s} {name:20s} {d['fg_precision']:7.3f} {d['fg_recall']:7.3f} {d['bg_share']:8.3f} "
                      f"{d['slot_better_on_bg']:13.3f} {d['bg_cost_on_bg']:7.3f} {d['object_coverage']:8.3f} "
                      f"{d['slot_purity']:6.3f}")


def print_over_seeds(results: list[dict]) -> None:
    import numpy as np

    seeds = [r["seed"] for r in results]
    print(f"\n=== over seeds {seeds}: mean fg-ari / matched-iou per frame (per seed in brackets) ===")
    for cam in results[0]["scores"]:
        for name in results[-1]["scores"][cam]:
            fa = [r["scores"][cam][name]["fg_ari"] for r in results]
            mi = [r["scores"][cam][name]["matched_iou"] for r in results]
            print(f"{cam:6s} {name:20s} {np.mean(fa):.3f} [{' '.join(f'{x:.3f}' for x in fa)}]  "
                  f"{np.mean(mi):.3f} [{' '.join(f'{x:.3f}' for x in mi)}]")


def main() -> None:
    ap = loci_parser(__doc__)
    ap.add_argument("--bg-steps", type=int, default=600, help="background pretraining steps")
    ap.add_argument("--seg-steps", type=int, default=500, help="unsupervised slot-segmenter steps (0 = skip)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0],
                    help="data and training seeds; the ones after the first repeat only the headline")
    args = ap.parse_args()

    t0 = time.perf_counter()
    root = start(args, "loci_bg_")
    print(f"moving-shapes: {args.train_videos} pan training videos (seed S), {args.test_videos} test videos per "
          f"camera (seed S+1000), {args.frames} frames, {args.size}x{args.size}; {args.threads} CPU thread(s); "
          f"loci-background {args.bg_steps} steps, slot segmenters {args.seg_steps} steps")
    results = []
    for j, seed in enumerate(args.seeds):
        results.append(run_seed(args, seed, root / f"seed{seed}", full=j == 0))
        print_seed(results[-1])
    if len(results) > 1:
        print_over_seeds(results)
    wall = time.perf_counter() - t0
    print(f"\nwall time of this run: {wall:.0f} s (training already done in --out-dir is not repeated)")
    if args.out_json:
        from mc_core.atomic import write_json

        write_json(args.out_json, {"results": results, "args": vars(args), "wall_seconds": wall})


if __name__ == "__main__":
    main()
