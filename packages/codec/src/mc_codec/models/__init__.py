"""Next-token models over row-RLE tokens: `rle-lm` (causal GRU per row) and `msdzip` (fixed context).

They are registered in the model registry (``task="codec"``) and built through
:mod:`mc_core.factory`; each implements :class:`mc_codec.interface.CodecModel`.
"""
