"""The seed's commands (pointflow_attention_masks.md) as written, run end to end: paths replaced by
the package's commands and sizes made tiny, everything else the seed's own spelling and values.

    python scripts/collect_demos_with_segmentation.py      -> mc pointflow collect-demos --task unplug_charger
    bash bash/preprocess_masks.sh                          -> the shipped script (mc pointflow script ...)
    python scripts/preprocess_attention_masks.py --task unplug_charger --split both \\
        --object-ids 31 34 35 92 --distance-threshold 0.01 --gripper-radius 0.05 --n-points 4096
    python scripts/test_preprocessed_masks.py              -> mc pointflow verify-masks
    python scripts/get_object_names.py                     -> mc pointflow object-names
    python scripts/preprocess_attention_masks.py --task your_task --overwrite
    python scripts/train.py +experiment=pointflowmatch_so3_attention log_wandb=True
                                                           -> mc pointflow train (the same overrides)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e

TINY_DEMOS = ["--episodes", "2", "--steps", "6", "--image-size", "32", "--n-cams", "3", "--n-points", "300",
              "--seed", "1"]  # seed 1: both prongs (ids 34, 35) are seen in both splits at this size
N_POINTS = "128"  # the seed's 4096, made tiny


def test_seed_commands_as_written(mc, tmp_path, monkeypatch):
    from mc_pointflow.data.replay_buffer import ReplayBuffer
    from mc_pointflow.preprocess import stored_config

    monkeypatch.chdir(tmp_path)  # the default paths (demos/sim/<task>) are the seed's relative ones
    for split in ("train", "valid"):
        r = mc("pointflow", "collect-demos", "--task", "unplug_charger", "--split", split, *TINY_DEMOS, "-q")
        assert r.exit_code == 0, r.stderr
    bufs = [tmp_path / "demos" / "sim" / "unplug_charger_like" / f"{s}_segmented" for s in ("train", "valid")]
    assert all(ReplayBuffer.open(b).attrs["task"] == "unplug_charger_like" for b in bufs)

    # bash bash/preprocess_masks.sh (the seed's defaults; only the point count made tiny)
    r = mc("pointflow", "script", "preprocess_masks.sh", "--copy-to", "bash")
    assert r.exit_code == 0 and r.stdout.strip().endswith("preprocess_masks.sh"), r.stderr
    env = {**os.environ, "MC": f"{sys.executable} -m mc_core", "N_POINTS": N_POINTS}
    env.pop("MC_DEBUG", None)
    p = subprocess.run(["bash", "bash/preprocess_masks.sh"], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    for b in bufs:
        cfg = stored_config(ReplayBuffer.open(b))
        assert cfg.object_ids == (31, 34, 35, 92) and cfg.distance_threshold == 0.01
        assert cfg.gripper_radius == 0.05 and cfg.n_points == 128

    # the direct command with the seed's flags: the same settings, so nothing to do
    seed_flags = ["--task", "unplug_charger", "--split", "both", "--object-ids", "31", "34", "35", "92",
                  "--distance-threshold", "0.01", "--gripper-radius", "0.05", "--n-points", N_POINTS]
    r = mc("pointflow", "preprocess-masks", *seed_flags)
    assert r.exit_code == 0 and r.stderr.count("already exists with these settings") == 2, r.stderr
    # underscore spellings and the task's default ids mean the same
    r = mc("pointflow", "preprocess-masks", "--task", "unplug_charger", "--distance_threshold", "0.01",
           "--gripper_radius", "0.05", "--n_points", N_POINTS)
    assert r.exit_code == 0 and r.stderr.count("already exists with these settings") == 2, r.stderr

    # python scripts/test_preprocessed_masks.py
    r = mc("pointflow", "verify-masks", "--task", "unplug_charger")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.count("episodes done 2/2") == 2 and "dataset batch: pcd (4, 128, 3)" in r.stdout

    # python scripts/get_object_names.py
    r = mc("pointflow", "object-names", "--buffer", bufs[0], "--json")
    names = {row["id"]: row["name"] for row in json.loads(r.stdout)}
    assert {31: "charger", 34: "charger_prong_a", 35: "charger_prong_b", 92: "wall_socket"}.items() <= names.items()

    # --task your_task --overwrite: changed settings are recomputed (and refused without --overwrite)
    r = mc("pointflow", "preprocess-masks", "--task", "unplug_charger", "--distance-threshold", "0.02",
           "--n-points", N_POINTS)
    assert r.exit_code == 2 and "pass overwrite (--overwrite)" in r.stderr
    r = mc("pointflow", "preprocess-masks", "--task", "unplug_charger", "--overwrite", "--distance-threshold", "0.02",
           "--n-points", N_POINTS, "-q")
    assert r.exit_code == 0, r.stderr
    assert all(stored_config(ReplayBuffer.open(b)).distance_threshold == 0.02 for b in bufs)

    # python scripts/train.py +experiment=pointflowmatch_so3_attention log_wandb=True (sizes made tiny by
    # overrides): the seed's default task, the precomputed masks and the valid split beside them
    tiny_sizes = ["train.steps=3", "train.val_items=4", "train.batch_size=8", "model.horizon=4", "model.hidden=64",
                  "model.feat_dim=32", "model.point_width=16", "model.n_blocks=1", "--device", "cpu", "-q"]
    r = mc("pointflow", "train", "+experiment=pointflowmatch_so3_attention", "log_wandb=True", *tiny_sizes)
    assert r.exit_code == 0, r.stderr
    assert "on the fly" not in r.stderr
    from mc_core.checkpoint import load_checkpoint

    ck = load_checkpoint(tmp_path / "runs" / "pointflow" / "checkpoints" / "final")
    assert ck.meta["precomputed_masks"] is True and ck.meta["valid_buffer"].endswith("valid_segmented")
    assert ck.meta["mask_config"]["distance_threshold"] == 0.02 and ck.meta["step"] == 3
    assert ck.config["train"]["attention_weight"] == 1.0 and ck.config["model"]["horizon"] == 4
    r = mc("pointflow", "rollout", "--checkpoint", "runs/pointflow/checkpoints/final", "--task", "unplug_charger",
           "--episodes", "1", "--max-steps", "4", "--execute-steps", "2", "--steps", "2", "-q")
    assert r.exit_code == 0 and json.loads(r.stdout)["task"] == "unplug_charger_like", r.stderr
