"""The .mcz container: round trip, every corruption is a BadInputError, quick fuzz."""

import binascii
import dataclasses
import struct
import time

import numpy as np
import pytest

from mc_codec import container as mcz
from mc_codec.classical import CLASSICAL_CODECS
from mc_core.errors import BadInputError


def _file(mask=None, kind=5, digest=b"\x01" * 16):
    if mask is None:
        mask = np.random.default_rng(0).integers(0, 5, (12, 17)).astype(np.uint8)
    payload = CLASSICAL_CODECS["zstd"].encode(mask)
    header = mcz.Header.for_mask(mask, kind=kind, model_digest=digest)
    return mask, header, mcz.pack(header, payload)


def test_roundtrip_and_check_crc():
    mask, header, data = _file()
    assert data.startswith(mcz.MAGIC)
    h2, payload = mcz.unpack(data, "x.mcz")
    assert h2 == header and h2.kind_name == "zstd"
    back = CLASSICAL_CODECS["zstd"].decode(payload, h2.shape, h2.dtype)
    mcz.check_crc(h2, back, "x.mcz")
    wrong = back.copy()
    wrong[0, 0] ^= 1
    with pytest.raises(BadInputError, match="x.mcz.*CRC"):
        mcz.check_crc(h2, wrong, "x.mcz")
    with pytest.raises(BadInputError, match="shape"):
        mcz.check_crc(h2, back[:-1], "x.mcz")


def test_16_bit_and_empty_and_model_check():
    m16 = np.array([[0, 65535], [300, 300]], np.uint16)
    h = mcz.Header.for_mask(m16, kind=0)
    h2, payload = mcz.unpack(mcz.pack(h, m16.astype("<u2").tobytes()))
    assert h2.classes == (0, 300, 65535) and h2.dtype == "uint16"
    empty = np.zeros((0, 4), np.uint8)
    he, pe = mcz.unpack(mcz.pack(mcz.Header.for_mask(empty, kind=0), b""))
    assert he.shape == (0, 4) and pe == b""
    with pytest.raises(BadInputError, match="names no model"):
        mcz.check_model(h2, bytes(16))
    _, hd, data = _file(digest=mcz.digest_bytes(b"weights"))
    hd2, _ = mcz.unpack(data)
    assert hd2.model_digest == mcz.digest_bytes(b"weights")[:mcz.DIGEST_LEN]
    mcz.check_model(hd2, mcz.digest_bytes(b"weights"))
    with pytest.raises(BadInputError, match="model"):
        mcz.check_model(hd2, mcz.digest_bytes(b"other weights"), "f.mcz")


def test_header_is_compact_and_class_table_forms():
    mask = np.arange(12, dtype=np.uint8).repeat(30).reshape(12, 30)   # ids 0..11: bitset form
    h = mcz.Header.for_mask(mask, kind=16, model_digest=mcz.digest_bytes(b"w"))
    data = mcz.pack(h, b"payload")
    # magic 4, version/flags/kind 3, shape 2, bitset 3, digest 8, mask CRC 4, file check 2
    assert len(data) - len(b"payload") == 26
    assert mcz.unpack(data)[0] == h
    sparse = np.array([[3, 250], [60000, 3]], np.uint16)               # few large ids: list form
    hs = mcz.Header.for_mask(sparse, kind=0)
    data = mcz.pack(hs, b"")
    assert len(data) < 30 and mcz.unpack(data)[0] == hs


def test_version_1_files_are_still_read():
    mask, header, _ = _file()
    header = dataclasses.replace(header, model_digest=mcz.digest_bytes(b"weights")[:16])  # as v1 wrote
    payload = CLASSICAL_CODECS["zstd"].encode(mask)
    old = mcz.pack_v1(header, payload)
    assert old.startswith(mcz.MAGIC_V1)
    h1, p1 = mcz.unpack(old, "old.mcz")
    assert h1.version == 1 and p1 == payload and (h1.shape, h1.classes) == (header.shape, header.classes)
    mcz.check_model(h1, mcz.digest_bytes(b"weights"))
    with pytest.raises(BadInputError, match="CRC"):
        mcz.unpack(old[:-6] + bytes([old[-6] ^ 1]) + old[-5:], "old.mcz")


