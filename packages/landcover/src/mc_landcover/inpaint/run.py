"""One inpainting evaluation: pick maps, mask them, fill them with a method, score the fill."""

from __future__ import annotations

import time

import numpy as np

from mc_core.errors import UsageError
from mc_landcover.inpaint.baselines import Infill, class_frequencies, mode_fill, nearest_fill
from mc_landcover.inpaint.metrics import evaluate_infill

METHODS = ("randar", "mode", "nearest", "potts")


def fill(method: str, maps: np.ndarray, hidden: np.ndarray, num_classes: int, rng: np.random.Generator,
         *, model=None, potts=None, prior=None, device="cpu", temperature=1.0, top_k=None, seed=0,
         potts_sweeps: int = 60, batch_size: int = 32, decode: str = "marginal", pixels_per_step: int = 16) -> Infill:
    if method == "mode":
        return mode_fill(maps, hidden, num_classes, rng, prior=prior)
    if method == "nearest":
        return nearest_fill(maps, hidden, num_classes, prior=prior)
    if method == "potts":
        from mc_landcover.inpaint.potts import potts_fill

        if potts is None:
            raise UsageError("the potts method needs a fitted Potts model")
        return potts_fill(potts, maps, hidden, rng, sweeps=potts_sweeps, burn_in=potts_sweeps // 3)
    if method == "randar":
        from mc_landcover.inpaint.randar_fill import randar_fill

        if model is None:
            raise UsageError("method randar needs a model (a checkpoint)")
        return randar_fill(model, maps, hidden, device=device, temperature=temperature, top_k=top_k,
                           seed=seed, batch_size=batch_size, decode=decode, pixels_per_step=pixels_per_step)
    raise UsageError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


def evaluate(method: str, maps: np.ndarray, hidden: np.ndarray, num_classes: int,
             rng: np.random.Generator, class_names=None, **kw) -> tuple[Infill, dict]:
    t0 = time.perf_counter()
    infill = fill(method, maps, hidden, num_classes, rng, **kw)
    seconds = time.perf_counter() - t0
    res = evaluate_infill(maps, hidden, infill.probs, infill.argmax, infill.sampled, num_classes,
                          class_names)
    res["fill_seconds"] = seconds
    return infill, res


def training_prior(train_maps: np.ndarray | None, num_classes: int) -> np.ndarray | None:
    if train_maps is None or train_maps.size == 0:
        return None
    return class_frequencies(train_maps, num_classes)
