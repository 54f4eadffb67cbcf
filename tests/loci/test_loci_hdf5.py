"""Loci-Segmented's HDF5 layout: make-data --format loci-hdf5 writes it, --data reads it (ours and a
file laid out as the paper's preprocessing writes them), bad files are exit 2 naming file and dataset."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from mc_core.testing import invoke

NAME = "moving-shapes-test-16x16-v1.hdf5"


def checksums(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _encode(arr: np.ndarray, fmt: str) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt)
    return np.frombuffer(buf.getvalue(), np.uint8)


def write_paper_style(path: Path, *, h: int = 24, w: int = 20, frames: int = 2, claim: int | None = None,
                      bad_jpeg: bool = False, seq=None, drop: str | None = None) -> None:
    """A file laid out as Loci-Segmented's create-dataset script writes one (non-square frames,
    overlapping masks, an amodal 128 part), optionally damaged."""
    rgb = np.zeros((frames, h, w, 3), np.uint8)
    rgb[:, :, :, 0] = 200
    m1 = np.zeros((h, w), np.uint8)
    m1[2:12, 2:10] = 255
    m2 = np.zeros((h, w), np.uint8)
    m2[8:20, 6:16] = 255
    m2[8:12, 6:10] = 128                  # hidden part of object 2 under object 1 (amodal), not visible
    vlen = h5py.vlen_dtype(np.dtype("uint8"))
    with h5py.File(path, "w") as f:
        r = f.create_dataset("rgb_images", (frames,), dtype=vlen)
        d = f.create_dataset("depth_images", (frames,), dtype=vlen)
        for t in range(frames):
            r[t] = np.frombuffer(b"\xff\xd8garbage", np.uint8) if bad_jpeg and t == 1 else _encode(rgb[t], "JPEG")
            d[t] = _encode(np.full((h, w), 128, np.uint8), "PNG")
        f.create_dataset("foreground_mask", data=np.stack([np.maximum(m1, m2)] * frames)[:, None])
        if claim is None:
            f.create_dataset("instance_masks", data=np.stack([m1, m2] * frames)[:, None])
        else:  # a header that claims `claim` masks, almost nothing stored
            f.create_dataset("instance_masks", (claim, 1, h, w), dtype=np.uint8, chunks=(1, 1, h, w),
                             compression="gzip")
        f.create_dataset("image_instance_indices", data=np.array([[2 * t, 2] for t in range(frames)]))
        f.create_dataset("instance_masks_images", data=np.repeat(np.arange(frames), 2)[:, None])
        f.create_dataset("instance_mask_bboxes", data=np.zeros((2 * frames, 4), np.uint8))
        f.create_dataset("sequence_indices", data=np.array(seq if seq is not None else [[0, frames]]))
        g = f.create_group("metadata")
        g.attrs["dataset_name"] = "paper"
        g.attrs["type"] = "test"
        if drop:
            del f[drop]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from mc_loci.data.moving_shapes import make_dataset

    root = tmp_path_factory.mktemp("loci_h5")
    make_dataset(root / "folder", videos=3, frames=3, size=16, seed=1, progress_bar=False)
    path = make_dataset(root / "h5", videos=3, frames=3, size=16, seed=1, split="test", format="loci-hdf5",
                        progress_bar=False)
    assert path == root / "h5" / NAME
    write_paper_style(root / "paper-test-24x20-v1.hdf5")
    write_paper_style(root / "claims.hdf5", claim=10 ** 7)
    write_paper_style(root / "badjpeg.hdf5", bad_jpeg=True)
    write_paper_style(root / "seqout.hdf5", seq=[[0, 2], [1, 5]])
    write_paper_style(root / "norgb.hdf5", drop="rgb_images")
    data = path.read_bytes()
    (root / "truncated.hdf5").write_bytes(data[: len(data) // 2])
    (root / "garbage.hdf5").write_bytes(b"not an hdf5 file at all" * 10)
    return root


def test_written_file_has_the_seeds_layout_and_reads_back(world):
    from mc_loci import LociHDF5, MovingShapes, parse_hdf5_name

    assert parse_hdf5_name(NAME) == {"name": "moving-shapes", "split": "test", "height": 16, "width": 16,
                                     "version": 1}
    path = world / "h5" / NAME
    with h5py.File(path) as f:
        assert set(f) == {"rgb_images", "depth_images", "foreground_mask", "instance_masks", "image_instance_indices",
                          "instance_masks_images", "instance_mask_bboxes", "sequence_indices", "metadata"}
        assert f["foreground_mask"].shape == (9, 1, 16, 16) and f["foreground_mask"].dtype == np.uint8
        assert set(np.unique(f["foreground_mask"][:])) <= {0, 255}
        assert f["sequence_indices"][:].tolist() == [[0, 3], [3, 3], [6, 3]]
        idx = f["image_instance_indices"][:]
        assert idx[0, 0] == 0 and (idx[1:, 0] == np.cumsum(idx[:-1, 1])).all()
        assert f["instance_masks_images"].shape == (f["instance_masks"].shape[0], 1)
        assert f["metadata"].attrs["dataset_name"] == "moving-shapes" and f["metadata"].attrs["type"] == "test"
        jpeg = bytes(f["rgb_images"][0][:2])
        assert jpeg == b"\xff\xd8"                                     # JPEG bytes
        assert bytes(f["depth_images"][0][:8]) == b"\x89PNG\r\n\x1a\n"  # PNG bytes
        bbox = f["instance_mask_bboxes"][0]
        m = f["instance_masks"][0, 0] > 0
        ys, xs = np.nonzero(m)
        assert bbox.tolist() == [xs.min(), ys.min(), xs.max(), ys.max()]
    h5, folder = LociHDF5(path), MovingShapes(world / "folder")
    assert len(h5) == 3 and h5.size == 16 and h5.frames == 3
    for i in range(3):
        a, b = h5[i], folder[i]
        np.testing.assert_array_equal(a["masks"], b["masks"])           # masks are lossless
        assert np.abs(a["rgb"].astype(int) - b["rgb"]).mean() < 4           # JPEG
        assert np.abs(a["depth"] - b["depth"]).max() <= 0.5 / 255 + 1e-6    # 8-bit PNG depth
        assert all(st.shape == (len(np.unique(b["masks"][b["masks"] != 0])), 16, 16) for st in a["instance_masks"])


def test_paper_style_file_is_resized_and_its_visible_masks_read(world):
    from mc_loci import LociHDF5

    ds = LociHDF5(world / "paper-test-24x20-v1.hdf5", size=16)
    assert ds.native == (24, 20) and ds.size == 16 and len(ds) == 1
    v = ds[0]
    assert v["rgb"].shape == (2, 16, 16, 3) and v["depth"].shape == (2, 16, 16)
    assert abs(float(v["depth"].mean()) - 128 / 255) < 1e-3
    st = v["instance_masks"][0]
    assert st.shape == (2, 16, 16) and st.dtype == bool
    # the 128 (hidden) part of mask 2 is not visible: its masks do not overlap mask 1 there
    assert not (st[0] & st[1]).any()
    assert LociHDF5(world / "paper-test-24x20-v1.hdf5").size == 20   # non-square: the smaller side


def test_eval_reads_hdf5_and_tables_methods(world, tmp_path):
    path = world / "h5" / NAME
    r = invoke("loci", "eval", "--data", path, "--method", "all-background", "--method", "median-cc",
               "--out-json", tmp_path / "e.json", "-q")
    assert r.exit_code == 0, r.stderr
    out = json.loads((tmp_path / "e.json").read_text())
    assert [row["method"] for row in out["table"]] == ["all-background", "median-cc"]
    bg = out["table"][0]
    assert bg["iou"] == 0.0 and bg["fg_ari"] == 0.0 and bg["frames"] == 9 and bg["empty_frames"] == 0
    # Loci-Segmented's fg ARI scores a prediction of all background 1 (its table is empty): reported as it is
    assert bg["loci_fg_ari"] == 1.0
    assert "all-background" in r.stdout and "median-cc" in r.stdout
    rows = out["results"][1]["per_video"]
    assert rows[0]["video"] == "sequence_00000" and len(rows[0]["frames"]) == 3


def test_train_reads_hdf5_and_eval_resizes_to_the_models_size(world, tmp_path):
    paper = world / "paper-test-24x20-v1.hdf5"
    r = invoke("loci", "train", "--data", paper, "--size", "16", "--out-dir", tmp_path / "run", "--steps", "1",
               "--clip-frames", "2", "--num-slots", "2", "--hidden", "4", "--slot-dim", "4", "--pixel-dim", "4",
               "--batch-size", "1", "--device", "cpu", "-q")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["steps"] == 1
    ck = tmp_path / "run" / "checkpoints" / "final"
    from mc_loci import evaluate_data

    assert evaluate_data(paper, checkpoint=ck, device="cpu")["size"] == 16         # the model's size
    assert evaluate_data(paper, method="median-cc")["size"] == 20                  # the file's smaller side
    assert evaluate_data(paper, method="median-cc", size=32)["size"] == 32


def test_make_data_hdf5_rerun_keeps_other_settings_refused_overwrite_replaces(tmp_path):
    args = ["make-data", "--out-dir", tmp_path / "d", "--videos", "2", "--frames", "2", "--size", "16",
            "--format", "loci-hdf5", "-q"]
    assert invoke("loci", *args).exit_code == 0
    first = checksums(tmp_path)
    assert list(first) == ["d/moving-shapes-train-16x16-v1.hdf5"]
    assert invoke("loci", *args).exit_code == 0
    assert checksums(tmp_path) == first
    r = invoke("loci", *args[:-1], "--seed", "5", "-q")
    assert r.exit_code == 2 and r.stderr.startswith(f"error: {tmp_path / 'd' / 'moving-shapes-train-16x16-v1.hdf5'}: "
                                                    "exists with other settings"), r.stderr
    assert checksums(tmp_path) == first
    assert invoke("loci", *args[:-1], "--seed", "5", "--overwrite", "-q").exit_code == 0
    assert checksums(tmp_path) != first
    r = invoke("loci", *args[:-1], "--num-shards", "2", "--shard-index", "0", "-q")
    assert r.exit_code == 2 and "takes no shards" in r.stderr


BAD = [
    ("truncated", "truncated.hdf5", "damaged or unreadable HDF5 file"),
    ("not-hdf5", "garbage.hdf5", "damaged or unreadable HDF5 file"),
    ("no-rgb", "norgb.hdf5", "no 'rgb_images' dataset"),
    ("huge-claim", "claims.hdf5", "instance_masks: claims shape (10000000, 1, 24, 20)"),
    ("sequence-out-of-range", "seqout.hdf5", "sequence_indices[1] = (1, 5) lies outside the 2 entries"),
    ("damaged-jpeg", "badjpeg.hdf5", "rgb_images[1]: not a decodable image"),
]


@pytest.mark.parametrize("name,problem", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_hdf5_is_exit_2_one_line_naming_file_and_dataset(world, name, problem):
    before = checksums(world)
    for cmd in (["eval", "--data", world / name, "--method", "median-cc", "--out-json", world / "new.json", "-q"],
                ["pretrain-bg", "--data", world / name, "--out-dir", world / "new", "--steps", "1",
                 "--clip-frames", "2", "--device", "cpu", "-q"]):
        r = invoke("loci", *cmd)
        lines = r.stderr.strip().splitlines()
        assert r.exit_code == 2, r.stderr
        assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
        assert lines[0].startswith(f"error: {world / name}: ") and problem in lines[0], lines[0]
    assert checksums(world) == before
    assert not (world / "new.json").exists() and not (world / "new").exists()


def test_segment_reads_a_video_of_an_hdf5_file(world, tmp_path):
    path = world / "h5" / NAME
    r = invoke("loci", "segment", "--method", "farthest-cc", "--data", path, "--index", "2", "--out-gif",
               tmp_path / "s.gif", "--out-npz", tmp_path / "s.npz")
    assert r.exit_code == 0, r.stderr
    from mc_loci import LociHDF5, get_segmenter

    v = LociHDF5(path)[2]
    want = get_segmenter("farthest-cc").segment({"rgb": v["rgb"], "depth": v["depth"]})
    np.testing.assert_array_equal(np.load(tmp_path / "s.npz")["ids"], want)
    assert "iou=" in r.stdout and "loci_fg_ari=" in r.stdout
    r = invoke("loci", "segment", "--method", "median-cc", "--video", path, "--out-gif", tmp_path / "x.gif")
    assert r.exit_code == 2 and r.stderr.startswith(f"error: {path}: is an HDF5 data set"), r.stderr
    for extra, problem in ((["--index", "3"], "index must be in 0..2"), (["--video", path], "give one of")):
        r = invoke("loci", "segment", "--method", "median-cc", "--data", path, *extra, "--out-gif", tmp_path / "x.gif")
        assert r.exit_code == 2 and problem in r.stderr and not (tmp_path / "x.gif").exists(), r.stderr
