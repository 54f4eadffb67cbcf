"""Inpainting accuracy on held-out real NLCD patches: RandAR vs nearest-neighbour vs mode vs Potts.

    uv run python benchmarks/landcover_inpaint.py --data data_8.npz --checkpoint run/checkpoints/final
    uv run python benchmarks/landcover_inpaint.py            # prepares + trains a tiny model itself (CPU)

Without --data it cuts 8x8 patches from the real NLCD raster in ../shared/data (train and test
from spatially separate blocks) with `mc landcover prepare`; without --checkpoint it trains the
shipped `tiny` config (at --size) on the train split (--train-steps; a plain AdamW loop, see train_quick). Every method
sees the same test maps and the same masks (default: a centred interior rectangle hiding 25%).

Prints, per method: argmax accuracy over hidden pixels with a 95% t-interval over images, sampled
accuracy, log loss (bits/pixel), macro F1 and class-proportion error, then PAIRED differences
(model - nearest, nearest - mode) with 95% t-intervals over the same images, and the target check
"model > nearest > mode".
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RASTER = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nlcd" / "zion_nlcd2011.tif"


def ensure_data_and_model(args) -> tuple[Path, str, Path | None]:
    """Prepared patches and a trained checkpoint, made with the mc CLI when not given."""
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    data = Path(args.data) if args.data else work / f"data_{args.size}.npz"
    if not data.exists():
        raster = Path(args.raster)
        if not raster.exists():
            sys.exit(f"no --data and no raster at {raster}")
        subprocess.run([sys.executable, "-m", "mc_core", "landcover", "prepare", "--raster", str(raster),
                        "--size", str(args.size), "--stride", str(args.size // 2), "--test-fraction", "0.2",
                        "--out", str(data), "--quiet"], check=True)
    ckpt = Path(args.checkpoint) if args.checkpoint else None
    if ckpt is None and not args.no_model:
        ckpt = work / f"run_tiny{args.size}_{args.train_steps}" / "final"
        if not ckpt.exists():
            train_quick(data, args.size, args.train_steps, ckpt, args.seed)
    return data, args.config, ckpt


def train_quick(data: Path, size: int, steps: int, out: Path, seed: int = 0, batch: int = 64) -> None:
    """Train the shipped `tiny` RandAR config at `size` on the train split: a plain single-process
    AdamW loop (warm-up + cosine, clipping) in this script, because `mc landcover train` (through
    accelerate) ran about 10x slower per step on the shared 2-core machine at the time of writing."""
    import math

    import torch

    from mc_core.checkpoint import fingerprint_files, save_checkpoint
    from mc_landcover.config_files import load_config
    from mc_landcover.inpaint.data import load_maps
    from mc_landcover.models.randar import RandAR

    torch.manual_seed(seed)
    cfg = {**load_config("tiny")["model"], "size": size}
    cfg.pop("name", None)
    model = RandAR(cfg)
    maps = torch.from_numpy(load_maps(data, "train"))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01, betas=(0.9, 0.95))
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    g = torch.Generator().manual_seed(seed)
    t0 = time.time()
    for step in range(steps):
        idx = torch.randint(0, len(maps), (batch,), generator=g)
        loss = model.loss(maps[idx], generator=g)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if (step + 1) % max(1, steps // 10) == 0:
            print(f"  step {step + 1}/{steps}: loss {loss.item():.3f} nats/pixel ({time.time() - t0:.0f} s)", flush=True)
    save_checkpoint(out, model.state_dict(), model="randar", config={"model": cfg},
                    meta={"steps": steps, "batch_size": batch, "data": fingerprint_files([data]),
                          "trainer": "benchmarks/landcover_inpaint.py:train_quick"})
    print(f"trained tiny RandAR (size {size}, {model.num_parameters()} parameters) for {steps} steps of "
          f"{batch} maps in {time.time() - t0:.0f} s (CPU, shared machine)")


def per_image_accuracy(argmax, truth, hidden):
    return np.array([(argmax[i][hidden[i]] == truth[i][hidden[i]]).mean() for i in range(len(truth))])


def paired(a, b):
    from mc_landcover.inpaint.metrics import mean_interval

    return mean_interval(np.asarray(a) - np.asarray(b))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None)
    ap.add_argument("--config", default=None, help="config to check the checkpoint against [default: its own]")
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--raster", default=str(RASTER))
    ap.add_argument("--size", type=int, default=8, help="patch size when preparing data / training")
    ap.add_argument("--train-steps", type=int, default=1500)
    ap.add_argument("--work-dir", default=".bench/landcover")
    ap.add_argument("--no-model", action="store_true", help="baselines only")
    ap.add_argument("--n-images", type=int, default=300)
    ap.add_argument("--mask-type", default="interior", choices=["interior", "random"])
    ap.add_argument("--mask-ratio", type=float, default=0.25)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--save-results", default=None)
    args = ap.parse_args()

    import torch

    from mc_core.progress import set_quiet
    from mc_landcover.inpaint.data import load_maps, select_maps
    from mc_landcover.inpaint.masks import make_masks
    from mc_landcover.inpaint.potts import fit_potts
    from mc_landcover.inpaint.run import evaluate, training_prior
    from mc_landcover.legend import NAMES, NUM_CLASSES

    set_quiet(True)
    torch.set_num_threads(1)  # the fastest on a shared, oversubscribed 2-core machine
    data, config, ckpt = ensure_data_and_model(args)
    rng = np.random.default_rng(args.seed)
    test = select_maps(load_maps(data, "test"), args.n_images, None, rng, data)
    train = load_maps(data, "train")
    hidden = make_masks(len(test), test.shape[1], test.shape[2], args.mask_type, args.mask_ratio, rng)
    prior = training_prior(train, NUM_CLASSES)
    t0 = time.perf_counter()
    potts = fit_potts(train, NUM_CLASSES, rng=np.random.default_rng(args.seed))
    potts_fit_s = time.perf_counter() - t0
    model = None
    if ckpt is not None:
        from mc_landcover.loading import load_landcover_model

        model = load_landcover_model(ckpt, config=config, device=args.device)
    print(f"data: {data} ({len(train)} train / {load_maps(data, 'test').shape[0]} test patches of "
          f"{test.shape[1]}x{test.shape[2]}); evaluated on {len(test)} test patches, {args.mask_type} mask, "
          f"ratio {args.mask_ratio} ({int(hidden[0].sum())} hidden pixels per patch for interior)")
    print(f"Potts: beta={potts.beta:.3f}, fitted by pseudo-likelihood in {potts_fit_s:.1f} s")
    if model is not None:
        print(f"model: randar size {model.size}, {model.num_parameters()} parameters, checkpoint {ckpt}")
    methods = ["mode", "nearest", "potts"] + (["randar"] if model is not None else [])
    results, per_img = {}, {}
    print(f"\n{'method':8s} {'accuracy [95% CI]':>28s} {'sampled':>8s} {'logloss b':>10s} {'macroF1':>8s} "
          f"{'prop.err':>9s} {'seconds':>8s}")
    for m in methods:
        frng = np.random.default_rng([args.seed, methods.index(m)])
        infill, res = evaluate(m, test, hidden, NUM_CLASSES, frng, class_names=NAMES, model=model, potts=potts,
                               prior=prior, device=args.device, seed=args.seed)
        results[m] = res
        per_img[m] = per_image_accuracy(infill.argmax, test, hidden)
        a = res["accuracy"]
        print(f"{m:8s} {a['mean']:.4f} [{a['low']:.4f}, {a['high']:.4f}]     {res['sampled_accuracy']['mean']:8.4f} "
              f"{res['log_loss_bits']['mean']:10.3f} {res['macro_f1']:8.3f} "
              f"{res['class_proportion_error']['mean']:9.4f} {res['fill_seconds']:8.1f}")
    print("\npaired differences in argmax accuracy (same images), mean [95% CI]:")
    pairs = [("nearest", "mode"), ("potts", "nearest")]
    if model is not None:
        pairs = [("randar", "nearest"), ("randar", "potts")] + pairs
    diffs = {}
    for a, b in pairs:
        d = paired(per_img[a], per_img[b])
        diffs[f"{a}-{b}"] = d
        print(f"  {a:8s} - {b:8s}: {d['mean']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]")
    if model is not None:
        ok = diffs["randar-nearest"]["low"] > 0 and diffs["nearest-mode"]["low"] > 0
        print(f"\ntarget model > nearest > mode (paired 95% intervals above 0): {'MET' if ok else 'NOT MET'}")
    if args.save_results:
        Path(args.save_results).write_text(json.dumps({"results": results, "paired": diffs}, indent=2))


if __name__ == "__main__":
    main()
