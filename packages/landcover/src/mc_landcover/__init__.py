"""Random-order autoregressive models of land-cover maps (RandAR on NLCD).

The public API, for Python users (imported lazily: ``import mc_landcover`` stays light)::

    import mc_landcover as lc

    result = lc.train_model("tiny", data="data_16.npz", out_dir="runs/tiny", max_steps=200)
    model = lc.load_landcover_model(result["checkpoint"])             # through the model registry
    res = lc.eval_perplexity(result["checkpoint"], "data_16.npz", n_maps=100, n_orders=2)
    run = lc.eval_inpaint("data_16.npz", method="randar", checkpoint=result["checkpoint"])

Models offer the Protocols in :mod:`mc_landcover.interface` (``LandcoverLikelihood`` is enough for
``eval_perplexity``).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    # interface
    "LandcoverLikelihood": "mc_landcover.interface",
    "LandcoverSampler": "mc_landcover.interface",
    "LandcoverModel": "mc_landcover.interface",
    "TrainableLandcoverModel": "mc_landcover.interface",
    "EmbeddingModel": "mc_landcover.interface",
    # models, configs, loading
    "RandAR": "mc_landcover.models.randar",
    "RandARConfig": "mc_landcover.models.randar",
    "load_config": "mc_landcover.config_files",
    "config_path": "mc_landcover.config_files",
    "load_landcover_model": "mc_landcover.loading",
    "check_map_size": "mc_landcover.loading",
    # data
    "prepare": "mc_landcover.data.prepare",
    "prepare_merge": "mc_landcover.data.prepare",
    "import_npz": "mc_landcover.data.prepare",
    "prepare_patches": "mc_landcover.data.nlcd",
    "save_patches": "mc_landcover.data.nlcd",
    "load_patches": "mc_landcover.data.patches",
    "read_seed_npz": "mc_landcover.data.seed_npz",
    # training and generation
    "train_model": "mc_landcover.train:train",          # `train`/`generate` are also module names
    "generate_maps": "mc_landcover.generate:generate",
    "generate_wide_files": "mc_landcover.generate",
    # analysis
    "eval_inpaint": "mc_landcover.inpaint.experiment",
    "inpaint_sweep": "mc_landcover.inpaint.experiment",
    "collect_runs": "mc_landcover.inpaint.experiment",
    "eval_perplexity": "mc_landcover.analysis.perplexity",
    "evaluate_perplexity": "mc_landcover.analysis.perplexity",
    "sample_chain": "mc_landcover.analysis.gibbs",
    "run_chains": "mc_landcover.analysis.gibbs",
    "compare_information": "mc_landcover.analysis.information",
    "zip_info_content": "mc_landcover.analysis.information",
    "viz_embed": "mc_landcover.analysis.embeddings",
    "prob_dev": "mc_landcover.analysis.probdev",
    "landscape_stats": "mc_landcover.analysis.landscape",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'mc_landcover' has no attribute {name!r}")
    module, _, attr = target.partition(":")
    value = getattr(importlib.import_module(module), attr or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
