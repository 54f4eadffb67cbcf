"""preprocess-masks / verify-masks / object-names / collect-demos through the CLI, restarts and bad input."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from mc_pointflow.data.replay_buffer import ReplayBuffer
from mc_pointflow.masks import DONE_KEY, INDICES_KEY, MASKS_KEY, MaskConfig, brute_force_mask
from mc_pointflow.preprocess import preprocess_buffer

IDS = ("31", "92")  # charger and wall socket: present in the tiny renders


def _pre(mc, root, *extra):
    return mc("pointflow", "preprocess-masks", "--task", "unplug_charger_like", "--data-root", root,
              "--split", "train", "--object-ids", *IDS, "--distance-threshold", "0.03", "--n-points", "256",
              "-q", *extra)


def test_preprocess_stores_masks_that_match_their_points(mc, demo_root, demo_buffer, digest):
    tree_digest = digest
    r = _pre(mc, demo_root)
    assert r.exit_code == 0, r.stderr
    buf = ReplayBuffer.open(demo_buffer)
    masks, idx = buf[MASKS_KEY], buf[INDICES_KEY]
    assert masks.shape == (buf.n_steps, 256) and masks.dtype == np.float32
    assert masks.chunks == (1, 256) and "lz4" in str(masks.compressors[0])
    assert np.all(buf.meta[DONE_KEY][:] == 1)
    cfg = MaskConfig.from_json(masks.attrs["mask_config"])
    assert cfg.object_ids == (31, 92) and cfg.n_points == 256
    # every stored mask is the brute-force mask of the stored points of its timestep
    for g in range(buf.n_steps):
        pts = buf["pcd_xyz"][g][idx[g].astype(np.int64)]
        ref = brute_force_mask(pts, buf["camera_point_clouds"][g], buf["segmentation_masks"][g],
                               buf["robot_state"][g, :3], cfg)
        np.testing.assert_array_equal(masks[g], ref)
    assert 0 < float(np.mean(masks[:])) < 0.6

    # never overwrites without --overwrite: same settings -> nothing written; other settings -> exit 2
    before = tree_digest(demo_buffer)
    r = mc("pointflow", "preprocess-masks", "--buffer", demo_buffer, "--object-ids", *IDS,
           "--distance-threshold", "0.03", "--n-points", "256")
    assert r.exit_code == 0 and "nothing written" in r.stderr and tree_digest(demo_buffer) == before
    r = _pre(mc, demo_root, "--soft-sigma", "0.02")
    assert r.exit_code == 2 and "other settings" in r.stderr and tree_digest(demo_buffer) == before
    r = _pre(mc, demo_root, "--soft-sigma", "0.02", "--overwrite")
    assert r.exit_code == 0, r.stderr
    soft = ReplayBuffer.open(demo_buffer)[MASKS_KEY][:]
    assert np.any((soft > 0) & (soft < 1))

    # verify-masks reports shapes, coverage and a dataset batch, and draws a PNG
    png = demo_root / "mask.png"
    r = mc("pointflow", "verify-masks", "--buffer", demo_buffer, "--plot", png, "--out-json", demo_root / "v.json")
    assert r.exit_code == 0, r.stderr
    assert "attention_masks (18, 256) float32" in r.stdout and "episode    2" in r.stdout
    assert "pcd (4, 256, 3)" in r.stdout and "attention_mask (4, 256)" in r.stdout
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_restart_after_interruption_and_shards_give_the_same_masks(demo_root, demo_buffer, monkeypatch, tmp_path):
    cfg = MaskConfig(object_ids=(31, 92), distance_threshold=0.03, n_points=128, velocity_horizon=2,
                     smoothing_window=1)
    import mc_pointflow.preprocess as pre

    real = pre.episode_masks

    def failing(episode, e, config):
        if e == 1:
            raise KeyboardInterrupt("simulated kill")
        return real(episode, e, config)

    monkeypatch.setattr(pre, "episode_masks", failing)
    with pytest.raises(KeyboardInterrupt):
        preprocess_buffer(demo_buffer, cfg)
    monkeypatch.setattr(pre, "episode_masks", real)
    assert list(ReplayBuffer.open(demo_buffer).meta[DONE_KEY][:]) == [1, 0, 0]
    res = preprocess_buffer(demo_buffer, cfg)
    assert res.episodes_done == [1, 2] and res.episodes_skipped == [0]
    restarted = ReplayBuffer.open(demo_buffer)[MASKS_KEY][:]

    # two shards into a fresh copy give identical masks
    other = tmp_path / "sharded"
    shutil.copytree(demo_buffer, other)
    buf = ReplayBuffer.open(other, mode="a")
    for key in (MASKS_KEY, INDICES_KEY):
        buf.delete_key(key)
    del buf.meta[DONE_KEY]
    a = preprocess_buffer(other, cfg, num_shards=2, shard_index=1)
    b = preprocess_buffer(other, cfg, num_shards=2, shard_index=0)
    assert a.episodes_done == [1] and b.episodes_done == [0, 2]
    np.testing.assert_array_equal(ReplayBuffer.open(other)[MASKS_KEY][:], restarted)


def test_collect_and_object_names(mc, tmp_path):
    out = tmp_path / "task"
    r = mc("pointflow", "collect-demos", "--task", "reach_target", "--episodes", "2", "--split", "valid",
           "--out-dir", out, "--steps", "3", "--image-size", "16", "--n-cams", "2", "--n-points", "50",
           "--zarr-format", "3", "-q")
    assert r.exit_code == 0, r.stderr
    buf = ReplayBuffer.open(out / "valid_segmented")
    assert buf.zarr_format == 3 and buf.n_episodes == 2
    assert buf["camera_point_clouds"].shape == (6, 2, 256, 3) and buf["camera_point_clouds"].dtype == np.float32
    assert buf["segmentation_masks"].shape == (6, 2, 16, 16)
    assert buf["pcd_xyz"].shape == (6, 50, 3) and buf["robot_state"].shape == (6, 10)
    assert buf.attrs["object_names"]["11"] == "target" and len(buf.attrs["cameras"]) == 2
    # rot6d columns are unit vectors
    rs = buf["robot_state"][:]
    np.testing.assert_allclose(np.linalg.norm(rs[:, 3:6], axis=1), 1, atol=1e-5)
    # rerunning with more episodes continues the buffer
    r = mc("pointflow", "collect-demos", "--task", "reach_target", "--episodes", "3", "--split", "valid",
           "--out-dir", out, "--steps", "3", "--image-size", "16", "--n-cams", "2", "--n-points", "50", "-q")
    assert r.exit_code == 0 and ReplayBuffer.open(out / "valid_segmented").n_episodes == 3
    r = mc("pointflow", "object-names", "--buffer", out / "valid_segmented")
    assert r.exit_code == 0
    lines = {ln.split()[0]: ln.split() for ln in r.stdout.splitlines()[1:]}
    seg = buf["segmentation_masks"][:]
    assert lines["2"][2] == "table" and int(lines["2"][1]) > 0
    assert int(lines["90"][1]) == int((ReplayBuffer.open(out / "valid_segmented")["segmentation_masks"][:] == 90).sum())
    assert seg.dtype.kind == "i"


def _bad(mc, buf, *extra):
    return mc("pointflow", "preprocess-masks", "--buffer", buf, "--object-ids", *IDS, "-q", *extra)


def test_bad_input_is_one_line_exit_2_and_leaves_the_buffer_untouched(mc, demo_buffer, tmp_path, digest):
    tree_digest = digest
    before = tree_digest(demo_buffer)
    # object ids that do not occur
    r = _bad(mc, demo_buffer, "77", "--n-points", "64")
    assert r.exit_code == 2 and "[77] do not occur" in r.stderr and str(demo_buffer) in r.stderr
    # n_points larger than the stored cloud (400 points)
    r = _bad(mc, demo_buffer, "--n-points", "401")
    assert r.exit_code == 2 and "data/pcd_xyz" in r.stderr and "400" in r.stderr
    assert tree_digest(demo_buffer) == before
    # missing segmentation keys
    noseg = tmp_path / "noseg"
    shutil.copytree(demo_buffer, noseg)
    ReplayBuffer.open(noseg, mode="a").delete_key("segmentation_masks")
    before = tree_digest(noseg)
    r = _bad(mc, noseg, "--n-points", "64")
    assert r.exit_code == 2 and "data/segmentation_masks" in r.stderr and str(noseg) in r.stderr
    assert tree_digest(noseg) == before
    # a store without meta/episode_ends
    noends = tmp_path / "noends"
    shutil.copytree(demo_buffer, noends)
    shutil.rmtree(noends / "meta" / "episode_ends")
    before = tree_digest(noends)
    r = _bad(mc, noends, "--n-points", "64")
    assert r.exit_code == 2 and "meta/episode_ends" in r.stderr and str(noends) in r.stderr
    assert tree_digest(noends) == before
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    # verify-masks on a buffer without masks fails the run (exit 1)
    r = mc("pointflow", "verify-masks", "--buffer", demo_buffer)
    assert r.exit_code == 1 and "no preprocessed attention masks" in r.stdout


def test_advanced_flags_reach_the_stored_masks(mc, demo_root, demo_buffer):
    def run(*flags):
        r = _pre(mc, demo_root, "--overwrite", *flags)
        assert r.exit_code == 0, r.stderr
        buf = ReplayBuffer.open(demo_buffer)
        return buf[MASKS_KEY][:], buf[MASKS_KEY].attrs["mask_config"]

    hard, _ = run()
    vel, cfg = run("--velocity-horizon", "3")
    assert cfg["velocity_horizon"] == 3 and np.all(vel >= hard) and vel.sum() > hard.sum()
    smooth, cfg = run("--smoothing-window", "1", "--smoothing-sigma", "1.5")
    assert cfg["smoothing_window"] == 1 and np.any((smooth > 0) & (smooth < 1))
    wide, cfg = run("--object-thresholds", "0.03,0.08")
    assert cfg["object_thresholds"] == [0.03, 0.08] and np.all(wide >= hard) and wide.sum() > hard.sum()
    r = _pre(mc, demo_root, "--overwrite", "--object-thresholds", "0.03")
    assert r.exit_code == 2 and "one per object id" in r.stderr


def test_split_both_rerun_skips_the_finished_split_and_does_the_other(mc, demo_root, demo_buffer):
    valid = demo_buffer.parent / "valid_segmented"
    shutil.copytree(demo_buffer, valid)
    r = mc("pointflow", "preprocess-masks", "--task", "unplug_charger_like", "--data-root", demo_root,
           "--split", "train", "--object-ids", *IDS, "--n-points", "64", "-q")
    assert r.exit_code == 0 and MASKS_KEY not in ReplayBuffer.open(valid)
    r = mc("pointflow", "preprocess-masks", "--task", "unplug_charger_like", "--data-root", demo_root,
           "--split", "both", "--object-ids", *IDS, "--n-points", "64")
    assert r.exit_code == 0, r.stderr
    assert "train_segmented: data/attention_masks already exists" in r.stderr
    assert "valid_segmented: wrote masks for 3 episodes" in r.stderr
    assert np.all(ReplayBuffer.open(valid).meta[DONE_KEY][:] == 1)


def _patch_create_array(monkeypatch, before_create):
    """Run `before_create(group, name, kwargs)` just before each zarr `create_array` of preprocessing."""
    import zarr

    real = zarr.Group.create_array

    def create_array(self, name, **kwargs):
        before_create(self, name, kwargs)
        return real(self, name, **kwargs)

    monkeypatch.setattr(zarr.Group, "create_array", create_array)
    return real


def test_a_shard_keeps_arrays_a_concurrent_shard_created_first(demo_buffer, monkeypatch, tmp_path):
    import zarr

    cfg = MaskConfig(object_ids=(31, 92), distance_threshold=0.03, n_points=64)
    reference = tmp_path / "reference"
    shutil.copytree(demo_buffer, reference)
    preprocess_buffer(reference, cfg)

    raced = []

    def other_shard_wins(group, name, kwargs):
        # another shard passes the same existence check and creates the array just before this one does
        if name in (MASKS_KEY, INDICES_KEY, DONE_KEY) and name not in raced:
            raced.append(name)
            other = zarr.open_group(str(demo_buffer), mode="r+")[group.path]
            real(other, name, **kwargs)

    real = _patch_create_array(monkeypatch, other_shard_wins)
    a = preprocess_buffer(demo_buffer, cfg, num_shards=2, shard_index=0)
    monkeypatch.undo()
    b = preprocess_buffer(demo_buffer, cfg, num_shards=2, shard_index=1)
    assert sorted(raced) == sorted([MASKS_KEY, INDICES_KEY, DONE_KEY])
    assert a.episodes_done == [0, 2] and b.episodes_done == [1]
    np.testing.assert_array_equal(ReplayBuffer.open(demo_buffer)[MASKS_KEY][:],
                                  ReplayBuffer.open(reference)[MASKS_KEY][:])


@pytest.mark.parametrize("failure, exit_code, message", [
    ("permission", 1, "cannot create data/attention_masks (PermissionError: [Errno 13] Permission denied"),
    ("group", 2, "data/attention_masks is a group, not an array"),
    ("dtype", 1, "cannot create data/attention_point_indices (TypeError: data type"),
])
def test_a_failure_to_create_the_mask_arrays_is_reported_not_swallowed(mc, demo_buffer, monkeypatch, failure,
                                                                       exit_code, message):
    import zarr

    import mc_pointflow.preprocess as pre

    def fail(group, name, kwargs):
        if name != MASKS_KEY:
            return
        if failure == "permission":
            raise PermissionError(13, "Permission denied", str(demo_buffer / "data" / name))
        if failure == "group":  # something else put a group where the array goes
            zarr.open_group(str(demo_buffer), mode="r+")["data"].create_group(name)

    _patch_create_array(monkeypatch, fail)
    if failure == "dtype":
        monkeypatch.setattr(pre, "index_dtype", lambda n: "not-a-dtype")
    # a shard never replaces arrays, so it used to take any failure for a concurrent creation
    r = _bad(mc, demo_buffer, "--n-points", "64", "--num-shards", "2", "--shard-index", "0")
    assert r.exit_code == exit_code, r.stderr
    assert message in r.stderr and r.stderr.startswith(f"error: {demo_buffer}")
    assert "concurrently" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
