"""Ideal code length: the model's cross-entropy of every token of an image, in bits."""

from __future__ import annotations

import math

import numpy as np

from mc_codec.rows import ImageTokens, pad_rows

LN2 = math.log(2.0)


def image_bits(model, tok: ImageTokens, device="cpu", max_rows: int = 4096) -> dict:
    """{'bits', 'class_bits', 'length_bits', 'mantissa_bits', 'tokens', 'pixels'} for one image."""
    import torch
    import torch.nn.functional as F

    rows = list(tok.rows())
    cls_nats = len_nats = 0.0
    with torch.inference_mode():
        for s in range(0, len(rows), max_rows):
            feats, cls, lsym = (t.to(device) for t in pad_rows(rows[s:s + max_rows]))
            ctx = model.context(feats)
            valid = cls >= 0
            cl = model.heads.class_logits(ctx)
            cls_nats += float(F.cross_entropy(cl[valid], cls[valid], reduction="sum"))
            ll = model.heads.length_logits(ctx, cls.clamp(min=0), feats)
            len_nats += float(F.cross_entropy(ll[valid], lsym[valid], reduction="sum"))
    mant = float(np.asarray(tok.mant_bits, np.int64).sum())
    bits = (cls_nats + len_nats) / LN2 + mant
    return {"bits": bits, "class_bits": cls_nats / LN2, "length_bits": len_nats / LN2,
            "mantissa_bits": mant, "tokens": tok.num_tokens, "pixels": tok.height * tok.width}


def split_bits(model, source, indices, device="cpu", progress=None) -> tuple[float, int]:
    """(total bits, total pixels) over images `indices` of `source`."""
    bits = 0.0
    pixels = 0
    it = progress(indices) if progress else indices
    for i in it:
        r = image_bits(model, source.tokens(int(i)), device)
        bits += r["bits"]
        pixels += r["pixels"]
    return bits, pixels
