"""Codec metrics."""

from __future__ import annotations

import numpy as np


def bits_per_pixel(mask: np.ndarray, model=None) -> float:
    """Bits per pixel of `mask` coded by the learned codec (the `.mcz` file, header included);
    `model` is a checkpoint path, a loaded codec (`mc_codec.load_model`) or None for the shipped default model."""
    from mc_codec.coding.api import encode

    mask = np.asarray(mask)
    return 8.0 * len(encode(mask, model)) / mask.size
