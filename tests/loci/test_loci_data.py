"""moving-shapes generation, layout and loader errors."""

import json

import numpy as np
import pytest

from mc_core.errors import BadInputError
from mc_loci.baselines import median_cc
from mc_loci.data.moving_shapes import MovingShapes, load_video, make_dataset, make_video


def test_video_is_deterministic_and_consistent():
    a = make_video(3, 1, frames=5, size=32)
    b = make_video(3, 1, frames=5, size=32)
    c = make_video(3, 2, frames=5, size=32)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["rgb"], c["rgb"])
    assert a["rgb"].shape == (5, 32, 32, 3) and a["rgb"].dtype == np.uint8
    assert a["masks"].shape == (5, 32, 32) and a["depth"].dtype == np.float32
    ids = np.unique(a["masks"])
    assert ids[0] == 0 and 2 <= len(ids) - 1 <= 4
    # objects are nearer than the background and each object has one depth
    for i in ids[1:]:
        d = a["depth"][a["masks"] == i]
        assert d.max() - d.min() < 1e-6 and d.max() < a["depth"][a["masks"] == 0].min()
    # objects move: the mask changes between the first and the last frame
    assert (a["masks"][0] != a["masks"][-1]).any()


def test_make_dataset_layout_and_shards(tmp_path):
    make_dataset(tmp_path / "d", videos=3, frames=4, size=32, seed=5, indices=[0, 2], progress_bar=False)
    with pytest.raises(BadInputError, match="video_00001.npz"):
        MovingShapes(tmp_path / "d")  # shard 1 not written yet
    make_dataset(tmp_path / "d", videos=3, frames=4, size=32, seed=5, indices=[1], progress_bar=False)
    ds = MovingShapes(tmp_path / "d")
    assert len(ds) == 3 and ds.frames == 4 and ds.size == 32
    np.testing.assert_array_equal(ds[1]["masks"], make_video(5, 1, frames=4, size=32)["masks"])
    arrays = ds.arrays()
    assert arrays["rgb"].shape == (3, 4, 32, 32, 3)
    assert not list((tmp_path / "d").rglob("*.tmp"))


def test_loader_errors(tmp_path):
    with pytest.raises(BadInputError, match="not found"):
        MovingShapes(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInputError, match="meta.json is missing"):
        MovingShapes(tmp_path / "empty")
    d = make_dataset(tmp_path / "d", videos=1, frames=2, size=16, progress_bar=False)
    (d / "meta.json").write_text("{not json")
    with pytest.raises(BadInputError, match="corrupt JSON"):
        MovingShapes(d)
    (d / "meta.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(BadInputError, match="not a mc-loci-moving-shapes"):
        MovingShapes(d)

    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"this is not a zip file")
    with pytest.raises(BadInputError, match="is not a zip archive \\(video npz expected\\)"):
        load_video(bad)
    np.savez(tmp_path / "nomask.npz", rgb=np.zeros((2, 8, 8, 3), np.uint8), depth=np.zeros((2, 8, 8), np.float32))
    with pytest.raises(BadInputError, match="missing array.*masks"):
        load_video(tmp_path / "nomask.npz")
    assert "masks" not in load_video(tmp_path / "nomask.npz", need_masks=False)
    np.savez(tmp_path / "float.npz", rgb=np.zeros((2, 8, 8, 3), np.float32))
    with pytest.raises(BadInputError, match="rgb must be uint8"):
        load_video(tmp_path / "float.npz", need_masks=False, need_depth=False)


def test_median_cc_baseline_tracks_separated_moving_objects():
    from mc_loci.metrics import fg_ari, matched_iou

    rng = np.random.default_rng(0)
    t, size = 6, 32
    rgb = np.repeat(rng.integers(80, 120, size=(1, size, size, 3)), t, 0).astype(np.uint8)
    masks = np.zeros((t, size, size), np.int64)
    for f in range(t):
        masks[f, 2:8, 2 + 3 * f:8 + 3 * f] = 1       # moves right
        masks[f, 12 + 3 * f:18 + 3 * f, 22:28] = 2   # moves down
    rgb[masks == 1] = [250, 30, 30]
    rgb[masks == 2] = [30, 250, 30]
    pred = median_cc(rgb)
    assert pred.shape == masks.shape
    assert matched_iou(pred, masks) == 1.0  # whole-video tubes: ids are linked over time
    assert fg_ari(pred, masks) == 1.0


