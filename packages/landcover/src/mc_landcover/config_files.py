"""Model configs as YAML files: the shipped ones (`tiny`, `randar_nlcd_16`, `randar_nlcd_32`) by
name, or any path. A config has a `model` section (the model's constructor config), and
optionally `train` and `data` (with `data.path`, the npz the commands read when `--data` is absent)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mc_core.errors import BadInputError

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
SHIPPED_CONFIGS = ("tiny", "randar_nlcd_16", "randar_nlcd_32")

__all__ = ["CONFIG_DIR", "SHIPPED_CONFIGS", "config_data_path", "config_path", "load_config"]


def config_path(name: str | os.PathLike) -> Path:
    """A config file: an existing path, or the name of a shipped config (`tiny`, `randar_nlcd_32`)."""
    p = Path(name)
    if p.suffix in (".yaml", ".yml", ".json") or p.exists():
        if not p.exists():
            raise BadInputError(p, "config file not found")
        return p
    shipped = CONFIG_DIR / f"{name}.yaml"
    if shipped.exists():
        return shipped
    raise BadInputError(p, f"no such config file or shipped config (shipped: {', '.join(SHIPPED_CONFIGS)})")


def load_config(name: str | os.PathLike, *, check_model: bool = True) -> dict[str, Any]:
    """The full config dict (`model`, `data`, `train` sections) of a path or shipped name; with
    `check_model`, its `model` section must be a valid RandAR config."""
    from mc_core.config import load_config as _load

    path = config_path(name)
    cfg = _load(path)
    if not isinstance(cfg.get("model"), dict):
        raise BadInputError(path, "config has no 'model' section")
    for key in ("train", "data"):
        if cfg.get(key) is not None and not isinstance(cfg[key], dict):
            raise BadInputError(path, f"config section {key!r} must be a mapping")
    if check_model and cfg["model"].get("name", "randar") == "randar":
        from mc_landcover.models.randar import RandARConfig

        try:
            RandARConfig.from_dict(cfg["model"])
        except (TypeError, ValueError) as exc:
            raise BadInputError(path, f"bad model config: {exc}") from None
    return cfg


def config_data_path(config: str | os.PathLike | None) -> str | None:
    """`data.path` of a config (the seed's scripts take the data set from their `--config`)."""
    if config is None:
        return None
    from mc_core.config import load_config as _load

    path = config_path(config)
    cfg = _load(path)
    data = cfg.get("data")
    if not isinstance(data, dict) or not data.get("path"):
        return None
    p = Path(str(data["path"]))
    if not p.is_absolute() and not p.exists() and (path.parent / p).exists():
        p = path.parent / p
    return str(p)
