"""The .mcz container: round trip, every corruption is a BadInputError, quick fuzz."""

import struct
import time
import zlib

import numpy as np
import pytest

from mc_core.errors import BadInputError
from mc_codec import container as mcz
from mc_codec.classical import CLASSICAL_CODECS


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
    mcz.check_model(h2, bytes(16))
    with pytest.raises(BadInputError, match="model"):
        mcz.check_model(h2, mcz.digest_bytes(b"other weights"), "f.mcz")


def test_specific_errors_name_the_source():
    _, _, data = _file()
    cases = {
        b"": "wrong magic|truncated",
        data[:5]: "truncated",
        b"PK\x03\x04" + data[4:]: "wrong magic",
        data[:30]: "truncated",
        data[:-1]: "truncated",
        data + b"\x00": "unexpected bytes",
    }
    for blob, msg in cases.items():
        with pytest.raises(BadInputError, match=msg) as e:
            mcz.unpack(blob, "in/file.mcz")
        assert "in/file.mcz" in str(e.value)
    newer = bytearray(data)
    newer[8:10] = struct.pack("<H", mcz.FORMAT_VERSION + 1)
    with pytest.raises(BadInputError, match="upgrade"):
        mcz.unpack(bytes(newer), "n.mcz")
    flipped = bytearray(data)
    flipped[-10] ^= 0x40
    with pytest.raises(BadInputError, match="CRC"):
        mcz.unpack(bytes(flipped), "c.mcz")


def test_crafted_headers_with_valid_crc_are_refused():
    mask, header, data = _file()
    body = bytearray(data[:-4])
    body[12:16] = struct.pack("<I", 1 << 30)   # absurd height, CRC recomputed
    with pytest.raises(BadInputError, match="shape"):
        mcz.unpack(bytes(body) + struct.pack("<I", zlib.crc32(bytes(body))))
    body = bytearray(data[:-4])
    k = len(header.classes)
    body[40:42], body[42:44] = body[42:44], body[40:42]   # table out of order
    assert k >= 2
    with pytest.raises(BadInputError, match="class-id table"):
        mcz.unpack(bytes(body) + struct.pack("<I", zlib.crc32(bytes(body))))


def test_fuzz_only_bad_input_or_success():
    rng = np.random.default_rng(1)
    files = [_file(rng.integers(0, n, (h, w)).astype(dt))[2]
             for n, h, w, dt in [(3, 5, 9, np.uint8), (300, 7, 4, np.uint16), (1, 1, 1, np.uint8)]]
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
        except BadInputError as e:
            assert "fuzz.mcz" in str(e)
            outcomes["bad"] += 1
        else:
            # only an unchanged file (a mutation that wrote the same byte) may parse
            assert blob in files
            outcomes["ok"] += 1
    assert outcomes["bad"] > 3500
    assert time.perf_counter() - start < 20
