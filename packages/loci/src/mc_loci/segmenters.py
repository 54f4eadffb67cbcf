"""Get a :class:`~mc_loci.interface.VideoSegmenter` by its registry name, the way `mc loci eval`
and `mc loci segment` do: a trained model from its checkpoint, a baseline from its config, both
through :mod:`mc_core.factory`, so a model another plugin registers for ``task="loci"`` works the
same.

    from mc_loci import get_segmenter
    seg = get_segmenter("model", checkpoint="runs/loci/checkpoints/final")
    ids = seg.segment(video)                      # (T, H, W) instance ids
    cc = get_segmenter("median-cc")
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mc_core.errors import BadInputError, UsageError
from mc_loci.interface import TASK, VideoSegmenter, requires_checkpoint

__all__ = ["ANY_MODEL", "baseline_defaults", "check_method_args", "check_video", "checkpoint_files", "get_segmenter", "method_names"]

# the method meaning "whatever model the checkpoint holds"
ANY_MODEL = "model"
PathLike = str | os.PathLike


def method_names() -> list[str]:
    """Every method the loci commands accept: ``model`` and each registry entry for task loci."""
    from mc_core import registries

    return [ANY_MODEL, *registries().models.names(task=TASK)]


def checkpoint_files(path: PathLike | None) -> list[Path]:
    """The files of a checkpoint folder (for output-is-input checks); [] for None."""
    if path is None:
        return []
    p = Path(path)
    if p.is_dir():
        return [p, *sorted(f for f in p.iterdir() if f.is_file())]
    return [p]


def check_method_args(method: str, checkpoint: PathLike | None, bg_checkpoint: PathLike | None) -> bool:
    """UsageError when `checkpoint` / `bg_checkpoint` do not fit `method` (checked before any file is
    read); returns whether `method` is a trained model (built from a checkpoint)."""
    from mc_core.factory import model_entry

    trained = method == ANY_MODEL or requires_checkpoint(model_entry(method, task=TASK).load())
    if trained:
        if bg_checkpoint is not None:
            raise UsageError("bg_checkpoint goes with method 'learned-cc' (a model trained with the learned "
                             "background keeps its background module in its own checkpoint)")
        if checkpoint is None:
            raise UsageError(f"method {method!r} is a trained model: it needs a checkpoint")
        return True
    if checkpoint is not None:
        raise UsageError(f"method {method!r} is a baseline: it takes no checkpoint (method 'model' "
                         "evaluates a checkpoint)")
    if method == "learned-cc" and bg_checkpoint is None:
        raise UsageError("method 'learned-cc' needs bg_checkpoint (a loci-background checkpoint)")
    if method != "learned-cc" and bg_checkpoint is not None:
        raise UsageError("bg_checkpoint goes with method 'learned-cc' only")
    return False


def baseline_defaults(method: str) -> dict[str, Any]:
    """The config a baseline is built with by default: its target's keyword parameters with a
    default (the schema `overrides` are checked against)."""
    import inspect

    from mc_core.factory import model_entry

    target = model_entry(method, task=TASK).load()
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in params
            if p.default is not inspect.Parameter.empty and p.kind is not inspect.Parameter.VAR_KEYWORD}


def get_segmenter(method: str = ANY_MODEL, *, checkpoint: PathLike | None = None,
                  bg_checkpoint: PathLike | None = None, config: Mapping[str, Any] | None = None,
                  overrides: Sequence[str] = (), device: Any = "auto") -> VideoSegmenter:
    """The segmenter `method` names, checked to offer VideoSegmenter.

    - ``"model"``: the model `checkpoint` holds (any model registered for task loci);
    - a trained model's name (``slot-segmenter``, ``loci-background``, ...): `checkpoint` must hold it;
    - a baseline's name (``median-cc``, ...): built from `config` plus `overrides` (``key=value``
      strings checked against :func:`baseline_defaults`: ``["threshold=20"]``); ``learned-cc``
      takes `bg_checkpoint`, a ``loci-background`` checkpoint.
    """
    from mc_core.device import resolve_device
    from mc_core.factory import create_model, load_model_and_checkpoint

    trained = check_method_args(method, checkpoint, bg_checkpoint)
    if trained and overrides:
        raise UsageError(f"overrides set a baseline's config; method {method!r} is a trained model "
                         "(its config is in its checkpoint)")
    dev = resolve_device(device)
    if trained:
        model, ck = load_model_and_checkpoint(checkpoint, task=TASK, protocol=VideoSegmenter, device=dev)
        if method != ANY_MODEL and ck.model != method:
            raise BadInputError(ck.path, f"checkpoint holds a {ck.model!r} model, not {method!r}")
        return model
    cfg = dict(config or {})
    if overrides:
        from mc_core.config import apply_overrides

        cfg = apply_overrides(cfg, overrides, schema={**baseline_defaults(method), **cfg})
    if method == "learned-cc":
        cfg["bg_checkpoint"] = str(bg_checkpoint)
    seg = create_model(method, cfg, task=TASK, protocol=VideoSegmenter)
    if hasattr(seg, "to") and callable(seg.to):
        seg = seg.to(dev)
    return seg


def check_video(segmenter: VideoSegmenter, video: Mapping[str, Any], path: PathLike | None) -> None:
    """BadInputError naming `path` when `segmenter` needs depth and the video has none."""
    if getattr(segmenter, "needs_depth", False) and video.get("depth") is None:
        raise BadInputError(path, "this model needs depth but the video has no 'depth' array")
