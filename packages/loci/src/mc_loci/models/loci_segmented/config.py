"""The configuration of the Loci-Segmented model (``loci-s``): sizes, shared by every stage."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from mc_loci.models import config_from_dict

MODEL_NAME = "loci-s"
# documented limits (memory grows with them)
LIMITS = {"num_slots": (1, 16), "gestalt": (4, 256), "hidden": (4, 512), "passes": (1, 8), "size": (16, 256)}


@dataclass
class LociConfig:
    size: int = 64              # frames are size x size (data of another size is refused)
    num_slots: int = 5          # object slots (the background is its own component)
    gestalt: int = 32           # Gestalt code size of each part (mask, depth, rgb): 3 * gestalt per slot
    hidden: int = 32            # conv channels of the encoder and decoders
    depth_input: bool = True    # the encoder and the background module read depth
    passes: int = 3             # encoder-decoder passes per frame (stage 1 trains with 1, stage 2 with this)
    hyper: bool = True          # hyper-network generated encoder weights (off in stage 1)
    gestalt_noise: float = 0.1  # std of the noise added to the sigmoid of the Gestalt in training
    suppression: float = 8.0    # how strongly a higher-priority slot suppresses a lower one's mask logit
    discovery_threshold: float = 0.08  # mean abs error (0..1) above which a new slot is placed
    min_area: int = 6           # a slot covering fewer pixels is freed (object discovery can reuse it)
    bg_model: dict = field(default_factory=dict)  # loci-background config (empty: a default one)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LociConfig:
        cfg = config_from_dict(cls, d, "loci-s model")
        for name, (low, high) in LIMITS.items():
            value = getattr(cfg, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be an integer in {low}..{high}, got {value!r}")
        if cfg.size % 4:
            raise ValueError(f"size must be a multiple of 4, got {cfg.size}")
        for name in ("gestalt_noise", "suppression", "discovery_threshold"):
            value = getattr(cfg, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e3:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        if not isinstance(cfg.bg_model, dict):
            raise ValueError("bg_model must be a mapping (a loci-background config)")
        return cfg

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
