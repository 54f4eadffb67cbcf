"""Round trips of the classical baseline codecs (mc_codec.classical)."""

import numpy as np
import pytest

from mc_codec.classical import CLASSICAL_CODECS, UnsupportedMaskError, available_codecs
from mc_codec.samples import generate_street_like


def _masks():
    rng = np.random.default_rng(0)
    yield generate_street_like(3, height=48, width=64)
    yield rng.integers(0, 12, (17, 23), dtype=np.uint8)
    yield np.zeros((1, 50), np.uint8)
    yield np.full((40, 1), 7, np.uint8)
    m16 = rng.integers(0, 65536, (13, 11)).astype(np.uint16)
    m16[0, 0] = 65535
    yield m16
    yield (generate_street_like(5, height=32, width=32).astype(np.uint16) * 4000)


def test_required_codecs_present():
    for name in ["png", "webp", "jxl", "zstd", "xz", "coco-rle"]:
        assert name in CLASSICAL_CODECS
    for name in ["png", "webp", "jxl", "zstd", "xz"]:
        assert CLASSICAL_CODECS[name].available(), name


@pytest.mark.parametrize("name", sorted(CLASSICAL_CODECS))
def test_roundtrip(name):
    codec = CLASSICAL_CODECS[name]
    if not codec.available():
        pytest.skip(f"{name} not installed")
    for mask in _masks():
        if not codec.supports(mask):
            with pytest.raises(UnsupportedMaskError, match=name):
                codec.encode(mask)
            continue
        data = codec.encode(mask)
        assert isinstance(data, bytes) and len(data) > 0
        back = codec.decode(data, mask.shape, mask.dtype)
        assert back.dtype == mask.dtype and back.shape == mask.shape
        assert np.array_equal(back, mask), name


def test_webp_refuses_16_bit():
    m = np.full((4, 4), 300, np.uint16)
    assert not CLASSICAL_CODECS["webp"].supports(m)
    with pytest.raises(UnsupportedMaskError, match="16-bit|uint16"):
        CLASSICAL_CODECS["webp"].encode(m)


def test_compression_is_real():
    mask = generate_street_like(11)
    raw = mask.nbytes
    for name, codec in available_codecs().items():
        assert len(codec.encode(mask)) < raw / 10, name


def test_bad_mask_shape():
    with pytest.raises(ValueError):
        CLASSICAL_CODECS["png"].encode(np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(ValueError):
        CLASSICAL_CODECS["xz"].encode(np.zeros((2, 2), np.int32))