def test_specific_errors_name_the_source():
    _, _, data = _file()
    cases = {
        b"": "wrong magic|truncated",
        data[:5]: "truncated",
        b"PK\x03\x04" + data[4:]: "wrong magic",
        data[:30]: "truncated",
        data[:-1]: "truncated",
        data + b"\x00": "corrupt",
    }
    for blob, msg in cases.items():
        with pytest.raises(BadInputError, match=msg) as e:
            mcz.unpack(blob, "in/file.mcz")
        assert "in/file.mcz" in str(e.value)
    newer = bytearray(data)
    newer[4] = mcz.FORMAT_VERSION + 1
    with pytest.raises(BadInputError, match="upgrade"):
        mcz.unpack(bytes(newer), "n.mcz")
    flipped = bytearray(data)
    flipped[-10] ^= 0x40
    with pytest.raises(BadInputError, match="file check"):
        mcz.unpack(bytes(flipped), "c.mcz")


def _checked(body: bytes) -> bytes:
    return body + struct.pack("<H", binascii.crc_hqx(body, 0))


def test_crafted_headers_with_valid_file_check_are_refused():
    head = mcz.MAGIC + bytes([2, 0, 5])
    cases = {
        head + bytes([0x80, 0x80, 0x80, 0x80, 0x04, 5, 1, 0]) + bytes(4): "shape",   # height 2**30
        mcz.MAGIC + bytes([2, 0x40, 5, 2, 2, 1, 0]) + bytes(4): "unknown flags",
        mcz.MAGIC + bytes([2, 2, 5, 2, 2, 40]) + bytes(40) + bytes(4): "bitset",     # 320 ids in uint8
        head + bytes([2, 2, 2, 0, 255, 1]) + bytes(4): "fit the dtype",               # id 256 in uint8
        head + bytes([2, 2, 0]) + bytes(4): "empty class table",
        head + bytes([1, 1, 2, 0, 0]) + bytes(4): "more classes than pixels",
        head + bytes([2, 2, 1, 0]) + bytes(2): "header incomplete",                  # no mask CRC
        head + bytes([2, 2, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]): "varint",
    }
    for body, msg in cases.items():
        with pytest.raises(BadInputError, match=msg):
            mcz.unpack(_checked(body), "crafted.mcz")


def test_fuzz_only_bad_input_or_success():
    rng = np.random.default_rng(1)
    made = [_file(rng.integers(0, n, (h, w)).astype(dt))
            for n, h, w, dt in [(3, 5, 9, np.uint8), (300, 7, 4, np.uint16), (1, 1, 1, np.uint8)]]
    masks, files = [m for m, _, _ in made], [f for _, _, f in made]
    outcomes = {"ok": 0, "bad": 0}
    start = time.perf_counter()
    for i in range(4000):
        base = files[i % len(files)]
        mode = i % 4
        if mode == 0:
            blob = rng.bytes(int(rng.integers(0, 120)))
            if i % 8 == 0:
                blob = mcz.MAGIC + blob
        elif mode == 1:
            b = bytearray(base)
            for _ in range(int(rng.integers(1, 4))):
                b[int(rng.integers(0, len(b)))] = int(rng.integers(0, 256))
            blob = bytes(b)
        elif mode == 2:
            blob = base[: int(rng.integers(0, len(base)))]
        else:
            b = bytearray(base)
            pos = int(rng.integers(0, len(b)))
            blob = bytes(b[:pos] + rng.bytes(int(rng.integers(1, 6))) + b[pos:])
        try:
            header, payload = mcz.unpack(blob, "fuzz.mcz")
            back = CLASSICAL_CODECS["zstd"].decode(payload, header.shape, header.dtype)
            mcz.check_crc(header, back, "fuzz.mcz")
        except BadInputError as e:
            assert "fuzz.mcz" in str(e)
            outcomes["bad"] += 1
        except Exception:  # noqa: BLE001 - zstd on a payload that passed the 16-bit file check
            outcomes["bad"] += 1
        else:
            # whatever parses and decodes is exactly the mask that was written
            assert any(np.array_equal(back, m) for m in masks)
            outcomes["ok"] += 1
    assert outcomes["bad"] > 3500
    assert time.perf_counter() - start < 20
