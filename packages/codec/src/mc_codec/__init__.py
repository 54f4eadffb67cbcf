"""Lossless mask compression with learned entropy models (MasksComp).

    >>> import mc_codec
    >>> data = mc_codec.encode(mask)            # the shipped default model
    >>> assert (mc_codec.decode(data) == mask).all()
    >>> result = mc_codec.train_codec("data", "runs/codec", epochs=5, use_2d=True)
    >>> codec = mc_codec.load_model(result.checkpoint)   # any registered CodecModel
    >>> prior = mc_codec.checkpoint_prior(result.checkpoint)  # primed context-model baselines
    >>> prior.bits(mask, 8)                               # ideal bits, 8 neighbours

Heavy libraries (torch) load on first use, so importing the package stays cheap.
"""

from __future__ import annotations

from mc_core.lazy import lazy_exports

# public name -> module that defines it (imported on first use)
_EXPORTS = {
    "CodecModel": "mc_codec.interface",
    "CodecStepper": "mc_codec.interface",
    "LoadedCodec": "mc_codec.coding.api",
    "load_model": "mc_codec.coding.api",
    "encode_with_stats": "mc_codec.coding.api",
    "default_checkpoint": "mc_codec.coding.api",
    "train_codec": "mc_codec.train",
    "evaluate_split": "mc_codec.evaluate",
    "image_bits": "mc_codec.evaluate",
    "compress_path": "mc_codec.files",
    "decompress_path": "mc_codec.files",
    "codec_matrix": "mc_codec.matrix",
    "cache_rows": "mc_codec.cache",
    "context_model_bits": "mc_codec.context_model",
    "ContextPrior": "mc_codec.primed",
    "fit_context_prior": "mc_codec.primed",
    "load_context_prior": "mc_codec.primed",
    "checkpoint_prior": "mc_codec.primed",
}


def encode(mask, model=None, **kwargs) -> bytes:
    """Code a (H, W) uint8/uint16 mask losslessly; see :func:`mc_codec.coding.api.encode`."""
    from mc_codec.coding.api import encode as _encode

    return _encode(mask, model, **kwargs)


def decode(data: bytes, model=None, **kwargs):
    """Decode `.mcz` bytes; see :func:`mc_codec.coding.api.decode`."""
    from mc_codec.coding.api import decode as _decode

    return _decode(data, model, **kwargs)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = ["decode", "encode", *_EXPORTS]
