"""Config files (YAML or JSON) with `key.sub=value` overrides from the command line."""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from mc_core.errors import BadInputError, UsageError


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads 1e-3 and 3e-4 as floats (YAML 1.2 style), not strings."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def yaml_load(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML (.yaml/.yml) or JSON file whose top level is a mapping."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInputError(p, "config file not found") from None
    except (IsADirectoryError, UnicodeDecodeError) as exc:
        raise BadInputError(p, f"cannot read config ({type(exc).__name__})") from None
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else yaml_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise BadInputError(p, f"invalid {'JSON' if p.suffix.lower() == '.json' else 'YAML'}: {first}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BadInputError(p, f"config must be a mapping at the top level, got {type(data).__name__}")
    return data


def _check_against_schema(item: str, key: str, value: Any, schema: Mapping[str, Any]) -> None:
    """Usage error unless dotted `key` exists in `schema` and `value` has its default's type."""
    import difflib
    import math

    node: Any = schema
    parts = key.split(".")
    for i, part in enumerate(parts):
        if not isinstance(node, Mapping) or part not in node:
            where = ".".join(parts[:i])
            choices = [f"{where}.{k}" if where else str(k) for k in (node if isinstance(node, Mapping) else {})]
            close = difflib.get_close_matches(key, choices, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else (
                f" (known keys: {', '.join(sorted(choices))})" if choices else "")
            raise UsageError(f"override {item!r}: unknown key {key!r}{hint}")
        node = node[part]
    default = node
    if isinstance(default, float) and isinstance(value, str) and \
            value.strip().lower().lstrip("+-") in ("nan", "inf", "infinity"):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"override {item!r}: {key} must be a finite number")
    if default is None or isinstance(default, Mapping) and isinstance(value, Mapping):
        return
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif isinstance(default, (list, tuple)):
        ok = isinstance(value, (list, tuple))
    elif isinstance(default, Mapping):
        ok = False
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise UsageError(f"override {item!r}: {key} must be {type(default).__name__} "
                         f"(like {default!r}), got {type(value).__name__}")


def apply_overrides(config: Mapping[str, Any], overrides: Iterable[str], *,
                    schema: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return a copy of `config` with ``a.b.c=value`` overrides applied (values parsed as YAML).

    With `schema` (a nested mapping of defaults, usually `config` with every default filled in),
    an unknown key is a usage error with a suggestion, and a value must have its default's type
    (an int for an int, a number for a float, a finite number; ranges are the config's own check).
    """
    out = copy.deepcopy(dict(config))
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"override {item!r} must look like key=value (e.g. train.lr=3e-4)")
        try:
            value = yaml_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        if schema is not None:
            _check_against_schema(item, key.strip(), value, schema)
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            elif not isinstance(nxt, dict):
                raise UsageError(f"override {item!r}: {part!r} is not a section")
            node = nxt
        node[parts[-1]] = value
    return out


def merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge `update` into a copy of `base` (None values in `update` are ignored)."""
    out = copy.deepcopy(dict(base))
    for k, v in update.items():
        if v is None:
            continue
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out
