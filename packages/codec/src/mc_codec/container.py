"""The `.mcz` file format: one losslessly coded mask with what a decoder needs to check it.

All integers are little-endian. Layout (format version 1):

| offset   | size  | field                                                                      |
|----------|-------|----------------------------------------------------------------------------|
| 0        | 8     | magic `b"\\x89MCZ\\r\\n\\x1a\\n"` (PNG-style: catches text-mode and 7-bit damage) |
| 8        | 2     | format version (uint16) = 1                                                |
| 10       | 1     | dtype code: 1 = uint8, 2 = uint16                                          |
| 11       | 1     | payload kind (uint8): how the payload is coded, see `PAYLOAD_KINDS`        |
| 12       | 4     | height (uint32)                                                            |
| 16       | 4     | width (uint32)                                                             |
| 20       | 16    | model digest: first 16 bytes of the SHA-256 of the model weights (zeros when no model is used) |
| 36       | 4     | number of classes K (uint32)                                               |
| 40       | 2K    | class-id table: K distinct uint16 ids, ascending                           |
| 40+2K    | 4     | CRC-32 of the decoded mask (its raw little-endian bytes, row-major)         |
| 44+2K    | 8     | payload length P (uint64)                                                  |
| 52+2K    | P     | payload                                                                    |
| 52+2K+P  | 4     | CRC-32 of every byte before it (header and payload)                        |

`unpack` checks, in this order and before any decoding: magic, version (a newer version is
refused with a message asking for a newer mc-codec), the fixed header length, sizes within
limits, the exact total length (truncated or trailing bytes), the file CRC, then the class
table. All work is linear in the file size. After decoding, `check_crc` compares the mask
against the stored CRC, so a wrong model or a coder bug can never hand back a wrong mask.
"""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from mc_core.errors import BadInputError

MAGIC = b"\x89MCZ\r\n\x1a\n"
FORMAT_VERSION = 1
DIGEST_LEN = 16
MAX_SIDE = 1 << 20            # 1,048,576 pixels per side
MAX_PIXELS = 1 << 32
MAX_CLASSES = 1 << 16

_DTYPES = {1: "uint8", 2: "uint16"}
_DTYPE_CODES = {v: k for k, v in _DTYPES.items()}
_FIXED = struct.Struct("<8sHBBII16sI")      # up to and including K
_AFTER_TABLE = struct.Struct("<IQ")         # mask CRC, payload length
_TRAILER = struct.Struct("<I")

# Payload kinds. 0-15 are reserved for this module's list; learned coders use their own ids >= 16.
PAYLOAD_KINDS: dict[int, str] = {
    0: "raw",        # raw little-endian pixel bytes
    1: "constant",   # empty payload: every pixel is the single class in the table
    2: "png",
    3: "webp",
    4: "jxl",
    5: "zstd",
    6: "xz",
    16: "learned",   # range-coded with the learned model named by the digest
}


@dataclass(frozen=True)
class Header:
    """What a `.mcz` file says about the mask it holds."""

    shape: tuple[int, int]
    dtype: str                           # "uint8" or "uint16"
    classes: tuple[int, ...]             # distinct class ids present, ascending
    kind: int                            # payload kind, see PAYLOAD_KINDS
    mask_crc: int                        # CRC-32 of the decoded mask (see mask_crc32)
    model_digest: bytes = bytes(DIGEST_LEN)
    version: int = field(default=FORMAT_VERSION)

    @property
    def kind_name(self) -> str:
        return PAYLOAD_KINDS.get(self.kind, f"kind-{self.kind}")

    @classmethod
    def for_mask(cls, mask: np.ndarray, *, kind: int, model_digest: bytes = bytes(DIGEST_LEN)) -> "Header":
        """A header describing `mask` (its shape, dtype, class table and CRC)."""
        mask = np.asarray(mask)
        return cls(shape=(int(mask.shape[0]), int(mask.shape[1])), dtype=mask.dtype.name,
                   classes=tuple(int(c) for c in np.unique(mask)), kind=int(kind),
                   mask_crc=mask_crc32(mask), model_digest=bytes(model_digest))


def mask_crc32(mask: np.ndarray) -> int:
    """CRC-32 of a mask's raw little-endian bytes in row-major order."""
    mask = np.asarray(mask)
    raw = np.ascontiguousarray(mask.astype(mask.dtype.newbyteorder("<"), copy=False)).tobytes()
    return zlib.crc32(raw) & 0xFFFFFFFF


def digest_bytes(data: bytes) -> bytes:
    """The model digest stored in a header: the first 16 bytes of SHA-256(data)."""
    return hashlib.sha256(data).digest()[:DIGEST_LEN]


