"""Realism of sampled land-cover maps: RandAR samples vs held-out real maps vs a Potts MRF.

    uv run python benchmarks/landcover_realism.py --data data_8.npz --checkpoint run/checkpoints/final
    uv run python benchmarks/landcover_realism.py            # prepares + trains a tiny model itself (CPU)

Data and model are made as in benchmarks/landcover_inpaint.py when not given (same --work-dir,
so a second run reuses them). For each source it prints landscape statistics of N maps (pooled
class proportions; per-map number of patches, mean patch area and edge density, 4-connectivity)
and their distance to the held-out real test maps: total variation between class proportions and
relative error of each statistic. Rows:
  real (train)  real training maps: the noise floor of the comparison (different places)
  randar        unconditional samples of the model (random order, one pixel per step)
  randar-par    the same with parallel decoding (--steps, cosine schedule)
  potts         Potts MRF fitted by pseudo-likelihood on the train split, 300 checkerboard Gibbs sweeps
  independent   pixels drawn independently from the training class frequencies (Potts with beta=0)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from landcover_inpaint import RASTER, ensure_data_and_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None)
    ap.add_argument("--config", default=None)
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--raster", default=str(RASTER))
    ap.add_argument("--size", type=int, default=8)
    ap.add_argument("--train-steps", type=int, default=1500)
    ap.add_argument("--work-dir", default=".bench/landcover")
    ap.add_argument("--no-model", action="store_true")
    ap.add_argument("--n", type=int, default=300, help="maps per source")
    ap.add_argument("--steps", type=int, default=8, help="parallel decoding steps for randar-par")
    ap.add_argument("--potts-sweeps", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    import torch

    from mc_core.progress import set_quiet
    from mc_landcover.analysis.landscape import compare_stats, landscape_stats
    from mc_landcover.inpaint.data import load_maps, select_maps
    from mc_landcover.inpaint.potts import PottsModel, fit_potts, potts_sample
    from mc_landcover.legend import NAMES, NUM_CLASSES

    set_quiet(True)
    torch.set_num_threads(1)  # the fastest on a shared, oversubscribed 2-core machine
    data, config, ckpt = ensure_data_and_model(args)
    rng = np.random.default_rng(args.seed)
    test = select_maps(load_maps(data, "test"), args.n, None, rng, data)
    train_all = load_maps(data, "train")
    train = select_maps(train_all, args.n, None, rng, data)
    size = test.shape[1]
    sources: dict[str, np.ndarray] = {"real (test)": test, "real (train)": train}
    seconds: dict[str, float] = {}
    if ckpt is not None:
        from mc_landcover.loading import load_landcover_model

        model = load_landcover_model(ckpt, config=config, device=args.device)
        for name, steps in (("randar", None), ("randar-par", args.steps)):
            g = torch.Generator().manual_seed(args.seed)
            t0 = time.perf_counter()
            out = [model.sample(min(100, args.n - s), steps=steps, generator=g).cpu().numpy()
                   for s in range(0, args.n, 100)]
            seconds[name] = time.perf_counter() - t0
            sources[name] = np.concatenate(out)
    potts = fit_potts(train_all, NUM_CLASSES, rng=np.random.default_rng(args.seed))
    t0 = time.perf_counter()
    sources["potts"] = potts_sample(potts, args.n, size, size, np.random.default_rng(args.seed), sweeps=args.potts_sweeps)
    seconds["potts"] = time.perf_counter() - t0
    sources["independent"] = potts_sample(PottsModel(potts.field, 0.0), args.n, size, size,
                                          np.random.default_rng(args.seed), sweeps=1)

    ref = landscape_stats(test, NUM_CLASSES)
    print(f"data: {data}; {args.n} maps of {size}x{size} per source; Potts beta={potts.beta:.3f}")
    print(f"\n{'source':13s} {'patches/map':>12s} {'mean area':>10s} {'edge dens.':>10s} | {'class TV':>8s} "
          f"{'patches err':>11s} {'area err':>9s} {'edge err':>9s} {'seconds':>8s}")
    for name, maps in sources.items():
        s = landscape_stats(maps, NUM_CLASSES)
        d = compare_stats(s, ref)
        print(f"{name:13s} {s['n_patches']['mean']:12.2f} {s['mean_patch_area']['mean']:10.2f} "
              f"{s['edge_density']['mean']:10.4f} | {d['class_proportion_tv']:8.4f} "
              f"{d['n_patches_rel_error']:11.3f} {d['mean_patch_area_rel_error']:9.3f} "
              f"{d['edge_density_rel_error']:9.3f} {seconds.get(name, float('nan')):8.1f}")
    print("\nclass proportions (classes above 1% in the real test maps):")
    props = {n: landscape_stats(m, NUM_CLASSES)["class_proportions"] for n, m in sources.items()}
    keep = [c for c in range(NUM_CLASSES) if ref["class_proportions"][c] > 0.01]
    print(f"{'class':30s}" + "".join(f"{n[:12]:>13s}" for n in sources))
    for c in keep:
        print(f"{NAMES[c][:30]:30s}" + "".join(f"{props[n][c]:13.4f}" for n in sources))


if __name__ == "__main__":
    main()
