"""Inpainting experiments as library calls: one evaluation (`eval_inpaint`), a sweep over mask
types and ratios (`inpaint_sweep`) and the results read back for plotting (`collect_runs`).

The `mc landcover eval-inpaint`, `inpaint-sweep` and `plot-inpaint` commands call these."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mc_core.errors import BadInputError, UsageError
from mc_landcover.inpaint.baselines import Infill
from mc_landcover.inpaint.run import METHODS

__all__ = ["InpaintRun", "collect_runs", "eval_inpaint", "inpaint_sweep", "load_or_fit_potts", "sweep_run_path"]


@dataclass
class InpaintRun:
    """One evaluation: the JSON record (`metrics` inside), and the maps, masks and fill behind it."""

    record: dict[str, Any]
    maps: np.ndarray
    hidden: np.ndarray
    infill: Infill | None


def load_or_fit_potts(data: str | os.PathLike, potts_path: str | os.PathLike | None = None):
    """The Potts baseline: read from `potts_path` when it exists, else fitted by pseudo-likelihood
    on the train split of `data` (and saved to `potts_path` when given). The fit's pixel subsample
    has its own fixed seed, so it depends on the data only."""
    from mc_core.progress import info
    from mc_landcover.inpaint.data import load_maps
    from mc_landcover.inpaint.potts import PottsModel, fit_potts
    from mc_landcover.legend import NUM_CLASSES

    if potts_path and Path(potts_path).is_file():
        return PottsModel.load(potts_path)
    train = load_maps(data, "train", allow_empty=True)
    if train.shape[0] == 0:
        raise BadInputError(data, "the train set is empty: the Potts baseline is fitted on it")
    info(f"fitting Potts MRF by pseudo-likelihood on {train.shape[0]} training maps")
    model = fit_potts(train, NUM_CLASSES, rng=np.random.default_rng(0))
    info(f"Potts: beta={model.beta:.3f}")
    if potts_path:
        model.save(potts_path)
    return model


def _test_maps_and_prior(data, n_images, size, rng):
    from mc_landcover.inpaint.data import load_maps, select_maps
    from mc_landcover.inpaint.run import training_prior
    from mc_landcover.legend import NUM_CLASSES

    maps = select_maps(load_maps(data, "test"), n_images, size, rng, data)
    prior = training_prior(load_maps(data, "train", allow_empty=True), NUM_CLASSES)
    return maps, prior


def _load_fill_model(checkpoint, config, device):
    from mc_core.device import resolve_device
    from mc_landcover.interface import LandcoverModel
    from mc_landcover.loading import load_landcover_model

    dev = resolve_device(device)
    return load_landcover_model(checkpoint, config=config, device=dev, protocol=LandcoverModel), dev


def _fill_and_score(method, maps, hidden, rng, *, model, potts, prior, device, temperature, top_k, seed,
                    decode="marginal", pixels_per_step=16):
    from mc_landcover.inpaint.run import evaluate
    from mc_landcover.legend import NAMES, NUM_CLASSES

    return evaluate(method, maps, hidden, NUM_CLASSES, rng, class_names=list(NAMES), model=model, potts=potts,
                    prior=prior, device=device, temperature=temperature, top_k=top_k, seed=seed, decode=decode,
                    pixels_per_step=pixels_per_step)


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise UsageError(f"method must be one of {', '.join(METHODS)}, got {method!r}")


def eval_inpaint(data: str | os.PathLike, *, method: str = "randar", checkpoint: str | os.PathLike | None = None,
                 config: str | os.PathLike | None = None, n_images: int = 100, size: int | None = None,
                 mask_type: str = "interior", mask_ratio: float = 0.25, temperature: float = 1.0,
                 top_k: int | None = None, potts_model: str | os.PathLike | None = None, seed: int = 0,
                 device: str = "auto", save_results: str | os.PathLike | None = None,
                 panels: str | os.PathLike | None = None, decode: str = "marginal",
                 pixels_per_step: int = 16) -> InpaintRun:
    """Hide `mask_ratio` of `n_images` test maps of `data` and fill them with `method` (the model in
    `checkpoint` for "randar", else a baseline); the record holds the metrics over the hidden pixels.
    `decode` / `pixels_per_step`: how "randar" decodes its filled map (see
    :mod:`mc_landcover.inpaint.randar_fill`).

    Writes the record as JSON to `save_results` and the truth / masked / filled panels as PNG to
    `panels` when given (checked, before anything is written, not to be an input)."""
    from mc_core.atomic import write_json
    from mc_core.paths import check_outputs
    from mc_core.seeding import seed_everything
    from mc_landcover.inpaint.masks import check_ratio, make_masks

    _check_method(method)
    check_ratio(mask_ratio)
    check_outputs([data, checkpoint], [save_results, panels], not_inside_inputs=True)
    model = dev = None
    if method == "randar":
        if checkpoint is None:
            raise UsageError("method 'randar' needs a checkpoint")
        model, dev = _load_fill_model(checkpoint, config, device)
    rng = seed_everything(seed)
    maps, prior = _test_maps_and_prior(data, n_images, size, rng)
    if model is not None:
        from mc_landcover.loading import check_map_size

        check_map_size(maps, model, data)
    hidden = make_masks(maps.shape[0], maps.shape[1], maps.shape[2], mask_type, mask_ratio, rng)
    potts = load_or_fit_potts(data, potts_model) if method == "potts" else None
    infill, res = _fill_and_score(method, maps, hidden, rng, model=model, potts=potts, prior=prior,
                                  device=dev or "cpu", temperature=temperature, top_k=top_k, seed=seed,
                                  decode=decode, pixels_per_step=pixels_per_step)
    record = {"method": method, "decode": decode if method == "randar" else None,
              "pixels_per_step": pixels_per_step if method == "randar" and decode == "confident" else None,
              "mask_type": mask_type, "mask_ratio": mask_ratio, "size": int(maps.shape[1]),
              "n_images": int(maps.shape[0]), "seed": seed, "data": str(data),
              "config": None if config is None else str(config),
              "checkpoint": None if checkpoint is None else str(checkpoint), "temperature": temperature,
              "top_k": top_k, "potts_beta": None if potts is None else potts.beta, "metrics": res}
    if save_results:
        write_json(save_results, record)
    if panels:
        from mc_landcover.inpaint.plots import save_panels

        save_panels(panels, maps, hidden, infill.argmax, infill.sampled,
                    title=f"{method}, {mask_type} mask, ratio {mask_ratio}")
    return InpaintRun(record, maps, hidden, infill)


def sweep_run_path(out_dir: str | os.PathLike, method: str, mask_type: str, ratio: float) -> Path:
    """Where `inpaint_sweep` keeps one run's JSON."""
    return Path(out_dir) / f"{method}_{mask_type}_{ratio:g}.json"


