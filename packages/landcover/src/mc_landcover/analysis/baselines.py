"""Classical lossless baselines for the model's bits per pixel, on the same test maps.

Every figure is bits per pixel of the (N, H, W) class-index maps (one byte per pixel, values
0..C-1), so each is directly comparable with the model's NLL in bits per pixel:

* codecs, each patch compressed on its own (the unit the model scores) and all patches stacked
  into one file (the codec then shares context across patches, which the model does not):
  JPEG XL lossless at effort 10 (its strongest without expert options), WebP lossless (level 100,
  method 6; grey replicated to RGB, WebP has no grey mode) and xz (preset 9e) on the raw bytes;
* adaptive context models: raster scan, each pixel coded with the class counts seen so far in its
  causal context (W/N, or W/N/NW/NE; a neighbour outside the map is its own symbol), the estimate
  ``(n[c, s] + alpha) / (n[c] + alpha * C)``. The counts start from zero in every patch
  (``context-model-wn``, ``context-model-wnnwne``) or from the counts of the whole train split
  (``context-model-primed`` over W/N/NW/NE, ``context-model-primed-wn`` over W/N), adapting
  within each patch and reset at the next: the fair classical rival of a model trained on that split.
  These are exact code lengths of an arithmetic coder driven by the counts (within 2 bits a patch).
"""

from __future__ import annotations

import lzma
import math

import numpy as np

__all__ = ["ALPHA", "codec_bits", "context_model_bits", "context_ids", "all_baselines"]

ALPHA = 0.1  # additive estimator constant of the context models (fixed, not tuned on test data)

NEIGHBOURS = {"wn": ((0, -1), (-1, 0)), "wnnwne": ((0, -1), (-1, 0), (-1, -1), (-1, 1))}


def _check(maps: np.ndarray, name: str = "maps") -> np.ndarray:
    maps = np.asarray(maps)
    if maps.ndim != 3 or maps.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty (N, H, W) array, got shape {maps.shape}")
    if maps.min() < 0 or maps.max() > 255:
        raise ValueError(f"{name} must hold class indices 0..255")
    return maps.astype(np.uint8)


def codec_bits(maps: np.ndarray) -> dict[str, float]:
    """Bits per pixel of JPEG XL (effort 10), WebP and xz, per patch and all patches in one file."""
    import imagecodecs

    maps = _check(maps)
    n = maps.size

    def jxl(a):
        return len(imagecodecs.jpegxl_encode(np.ascontiguousarray(a), lossless=True, effort=10))

    def webp(a):
        return len(imagecodecs.webp_encode(np.ascontiguousarray(np.repeat(a[..., None], 3, 2)), lossless=True,
                                           level=100, method=6))

    def xz(a):
        return len(lzma.compress(np.ascontiguousarray(a).tobytes(), preset=9 | lzma.PRESET_EXTREME))

    stacked = maps.reshape(-1, maps.shape[-1])
    out = {}
    for name, f in (("jpegxl", jxl), ("webp", webp), ("xz", xz)):
        out[f"{name}-per-patch"] = sum(f(m) for m in maps) * 8 / n
        out[f"{name}-all-patches"] = f(stacked) * 8 / n
    return out


def context_ids(maps: np.ndarray, kind: str, num_classes: int) -> np.ndarray:
    """(N, H, W) integer id of each pixel's causal context (neighbours outside the map = num_classes)."""
    if kind not in NEIGHBOURS:
        raise ValueError(f"kind must be one of {sorted(NEIGHBOURS)}, got {kind!r}")
    maps = np.asarray(maps, dtype=np.int64)
    n, h, w = maps.shape
    pad = np.full((n, h + 1, w + 2), num_classes, dtype=np.int64)
    pad[:, 1:, 1:-1] = maps
    ids = np.zeros_like(maps)
    for dr, dc in NEIGHBOURS[kind]:
        ids = ids * (num_classes + 1) + pad[:, 1 + dr:1 + dr + h, 1 + dc:1 + dc + w]
    return ids


def context_model_bits(maps: np.ndarray, *, kind: str = "wnnwne", num_classes: int, prime: np.ndarray | None = None,
                       alpha: float = ALPHA) -> float:
    """Bits per pixel of the adaptive context model over `kind` neighbours, counts reset per patch
    to zero or to the counts of the maps in `prime` (e.g. the train split)."""
    if not alpha > 0 or not math.isfinite(alpha):
        raise ValueError(f"alpha must be a positive number, got {alpha!r}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    maps = _check(maps).astype(np.int64)
    if maps.max() >= num_classes:
        raise ValueError(f"maps hold class {int(maps.max())}, not below num_classes {num_classes}")
    ids = context_ids(maps, kind, num_classes)
    base: dict[int, list[float]] = {}
    if prime is not None:
        prime = _check(prime, "prime").astype(np.int64)
        if prime.max() >= num_classes:
            raise ValueError(f"prime holds class {int(prime.max())}, not below num_classes {num_classes}")
        pid = context_ids(prime, kind, num_classes).ravel()
        key = pid * num_classes + prime.ravel()
        uniq, cnt = np.unique(key, return_counts=True)
        for k, sym, c in zip((uniq // num_classes).tolist(), (uniq % num_classes).tolist(), cnt.tolist(),
                             strict=True):
            base.setdefault(k, [0.0] * num_classes)[sym] += c
    total_bits = 0.0
    log2 = math.log2
    a_total = alpha * num_classes
    for ctx_map, sym_map in zip(ids.reshape(len(maps), -1), maps.reshape(len(maps), -1), strict=True):
        seen: dict[int, list[float]] = {}  # context -> counts per class, then their total
        for c, s in zip(ctx_map.tolist(), sym_map.tolist(), strict=True):
            counts = seen.get(c)
            if counts is None:
                b = base.get(c)
                counts = [*b, sum(b)] if b is not None else [0.0] * (num_classes + 1)
                seen[c] = counts
            total_bits -= log2((counts[s] + alpha) / (counts[-1] + a_total))
            counts[s] += 1
            counts[-1] += 1
    return total_bits / maps.size


def all_baselines(test: np.ndarray, train: np.ndarray | None, *, num_classes: int) -> dict[str, float]:
    """Every baseline above on `test` (name -> bits per pixel); the primed ones need `train`."""
    out = codec_bits(test)
    for kind in ("wn", "wnnwne"):
        out[f"context-model-{kind}"] = context_model_bits(test, kind=kind, num_classes=num_classes)
    if train is not None and len(train):
        out["context-model-primed"] = context_model_bits(test, kind="wnnwne", num_classes=num_classes, prime=train)
        out["context-model-primed-wn"] = context_model_bits(test, kind="wn", num_classes=num_classes, prime=train)
    return out
