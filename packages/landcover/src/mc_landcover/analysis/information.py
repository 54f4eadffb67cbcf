"""Information content of land-cover maps next to text.

- Conditional bigram entropy H(X2 | X1) = H(X1, X2) - H(X1), in bits, from empirical counts of
  neighbouring symbols: horizontal and vertical pixel pairs for maps, consecutive bytes for text.
- Compression: deflate (zlib level 9) and xz (LZMA preset 9) sizes of the raw symbol bytes.
"""

from __future__ import annotations

import lzma
import zlib

import numpy as np


def _entropy_bits(counts: np.ndarray) -> float:
    c = counts[counts > 0].astype(np.float64)
    p = c / c.sum()
    return float(-(p * np.log2(p)).sum())


def unigram_entropy(symbols: np.ndarray) -> float:
    s = np.asarray(symbols, dtype=np.int64).ravel()
    return _entropy_bits(np.bincount(s)) if s.size else float("nan")


def conditional_entropy(first: np.ndarray, second: np.ndarray) -> float:
    """H(second | first) in bits from paired samples."""
    a = np.asarray(first, dtype=np.int64).ravel()
    b = np.asarray(second, dtype=np.int64).ravel()
    if a.size == 0:
        return float("nan")
    k = int(max(a.max(), b.max())) + 1
    joint = np.bincount(a * k + b, minlength=k * k)
    return _entropy_bits(joint) - _entropy_bits(np.bincount(a, minlength=k))


def map_bigram_entropy(maps: np.ndarray) -> dict:
    """Unigram and conditional neighbour entropies of (N, H, W) index maps, in bits per pixel."""
    m = np.asarray(maps, dtype=np.int64)
    n_classes = len(np.unique(m))
    return {
        "alphabet_size": n_classes,
        "max_entropy_bits": float(np.log2(max(n_classes, 1))),
        "unigram_entropy_bits": unigram_entropy(m),
        "conditional_entropy_horizontal_bits": conditional_entropy(m[:, :, :-1], m[:, :, 1:]),
        "conditional_entropy_vertical_bits": conditional_entropy(m[:, :-1, :], m[:, 1:, :]),
    }


def text_bigram_entropy(data: bytes) -> dict:
    """Unigram and next-byte conditional entropies of a byte string, in bits per byte."""
    s = np.frombuffer(data, dtype=np.uint8)
    n_symbols = len(np.unique(s))
    return {
        "alphabet_size": n_symbols,
        "max_entropy_bits": float(np.log2(max(n_symbols, 1))),
        "unigram_entropy_bits": unigram_entropy(s),
        "conditional_entropy_bits": conditional_entropy(s[:-1], s[1:]),
    }


def compression_stats(data: bytes, n_symbols: int | None = None) -> dict:
    """Deflate and xz sizes of `data`: ratios (compressed / raw) and bits per symbol (one byte each)."""
    raw = len(data)
    deflate = len(zlib.compress(data, 9))
    xz = len(lzma.compress(data, preset=9))
    n = n_symbols or raw
    return {
        "raw_bytes": raw,
        "deflate_bytes": deflate,
        "xz_bytes": xz,
        "deflate_ratio": deflate / raw if raw else float("nan"),
        "xz_ratio": xz / raw if raw else float("nan"),
        "deflate_bits_per_symbol": 8 * deflate / n if n else float("nan"),
        "xz_bits_per_symbol": 8 * xz / n if n else float("nan"),
    }


def maps_to_bytes(maps: np.ndarray) -> bytes:
    """Row-major bytes of (N, H, W) index maps, one byte per pixel."""
    return np.ascontiguousarray(np.asarray(maps, dtype=np.uint8)).tobytes()


def read_text_bytes(path) -> bytes:
    """The bytes of a text file (at least two); bad input naming the file otherwise."""
    from pathlib import Path

    from mc_core.errors import BadInputError

    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise BadInputError(p, f"cannot read text file ({e.strerror or e})") from None
    if len(data) < 2:
        raise BadInputError(p, "text file is empty")
    return data


def _test_maps(data, n_maps, seed):
    from mc_core.seeding import seed_everything
    from mc_landcover.inpaint.data import load_maps, select_maps

    return select_maps(load_maps(data, "test"), n_maps, None, seed_everything(seed), data)


def compare_information(data, text_path, *, n_maps: int | None = 1000, seed: int = 0) -> dict:
    """Bigram entropies of up to `n_maps` test maps of `data` and of the bytes of `text_path`."""
    maps = _test_maps(data, n_maps, seed)
    text = read_text_bytes(text_path)
    return {"data": str(data), "text_path": str(text_path), "n_maps": int(maps.shape[0]),
            "land_cover": map_bigram_entropy(maps), "text": text_bigram_entropy(text)}


def zip_info_content(data, text_path=None, *, n_maps: int | None = 1000, seed: int = 0) -> dict:
    """Deflate and xz compression of up to `n_maps` test maps of `data` (and of `text_path`)."""
    maps = _test_maps(data, n_maps, seed)
    rows = {"land_cover": compression_stats(maps_to_bytes(maps))}
    if text_path:
        rows["text"] = compression_stats(read_text_bytes(text_path))
    return {"data": str(data), "text_path": None if text_path is None else str(text_path),
            "n_maps": int(maps.shape[0]), **rows}
