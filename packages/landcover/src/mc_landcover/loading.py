"""Loading landcover models from checkpoints, through the model registry (`mc_core.factory`).

A checkpoint's `config.json` names its registry entry (`"model"`), so any model registered for
the landcover task (ours or a third-party plugin's) loads here, checked against the Protocol the
calling command needs (see :mod:`mc_landcover.interface`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from mc_core.errors import BadInputError, UsageError
from mc_landcover.interface import LandcoverModel

TASK = "landcover"
# model config keys that decide the shapes of the weights (a --config must agree on them)
SHAPE_KEYS = ("num_classes", "size", "n_layer", "n_embd", "n_head", "mlp_ratio")

__all__ = ["TASK", "check_map_size", "load_landcover_model"]


def load_landcover_model(checkpoint: str | os.PathLike | None, *, config: str | os.PathLike | Mapping | None = None,
                         device: Any = "cpu", protocol: type | None = LandcoverModel) -> Any:
    """The model in `checkpoint`, rebuilt through the registry on `device` and in eval mode.

    `config` (a YAML path, a shipped config name or a dict with a `model` section), when given, is
    checked against the checkpoint's own model config: a mismatch is bad input naming the checkpoint.
    `protocol` is the interface the caller needs (a model lacking it is bad input).
    """
    from mc_core.device import resolve_device
    from mc_core.factory import load_model_and_checkpoint

    if checkpoint is None:
        raise UsageError("checkpoint is required")
    dev = resolve_device(device) if isinstance(device, str) else device
    model, ck = load_model_and_checkpoint(checkpoint, task=TASK, protocol=protocol, device=dev)
    if config is not None:
        check_config_matches(config, ck)
    return model


def check_config_matches(config: str | os.PathLike | Mapping, ck: Any) -> None:
    """Bad input unless `config`'s model section agrees with checkpoint `ck` on the weight shapes."""
    from mc_landcover.config_files import load_config

    if isinstance(config, Mapping):
        given = dict(config.get("model", config))
    else:
        given = dict(load_config(config, check_model=False)["model"])
    saved = ck.config.get("model") or {}
    if not isinstance(saved, Mapping):
        return
    given_name = given.get("name", "randar")
    if given_name != ck.model:
        raise BadInputError(ck.path, f"checkpoint does not match the config (config model {given_name!r}, "
                                     f"checkpoint model {ck.model!r})")
    if ck.model == "randar":
        from mc_landcover.models.randar import RandARConfig

        try:
            a, b = RandARConfig.from_dict(given), RandARConfig.from_dict(dict(saved))
        except (TypeError, ValueError) as exc:
            raise BadInputError(None if isinstance(config, Mapping) else config, f"bad model config: {exc}") from None
        given, saved = vars(a), vars(b)
    diff = [f"{k}: config {given.get(k)} vs checkpoint {saved.get(k)}" for k in SHAPE_KEYS
            if k in given and k in saved and given[k] != saved[k]]
    if diff:
        raise BadInputError(ck.path, "checkpoint does not match the config (" + "; ".join(diff) + ")")


def check_map_size(maps: np.ndarray, model: Any, path: str | os.PathLike | None = None) -> np.ndarray:
    """Return `maps` (N, H, W) if they are model.size x model.size; else bad input naming `path`."""
    size = int(model.size)
    if maps.ndim != 3 or maps.shape[1] != size or maps.shape[2] != size:
        shape = "x".join(map(str, maps.shape[1:])) if maps.ndim == 3 else str(maps.shape)
        raise BadInputError(path, f"maps are {shape} but the model is {size}x{size}")
    return maps
