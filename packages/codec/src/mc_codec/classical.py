"""Classical lossless codecs for class-id masks, used as baselines next to the learned codec.

Each codec turns a (H, W) uint8/uint16 mask into bytes and back; `decode` is given the shape and
dtype (the container stores them), so the raw-byte codecs (`zstd`, `xz`) do not pay for a header.

| name       | how                                                                          |
|------------|------------------------------------------------------------------------------|
| `png`      | Pillow PNG, `optimize=True`, zlib level 9 (8-bit grey, or 16-bit grey)         |
| `webp`     | Pillow WebP lossless, method 6, quality 100 (uint8 only: ids stored as grey)   |
| `jxl`      | imagecodecs JPEG XL lossless, effort 10 (its strongest)                      |
| `zstd`     | zstandard level 19 on the raw little-endian pixel bytes                       |
| `xz`       | lzma preset 9 \\| EXTREME on the raw little-endian pixel bytes                  |
| `coco-rle` | pycocotools per-class binary RLE (only when pycocotools is importable)        |
"""

from __future__ import annotations

import io
import lzma
import struct
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mc_core.errors import McError


class UnsupportedMaskError(McError):
    """A codec cannot hold this mask (e.g. WebP and 16-bit ids) or is not installed."""

    exit_code = 2


def _check_mask(mask: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {mask.shape}")
    if mask.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"mask dtype must be uint8 or uint16, got {mask.dtype}")
    return np.ascontiguousarray(mask)


def _finish(arr: np.ndarray, shape: tuple[int, int], dtype) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.shape != tuple(shape):
        raise ValueError(f"decoded shape {arr.shape} differs from the expected {tuple(shape)}")
    return np.ascontiguousarray(arr.astype(np.dtype(dtype), copy=False))


