"""Bad input and faults, one table: exit 2, one line `error: <file>: <problem>` (the file where
there is one), no traceback, and the inputs and earlier outputs unchanged (checksums)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from .conftest import TINY_FLAGS as FLAGS
from .conftest import tree_digest


def digest(path: Path) -> str | None:
    path = Path(path)
    if path.is_dir():
        return tree_digest(path)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def damage(path: Path) -> None:
    """Overwrite the middle of a (Blosc-compressed) chunk file, as a bad disk or copy would."""
    b = bytearray(path.read_bytes())
    b[16:] = b"\xff" * (len(b) - 16)
    path.write_bytes(bytes(b))


@pytest.fixture
def world(masked_buffer, tiny_run, tmp_path):
    """A buffer with masks, a copy of a trained checkpoint, and a finished run folder."""
    ck = tmp_path / "ck"
    shutil.copytree(tiny_run.checkpoint, ck)
    run = tmp_path / "run"
    run.mkdir()
    (run / "rollout.json").write_text("{}")
    return {"buf": masked_buffer, "ck": ck, "tmp": tmp_path, "run": run}


def _cases():
    """(id, make(world) -> (argv, needles, watched paths))."""
    def pre(w, *extra):
        return ["preprocess-masks", "--buffer", w["buf"], "--object-ids", "31", "92", "--n-points", "128", *extra]

    def damaged(w, chunk_file):
        bad = w["tmp"] / "damaged"
        shutil.copytree(w["buf"], bad)
        damage(bad / chunk_file)
        return bad

    def config_list(w):
        _edit(w["ck"], lambda c: c.update(config=[1, 2]))
        return w["ck"]

    return [
        # numbers that are not numbers: refused before anything is read or written
        ("distance-nan", lambda w: (pre(w, "--distance-threshold", "nan"), ["--distance-threshold", "not a finite"], [w["buf"]])),
        ("radius-inf", lambda w: (pre(w, "--gripper-radius", "inf"), ["--gripper-radius", "not a finite"], [w["buf"]])),
        ("thresholds-nan", lambda w: (pre(w, "--object-thresholds", "0.01,nan"), ["--object-thresholds", "finite"],
                                      [w["buf"]])),
        ("smoothing-sigma-nan", lambda w: (pre(w, "--smoothing-sigma", "NaN"), ["--smoothing-sigma"], [w["buf"]])),
        ("lr-inf", lambda w: (["train", "--buffer", w["buf"], "--out-dir", w["tmp"] / "new", "--lr", "inf", *FLAGS],
                              ["--lr", "not a finite"], [w["buf"]])),
        ("attention-weight-nan", lambda w: (["train", "--buffer", w["buf"], "--out-dir", w["tmp"] / "new",
                                             "--attention-weight", "nan", *FLAGS], ["--attention-weight"], [w["buf"]])),
        ("noise-nan", lambda w: (["collect-demos", "--task", "unplug_charger", "--out-dir", w["tmp"] / "new",
                                  "--noise", "nan"], ["--noise", "not a finite"], [])),
        ("max-minutes-inf", lambda w: (["train", "--buffer", w["buf"], "--out-dir", w["tmp"] / "new", "--max-minutes",
                                        "inf", *FLAGS], ["--max-minutes"], [w["buf"]])),
        # sizes beyond the documented limits: refused at once, before any allocation
        ("image-size-huge", lambda w: (["collect-demos", "--task", "unplug_charger", "--out-dir", w["tmp"] / "new",
                                        "--image-size", "100000"], ["--image-size", "512"], [])),
        ("hidden-huge", lambda w: (["train", "--buffer", w["buf"], "--out-dir", w["tmp"] / "new", *FLAGS, "--hidden",
                                    "1000000"], ["--hidden", "8192"], [w["buf"]])),
        ("override-width-huge", lambda w: (["train", "--buffer", w["buf"], "--out-dir", w["tmp"] / "new",
                                            "model.feat_dim=1000000", *FLAGS], ["feat_dim 1000000 exceeds"], [w["buf"]])),
        ("mask-points-huge", lambda w: (pre(w, "--n-points", "10000000")[:-2] + ["--n-points", "10000000"],
                                        ["--n-points"], [w["buf"]])),
        # a damaged zarr chunk: the store and the array are named
        ("damaged-cloud-train", lambda w: (lambda bad: (["train", "--buffer", bad, "--out-dir", w["tmp"] / "new",
                                                         "--steps", "1", *FLAGS],
                                                        [str(bad), "data/pcd_xyz", "chunk 3.0.0", "blosc"], [bad]))(
            damaged(w, "data/pcd_xyz/3.0.0"))),
        ("damaged-state-preprocess", lambda w: (lambda bad: (["preprocess-masks", "--buffer", bad, "--object-ids", "31",
                                                              "--n-points", "64", "--overwrite"],
                                                             [str(bad), "data/robot_state", "damaged"], [bad]))(
            damaged(w, "data/robot_state/0.0"))),
        ("damaged-ends", lambda w: (lambda bad: (["verify-masks", "--buffer", bad],
                                                 [str(bad), "meta/episode_ends"], [bad]))(
            damaged(w, "meta/episode_ends/0"))),
        # continuing a demo buffer with other settings than its episodes were made with
        ("collect-other-settings", lambda w: (["collect-demos", "--task", "unplug_charger", "--out-dir",
                                               w["buf"].parent, "--episodes", "4", "--steps", "6", "--image-size", "24",
                                               "--n-cams", "3", "--n-points", "400", "--seed", "4"],
                                              [str(w["buf"]), "seed 3 (not 4)"], [w["buf"]])),
        ("collect-other-length", lambda w: (["collect-demos", "--task", "unplug_charger", "--out-dir",
                                             w["buf"].parent, "--episodes", "4", "--steps", "7", "--image-size", "24",
                                             "--n-cams", "3", "--n-points", "400", "--seed", "3"],
                                            ["steps 6 (not 7)"], [w["buf"]])),
        # outputs that are inputs (or inside one), or written twice
        ("eval-json-onto-checkpoint", lambda w: (["eval", "--checkpoint", w["ck"], "--buffer", w["buf"], "--out-json",
                                                  w["ck"] / "config.json"], ["config.json", "input"], [w["ck"], w["buf"]])),
        ("eval-csv-into-buffer", lambda w: (["eval", "--checkpoint", w["ck"], "--buffer", w["buf"], "--out-csv",
                                             w["buf"] / "items.csv"], ["items.csv", "inside an input"], [w["ck"], w["buf"]])),
        ("rollout-written-twice", lambda w: (["rollout", "--checkpoint", w["ck"], "--episodes", "1", "--out-csv",
                                              w["run"] / "rollout.json", "--out-json", w["run"] / "rollout.json"],
                                             ["rollout.json", "written twice"], [w["ck"], w["run"]])),
        ("verify-json-into-buffer", lambda w: (["verify-masks", "--buffer", w["buf"], "--out-json", w["buf"] / ".zattrs"],
                                               [".zattrs", "input"], [w["buf"]])),
        ("train-into-buffer", lambda w: (["train", "--buffer", w["buf"], "--out-dir", w["buf"], "--steps", "1", *FLAGS],
                                         ["this output is also an input"], [w["buf"]])),
        # a checkpoint whose config is not a mapping; one of another plugin's model
        ("checkpoint-config-list", lambda w: (["eval", "--checkpoint", config_list(w), "--buffer", w["buf"]],
                                              ["config.json", "'config' must be a mapping"], [w["buf"], w["ck"]])),
        ("policy-needs-training", lambda w: (["rollout", "--policy", "pointflow-policy", "--task", "unplug_charger",
                                              "--episodes", "1"], ["must be trained"], [])),
        ("unknown-policy", lambda w: (["rollout", "--policy", "experts", "--task", "unplug_charger"],
                                      ["did you mean 'expert'"], [])),
    ]


def _edit(ck: Path, change) -> None:
    cfg = json.loads((ck / "config.json").read_text())
    change(cfg)
    (ck / "config.json").write_text(json.dumps(cfg))


CASES = _cases()


@pytest.mark.parametrize("make", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_exit_2_one_line_and_changes_nothing(make, world, mc):
    argv, needles, watched = make(world)
    before = {str(p): digest(p) for p in watched}
    r = mc("pointflow", *argv)
    lines = r.stderr.strip().splitlines()
    assert r.exit_code == 2, (r.exit_code, r.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.output, r.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])
    assert {str(p): digest(p) for p in watched} == before
    assert not (world["tmp"] / "new").exists()


def test_nan_cannot_poison_a_buffer_and_a_poisoned_one_is_recovered(mc, demo_buffer):
    """`--distance-threshold nan` is refused before the buffer is touched, so the valid rerun runs;
    masks an older version stored with NaN settings are never used and --overwrite replaces them."""
    import zarr

    from mc_pointflow.data.replay_buffer import ReplayBuffer
    from mc_pointflow.preprocess import stored_config

    args = ["pointflow", "preprocess-masks", "--buffer", demo_buffer, "--object-ids", "31", "92", "--n-points", "64"]
    assert mc(*args, "--distance-threshold", "nan").exit_code == 2
    assert "attention_masks" not in ReplayBuffer.open(demo_buffer)
    assert mc(*args, "-q").exit_code == 0
    # poisoned as an older version would have left it
    arr = zarr.open_array(str(demo_buffer / "data" / "attention_masks"), mode="r+")
    arr.attrs["mask_config"] = {**arr.attrs["mask_config"], "distance_threshold": float("nan")}
    r = mc(*args)
    assert r.exit_code == 2 and "pass overwrite (--overwrite)" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = mc("pointflow", "train", "--buffer", demo_buffer, "--out-dir", demo_buffer.parent / "r", "--steps", "1", *FLAGS)
    assert r.exit_code == 2 and "no preprocessed masks" in r.stderr
    assert mc(*args, "--overwrite", "-q").exit_code == 0
    assert stored_config(ReplayBuffer.open(demo_buffer)).distance_threshold == 0.01


def test_train_device_and_time_budget_come_from_the_one_loop(mc, masked_buffer, tmp_path):
    import torch

    if not torch.cuda.is_available():
        r = mc("pointflow", "train", "--buffer", masked_buffer, "--out-dir", tmp_path / "c", "--steps", "1",
               *[f for f in FLAGS if f not in ("--device", "cpu")], "--device", "cuda")
        assert r.exit_code == 2 and "CUDA is not available" in r.stderr and not (tmp_path / "c").exists()
    # a time budget ends cleanly with a checkpoint that --resume continues
    r = mc("pointflow", "train", "--buffer", masked_buffer, "--out-dir", tmp_path / "t", "--steps", "100000",
           "--max-minutes", "0.002", *FLAGS)
    assert r.exit_code == 0, r.stderr
    log = json.loads((tmp_path / "t" / "train_log.json").read_text())["result"]
    assert log["stopped"] == "time-budget" and 0 < log["steps"] < 100000
    assert (tmp_path / "t" / "checkpoints" / "final" / "model.safetensors").exists()
    r = mc("pointflow", "train", "--buffer", masked_buffer, "--out-dir", tmp_path / "t", "--steps", "1", *FLAGS)
    assert r.exit_code == 2 and "pass --resume" in r.stderr  # an existing run is never overwritten


def test_a_nan_loss_stops_train_with_exit_1_and_keeps_the_last_good_checkpoint(mc, masked_buffer, tmp_path,
                                                                                monkeypatch):
    from mc_core.checkpoint import load_checkpoint
    from mc_pointflow.models.flow_policy import PointFlowPolicy

    forward, calls = PointFlowPolicy.forward, []

    def diverging(self, *args, **kwargs):
        terms = forward(self, *args, **kwargs)
        calls.append(1)
        if len(calls) > 5:  # from step 5 on the loss is NaN, as after a blow-up
            terms["loss"] = terms["loss"] * float("nan")
        return terms

    monkeypatch.setattr(PointFlowPolicy, "forward", diverging)
    r = mc("pointflow", "train", "--buffer", masked_buffer, "--out-dir", tmp_path / "run", "--steps", "20",
           "--ckpt-every", "2", *FLAGS)
    assert r.exit_code == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "non-finite loss" in lines[0] and "step 5" in lines[0], r.stderr
    last = load_checkpoint(tmp_path / "run" / "checkpoints" / "last")
    assert last.meta["step"] == 4 and not (tmp_path / "run" / "checkpoints" / "final").exists()
