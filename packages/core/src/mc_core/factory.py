"""The registries as the factory: build a model by its registered name, rebuild one from a
checkpoint, and check it offers the interface a plugin's commands need.

Every command that builds or loads a model goes through here, so a model registered by any
installed plugin (ours or a third party's) works with the built-in commands::

    from mc_core.factory import create_model, load_model
    from mc_codec import CodecModel            # the typed Protocol codec's commands need

    model = create_model("rle-lm", {"vocab_size": 64}, task="codec", protocol=CodecModel)
    model = load_model("runs/codec/checkpoints/final", task="codec", protocol=CodecModel)

A registered model target is a class (or function) that builds the model from keyword arguments
(its config). A target may instead offer ``from_config(config)`` (a classmethod) and, for models
whose state is not a torch ``state_dict``, ``from_checkpoint(checkpoint)``. A checkpoint's
``config.json`` names the registry entry (``"model"``) and keeps the model's config under
``config["model"]``.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from typing import Any

from mc_core.errors import BadInputError, UsageError

__all__ = [
    "check_interface",
    "create_model",
    "load_model",
    "load_model_and_checkpoint",
    "missing_members",
    "model_entry",
]

_PROTOCOL_BASES = {"Protocol", "Generic", "object"}


def missing_members(obj: Any, protocol: type) -> list[str]:
    """The members (methods and attributes) of `protocol` that `obj` lacks, sorted."""
    wanted: set[str] = set()
    for cls in protocol.__mro__:
        if cls.__name__ in _PROTOCOL_BASES:
            continue
        wanted.update(getattr(cls, "__annotations__", {}))
        wanted.update(n for n, v in vars(cls).items()
                      if not n.startswith("_") and (callable(v) or isinstance(v, property)))
    missing = []
    for name in sorted(wanted):
        try:
            getattr(obj, name)
        except AttributeError:
            missing.append(name)
        except Exception:  # noqa: BLE001 - a property that fails still exists
            pass
    return missing


def check_interface(obj: Any, protocol: type | None, *, what: str, path: str | os.PathLike | None = None) -> Any:
    """Return `obj` if it offers every member of `protocol`; else a one-line error (exit 2)."""
    if protocol is None:
        return obj
    missing = missing_members(obj, protocol)
    if missing:
        problem = (f"{what} does not implement {protocol.__name__} (missing: {', '.join(missing)}); "
                   f"see the plugin's README for the interface its commands need")
        if path is not None:
            raise BadInputError(path, problem)
        raise UsageError(problem)
    return obj


def model_entry(name: str, *, task: str | None = None, path: str | os.PathLike | None = None):
    """The registry entry of model `name`, checked to serve `task` (a plugin's commands)."""
    from mc_core import registries
    from mc_core.errors import RegistryError

    models = registries().models
    try:
        entry = models.entry(name)
    except RegistryError as exc:
        if path is not None:
            raise BadInputError(path, f"{exc} (is the plugin that registers it installed?)") from None
        raise
    if task is not None and entry.task != task:
        others = ", ".join(models.names(task=task)) or "none"
        problem = (f"model {name!r} (plugin {entry.plugin!r}) is a {entry.task or 'generic'} model, "
                   f"not one for `mc {task}` (those are: {others})")
        if path is not None:
            raise BadInputError(path, problem)
        raise UsageError(problem)
    return entry


def create_model(name: str, config: Mapping[str, Any] | None = None, *, task: str | None = None,
                 protocol: type | None = None) -> Any:
    """Build registered model `name` from `config` (keyword arguments), checked against `protocol`."""
    entry = model_entry(name, task=task)
    return check_interface(_build(entry, dict(config or {}), None), protocol, what=f"model {name!r}")


def _build(entry: Any, config: dict[str, Any], path: str | os.PathLike | None) -> Any:
    target = entry.load()
    try:
        if hasattr(target, "from_config"):
            return target.from_config(config)
        return target(**config)
    except (TypeError, ValueError) as exc:
        problem = f"model {entry.name!r}: bad config ({exc})"
        if path is not None:
            raise BadInputError(path, problem) from None
        raise UsageError(problem) from None


def load_model_and_checkpoint(path: str | os.PathLike, *, task: str | None = None,
                              protocol: type | None = None, device: Any = "cpu"):
    """Rebuild the model a checkpoint holds through the registry; return ``(model, checkpoint)``.

    The checkpoint names its registry entry; the entry's target rebuilds the model from
    ``config["model"]`` (or by its ``from_checkpoint``) and gets the saved weights. A model
    that is not registered, serves another plugin's commands or lacks `protocol` is bad input.
    """
    from mc_core.checkpoint import load_checkpoint

    ck = load_checkpoint(path, device=device)
    entry = model_entry(ck.model, task=task, path=ck.path)
    target = entry.load()
    if hasattr(target, "from_checkpoint"):
        try:
            model = target.from_checkpoint(ck)
        except (TypeError, ValueError, KeyError) as exc:
            raise BadInputError(ck.path, f"cannot rebuild model {ck.model!r} ({exc})") from None
    else:
        model_config = ck.config.get("model", {})
        if not isinstance(model_config, Mapping):
            raise BadInputError(ck.path, f"config.json: 'config.model' must be a mapping, got "
                                         f"{type(model_config).__name__}")
        model = _build(entry, dict(model_config), ck.path)
        if hasattr(model, "load_state_dict"):
            try:
                model.load_state_dict(ck.state_dict)
            except (RuntimeError, KeyError, ValueError) as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise BadInputError(ck.path, f"weights do not fit model {ck.model!r} ({first})") from None
    if hasattr(model, "to") and inspect.ismethod(getattr(model, "to", None)):
        try:
            model = model.to(device)
        except TypeError:
            pass
    if hasattr(model, "eval") and callable(model.eval):
        model.eval()
    check_interface(model, protocol, what=f"model {ck.model!r}", path=ck.path)
    return model, ck


def load_model(path: str | os.PathLike, *, task: str | None = None, protocol: type | None = None,
               device: Any = "cpu") -> Any:
    """The model a checkpoint holds, rebuilt through the registry (see
    :func:`load_model_and_checkpoint`)."""
    return load_model_and_checkpoint(path, task=task, protocol=protocol, device=device)[0]
