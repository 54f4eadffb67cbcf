"""The stage configs shipped with mc-loci (``mc_loci/configs/<stage>.json``, the seed's names) and
reading a config given by name or file (``--config NAME|FILE``, the seed's ``-cfg``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mc_core.errors import BadInputError, UsageError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"

# stage name -> what it trains
STAGES: dict[str, str] = {
    "pretrain-mask-decoder": "mask",
    "pretrain-depth-decoder": "depth",
    "pretrain-rgb-decoder": "rgb",
    "pretrain-encoder-decoder-stage1": "stage1",
    "pretrain-encoder-decoder-stage1-depth": "stage1",
    "pretrain-encoder-decoder-stage2": "stage2",
    "pretrain-encoder-decoder-stage2-depth": "stage2",
    "pretrain-background": "background",
    "pretrain-background-depth": "background",
    "loci-s": "loci",
    "loci-s-depth": "loci",
}
# the pipeline's order: (stage, the stages whose checkpoints it loads, by the seed's flag)
PIPELINE = (
    ("pretrain-mask-decoder", {}),
    ("pretrain-depth-decoder", {}),
    ("pretrain-rgb-decoder", {}),
    ("pretrain-encoder-decoder-stage1", {"mask": "pretrain-mask-decoder", "depth": "pretrain-depth-decoder",
                                         "rgb": "pretrain-rgb-decoder"}),
    ("pretrain-encoder-decoder-stage2", {"stage1": "pretrain-encoder-decoder-stage1"}),
    ("pretrain-background", {}),
    ("loci-s", {"stage1": "pretrain-encoder-decoder-stage2", "bg": "pretrain-background"}),
)


def shipped_configs() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.json"))


def depth_name(stage: str, depth: bool) -> str:
    """The stage's config name with or without depth input (the decoders have one config)."""
    return f"{stage}-depth" if depth and f"{stage}-depth" in STAGES else stage


def load_config(name_or_file: str | Path) -> dict[str, Any]:
    """A stage config: a shipped name (``pretrain-mask-decoder``, ...) or a JSON file. It has ``stage``
    (one of :data:`STAGES`), ``model`` and ``train`` mappings."""
    text = str(name_or_file)
    path = Path(text)
    if not path.is_file():
        # the seed's spelling `-cfg configs/<stage>.json` means the shipped config of that name
        named = CONFIG_DIR / f"{path.stem if text.endswith('.json') else text}.json"
        if named.is_file() and (len(path.parts) == 1 or path.parent.name == "configs"):
            path = named
        elif text.endswith(".json") or "/" in text:
            raise BadInputError(path, "config file not found")
        else:
            raise UsageError(f"unknown config {text!r} (shipped: {', '.join(shipped_configs())}; or a JSON file)")
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(path, f"not a readable JSON config ({exc.__class__.__name__})") from None
    if not isinstance(cfg, dict):
        raise BadInputError(path, "a config must be a JSON object")
    stage = cfg.get("stage")
    if stage not in STAGES:
        raise BadInputError(path, f"'stage' must be one of {', '.join(STAGES)}, got {stage!r}")
    for key in ("model", "train"):
        if not isinstance(cfg.get(key, {}), dict):
            raise BadInputError(path, f"'{key}' must be a JSON object")
    unknown = set(cfg) - {"stage", "model", "train", "description"}
    if unknown:
        raise BadInputError(path, f"unknown key(s) {', '.join(sorted(unknown))} (known: stage, model, train, "
                                  "description)")
    return {"stage": stage, "model": dict(cfg.get("model", {})), "train": dict(cfg.get("train", {})),
            "source": str(path)}
