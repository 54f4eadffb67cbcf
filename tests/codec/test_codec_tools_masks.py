"""Mask reading/writing, discovery and splits (mc_codec.data.masks)."""

import numpy as np
import pytest
from PIL import Image

from mc_codec.data.masks import find_masks, make_splits, read_mask, sequence_of, write_mask
from mc_core.errors import BadInputError


def test_roundtrip_8_and_16_bit(tmp_path):
    m8 = np.random.default_rng(0).integers(0, 12, (7, 9), dtype=np.uint8)
    write_mask(tmp_path / "a.png", m8)
    back = read_mask(tmp_path / "a.png")
    assert back.dtype == np.uint8 and np.array_equal(back, m8)
    m16 = np.random.default_rng(1).integers(0, 65536, (5, 6)).astype(np.uint16)
    m16[0, 0] = 65535
    write_mask(tmp_path / "b.png", m16)
    back = read_mask(tmp_path / "b.png")
    assert back.dtype == np.uint16 and np.array_equal(back, m16)
    assert Image.open(tmp_path / "b.png").mode.startswith("I")


def test_read_palette_and_16_bit_png(tmp_path):
    m = np.array([[0, 1], [2, 3]], dtype=np.uint8)
    img = Image.fromarray(m).convert("P")
    img.putpalette([i for c in range(256) for i in (c, 255 - c, 0)])
    img.save(tmp_path / "p.png")
    assert np.array_equal(read_mask(tmp_path / "p.png"), m)
    Image.fromarray(np.array([[0, 300], [0, 5]], dtype=np.uint16)).save(tmp_path / "i.png")
    out = read_mask(tmp_path / "i.png")
    assert out.dtype == np.uint16 and out[0, 1] == 300


def test_read_rejects_bad_files(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "rgb.png")
    with pytest.raises(BadInputError, match="RGB image where class ids are expected") as e:
        read_mask(tmp_path / "rgb.png")
    assert "rgb.png" in str(e.value)
    Image.new("LA", (4, 4)).save(tmp_path / "la.png")
    with pytest.raises(BadInputError, match="alpha channel"):
        read_mask(tmp_path / "la.png")
    good = tmp_path / "g.png"
    write_mask(good, np.zeros((20, 20), np.uint8))
    (tmp_path / "corrupt.png").write_bytes(good.read_bytes()[:40])
    with pytest.raises(BadInputError, match="corrupt.png"):
        read_mask(tmp_path / "corrupt.png")
    (tmp_path / "junk.png").write_bytes(b"not an image at all")
    with pytest.raises(BadInputError, match="junk.png"):
        read_mask(tmp_path / "junk.png")
    Image.new("L", (4, 4)).save(tmp_path / "x.bmp")
    with pytest.raises(BadInputError, match="not a PNG"):
        read_mask(tmp_path / "x.bmp")
    with pytest.raises(BadInputError, match="missing.png"):
        read_mask(tmp_path / "missing.png")


def test_find_masks(tmp_path):
    for rel in ["s/b/2_1.png", "s/a_1.png", "s/c.PNG"]:
        write_mask(tmp_path / rel, np.zeros((2, 2), np.uint8))
    (tmp_path / "s" / "notes.txt").write_text("x")
    assert find_masks(tmp_path, "s") == ["a_1.png", "b/2_1.png", "c.PNG"]
    assert find_masks(tmp_path) == ["s/a_1.png", "s/b/2_1.png", "s/c.PNG"]
    with pytest.raises(BadInputError, match="nope"):
        find_masks(tmp_path, "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInputError, match="no .png"):
        find_masks(tmp_path, "empty")


def test_sequence_of():
    assert sequence_of("0001TP_006690.png") == "0001TP"
    assert sequence_of("seq/Seq05VD_f00120.png") == "seq/Seq05VD"
    assert sequence_of("a_b_c.png") == "a_b"
    assert sequence_of("plain.png") == "plain"


def test_make_splits_deterministic_and_reused(tmp_path):
    paths = [f"seq{s}_{f:04d}.png" for s in range(10) for f in range(5)]
    a = make_splits(paths, tmp_path / "s1", seed=3)
    b = make_splits(paths, tmp_path / "s2", seed=3)
    assert a == b
    assert sorted(a["train"] + a["val"] + a["test"]) == sorted(paths)
    assert len(a["test"]) == 5 and len(a["val"]) == 5
    c = make_splits(paths, tmp_path / "s3", seed=4)
    assert c != a
    # a user's own split is used as given
    (tmp_path / "own").mkdir()
    (tmp_path / "own" / "train.txt").write_text("seq0_0000.png\nseq0_0001.png\n")
    (tmp_path / "own" / "val.txt").write_text("seq1_0000.png\n")
    (tmp_path / "own" / "test.txt").write_text("")
    own = make_splits(paths, tmp_path / "own", seed=3)
    assert own == {"train": ["seq0_0000.png", "seq0_0001.png"], "val": ["seq1_0000.png"], "test": []}
    (tmp_path / "own" / "test.txt").write_text("gone.png\n")
    with pytest.raises(BadInputError, match="gone.png"):
        make_splits(paths, tmp_path / "own")


def test_make_splits_by_sequence(tmp_path):
    paths = [f"S{s}_{f:03d}.png" for s in range(12) for f in range(4)]
    sp = make_splits(paths, tmp_path / "sp", seed=0, by_sequence=True, val_frac=0.2, test_frac=0.2)
    owner = {}
    for name, items in sp.items():
        for p in items:
            owner.setdefault(sequence_of(p), set()).add(name)
    assert all(len(v) == 1 for v in owner.values())
    assert all(sp[n] for n in ("train", "val", "test"))
    assert (tmp_path / "sp" / "test.txt").read_text().splitlines() == sp["test"]