def digest_file(path: str | os.PathLike) -> bytes:
    """`digest_bytes` of a file's contents (e.g. a checkpoint's model.safetensors), streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.digest()[:DIGEST_LEN]


def pack(header: Header, payload: bytes) -> bytes:
    """The bytes of a `.mcz` file holding `payload` described by `header`."""
    h, w = (int(s) for s in header.shape)
    if header.dtype not in _DTYPE_CODES:
        raise ValueError(f"dtype must be uint8 or uint16, got {header.dtype}")
    if not (0 <= h <= MAX_SIDE and 0 <= w <= MAX_SIDE):
        raise ValueError(f"shape {header.shape} outside the format's limits")
    if len(header.model_digest) != DIGEST_LEN:
        raise ValueError(f"model digest must be {DIGEST_LEN} bytes")
    if not 0 <= header.kind <= 255:
        raise ValueError("payload kind must fit in one byte")
    classes = [int(c) for c in header.classes]
    limit = 256 if header.dtype == "uint8" else 65536
    if any(b <= a for a, b in zip(classes, classes[1:])) or any(not 0 <= c < limit for c in classes):
        raise ValueError("class ids must be distinct, ascending and fit the dtype")
    head = _FIXED.pack(MAGIC, FORMAT_VERSION, _DTYPE_CODES[header.dtype], header.kind, h, w,
                       bytes(header.model_digest), len(classes))
    body = b"".join([head, struct.pack(f"<{len(classes)}H", *classes),
                     _AFTER_TABLE.pack(header.mask_crc & 0xFFFFFFFF, len(payload)), bytes(payload)])
    return body + _TRAILER.pack(zlib.crc32(body) & 0xFFFFFFFF)


def unpack(data: bytes, source: str | os.PathLike | None = None) -> tuple[Header, bytes]:
    """Parse and verify a `.mcz` file; BadInputError naming `source` on any problem."""
    src = "<bytes>" if source is None else os.fspath(source)

    def bad(problem: str) -> BadInputError:
        return BadInputError(src, problem)

    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise bad("not a byte string")
    data = bytes(data)
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        if MAGIC.startswith(data):
            raise bad("truncated .mcz file (ends inside the magic bytes)")
        raise bad("not an .mcz file (wrong magic bytes)")
    if len(data) < len(MAGIC) + 2:
        raise bad("truncated .mcz file (no format version)")
    (version,) = struct.unpack_from("<H", data, len(MAGIC))
    if version > FORMAT_VERSION:
        raise bad(f"written with .mcz format version {version}; this mc-codec reads up to version "
                  f"{FORMAT_VERSION}: upgrade mc-codec")
    if version < 1:
        raise bad(f"invalid .mcz format version {version}")
    if len(data) < _FIXED.size:
        raise bad("truncated .mcz file (header incomplete)")
    _, _, dtype_code, kind, h, w, digest, k = _FIXED.unpack_from(data, 0)
    if dtype_code not in _DTYPES:
        raise bad(f"corrupt header: unknown dtype code {dtype_code}")
    if h > MAX_SIDE or w > MAX_SIDE or h * w > MAX_PIXELS:
        raise bad(f"corrupt header: implausible shape {h}x{w}")
    if k > MAX_CLASSES:
        raise bad(f"corrupt header: {k} classes is more than the format allows")
    table_end = _FIXED.size + 2 * k
    fixed_end = table_end + _AFTER_TABLE.size
    if len(data) < fixed_end + _TRAILER.size:
        raise bad("truncated .mcz file (header incomplete)")
    mask_crc, payload_len = _AFTER_TABLE.unpack_from(data, table_end)
    expected = fixed_end + payload_len + _TRAILER.size
    if len(data) < expected:
        raise bad(f"truncated .mcz file ({len(data)} bytes, expected {expected})")
    if len(data) > expected:
        raise bad(f"corrupt .mcz file ({len(data) - expected} unexpected bytes after the end)")
    (file_crc,) = _TRAILER.unpack_from(data, expected - _TRAILER.size)
    if zlib.crc32(data[: expected - _TRAILER.size]) & 0xFFFFFFFF != file_crc:
        raise bad("corrupt .mcz file (CRC mismatch in header or payload)")
    classes = struct.unpack_from(f"<{k}H", data, _FIXED.size)
    limit = 256 if _DTYPES[dtype_code] == "uint8" else 65536
    if any(b <= a for a, b in zip(classes, classes[1:])) or any(c >= limit for c in classes):
        raise bad("corrupt header: class-id table is not ascending or does not fit the dtype")
    if h * w > 0 and k == 0:
        raise bad("corrupt header: a non-empty mask with an empty class table")
    if k > h * w and h * w > 0:
        raise bad("corrupt header: more classes than pixels")
    header = Header(shape=(h, w), dtype=_DTYPES[dtype_code], classes=tuple(classes), kind=kind,
                    mask_crc=mask_crc, model_digest=digest, version=version)
    return header, data[fixed_end: fixed_end + payload_len]


def check_crc(header: Header, mask: np.ndarray, source: str | os.PathLike | None = None) -> None:
    """Refuse a decoded mask that is not the one the file was written from."""
    src = "<bytes>" if source is None else os.fspath(source)
    mask = np.asarray(mask)
    if tuple(mask.shape) != tuple(header.shape) or mask.dtype.name != header.dtype:
        raise BadInputError(src, f"decoded mask has shape {mask.shape} {mask.dtype}, the header says "
                                 f"{header.shape} {header.dtype} (wrong model or corrupt file)")
    if mask_crc32(mask) != header.mask_crc:
        raise BadInputError(src, "decoded mask does not match the CRC stored in the file "
                                 "(decoded with a different model, or the file is corrupt)")


def check_model(header: Header, model_digest: bytes, source: str | os.PathLike | None = None) -> None:
    """Refuse to decode with a model other than the one the file was written with."""
    src = "<bytes>" if source is None else os.fspath(source)
    if bytes(model_digest)[:DIGEST_LEN] != header.model_digest:
        raise BadInputError(src, f"written with model {header.model_digest.hex()}, but the model given "
                                 f"is {bytes(model_digest)[:DIGEST_LEN].hex()} (use the same checkpoint)")
