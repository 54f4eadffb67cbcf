"""Next-token models over row-RLE tokens: `rle-lm` (causal GRU per row) and `msdzip` (fixed context)."""

from __future__ import annotations

MODEL_NAMES = ("rle-lm", "msdzip")


def build_model(name: str, config: dict):
    from mc_core.errors import UsageError

    if name == "rle-lm":
        from mc_codec.models.rle_lm import RleLM

        return RleLM(**config)
    if name == "msdzip":
        from mc_codec.models.msdzip import MSDZip

        return MSDZip(**config)
    raise UsageError(f"unknown codec model {name!r}; expected one of {', '.join(MODEL_NAMES)}")
