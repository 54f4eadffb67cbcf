"""Perplexity and bits per pixel of a RandAR model on test maps, over random orders and raster order.

For an order o, NLL_o(x) = -log p(x; o) / L nats per pixel. A random-order model defines a
different factorisation per order; each is a valid likelihood, and they need not agree, so we
report each order's mean over maps, and the mean and spread (std, min, max) over K random orders.
Perplexity = exp(mean NLL in nats); bits per pixel = mean NLL / ln 2.
"""

from __future__ import annotations

import math

import numpy as np


def order_nll(model, maps: np.ndarray, order_kind: str, *, batch_size: int = 64, seed: int = 0,
              device="cpu", desc: str | None = None) -> np.ndarray:
    """Per-map NLL in nats per pixel under one order family: "raster", or "random" (a fresh
    random order per map, drawn from `seed`)."""
    import torch

    from mc_core.progress import progress

    gen = torch.Generator().manual_seed(seed)
    out = []
    L = maps.shape[1] * maps.shape[2]
    starts = range(0, maps.shape[0], batch_size)
    for s in progress(starts, desc=desc or f"NLL ({order_kind})", total=len(starts)):
        xb = torch.from_numpy(np.asarray(maps[s:s + batch_size], dtype=np.int64)).to(device)
        b = xb.shape[0]
        if order_kind == "raster":
            order = torch.arange(L).expand(b, -1)
        else:
            order = torch.rand(b, L, generator=gen).argsort(dim=1)
        with torch.no_grad():
            ll = model.log_likelihood(xb, order=order.to(device))
        out.append((-ll.float().cpu().numpy()) / L)
    return np.concatenate(out)


def summarize(nll: np.ndarray) -> dict:
    m = float(np.mean(nll))
    return {"nll_nats_per_pixel": m, "bits_per_pixel": m / math.log(2), "perplexity": math.exp(m)}


def evaluate_perplexity(model, maps: np.ndarray, n_orders: int = 4, *, batch_size: int = 64, seed: int = 0,
                        device="cpu") -> dict:
    per_order = [order_nll(model, maps, "random", batch_size=batch_size, seed=seed + k, device=device,
                           desc=f"NLL (random order {k + 1}/{n_orders})") for k in range(n_orders)]
    raster = order_nll(model, maps, "raster", batch_size=batch_size, device=device)
    means = np.array([x.mean() for x in per_order])
    bpp = means / math.log(2)
    # the same map under different orders: mean over orders per map, then over maps
    per_map = np.mean(per_order, axis=0)
    return {
        "n_maps": int(maps.shape[0]),
        "pixels_per_map": int(maps.shape[1] * maps.shape[2]),
        "random_orders": {
            "k": n_orders,
            **summarize(per_map),
            "bits_per_pixel_std_over_orders": float(bpp.std(ddof=1)) if n_orders > 1 else 0.0,
            "bits_per_pixel_min": float(bpp.min()),
            "bits_per_pixel_max": float(bpp.max()),
            "per_order_bits_per_pixel": [float(v) for v in bpp],
            "per_map_std_over_orders_bits": float((np.std(per_order, axis=0) / math.log(2)).mean()),
        },
        "raster_order": summarize(raster),
    }


MAX_ORDERS = 1000  # random orders one evaluation averages over


def eval_perplexity(checkpoint, data, *, config=None, n_maps: int | None = 1000, n_orders: int = 4,
                    batch_size: int = 64, seed: int = 0, device: str = "auto", baselines: bool = True) -> dict:
    """Bits per pixel and perplexity of the model in `checkpoint` on up to `n_maps` test maps of
    `data` (chosen at random with `seed`), in `n_orders` random orders and in raster order.

    The result's ``bits_per_pixel`` is the model's (random orders, mean over orders); with
    `baselines`, ``baselines`` maps each classical rival of :mod:`mc_landcover.analysis.baselines`
    (codecs, adaptive context models, ``context-model-primed`` whose counts start from the train
    split of `data`) to its bits per pixel on the same maps, and ``ratio_to_best_primed`` is the
    model's figure over the best primed context model's.

    Needs only :class:`mc_landcover.interface.LandcoverLikelihood` of the model, so a simple
    third-party model (registered for the landcover task) works here.
    """
    from mc_core.device import resolve_device
    from mc_core.errors import UsageError
    from mc_core.seeding import seed_everything
    from mc_landcover.inpaint.data import load_maps, select_maps
    from mc_landcover.interface import LandcoverLikelihood
    from mc_landcover.loading import check_map_size, load_landcover_model

    if not 1 <= n_orders <= MAX_ORDERS:
        raise UsageError(f"n_orders must lie in 1..{MAX_ORDERS}, got {n_orders}")
    if batch_size < 1:
        raise UsageError(f"batch_size must be at least 1, got {batch_size}")
    dev = resolve_device(device)
    model = load_landcover_model(checkpoint, config=config, device=dev, protocol=LandcoverLikelihood)
    rng = seed_everything(seed)
    maps = check_map_size(select_maps(load_maps(data, "test"), n_maps, None, rng, data), model, data)
    res = evaluate_perplexity(model, maps, n_orders, batch_size=batch_size, seed=seed, device=dev)
    out = {"data": str(data), "config": None if config is None else str(config), "checkpoint": str(checkpoint),
           "seed": seed, "bits_per_pixel": res["random_orders"]["bits_per_pixel"], **res}
    if baselines:
        from mc_landcover.analysis.baselines import all_baselines

        train = load_maps(data, "train", allow_empty=True)
        train = train if train.size and train.shape[1:] == maps.shape[1:] else None
        out["baselines"] = all_baselines(maps, train, num_classes=int(model.num_classes))
        primed = {k: v for k, v in out["baselines"].items() if k.startswith("context-model-primed")}
        if primed:
            best = min(primed, key=primed.get)
            out["best_primed"] = best
            out["ratio_to_best_primed"] = out["bits_per_pixel"] / primed[best]
    return out
