"""Models of the loci plugin."""

from __future__ import annotations

from dataclasses import fields
from typing import Any


def config_from_dict(cls, d: dict[str, Any], what: str = "model"):
    """``cls(**d)`` for a config dataclass, refusing keys it does not know (ValueError)."""
    unknown = set(d) - {f.name for f in fields(cls)}
    if unknown:
        raise ValueError(f"unknown {what} option(s): {', '.join(sorted(unknown))}")
    return cls(**d)


def resolve_config(cls, config: Any, kwargs: dict[str, Any]):
    """A model's config from what its constructor got: a config object, or a dict and/or keyword
    options checked by ``cls.from_dict``."""
    if config is None or isinstance(config, dict):
        return cls.from_dict({**(config or {}), **kwargs})
    return config


def load_model_checkpoint(path, model_cls, model_name: str, what: str = "model"):
    """(model, checkpoint) from an mc checkpoint of ``model_name``: the model built from the stored
    config with the stored weights; BadInputError (one line, naming the path) if they do not fit."""
    from mc_core.checkpoint import load_checkpoint
    from mc_core.errors import BadInputError

    ck = load_checkpoint(path, expect_model=model_name)
    try:
        model = model_cls(dict(ck.config.get("model") or {}))
        model.load_state_dict(ck.state_dict)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise BadInputError(ck.path, f"weights do not fit the {what} config ({str(exc).splitlines()[0]})") from None
    return model, ck