def test_pan_camera_videos_are_deterministic_and_recorded_in_meta(tmp_path):
    from mc_core.testing import invoke

    a = make_video(4, 2, frames=6, size=32, camera_motion="pan", with_background=True)
    b = make_video(4, 2, frames=6, size=32, camera_motion="pan")
    static = make_video(4, 2, frames=6, size=32)
    for k in ("rgb", "depth", "masks", "camera"):
        np.testing.assert_array_equal(a[k], b[k])
    np.testing.assert_array_equal(a["masks"], static["masks"])  # same objects, only the camera moves
    assert "camera" not in static and a["camera"].shape == (6, 2) and a["camera"].dtype == np.float32
    # the view moves smoothly (constant speed until a bounce) and stays on the canvas
    steps = np.linalg.norm(np.diff(a["camera"], axis=0), axis=1)
    assert (steps > 0.2).all() and (steps < 1.1).all()  # 1-2 px per frame at size 64, halved at 32
    assert a["camera"].min() >= 0 and a["camera"].max() <= 16
    # so the background seen at a pixel changes over time, while a static camera's does not
    bg = a["background"]
    assert np.abs(bg[0] - bg[-1]).mean() > 3
    static_bg = make_video(4, 2, frames=6, size=32, with_background=True)["background"]
    assert (static_bg == static_bg[0]).all()
    # the background depth is still a plane behind every object
    assert a["depth"][a["masks"] > 0].max() < a["depth"][a["masks"] == 0].min()
    np.testing.assert_allclose(a["background_depth"][a["masks"] == 0], a["depth"][a["masks"] == 0])

    r = invoke("loci", "make-data", "--out-dir", str(tmp_path / "pan"), "--videos", "2", "--frames", "3",
               "--size", "16", "--camera-motion", "pan", "-q")
    assert r.exit_code == 0, r.stderr
    ds = MovingShapes(tmp_path / "pan")
    assert ds.meta["camera_motion"] == "pan" and ds.camera_motion == "pan"
    assert ds[1]["camera"].shape == (3, 2)
    make_dataset(tmp_path / "static", videos=1, frames=2, size=16, progress_bar=False)
    static_ds = MovingShapes(tmp_path / "static")
    assert "camera_motion" not in static_ds.meta and static_ds.camera_motion == "none"
    with pytest.raises(ValueError, match="camera_motion"):
        make_video(0, 0, camera_motion="zoom")


def test_defaults_keep_todays_data_byte_identical():
    import hashlib
    import json

    from mc_loci.data.moving_shapes import dataset_meta, make_video

    meta = dataset_meta(videos=2, frames=3, size=16, seed=3, min_objects=2, max_objects=4)
    assert json.dumps(meta) == (
        '{"format": "mc-loci-moving-shapes", "version": 1, "videos": 2, "frames": 3, "size": 16, "seed": 3, '
        '"min_objects": 2, "max_objects": 4, "video_dir": "videos", "keys": {"rgb": "uint8 (T,H,W,3)", '
        '"depth": "float32 (T,H,W)", "masks": "uint8 (T,H,W), 0=background"}}')
    v = make_video(3, 1, frames=3, size=16)
    assert hashlib.sha256(v["masks"].tobytes()).hexdigest() == \
        "beb654738e13c992452f5968ec42882637917968262b9e19bb78de0cc1ef11b0"
    explicit = make_video(3, 1, frames=3, size=16, background="smooth")
    for k in v:
        np.testing.assert_array_equal(v[k], explicit[k])


def test_textured_background_same_objects_more_texture():
    from mc_loci.data.moving_shapes import make_video

    for cam in ("none", "pan"):
        smooth = make_video(0, 2, frames=3, size=32, camera_motion=cam, noise=0, with_background=True)
        tex = make_video(0, 2, frames=3, size=32, camera_motion=cam, noise=0, with_background=True,
                         background="textured")
        np.testing.assert_array_equal(smooth["masks"], tex["masks"])
        np.testing.assert_array_equal(smooth["depth"], tex["depth"])
        fg = smooth["masks"] != 0
        np.testing.assert_array_equal(smooth["rgb"][fg], tex["rgb"][fg])   # objects untouched

        def roughness(bg):  # mean absolute neighbour difference of the background
            return float(np.abs(np.diff(bg, axis=2)).mean())

        assert roughness(tex["background"]) > 2 * roughness(smooth["background"])
    # with the pan camera the texture moves with the view
    assert not np.array_equal(tex["background"][0], tex["background"][1])


def test_generalization_split_has_more_objects(tmp_path):
    import json

    from mc_core.testing import invoke
    from mc_loci import MovingShapes

    r = invoke("loci", "make-data", "--out-dir", tmp_path / "gen", "--videos", "4", "--frames", "2", "--size", "16",
               "--max-objects", "3", "--split", "generalization", "--seed", "4", "-q")
    assert r.exit_code == 0, r.stderr
    meta = json.loads((tmp_path / "gen" / "meta.json").read_text())
    assert meta["split"] == "generalization" and meta["objects"] == [4, 6]
    for v in MovingShapes(tmp_path / "gen"):
        assert 4 <= len(np.unique(v["masks"])) - 1 <= 6   # ids seen in the video, less the background
    r = invoke("loci", "make-data", "--out-dir", tmp_path / "g2", "--max-objects", "10", "--split",
               "generalization", "-q")
    assert r.exit_code == 2 and "needs max_objects < 10" in r.stderr and not (tmp_path / "g2").exists()
