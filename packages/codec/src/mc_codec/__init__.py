"""Lossless mask compression with learned entropy models (MasksComp).

    >>> import mc_codec
    >>> data = mc_codec.encode(mask)            # the shipped default model
    >>> assert (mc_codec.decode(data) == mask).all()

Heavy libraries (torch) load on first use, so importing the package stays cheap.
"""


def encode(mask, model=None, **kwargs) -> bytes:
    """Code a (H, W) uint8/uint16 mask losslessly; see :func:`mc_codec.coding.api.encode`."""
    from mc_codec.coding.api import encode as _encode

    return _encode(mask, model, **kwargs)


def decode(data: bytes, model=None, **kwargs):
    """Decode `.mcz` bytes; see :func:`mc_codec.coding.api.decode`."""
    from mc_codec.coding.api import decode as _decode

    return _decode(data, model, **kwargs)


__all__ = ["decode", "encode"]
