"""Checkpoints: weights in safetensors plus a JSON file with the config and metadata.

Layout of a checkpoint directory::

    ckpt/
      model.safetensors   the weights (no pickle anywhere)
      config.json         {"format": "mc-checkpoint", "model": <registered name>,
                           "config": {...}, "meta": {...}}
      state.safetensors   optional training state (optimizer, scheduler, step) for --resume

Loading never unpickles: safetensors holds tensors only, nested states are flattened to tensors
plus a JSON skeleton (:func:`save_state` / :func:`load_state`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mc_core.atomic import atomic_dir, atomic_path, write_json
from mc_core.errors import BadInputError

FORMAT = "mc-checkpoint"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
STATE_FILE = "state.safetensors"


@dataclass
class Checkpoint:
    path: Path
    model: str
    config: dict[str, Any]
    meta: dict[str, Any]
    state_dict: dict[str, Any] = field(repr=False)

    @property
    def weights_sha256(self) -> str:
        return self.meta.get("weights_sha256") or sha256_file(self.path / WEIGHTS_FILE)


def save_checkpoint(
    path: str | os.PathLike,
    state_dict: dict[str, Any],
    *,
    model: str,
    config: dict[str, Any],
    meta: dict[str, Any] | None = None,
    training_state: dict[str, Any] | None = None,
    extra_files: Callable[[Path], None] | None = None,
) -> Path:
    """Write a checkpoint directory atomically (it appears complete or not at all).

    `extra_files(folder)` may add a plugin's own files (e.g. primed counts) to the folder before
    it is published, so they appear with the weights or not at all."""
    from safetensors.torch import save_file

    target = Path(path)
    with atomic_dir(target) as tmp:
        save_file(_unshare(state_dict), str(tmp / WEIGHTS_FILE))
        info = {
            "format": FORMAT,
            "model": model,
            "config": config,
            "meta": {
                "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                **_package_versions(),
                **(meta or {}),
                "weights_sha256": sha256_file(tmp / WEIGHTS_FILE),
            },
        }
        write_json(tmp / CONFIG_FILE, info)
        if training_state is not None:
            save_state(tmp / STATE_FILE, training_state)
        if extra_files is not None:
            extra_files(tmp)
    return target


def load_checkpoint(
    path: str | os.PathLike,
    *,
    expect_model: str | Iterable[str] | None = None,
    device: Any = "cpu",
) -> Checkpoint:
    """Read a checkpoint directory (or the `model.safetensors` / `config.json` inside it)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    root = Path(path)
    if root.is_file() and root.name in (WEIGHTS_FILE, CONFIG_FILE):
        root = root.parent
    if not root.exists():
        raise BadInputError(root, "checkpoint not found")
    if not root.is_dir():
        raise BadInputError(root, f"not a checkpoint directory (expected {WEIGHTS_FILE} + {CONFIG_FILE})")
    cfg_path = root / CONFIG_FILE
    try:
        info = json.loads(cfg_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInputError(root, f"not an mc checkpoint: {CONFIG_FILE} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInputError(cfg_path, f"corrupt checkpoint config ({exc})") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT or "model" not in info:
        raise BadInputError(cfg_path, "not an mc checkpoint config")
    if expect_model is not None:
        allowed = {expect_model} if isinstance(expect_model, str) else set(expect_model)
        if info["model"] not in allowed:
            raise BadInputError(
                root,
                f"checkpoint holds a {info['model']!r} model, expected "
                + " or ".join(repr(a) for a in sorted(allowed)),
            )
    weights = root / WEIGHTS_FILE
    if not weights.exists():
        raise BadInputError(root, f"checkpoint has no {WEIGHTS_FILE}")
    try:
        state_dict = load_file(str(weights), device=str(device))
    except (SafetensorError, OSError, ValueError) as exc:
        raise BadInputError(weights, f"corrupt weights ({exc})") from None
    for key in ("config", "meta"):
        if not isinstance(info.get(key) or {}, dict):
            raise BadInputError(cfg_path, f"{key!r} must be a mapping, got {type(info[key]).__name__}")
    if not isinstance(info["model"], str) or not info["model"]:
        raise BadInputError(cfg_path, "'model' must be a registered model name")
    return Checkpoint(
        path=root,
        model=info["model"],
        config=dict(info.get("config") or {}),
        meta=dict(info.get("meta") or {}),
        state_dict=state_dict,
    )



# -- nested training state (optimizer, scheduler, counters) ----------------------------------

def load_resume(
    last_dir: str | os.PathLike,
    *,
    expect_model: str | Iterable[str],
    model_config: Any,
    device: Any = "cpu",
) -> tuple[Checkpoint, Any]:
    """The checkpoint and training state (`STATE_FILE`) a `--resume` continues from.

    Bad input (exit 2) when `last_dir` holds no training state, another kind of model, or a model
    config other than `model_config` (compared with the checkpoint's `config["model"]`).
    """
    last_dir = Path(last_dir)
    if not (last_dir / STATE_FILE).exists():
        raise BadInputError(last_dir, "nothing to resume: no checkpoint with training state")
    ck = load_checkpoint(last_dir, expect_model=expect_model, device=device)
    if ck.config.get("model") != model_config:
        raise BadInputError(last_dir, "--resume: the checkpoint's model config differs from this run's")
    return ck, load_state(last_dir / STATE_FILE, device=device)


def restore_training(ck: Checkpoint, state: Any, model: Any, optimizer: Any) -> tuple[int, list, float]:
    """Load a resumed run's weights and optimizer state (from :func:`load_resume`); return the
    state's step, history (a JSON list) and training seconds so far."""
    model.load_state_dict(ck.state_dict)
    optimizer.load_state_dict(state["optimizer"])
    return int(state["step"]), json.loads(state.get("history", "[]")), float(state.get("train_seconds", 0.0))


def save_state(path: str | os.PathLike, state: Any) -> None:
    """Save a nested structure of dicts/lists/tensors/numbers/strings without pickle."""
    from safetensors.torch import save_file

    tensors: dict[str, Any] = {}
    skeleton = _flatten(state, "s", tensors)
    with atomic_path(path) as tmp:
        save_file(_unshare(tensors), str(tmp), metadata={"skeleton": json.dumps(skeleton)})


def load_state(path: str | os.PathLike, device: Any = "cpu") -> Any:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device=str(device)) as fh:
            meta = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except FileNotFoundError:
        raise BadInputError(path, "training state not found") from None
    except Exception as exc:  # noqa: BLE001 - safetensors raises several types
        raise BadInputError(path, f"corrupt training state ({exc})") from None
    if "skeleton" not in meta:
        raise BadInputError(path, "not an mc training state (no skeleton metadata)")
    return _unflatten(json.loads(meta["skeleton"]), tensors)


def _flatten(obj: Any, key: str, tensors: dict[str, Any]) -> Any:
    import torch

    if isinstance(obj, torch.Tensor):
        tensors[key] = obj.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        return {"__dict__": [[_flatten(k, f"{key}.k{i}", tensors), _flatten(v, f"{key}.{i}", tensors)]
                             for i, (k, v) in enumerate(obj.items())]}
    if isinstance(obj, (list, tuple)):
        return {"__list__" if isinstance(obj, list) else "__tuple__":
                [_flatten(v, f"{key}.{i}", tensors) for i, v in enumerate(obj)]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if hasattr(obj, "item") and hasattr(obj, "dtype"):  # numpy scalar
        return obj.item()
    raise TypeError(f"cannot save {type(obj).__name__} in a training state")


def _unflatten(obj: Any, tensors: dict[str, Any]) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__dict__" in obj:
            return {_unflatten(k, tensors): _unflatten(v, tensors) for k, v in obj["__dict__"]}
        if "__list__" in obj:
            return [_unflatten(v, tensors) for v in obj["__list__"]]
        if "__tuple__" in obj:
            return tuple(_unflatten(v, tensors) for v in obj["__tuple__"])
    return obj


def _unshare(tensors: dict[str, Any]) -> dict[str, Any]:
    """safetensors refuses tensors that share memory (tied weights): give each its own copy."""
    seen: set[tuple[int, int]] = set()
    out = {}
    for name, t in tensors.items():
        t = t.detach().cpu()
        key = (t.untyped_storage().data_ptr(), t.storage_offset()) if t.numel() else (id(t), 0)
        out[name] = t.clone().contiguous() if key in seen or not t.is_contiguous() else t
        seen.add(key)
    return out


# -- fingerprints ----------------------------------------------------------------------------

def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def fingerprint_files(paths: Iterable[str | os.PathLike], root: str | os.PathLike | None = None) -> str:
    """A SHA-256 over the relative names and contents of files: the data hash of a run."""
    h = hashlib.sha256()
    base = Path(root) if root is not None else None
    for p in sorted(Path(p) for p in paths):
        name = str(p.relative_to(base)) if base is not None else str(p)
        h.update(name.encode() + b"\0" + sha256_file(p).encode() + b"\n")
    return h.hexdigest()


def _package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in ("mc-core", "torch"):
        try:
            out[f"{dist}_version"] = version(dist)
        except PackageNotFoundError:
            pass
    return out
