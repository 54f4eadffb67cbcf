"""RandAR NLL (bits/pixel) on held-out real NLCD patches vs classical lossless codecs.

Cuts patches from a real NLCD raster into spatially separate train/test blocks (the same code as
`mc landcover prepare`), trains a small RandAR on the train blocks on the CPU for a fixed number
of steps (through the same `train` code as `mc landcover train`), then compares on the TEST
patches, measured in one run:

* the model's negative log-likelihood in bits per pixel (random order, averaged over orders; and
  raster order), which is the size an arithmetic coder driven by the model would reach
  (within a few bytes per patch);
* the baselines of `mc landcover eval-perplexity` (the same library function,
  `mc_landcover.analysis.perplexity.eval_perplexity`): JPEG XL (effort 10), WebP and xz per patch and
  all test patches in one file, adaptive context models per patch (W/N, W/N/NW/NE) and
  `context-model-primed` (counts start from the train split).

Test patches are cut every `--size` pixels (no two overlap) from the test blocks; the train split
used for priming is cut the same way from the train blocks (the same block grid and seed as the
training data, so the same blocks are held out).

Usage (development data; the default raster is the Zion NLCD crop):
    uv run python benchmarks/landcover_nll.py --steps 400
    uv run python benchmarks/landcover_nll.py --size 32 --checkpoint runs/cpu32/checkpoints/final
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--raster", default="/work/shared/data/nlcd/zion_nlcd2011.tif")
    ap.add_argument("--size", type=int, default=16)
    ap.add_argument("--stride", type=int, default=8, help="train patch stride (test patches are scored as cut)")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--n-layer", type=int, default=3)
    ap.add_argument("--n-embd", type=int, default=48)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--orders", type=int, default=4, help="random orders averaged in the test NLL")
    ap.add_argument("--max-test", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out-dir", default=None, help="keep the run here (default: a temporary folder)")
    ap.add_argument("--checkpoint", default=None, help="score this checkpoint instead of training one")
    args = ap.parse_args()

    import torch

    from mc_core.progress import set_quiet
    from mc_landcover.analysis.perplexity import eval_perplexity
    from mc_landcover.data.nlcd import prepare_patches, save_patches
    from mc_landcover.loading import load_landcover_model
    from mc_landcover.train import train

    torch.set_num_threads(args.threads)
    set_quiet(True)
    out = Path(args.out_dir) if args.out_dir else Path(tempfile.mkdtemp(prefix="lc_nll_"))
    out.mkdir(parents=True, exist_ok=True)
    # block = 4 x size and seed 0 in both: the same blocks are held out
    evaluation = save_patches(prepare_patches(args.raster, size=args.size, stride=args.size, test_fraction=0.2,
                                              seed=0, progress_desc=None), out / f"eval_{args.size}.npz")
    train_info = {}
    checkpoint = args.checkpoint
    if checkpoint is None:
        prepared = prepare_patches(args.raster, size=args.size, stride=args.stride, test_fraction=0.2, seed=0,
                                   progress_desc=None)
        data = save_patches(prepared, out / f"data_{args.size}.npz")
        cfg = {
            "model": {"name": "randar", "size": args.size, "n_layer": args.n_layer, "n_embd": args.n_embd,
                      "n_head": args.n_head, "mlp_ratio": 4.0, "order": "random"},
            "train": {"batch_size": args.batch_size, "lr": args.lr, "weight_decay": 0.01, "warmup_steps": 20,
                      "max_steps": args.steps, "grad_clip": 1.0, "log_every": 25, "vis_every": 0,
                      "ckpt_every": 0, "n_vis": 16, "gen_steps": 8, "seed": 0, "eval_patches": 0},
        }
        t0 = time.perf_counter()
        result = train(cfg, data=str(data), out_dir=str(out / "run"), device="cpu")
        checkpoint = result["checkpoint"]
        train_info = {"steps": args.steps, "batch_size": args.batch_size, "cpu_train_seconds":
                      round(time.perf_counter() - t0, 1), "cpu_threads": args.threads,
                      "n_train_patches": int(len(prepared.train))}
    model = load_landcover_model(checkpoint, device="cpu")
    res = eval_perplexity(checkpoint, evaluation, n_maps=args.max_test, n_orders=args.orders, seed=123,
                          device="cpu")
    base = res["baselines"]
    best_codec = min((k for k in base if not k.startswith("context-model")), key=base.get)
    report = {
        "raster": args.raster, "patch_size": args.size, "checkpoint": str(checkpoint),
        "n_test_patches_scored": res["n_maps"], "test_blocks_disjoint_from_train": True,
        "model": {"parameters": model.num_parameters(), **train_info},
        "model_bits_per_pixel_random_order": round(res["bits_per_pixel"], 4),
        "model_bits_per_pixel_random_order_spread": [round(res["random_orders"]["bits_per_pixel_min"], 4),
                                                     round(res["random_orders"]["bits_per_pixel_max"], 4)],
        "model_bits_per_pixel_raster_order": round(res["raster_order"]["bits_per_pixel"], 4),
        "baselines_bits_per_pixel": {k: round(v, 4) for k, v in base.items()},
        "best_codec": best_codec,
        "best_primed_context_model": res.get("best_primed"),
        "ratio_model_to_best_primed": round(res.get("ratio_to_best_primed", float("nan")), 3),
        "target_ratio_0.85_met": res.get("ratio_to_best_primed", float("inf")) <= 0.85,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
