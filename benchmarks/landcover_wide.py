"""Seams in maps wider than the model's window: sliding-window outpainting vs independent tiles.

    uv run python benchmarks/landcover_wide.py                 # prepares + trains a tiny size-8 model (CPU)
    uv run python benchmarks/landcover_wide.py --data data_8.npz --checkpoint run/checkpoints/final

Data and model are made as in benchmarks/landcover_inpaint.py when not given (same --work-dir,
so a second run reuses them). Generates --n maps of --height x --width with `generate_wide` at
each --overlaps value (0 = independent tiles) and measures the edge density (fraction of unequal
4-neighbour pairs) on the pairs that straddle a window seam and on all other pairs. A seamless
map has ratio seam / elsewhere near 1; the same split of pixel pairs on real crops of the raster
(same size, nodata-free) gives the noise floor. Also prints the total variation between the
pooled class proportions of the maps and of the real crops (class TV; drift away from real land
cover over many windows would show here) and seconds per map, one thread.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from landcover_inpaint import RASTER, ensure_data_and_model


def real_crops(raster: str, n: int, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """n nodata-free height x width crops of the raster, as class indices."""
    import rasterio

    from mc_landcover.legend import codes_to_index

    with rasterio.open(raster) as src:
        a = src.read(1)
        nodata = src.nodata
    out = []
    for _ in range(100 * n):
        y, x = rng.integers(0, a.shape[0] - height + 1), rng.integers(0, a.shape[1] - width + 1)
        crop = a[y:y + height, x:x + width]
        if nodata is not None and (crop == nodata).any():
            continue
        out.append(codes_to_index(crop))
        if len(out) == n:
            break
    return np.stack(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None)
    ap.add_argument("--config", default=None)
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--raster", default=str(RASTER))
    ap.add_argument("--size", type=int, default=8)
    ap.add_argument("--train-steps", type=int, default=1500)
    ap.add_argument("--work-dir", default=".bench/landcover")
    ap.add_argument("--n", type=int, default=32, help="maps per setting")
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--height", type=int, default=16)
    ap.add_argument("--overlaps", default="0,2,4,6")
    ap.add_argument("--steps", type=int, default=None, help="decoding steps per window [default: one pixel each]")
    ap.add_argument("--temperature", type=float, default=1.0, help="sampling temperature of the wide maps")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    args.no_model = False

    import torch

    from mc_core.progress import set_quiet
    from mc_landcover.loading import load_landcover_model
    from mc_landcover.wide import edge_density_at, generate_wide, seam_pairs, window_grid

    set_quiet(True)
    torch.set_num_threads(1)
    data, config, ckpt = ensure_data_and_model(args)
    model = load_landcover_model(ckpt, config=config, device="cpu")
    s = model.size
    print(f"model: {ckpt} (size {s}, {model.num_parameters()} parameters); maps {args.height}x{args.width}, "
          f"{args.n} per row, decoding steps per window: {args.steps or 'one pixel each'}, "
          f"temperature {args.temperature}")
    from mc_landcover.legend import NUM_CLASSES

    def proportions(m):
        return np.bincount(m.ravel(), minlength=NUM_CLASSES) / m.size

    real = real_crops(args.raster, args.n * 4, args.height, args.width, np.random.default_rng(args.seed))
    def edges(m):  # unequal 4-neighbour pairs per pair
        h, v = m[:, :, 1:] != m[:, :, :-1], m[:, 1:, :] != m[:, :-1, :]
        return (h.sum() + v.sum()) / (h.size + v.size)

    g = torch.Generator().manual_seed(args.seed)
    single = model.sample(args.n * 8, generator=g, steps=args.steps).numpy()
    real_single = real_crops(args.raster, args.n * 8, s, s, np.random.default_rng(args.seed + 1))
    print(f"one window ({s}x{s}): edge density model {edges(single):.3f} vs real {edges(real_single):.3f}; "
          f"class TV model vs real {0.5 * np.abs(proportions(single) - proportions(real_single)).sum():.3f}")
    print("edge density: unequal neighbour pairs at window seams / elsewhere; first/last: in the first and "
          f"the last {s} columns")
    print(f"{'source':<22} {'seam':>7} {'elsewhere':>10} {'ratio':>6} {'first':>6} {'last':>6} {'class TV':>9} "
          f"{'windows':>8} {'s/map':>7}")
    for overlap in [int(o) for o in args.overlaps.split(",")]:
        rows, cols = seam_pairs(args.height, s, overlap), seam_pairs(args.width, s, overlap)
        g = torch.Generator().manual_seed(args.seed)
        t0 = time.perf_counter()
        maps, _ = generate_wide(model, args.n, args.height, args.width, overlap=overlap, steps=args.steps,
                                temperature=args.temperature, generator=g)
        sec = (time.perf_counter() - t0) / args.n
        seam, rest = edge_density_at(maps, rows, cols)
        real_seam, real_rest = edge_density_at(real, rows, cols)
        tv = 0.5 * np.abs(proportions(maps) - proportions(real)).sum()
        n_windows = len(window_grid(args.height, args.width, s, overlap))
        name = "tiles (overlap 0)" if overlap == 0 else f"outpaint overlap {overlap}"
        first, last = edges(maps[:, :, :s]), edges(maps[:, :, -s:])
        print(f"{name:<22} {seam:7.3f} {rest:10.3f} {seam / rest:6.2f} {first:6.3f} {last:6.3f} {tv:9.3f} "
              f"{n_windows:8d} {sec:7.2f}")
        print(f"{'  real, same pairs':<22} {real_seam:7.3f} {real_rest:10.3f} {real_seam / real_rest:6.2f} "
              f"{edges(real[:, :, :s]):6.3f} {edges(real[:, :, -s:]):6.3f}")


if __name__ == "__main__":
    main()