# --- png ----------------------------------------------------------------------------------
def _png_encode(mask: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(mask).save(buf, format="PNG", optimize=True, compress_level=9)
    return buf.getvalue()


def _png_decode(data: bytes, shape, dtype) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        img.load()
        arr = np.asarray(img)
    return _finish(arr, shape, dtype)


# --- webp ---------------------------------------------------------------------------------
def _webp_available() -> bool:
    try:
        from PIL import features

        return bool(features.check("webp"))
    except Exception:  # pragma: no cover - broken Pillow build
        return False


def _webp_encode(mask: np.ndarray) -> bytes:
    from PIL import Image

    if mask.dtype != np.uint8:
        raise UnsupportedMaskError("webp holds 8-bit images only; this mask has 16-bit class ids")
    buf = io.BytesIO()
    Image.fromarray(mask).save(buf, format="WEBP", lossless=True, method=6, quality=100, exact=True)
    return buf.getvalue()


def _webp_decode(data: bytes, shape, dtype) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        img.load()
        arr = np.asarray(img)
    if arr.ndim == 3:
        arr = arr[..., 0]  # grey stored as R=G=B
    return _finish(arr, shape, dtype)


# --- jxl ----------------------------------------------------------------------------------
def _jxl_available() -> bool:
    try:
        import imagecodecs

        return bool(imagecodecs.JPEGXL.available)
    except Exception:
        return False


def _jxl_encode(mask: np.ndarray) -> bytes:
    import imagecodecs

    return bytes(imagecodecs.jpegxl_encode(mask, lossless=True, effort=10))


def _jxl_decode(data: bytes, shape, dtype) -> np.ndarray:
    import imagecodecs

    arr = imagecodecs.jpegxl_decode(data)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    return _finish(arr, shape, dtype)


# --- zstd / xz on raw bytes ---------------------------------------------------------------
def _raw(mask: np.ndarray) -> bytes:
    return mask.astype(mask.dtype.newbyteorder("<"), copy=False).tobytes()


def _from_raw(raw: bytes, shape, dtype) -> np.ndarray:
    dt = np.dtype(dtype).newbyteorder("<")
    if len(raw) != int(np.prod(shape)) * dt.itemsize:
        raise ValueError("decoded byte count does not match the shape")
    return _finish(np.frombuffer(raw, dtype=dt).reshape(shape), shape, dtype)


def _zstd_available() -> bool:
    try:
        import zstandard  # noqa: F401

        return True
    except ImportError:
        return False


def _zstd_encode(mask: np.ndarray) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor(level=19).compress(_raw(mask))


def _zstd_decode(data: bytes, shape, dtype) -> np.ndarray:
    import zstandard

    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    return _from_raw(zstandard.ZstdDecompressor().decompress(data, max_output_size=n), shape, dtype)


def _xz_encode(mask: np.ndarray) -> bytes:
    return lzma.compress(_raw(mask), preset=9 | lzma.PRESET_EXTREME)


def _xz_decode(data: bytes, shape, dtype) -> np.ndarray:
    return _from_raw(lzma.decompress(data), shape, dtype)


# --- coco-rle -----------------------------------------------------------------------------
def _coco_available() -> bool:
    try:
        import pycocotools.mask  # noqa: F401

        return True
    except ImportError:
        return False


def _coco_encode(mask: np.ndarray) -> bytes:
    """Per present class: uint16 id, uint32 length, then pycocotools' compressed RLE string."""
    from pycocotools import mask as cmask

    parts = []
    classes = np.unique(mask)
    parts.append(struct.pack("<I", len(classes)))
    for cid in classes:
        rle = cmask.encode(np.asfortranarray((mask == cid).astype(np.uint8)))
        counts = rle["counts"]
        counts = counts if isinstance(counts, bytes) else counts.encode("ascii")
        parts.append(struct.pack("<HI", int(cid), len(counts)))
        parts.append(counts)
    return b"".join(parts)


def _coco_decode(data: bytes, shape, dtype) -> np.ndarray:
    from pycocotools import mask as cmask

    h, w = (int(s) for s in shape)
    out = np.zeros((h, w), dtype=np.dtype(dtype))
    (n,) = struct.unpack_from("<I", data, 0)
    pos = 4
    for _ in range(n):
        cid, length = struct.unpack_from("<HI", data, pos)
        pos += 6
        counts = data[pos:pos + length]
        pos += length
        binary = cmask.decode({"size": [h, w], "counts": counts})
        out[binary.astype(bool)] = cid
    return out


@dataclass(frozen=True)
class ClassicalCodec:
    """A named lossless codec: `encode(mask) -> bytes`, `decode(data, shape, dtype) -> mask`."""

    name: str
    description: str
    _encode: Callable[[np.ndarray], bytes]
    _decode: Callable[[bytes, tuple, object], np.ndarray]
    _available: Callable[[], bool]
    dtypes: tuple[str, ...] = ("uint8", "uint16")

    def available(self) -> bool:
        """Whether the library behind this codec is installed and working."""
        return self._available()

    def supports(self, mask: np.ndarray) -> bool:
        """Whether this codec can hold `mask` (installed and its dtype is accepted)."""
        return np.asarray(mask).dtype.name in self.dtypes and self.available()

    def encode(self, mask: np.ndarray) -> bytes:
        mask = _check_mask(mask)
        if not self.available():
            raise UnsupportedMaskError(f"codec {self.name} is not available (library not installed)")
        if mask.dtype.name not in self.dtypes:
            raise UnsupportedMaskError(f"codec {self.name} does not hold {mask.dtype} masks")
        return self._encode(mask)

    def decode(self, data: bytes, shape: tuple[int, int], dtype) -> np.ndarray:
        if not self.available():
            raise UnsupportedMaskError(f"codec {self.name} is not available (library not installed)")
        return self._decode(bytes(data), tuple(int(s) for s in shape), np.dtype(dtype))


CLASSICAL_CODECS: dict[str, ClassicalCodec] = {
    c.name: c
    for c in [
        ClassicalCodec("png", "PNG (Pillow, optimize, zlib level 9)", _png_encode, _png_decode,
                       lambda: True),
        ClassicalCodec("webp", "WebP lossless (Pillow, method 6)", _webp_encode, _webp_decode,
                       _webp_available, dtypes=("uint8",)),
        ClassicalCodec("jxl", "JPEG XL lossless (imagecodecs, effort 10)", _jxl_encode, _jxl_decode,
                       _jxl_available),
        ClassicalCodec("zstd", "zstandard level 19 on raw bytes", _zstd_encode, _zstd_decode,
                       _zstd_available),
        ClassicalCodec("xz", "xz/LZMA preset 9|EXTREME on raw bytes", _xz_encode, _xz_decode,
                       lambda: True),
        ClassicalCodec("coco-rle", "COCO RLE per class (pycocotools)", _coco_encode, _coco_decode,
                       _coco_available),
    ]
}


def available_codecs() -> dict[str, ClassicalCodec]:
    """The classical codecs whose libraries are installed here."""
    return {name: c for name, c in CLASSICAL_CODECS.items() if c.available()}