def inpaint_sweep(data: str | os.PathLike, out_dir: str | os.PathLike, *, ratios: Sequence[float],
                  mask_types: Sequence[str] = ("interior", "random"), methods: Sequence[str] = METHODS,
                  checkpoint: str | os.PathLike | None = None, config: str | os.PathLike | None = None,
                  n_images: int = 100, size: int | None = None, temperature: float = 1.0, top_k: int | None = None,
                  overwrite: bool = False, seed: int = 0, device: str = "auto", decode: str = "marginal",
                  pixels_per_step: int = 16, on_run: Callable[[dict[str, Any]], None] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every method at every (mask type, ratio) on the same maps and masks; one JSON per run in
    `out_dir` (existing ones are read back unless `overwrite`) and `sweep_<mask type>.json`.

    "randar" is dropped when no `checkpoint` is given. `on_run(record)` is called after each run.
    Returns {mask type: [records]}.
    """
    from mc_core.atomic import write_json
    from mc_core.paths import check_outputs
    from mc_core.progress import info
    from mc_core.seeding import seed_everything
    from mc_landcover.inpaint.masks import check_ratio, make_masks

    for m in methods:
        _check_method(m)
    ratios = [check_ratio(r) for r in ratios]
    if not ratios or not mask_types or not methods:
        raise UsageError("ratios, mask_types and methods must not be empty")
    methods = list(methods)
    # the files this sweep may write (the folder itself may hold the data: only these are checked)
    def tag(m: str) -> str:  # a confident-first randar run is kept apart from a marginal one
        return f"randar-confident{pixels_per_step}" if m == "randar" and decode == "confident" else m

    written = [sweep_run_path(out_dir, tag(m), mt, r) for mt in mask_types for r in ratios for m in methods]
    written += [Path(out_dir) / f"sweep_{mt}.json" for mt in mask_types] + [Path(out_dir) / "potts_model.json"]
    check_outputs([data, checkpoint], written, not_inside_inputs=True)
    if "randar" in methods and checkpoint is None:
        info("no checkpoint: skipping method randar")
        methods = [m for m in methods if m != "randar"]
        if not methods:
            raise UsageError("nothing to run: only randar was asked for and no checkpoint was given")
    model = dev = None
    if "randar" in methods:
        model, dev = _load_fill_model(checkpoint, config, device)
    rng = seed_everything(seed)
    maps, prior = _test_maps_and_prior(data, n_images, size, rng)
    if model is not None:
        from mc_landcover.loading import check_map_size

        check_map_size(maps, model, data)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    potts = load_or_fit_potts(data, out / "potts_model.json") if "potts" in methods else None
    summaries: dict[str, list[dict[str, Any]]] = {}
    for mt_i, mt in enumerate(mask_types):
        summary = []
        for r_i, ratio in enumerate(ratios):
            # masks depend only on (seed, mask type, ratio), so all methods see the same ones
            hidden = make_masks(maps.shape[0], maps.shape[1], maps.shape[2], mt, ratio,
                                np.random.default_rng([seed, mt_i, r_i]))
            for method in methods:
                path = sweep_run_path(out, tag(method), mt, ratio)
                if path.exists() and not overwrite:
                    record = _read_json(path)
                else:
                    frng = np.random.default_rng([seed, mt_i, r_i, METHODS.index(method)])
                    _, res = _fill_and_score(method, maps, hidden, frng, model=model, potts=potts, prior=prior,
                                             device=dev or "cpu", temperature=temperature, top_k=top_k, seed=seed,
                                             decode=decode, pixels_per_step=pixels_per_step)
                    record = {"method": method, "decode": decode if method == "randar" else None,
                              "pixels_per_step": pixels_per_step if tag(method) != method else None, "mask_type": mt, "mask_ratio": ratio,
                              "size": int(maps.shape[1]), "n_images": int(maps.shape[0]), "seed": seed,
                              "data": str(data), "config": None if config is None else str(config),
                              "checkpoint": None if checkpoint is None else str(checkpoint),
                              "temperature": temperature, "top_k": top_k, "metrics": res}
                    write_json(path, record)
                if on_run is not None:
                    on_run(record)
                summary.append(record)
        write_json(out / f"sweep_{mt}.json", {"mask_type": mt, "runs": summary})
        summaries[mt] = summary
    return summaries


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise BadInputError(path, f"not readable JSON ({e})") from None


def collect_runs(results: Iterable[str | os.PathLike]) -> list[dict[str, Any]]:
    """Inpainting run records from JSON files or folders of them (as `inpaint_sweep` writes);
    sweep summaries are skipped (they repeat the runs)."""
    results = [Path(r) for r in results]
    files: list[Path] = []
    for p in results:
        if not p.exists():
            raise BadInputError(p, "no such file or folder")
        files.extend(sorted(p.glob("*.json")) if p.is_dir() else [p])
    runs = []
    for f in files:
        d = _read_json(f)
        if isinstance(d, dict) and "runs" in d:
            continue
        if not (isinstance(d, dict) and {"method", "mask_type", "mask_ratio", "metrics"} <= d.keys()):
            if len(results) == 1 and not results[0].is_dir():
                raise BadInputError(f, "not an inpainting result (needs method, mask_type, mask_ratio, metrics)")
            continue
        runs.append(d)
    if not runs:
        raise BadInputError(results[0] if results else None, "no inpainting results found")
    return runs
