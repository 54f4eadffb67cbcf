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
