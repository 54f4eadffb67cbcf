"""RandAR speed on the CPU: training tokens/s, and parallel decoding vs one pixel per step.

1. Training throughput (tokens/s = pixels/s, forward + backward + AdamW) of the `tiny` config and
   of the seed's `randar_nlcd_32` architecture (16 layers, width 256, 32x32), a few steps each.
2. Generation of 32x32 maps with the `randar_nlcd_32` architecture: one pixel per step (1024
   KV-cached steps) vs parallel decoding in K steps on the cosine schedule, timed in the same run.
   The speed does not depend on the weights, so this part uses fresh weights.
3. Quality cost of parallel decoding, with a TRAINED checkpoint (`--checkpoint`, e.g. the one
   `benchmarks/landcover_nll.py --out-dir D` leaves in D/run/checkpoints/final): maps sampled one
   pixel per step and in K steps are scored by the model (NLL in bits/pixel, random order) and
   their class proportions are compared with held-out real maps (`--data`, its test split):
   L1 distance between mean class-proportion vectors.

Usage:
    uv run python benchmarks/landcover_speed.py --checkpoint D/run/checkpoints/final --data D/data_16.npz
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np


def train_throughput(model_cfg: dict, batch: int, steps: int) -> dict:
    import torch
    import torch.nn.functional as F

    from mc_landcover.models.randar import RandAR, RandARConfig

    torch.manual_seed(0)
    model = RandAR(RandARConfig.from_dict(model_cfg))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randint(0, model.num_classes, (batch, model.size, model.size))

    def step():
        order = model.random_order(batch)
        tok = x.flatten(1).gather(1, order)
        loss = F.cross_entropy(model(tok, order).reshape(-1, model.num_classes), tok.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    dt = time.perf_counter() - t0
    return {"parameters": model.num_parameters(), "size": model.size, "batch": batch, "steps": steps,
            "seconds_per_step": round(dt / steps, 3), "tokens_per_s": round(batch * model.num_pixels * steps / dt, 1)}


def time_sampling(model, n: int, steps_list: list, repeats: int, seed: int = 0) -> dict:
    import torch

    out = {}
    for steps in steps_list:
        times = []
        for r in range(repeats):
            g = torch.Generator().manual_seed(seed + r)
            t0 = time.perf_counter()
            model.sample(n, steps=steps, generator=g)
            times.append(time.perf_counter() - t0)
        out["one_per_step" if steps is None else f"{steps}_steps"] = min(times)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=None, help="trained RandAR checkpoint for the quality cost")
    ap.add_argument("--data", default=None, help="npz whose test split gives the real class proportions")
    ap.add_argument("--parallel-steps", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--n-quality", type=int, default=64, help="maps sampled per decoding mode for quality")
    ap.add_argument("--train-steps", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-speed", action="store_true",
                    help="only the quality-cost part (3.), e.g. when 1. and 2. were run separately")
    args = ap.parse_args()

    import torch

    from mc_landcover.config_files import load_config
    from mc_landcover.models.randar import RandAR, RandARConfig

    torch.set_num_threads(args.threads)
    report: dict = {"cpu_threads": args.threads}
    tiny = load_config("tiny")
    big = load_config("randar_nlcd_32")
    if not args.skip_speed:
        report["train_tiny"] = train_throughput(tiny["model"], tiny["train"]["batch_size"], args.train_steps)
        report["train_randar_nlcd_32"] = train_throughput(big["model"], 2, max(1, args.train_steps // 2))

        torch.manual_seed(0)
        model = RandAR(RandARConfig.from_dict(big["model"])).eval()
        t = time_sampling(model, 1, [None, *args.parallel_steps], args.repeats)
        report["generate_32x32_randar_nlcd_32_seconds"] = {k: round(v, 3) for k, v in t.items()}
        report["generate_32x32_speedup"] = {k: round(t["one_per_step"] / v, 2) for k, v in t.items()
                                            if k != "one_per_step"}

    if args.checkpoint:
        from mc_landcover.data.patches import load_patches
        from mc_landcover.loading import load_landcover_model

        trained = load_landcover_model(args.checkpoint, device="cpu")
        L = trained.num_pixels
        real = load_patches(args.data, "test") if args.data else None
        q: dict = {"model_size": trained.size, "n_maps": args.n_quality}
        steps_list = [None] + [s for s in args.parallel_steps if s < L] + [max(2, L // 32)]
        steps_list = list(dict.fromkeys(steps_list))
        g_eval = torch.Generator().manual_seed(99)
        real_prop = None
        if real is not None:
            real_prop = np.bincount(real.ravel(), minlength=trained.num_classes) / real.size
            with torch.no_grad():
                xr = torch.as_tensor(real[: args.n_quality]).long()
                q["real_test_maps_nll_bits_per_pixel"] = round(
                    float(-trained.log_likelihood(xr, generator=g_eval).mean()) / (L * math.log(2)), 4)
        for steps in steps_list:
            g = torch.Generator().manual_seed(7)
            t0 = time.perf_counter()
            maps = trained.sample(args.n_quality, steps=steps, generator=g)
            dt = time.perf_counter() - t0
            with torch.no_grad():
                bpp = float(-trained.log_likelihood(maps, generator=g_eval).mean()) / (L * math.log(2))
            entry = {"seconds": round(dt, 3), "samples_nll_bits_per_pixel": round(bpp, 4)}
            if real_prop is not None:
                prop = np.bincount(maps.numpy().ravel(), minlength=trained.num_classes) / maps.numel()
                entry["class_proportion_l1_vs_real"] = round(float(np.abs(prop - real_prop).sum()), 4)
            q["one_per_step" if steps is None else f"{steps}_steps"] = entry
        base = q["one_per_step"]["seconds"]
        for k, v in q.items():
            if isinstance(v, dict) and k != "one_per_step":
                v["speedup"] = round(base / v["seconds"], 2)
        report["quality_cost_trained_model"] = q
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
