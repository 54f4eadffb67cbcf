"""NLCD legend: code <-> index mapping, unknown codes, colours."""

import numpy as np
import pytest

from mc_landcover.legend import (
    CODES,
    DEVELOPED_INDICES,
    NLCD_CLASSES,
    NUM_CLASSES,
    UnknownCodeError,
    codes_to_index,
    colorize,
    index_to_codes,
)


def test_legend_is_the_nlcd_legend():
    codes = [c for c, _, _ in NLCD_CLASSES]
    assert codes[0] == 11 and codes[-1] == 95 and NUM_CLASSES == 20
    assert codes == sorted(codes)
    assert [int(CODES[i]) for i in DEVELOPED_INDICES] == [21, 22, 23, 24]
    assert dict((c, rgb) for c, _, rgb in NLCD_CLASSES)[11] == (70, 107, 159)


def test_roundtrip_independent_of_which_codes_a_file_holds():
    a = np.array([[42, 11], [95, 42]], dtype=np.uint8)
    idx = codes_to_index(a)
    assert idx.dtype == np.uint8
    assert idx[0, 0] == list(CODES).index(42)  # not the rank among the codes present
    assert np.array_equal(index_to_codes(idx), a)


def test_unknown_codes_are_listed():
    with pytest.raises(UnknownCodeError) as exc:
        codes_to_index(np.array([11, 13, 99, 13]))
    assert exc.value.codes == [13, 99]
    assert "13, 99" in str(exc.value)


def test_nodata_can_be_ignored():
    idx = codes_to_index(np.array([11, 255, 21]), ignore=255)
    assert list(idx) == [0, 255, 2]
    with pytest.raises(ValueError):
        codes_to_index(np.array([1.5, 2.0]))


def test_colorize_uses_standard_colours_and_black_for_unknown():
    rgb = colorize(np.array([[0, -1]]))
    assert rgb.shape == (1, 2, 3) and rgb.dtype == np.uint8
    assert tuple(rgb[0, 0]) == (70, 107, 159) and tuple(rgb[0, 1]) == (0, 0, 0)
    with pytest.raises(ValueError):
        colorize(np.array([NUM_CLASSES]))
    with pytest.raises(ValueError):
        index_to_codes(np.array([NUM_CLASSES]))
