"""RandAR NLL (bits/pixel) on held-out real NLCD patches vs classical lossless codecs.

Cuts patches from a real NLCD raster into spatially separate train/test blocks (the same code as
`mc landcover prepare`), trains a small RandAR on the train blocks on the CPU for a fixed number
of steps (through the same `train` code as `mc landcover train`), then compares on the TEST
patches, measured in one run:

* the model's negative log-likelihood in bits per pixel (random order, averaged over orders; and
  raster order), which is the size an arithmetic coder driven by the model would reach
  (within a few bytes per patch);
* PNG (optimize), WebP lossless, JPEG XL lossless (effort 9) and xz (preset 9e) on the raw bytes,
  each patch compressed on its own (the same unit the model scores), and, for reference, all
  test patches stacked into one image / one byte string (codecs then share context across
  patches, which the model does not).

Usage (development data; the default raster is the Zion NLCD crop):
    uv run python benchmarks/landcover_nll.py --steps 400
"""

from __future__ import annotations

import argparse
import io
import json
import lzma
import math
import tempfile
import time
from pathlib import Path

import numpy as np


def codec_bits(maps: np.ndarray) -> dict[str, float]:
    import imagecodecs
    from PIL import Image

    n = maps.size

    def png(a):
        b = io.BytesIO()
        Image.fromarray(a).save(b, format="PNG", optimize=True)
        return len(b.getvalue())

    def webp(a):  # WebP is RGB(A) only: grey replicated to 3 channels
        return len(imagecodecs.webp_encode(np.repeat(a[..., None], 3, 2), lossless=True))

    def jxl(a):
        return len(imagecodecs.jpegxl_encode(a, lossless=True, effort=9))

    def xz(a):
        return len(lzma.compress(a.tobytes(), preset=9 | lzma.PRESET_EXTREME))

    per_patch = {name: sum(f(m) for m in maps) * 8 / n for name, f in
                 (("png", png), ("webp_lossless", webp), ("jpegxl_lossless", jxl), ("xz", xz))}
    stacked = np.ascontiguousarray(maps.reshape(-1, maps.shape[-1]))
    together = {name: f(stacked) * 8 / n for name, f in
                (("png", png), ("webp_lossless", webp), ("jpegxl_lossless", jxl), ("xz", xz))}
    return {"per_patch": per_patch, "all_patches_in_one_file": together}


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
    args = ap.parse_args()

    import torch

    from mc_core.progress import set_quiet
    from mc_landcover.data.nlcd import prepare_patches, save_patches
    from mc_landcover.loading import load_landcover_model
    from mc_landcover.train import train

    torch.set_num_threads(args.threads)
    set_quiet(True)
    prepared = prepare_patches(args.raster, size=args.size, stride=args.stride, test_fraction=0.2, seed=0,
                               progress_desc=None)
    test_full = prepare_patches(args.raster, size=args.size, stride=args.size, test_fraction=0.2, seed=0,
                                progress_desc=None).test[:, 0]
    rng = np.random.default_rng(0)
    test = test_full[np.sort(rng.permutation(len(test_full))[: args.max_test])]
    out = Path(args.out_dir) if args.out_dir else Path(tempfile.mkdtemp(prefix="lc_nll_"))
    out.mkdir(parents=True, exist_ok=True)
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
    train_s = time.perf_counter() - t0
    tok_s = args.steps * args.batch_size * args.size ** 2 / max(result["train_seconds"], 1e-9)

    model = load_landcover_model(result["checkpoint"], device="cpu")
    x = torch.as_tensor(test).long()
    g = torch.Generator().manual_seed(123)
    L = model.num_pixels
    with torch.no_grad():
        per_order = []
        for _ in range(args.orders):
            nll = 0.0
            for i in range(0, len(x), 64):
                xb = x[i:i + 64]
                nll += float(-model.log_likelihood(xb, model.random_order(len(xb), g)).sum())
            per_order.append(nll / (len(x) * L * math.log(2)))
        raster = 0.0
        for i in range(0, len(x), 64):
            xb = x[i:i + 64]
            raster += float(-model.log_likelihood(xb, model.raster_order(len(xb))).sum())
        raster /= len(x) * L * math.log(2)
    codecs = codec_bits(test)
    best_name = min(codecs["per_patch"], key=codecs["per_patch"].get)
    model_bpp = float(np.mean(per_order))
    report = {
        "raster": args.raster, "patch_size": args.size,
        "n_train_patches": int(len(prepared.train)), "n_test_patches_scored": int(len(test)),
        "test_blocks_disjoint_from_train": True,
        "model": {"parameters": model.num_parameters(), "weights_kib": round(model.num_parameters() * 4 / 1024, 1),
                  "layers": args.n_layer, "width": args.n_embd, "steps": args.steps,
                  "batch_size": args.batch_size, "cpu_train_seconds": round(train_s, 1),
                  "cpu_threads": args.threads, "train_tokens_per_s_median": round(tok_s, 1)},
        "model_bits_per_pixel_random_order": round(model_bpp, 4),
        "model_bits_per_pixel_random_order_spread": [round(min(per_order), 4), round(max(per_order), 4)],
        "model_bits_per_pixel_raster_order": round(raster, 4),
        "codecs_bits_per_pixel": {k: {n: round(v, 4) for n, v in d.items()} for k, d in codecs.items()},
        "best_per_patch_codec": best_name,
        "model_below_best_per_patch_codec": model_bpp < codecs["per_patch"][best_name],
        "ratio_best_codec_to_model": round(codecs["per_patch"][best_name] / model_bpp, 3),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
