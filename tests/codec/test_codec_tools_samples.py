"""Shipped sample masks and the street-scene generator."""

import numpy as np

from mc_codec.data.masks import find_masks, make_splits, read_mask
from mc_codec.samples import generate_street_like, sample_root


def test_generator_is_deterministic_and_street_like():
    a = generate_street_like(7)
    assert a.shape == (360, 480) and a.dtype == np.uint8
    assert np.array_equal(a, generate_street_like(7))
    assert not np.array_equal(a, generate_street_like(8))
    assert a.max() <= 11
    # sky on top, ground (road/sidewalk/void bonnet) at the bottom, several classes in between
    assert not np.isin(a[0], [3, 4]).any()
    assert np.isin(a[-1], [3, 4, 11]).mean() > 0.5
    assert len(np.unique(a)) >= 5
    # piecewise constant: few horizontal transitions, as in real label maps
    assert (a[:, 1:] != a[:, :-1]).mean() < 0.1
    small = generate_street_like(1, height=40, width=64)
    assert small.shape == (40, 64)


def test_shipped_samples_layout_and_split():
    root = sample_root()
    masks = find_masks(root / "masks")
    street = [p for p in masks if p.startswith("street/")]
    nlcd = [p for p in masks if p.startswith("nlcd/")]
    assert len(street) >= 8 and len(nlcd) >= 8
    total = sum((root / "masks" / p).stat().st_size for p in masks)
    assert total < 2_000_000
    splits = make_splits(masks, root / "splits")   # the shipped split is used as given
    assert sorted(splits["train"] + splits["val"] + splits["test"]) == masks
    assert 1 <= len(splits["test"]) <= 10
    assert any(p.startswith("nlcd/") for p in splits["test"])
    # the shipped street masks are exactly what the generator makes
    seed = int(street[0].split("_")[-1].split(".")[0])
    assert np.array_equal(read_mask(root / "masks" / street[0]), generate_street_like(seed))
    tile = read_mask(root / "masks" / nlcd[0])
    assert tile.shape == (256, 256) and tile.max() <= 15 and len(np.unique(tile)) >= 2
