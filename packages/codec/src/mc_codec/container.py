"""The `.mcz` file format: one losslessly coded mask with what a decoder needs to check it.

Format version 2 (written by this version; version 1 files are still read). Every field is one
byte, a fixed-size little-endian integer, or an unsigned LEB128 varint (7 bits per byte, low
group first, high bit = "more"; at most 5 bytes):

| field          | size     | contents                                                              |
|----------------|----------|-----------------------------------------------------------------------|
| magic          | 4        | `b"\\x89MCZ"` (the high first byte catches 7-bit and text-mode damage) |
| version        | 1        | format version = 2                                                    |
| flags          | 1        | bit 0: dtype (0 uint8, 1 uint16); bit 1: class table as a bitset; bit 2: model digest present; other bits 0 |
| kind           | 1        | payload kind: how the payload is coded, see `PAYLOAD_KINDS`           |
| height, width  | varint×2 | mask shape                                                            |
| class table    | varies   | the distinct ids present, ascending. List form: varint K, then the first id and each gap minus one as varints. Bitset form: varint N, then N bytes; bit i (LSB first) set = id i present. The writer picks the shorter |
| model digest   | 0 or 8   | first 8 bytes of the SHA-256 of the model weights (flag bit 2)        |
| mask CRC       | 4        | CRC-32 of the decoded mask (its raw little-endian bytes, row-major)   |
| payload        | rest     | the coded mask (up to the last 2 bytes)                               |
| file check     | 2        | CRC-16/CCITT (`binascii.crc_hqx`, init 0) of every byte before it     |

A learned-codec file of a 480x360 CamVid mask with ids 0..11 spends 28 bytes on this (version
1 spent 80: 16-bit ids, 32/64-bit sizes, a 16-byte digest and a CRC-32 of the file). The 8-byte
digest is there to refuse a wrong model up front; the mask CRC, checked after decoding, is what
guarantees a wrong mask is never returned.

`unpack` checks, in this order and before any decoding: magic, version (a newer version is
refused with a message asking for a newer mc-codec), the flags, sizes within limits, the file
check (truncation, corruption), then the class table. All work is linear in the file size.
After decoding, `check_crc` compares the mask against the stored CRC.

Version 1 (still read): an 8-byte magic `b"\\x89MCZ\\r\\n\\x1a\\n"`, uint16 version = 1, dtype code
(1 uint8, 2 uint16), kind, uint32 height and width, a 16-byte digest, uint32 K and K uint16 ids,
the mask CRC-32, a uint64 payload length, the payload, and a CRC-32 of everything before it.
"""

from __future__ import annotations

import binascii
import hashlib
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mc_core.errors import BadInputError

MAGIC = b"\x89MCZ"
MAGIC_V1 = b"\x89MCZ\r\n\x1a\n"
FORMAT_VERSION = 2
DIGEST_LEN = 8                # model digest bytes stored by version 2 (version 1 stored 16)
MAX_SIDE = 1 << 20            # 1,048,576 pixels per side
MAX_PIXELS = 1 << 32
MAX_CLASSES = 1 << 16

_DTYPES = {1: "uint8", 2: "uint16"}          # version 1 dtype codes
_DTYPE_CODES = {v: k for k, v in _DTYPES.items()}
_FLAG_UINT16, _FLAG_BITSET, _FLAG_DIGEST = 1, 2, 4
_V1_FIXED = struct.Struct("<8sHBBII16sI")    # up to and including K
_V1_AFTER_TABLE = struct.Struct("<IQ")       # mask CRC, payload length

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
    model_digest: bytes = b""            # digest prefix of the model used; b"" when none
    version: int = field(default=FORMAT_VERSION)

    @property
    def kind_name(self) -> str:
        return PAYLOAD_KINDS.get(self.kind, f"kind-{self.kind}")

    @classmethod
    def for_mask(cls, mask: np.ndarray, *, kind: int, model_digest: bytes = b"") -> Header:
        """A header describing `mask` (its shape, dtype, class table and CRC)."""
        mask = np.asarray(mask)
        return cls(shape=(int(mask.shape[0]), int(mask.shape[1])), dtype=mask.dtype.name,
                   classes=tuple(int(c) for c in np.unique(mask)), kind=int(kind),
                   mask_crc=mask_crc32(mask), model_digest=bytes(model_digest)[:DIGEST_LEN])


