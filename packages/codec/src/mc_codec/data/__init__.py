"""Mask data: finding, reading and writing class-id PNGs, splits, and data-set converters."""

from mc_codec.data.masks import find_masks, make_splits, read_mask, sequence_of, write_mask

__all__ = ["find_masks", "make_splits", "read_mask", "sequence_of", "write_mask"]