def mask_crc32(mask: np.ndarray) -> int:
    """CRC-32 of a mask's raw little-endian bytes in row-major order."""
    mask = np.asarray(mask)
    raw = np.ascontiguousarray(mask.astype(mask.dtype.newbyteorder("<"), copy=False)).tobytes()
    return zlib.crc32(raw) & 0xFFFFFFFF


def digest_bytes(data: bytes) -> bytes:
    """The SHA-256 of `data` (files store a prefix of it as the model digest)."""
    return hashlib.sha256(data).digest()


def digest_file(path: str | os.PathLike) -> bytes:
    """`digest_bytes` of a file's contents (e.g. a checkpoint's model.safetensors), streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.digest()


def put_varint(out: bytearray, n: int) -> None:
    """Append `n` (0 <= n < 2**35) as an unsigned LEB128 varint."""
    if n < 0:
        raise ValueError("varints are unsigned")
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def get_varint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, next position); ValueError when truncated or longer than 5 bytes."""
    n = shift = 0
    for i in range(5):
        if pos + i >= len(data):
            raise ValueError("truncated")
        b = data[pos + i]
        n |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return n, pos + i + 1
    raise ValueError("varint longer than 5 bytes")


def _class_table(classes: list[int]) -> tuple[int, bytes]:
    """(flag, bytes) of the shorter of the list and the bitset form."""
    lst = bytearray()
    put_varint(lst, len(classes))
    prev = -1
    for c in classes:
        put_varint(lst, c - prev - 1)
        prev = c
    if not classes:
        return 0, bytes(lst)
    bits = np.zeros((classes[-1] // 8 + 1) * 8, np.uint8)
    bits[classes] = 1
    packed = np.packbits(bits, bitorder="little").tobytes()
    bs = bytearray()
    put_varint(bs, len(packed))
    bs += packed
    return (_FLAG_BITSET, bytes(bs)) if len(bs) < len(lst) else (0, bytes(lst))


def _check_fields(header: Header) -> list[int]:
    h, w = (int(s) for s in header.shape)
    if header.dtype not in _DTYPE_CODES:
        raise ValueError(f"dtype must be uint8 or uint16, got {header.dtype}")
    if not (0 <= h <= MAX_SIDE and 0 <= w <= MAX_SIDE):
        raise ValueError(f"shape {header.shape} outside the format's limits")
    if not 0 <= header.kind <= 255:
        raise ValueError("payload kind must fit in one byte")
    classes = [int(c) for c in header.classes]
    limit = 256 if header.dtype == "uint8" else 65536
    if any(b <= a for a, b in zip(classes, classes[1:])) or any(not 0 <= c < limit for c in classes):
        raise ValueError("class ids must be distinct, ascending and fit the dtype")
    return classes


def pack(header: Header, payload: bytes) -> bytes:
    """The bytes of a `.mcz` file (format version 2) holding `payload` described by `header`."""
    classes = _check_fields(header)
    digest = bytes(header.model_digest)
    if digest and len(digest) < DIGEST_LEN:
        raise ValueError(f"model digest must be at least {DIGEST_LEN} bytes")
    table_flag, table = _class_table(classes)
    flags = (_FLAG_UINT16 if header.dtype == "uint16" else 0) | table_flag | (_FLAG_DIGEST if digest else 0)
    out = bytearray(MAGIC)
    out += bytes([FORMAT_VERSION, flags, header.kind])
    put_varint(out, int(header.shape[0]))
    put_varint(out, int(header.shape[1]))
    out += table
    out += digest[:DIGEST_LEN]
    out += struct.pack("<I", header.mask_crc & 0xFFFFFFFF)
    out += payload
    out += struct.pack("<H", binascii.crc_hqx(bytes(out), 0))
    return bytes(out)


def pack_v1(header: Header, payload: bytes) -> bytes:
    """A version 1 file (kept for compatibility tests; new files are version 2)."""
    classes = _check_fields(header)
    digest = bytes(header.model_digest)[:16].ljust(16, b"\0")
    head = _V1_FIXED.pack(MAGIC_V1, 1, _DTYPE_CODES[header.dtype], header.kind,
                          int(header.shape[0]), int(header.shape[1]), digest, len(classes))
    body = b"".join([head, struct.pack(f"<{len(classes)}H", *classes),
                     _V1_AFTER_TABLE.pack(header.mask_crc & 0xFFFFFFFF, len(payload)), bytes(payload)])
    return body + struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)


def unpack(data: bytes, source: str | os.PathLike | None = None) -> tuple[Header, bytes]:
    """Parse and verify a `.mcz` file (version 1 or 2); BadInputError naming `source` on any problem."""
    src = "<bytes>" if source is None else os.fspath(source)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise BadInputError(src, "not a byte string")
    data = bytes(data)
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        if MAGIC.startswith(data):
            raise BadInputError(src, "truncated .mcz file (ends inside the magic bytes)")
        raise BadInputError(src, "not an .mcz file (wrong magic bytes)")
    if len(data) < len(MAGIC) + 1:
        raise BadInputError(src, "truncated .mcz file (no format version)")
    if data[4] == MAGIC_V1[4]:
        return _unpack_v1(data, src)
    version = data[4]
    if version > FORMAT_VERSION:
        raise BadInputError(src, f"written with .mcz format version {version}; this mc-codec reads up "
                                 f"to version {FORMAT_VERSION}: upgrade mc-codec")
    if version != 2:
        raise BadInputError(src, f"invalid .mcz format version {version}")
    try:
        return _unpack_v2(data, src)
    except ValueError as exc:  # a varint or field running past the end
        raise BadInputError(src, f"truncated or corrupt .mcz file ({exc})") from None


def _unpack_v2(data: bytes, src: str) -> tuple[Header, bytes]:
    if len(data) < 7 + 2:
        raise BadInputError(src, "truncated .mcz file (header incomplete)")
    if binascii.crc_hqx(data[:-2], 0) != struct.unpack_from("<H", data, len(data) - 2)[0]:
        raise BadInputError(src, "truncated or corrupt .mcz file (file check mismatch)")
    body = data[:-2]
    flags, kind = body[5], body[6]
    if flags & ~(_FLAG_UINT16 | _FLAG_BITSET | _FLAG_DIGEST):
        raise BadInputError(src, f"corrupt header: unknown flags {flags:#04x}")
    dtype = "uint16" if flags & _FLAG_UINT16 else "uint8"
    h, pos = get_varint(body, 7)
    w, pos = get_varint(body, pos)
    if h > MAX_SIDE or w > MAX_SIDE or h * w > MAX_PIXELS:
        raise BadInputError(src, f"corrupt header: implausible shape {h}x{w}")
    limit = 256 if dtype == "uint8" else 65536
    if flags & _FLAG_BITSET:
        n, pos = get_varint(body, pos)
        if n > limit // 8 or pos + n > len(body):
            raise BadInputError(src, "corrupt header: class-id bitset does not fit the dtype or file")
        bits = np.unpackbits(np.frombuffer(body, np.uint8, n, pos), bitorder="little")
        classes = tuple(int(c) for c in np.flatnonzero(bits))
        pos += n
    else:
        k, pos = get_varint(body, pos)
        if k > min(limit, len(body)):
            raise BadInputError(src, f"corrupt header: {k} classes is more than the format allows")
        ids, prev = [], -1
        for _ in range(k):
            gap, pos = get_varint(body, pos)
            prev += gap + 1
            ids.append(prev)
        classes = tuple(ids)
    if classes and classes[-1] >= limit:
        raise BadInputError(src, "corrupt header: class-id table does not fit the dtype")
    digest = b""
    if flags & _FLAG_DIGEST:
        digest = body[pos:pos + DIGEST_LEN]
        pos += DIGEST_LEN
    if pos + 4 > len(body):
        raise BadInputError(src, "truncated .mcz file (header incomplete)")
    (mask_crc,) = struct.unpack_from("<I", body, pos)
    _check_table(classes, h, w, src)
    return (Header(shape=(h, w), dtype=dtype, classes=classes, kind=kind, mask_crc=mask_crc,
                   model_digest=digest, version=2), body[pos + 4:])


def _check_table(classes, h: int, w: int, src: str) -> None:
    if h * w > 0 and not classes:
        raise BadInputError(src, "corrupt header: a non-empty mask with an empty class table")
    if len(classes) > h * w and h * w > 0:
        raise BadInputError(src, "corrupt header: more classes than pixels")


def _unpack_v1(data: bytes, src: str) -> tuple[Header, bytes]:
    def bad(problem: str) -> BadInputError:
        return BadInputError(src, problem)

    if len(data) < len(MAGIC_V1) or data[: len(MAGIC_V1)] != MAGIC_V1:
        if MAGIC_V1.startswith(data):
            raise bad("truncated .mcz file (ends inside the magic bytes)")
        raise bad("not an .mcz file (wrong magic bytes)")
    if len(data) < len(MAGIC_V1) + 2:
        raise bad("truncated .mcz file (no format version)")
    (version,) = struct.unpack_from("<H", data, len(MAGIC_V1))
    if version != 1:
        raise bad(f"invalid .mcz format version {version}")
    if len(data) < _V1_FIXED.size:
        raise bad("truncated .mcz file (header incomplete)")
    _, _, dtype_code, kind, h, w, digest, k = _V1_FIXED.unpack_from(data, 0)
    if dtype_code not in _DTYPES:
        raise bad(f"corrupt header: unknown dtype code {dtype_code}")
    if h > MAX_SIDE or w > MAX_SIDE or h * w > MAX_PIXELS:
        raise bad(f"corrupt header: implausible shape {h}x{w}")
    if k > MAX_CLASSES:
        raise bad(f"corrupt header: {k} classes is more than the format allows")
    table_end = _V1_FIXED.size + 2 * k
    fixed_end = table_end + _V1_AFTER_TABLE.size
    if len(data) < fixed_end + 4:
        raise bad("truncated .mcz file (header incomplete)")
    mask_crc, payload_len = _V1_AFTER_TABLE.unpack_from(data, table_end)
    expected = fixed_end + payload_len + 4
    if len(data) < expected:
        raise bad(f"truncated .mcz file ({len(data)} bytes, expected {expected})")
    if len(data) > expected:
        raise bad(f"corrupt .mcz file ({len(data) - expected} unexpected bytes after the end)")
    (file_crc,) = struct.unpack_from("<I", data, expected - 4)
    if zlib.crc32(data[: expected - 4]) & 0xFFFFFFFF != file_crc:
        raise bad("corrupt .mcz file (CRC mismatch in header or payload)")
    classes = struct.unpack_from(f"<{k}H", data, _V1_FIXED.size)
    limit = 256 if _DTYPES[dtype_code] == "uint8" else 65536
    if any(b <= a for a, b in zip(classes, classes[1:])) or any(c >= limit for c in classes):
        raise bad("corrupt header: class-id table is not ascending or does not fit the dtype")
    _check_table(classes, h, w, src)
    header = Header(shape=(h, w), dtype=_DTYPES[dtype_code], classes=tuple(classes), kind=kind,
                    mask_crc=mask_crc, model_digest=b"" if digest == bytes(16) else digest, version=1)
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
    n = len(header.model_digest)
    if not n:
        raise BadInputError(src, "the file names no model (payload kind "
                                 f"{header.kind_name!r} is not model-coded)")
    if bytes(model_digest)[:n] != header.model_digest:
        raise BadInputError(src, f"written with model {header.model_digest.hex()}, but the model given "
                                 f"is {bytes(model_digest)[:n].hex()} (use the same checkpoint)")


def describe_file(path: str | os.PathLike) -> dict:
    """What a `.mcz` file holds, from its header only (the file is checked on the way: magic,
    version, file check); what `mc codec info` prints."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(path, "not found")
    data = path.read_bytes()
    header, payload = unpack(data, source=path)
    h, w = header.shape
    return {"file": str(path), "format_version": header.version, "shape": [h, w],
            "dtype": header.dtype, "kind": header.kind_name, "classes": list(header.classes),
            "model_digest": header.model_digest.hex() or None, "mask_crc32": f"{header.mask_crc:08x}",
            "file_bytes": len(data), "payload_bytes": len(payload),
            "bits_per_pixel": round(8 * len(data) / (h * w), 6) if h * w else None}
