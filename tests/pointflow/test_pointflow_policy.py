"""The pointflow-policy: training, exact resume, seeded sampling, attention supervision, eval, bad input."""

from __future__ import annotations

import csv
import json
import warnings

import numpy as np
import pytest


def _learnt(hist) -> bool:
    last = lambda k: (hist[-1][k] + hist[-2][k]) / 2  # noqa: E731  (batches of 8: average two rows)
    return last("flow_loss") < 0.8 * hist[0]["flow_loss"] and last("attention_bce") < 0.5 * hist[0]["attention_bce"]


def test_loss_decreases_and_run_folder_is_complete(tiny, masked_buffer, tmp_path, monkeypatch):
    import torch

    from mc_core.checkpoint import load_checkpoint

    res = tiny.train(masked_buffer, tmp_path / "run", 80, warmup_steps=5, log_every=10)
    hist = json.loads((tmp_path / "run" / "train_log.json").read_text())["history"]
    assert res["steps"] == 80 and len(hist) == 8
    assert _learnt(hist), hist
    lines = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert lines[0].startswith("step,seconds,lr,loss,flow_loss,attention_bce,train_attention_iou") and len(lines) == 9
    assert (tmp_path / "run" / "loss.png").read_bytes()[:4] == b"\x89PNG"
    ck = load_checkpoint(tmp_path / "run" / "checkpoints" / "final", expect_model="pointflow-policy")
    assert len(ck.meta["data_sha256"]) == 64 and ck.meta["precomputed_masks"] is True
    assert ck.meta["mask_config"]["n_points"] == 128 and ck.config["model"]["horizon"] == 4
    # the same run without the optimizer's step learns nothing: the check above would fail
    monkeypatch.setattr(torch.optim.AdamW, "step", lambda self, closure=None: None)
    tiny.train(masked_buffer, tmp_path / "frozen", 80, warmup_steps=5, log_every=10)
    assert not _learnt(json.loads((tmp_path / "frozen" / "train_log.json").read_text())["history"])


def test_resume_is_exact(tiny, mc, masked_buffer, tmp_path):
    import torch

    from mc_core.checkpoint import load_checkpoint

    a, b = tmp_path / "a", tmp_path / "b"
    common = ["--buffer", masked_buffer, "--attention-weight", "0.5", *tiny.flags]
    r = mc("pointflow", "train", "--out-dir", a, "--steps", "8", *common)
    assert r.exit_code == 0, r.stderr
    r = mc("pointflow", "train", "--out-dir", b, "--steps", "4", *common)
    assert r.exit_code == 0, r.stderr
    r = mc("pointflow", "train", "--out-dir", b, "--steps", "8", "--resume", *common)
    assert r.exit_code == 0, r.stderr
    wa = load_checkpoint(a / "checkpoints" / "final").state_dict
    wb = load_checkpoint(b / "checkpoints" / "final").state_dict
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    # a resume with other training options is refused, naming the checkpoint
    r = mc("pointflow", "train", "--out-dir", b, "--steps", "9", "--resume", "--buffer", masked_buffer,
           "--attention-weight", "0", *tiny.flags)
    assert r.exit_code == 2 and "attention_weight" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_lr_decay_schedule_and_exact_resume(tiny, masked_buffer, tmp_path, mc):
    import torch

    from mc_core.checkpoint import load_checkpoint
    from mc_pointflow.train import lr_at

    # warm-up, cosine down to 1% at the decay step, constant after; 0 keeps the constant rate
    assert lr_at(1, 1.0, 4, 20) == 0.5 and lr_at(4, 1.0, 4, 20) == 1.0
    assert lr_at(12, 1.0, 4, 20) == pytest.approx(0.505) and lr_at(20, 1.0, 4, 20) == lr_at(99, 1.0, 4, 20) == 0.01
    assert lr_at(99, 1.0, 4) == 1.0
    cfg = {"warmup_steps": 2, "lr_decay_steps": 6, "log_every": 1}
    tiny.train(masked_buffer, tmp_path / "a", 8, **cfg)
    tiny.train(masked_buffer, tmp_path / "b", 5, **cfg)
    tiny.train(masked_buffer, tmp_path / "b", 8, resume=True, **cfg)
    wa = load_checkpoint(tmp_path / "a" / "checkpoints" / "final").state_dict
    wb = load_checkpoint(tmp_path / "b" / "checkpoints" / "final").state_dict
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    with open(tmp_path / "a" / "metrics.csv") as fh:
        lrs = [float(r["lr"]) for r in csv.DictReader(fh)]
    # row k (after step k) shows the rate step k used: half of it in the warm-up's first step
    assert lrs[0] == pytest.approx(1.5e-3)
    assert lrs[1] == lrs[2] == 3e-3 > lrs[3] > lrs[5] > lrs[6] == lrs[7] == pytest.approx(3e-5)
    r = mc("pointflow", "train", "--buffer", masked_buffer, "--out-dir", tmp_path / "c", "--steps", "2",
           "--lr-decay-steps", "10", *tiny.flags)  # not beyond the 20 warm-up steps
    assert r.exit_code == 2 and "lr_decay_steps" in r.stderr and not (tmp_path / "c").exists(), r.stderr


def test_sampling_is_deterministic_by_seed(tiny, masked_buffer, tmp_path, mc):
    import torch

    from mc_pointflow.data.policy_data import load_policy_arrays
    from mc_pointflow.models.flow_policy import load_policy

    tiny.train(masked_buffer, tmp_path / "run", 10)
    model, _ = load_policy(tmp_path / "run" / "checkpoints" / "final")
    arr = load_policy_arrays(masked_buffer, n_obs_steps=2, horizon=4)
    b = arr.batch([0, 5, 11])

    def sample(seed, steps=5):
        return model.sample(b["pcd"], b["robot_state"], steps=steps, generator=torch.Generator().manual_seed(seed))[0]

    x, y, z = sample(0), sample(0), sample(1)
    assert torch.equal(x, y) and not torch.allclose(x, z)
    assert x.shape == (3, 4, 10)
    # rotations come out valid: unit, orthogonal 6D columns
    r = x[..., 3:9]
    assert torch.allclose(r[..., :3].norm(dim=-1), torch.ones(3, 4), atol=1e-5)
    assert torch.allclose((r[..., :3] * r[..., 3:]).sum(-1), torch.zeros(3, 4), atol=1e-5)
    # eval through the CLI: same seed, same numbers; CSV per item and JSON summary
    ck = tmp_path / "run" / "checkpoints" / "final"
    outs = []
    for seed in ("3", "3", "4"):
        r = mc("pointflow", "eval", "--checkpoint", ck, "--buffer", masked_buffer, "--steps", "4", "--seed", seed,
               "--out-json", tmp_path / f"e{len(outs)}.json", "--out-csv", tmp_path / "items.csv", "-q")
        assert r.exit_code == 0, r.stderr
        outs.append(json.loads((tmp_path / f"e{len(outs)}.json").read_text()))
    assert outs[0]["pos_err_m"] == outs[1]["pos_err_m"] and outs[0]["pos_err_m"] != outs[2]["pos_err_m"]
    assert outs[0]["items"] == 18 and outs[0]["precomputed_masks"] is True
    rows = (tmp_path / "items.csv").read_text().splitlines()
    assert rows[0].startswith("item,episode,timestep,flow_loss,pos_err_m") and len(rows) == 19


def test_attention_supervision_gradient_and_effect(tiny, masked_buffer, tmp_path):
    import torch

    from mc_pointflow.data.policy_data import load_policy_arrays
    from mc_pointflow.evaluate import evaluate_policy
    from mc_pointflow.models.flow_policy import PointFlowPolicy, load_policy

    # direct: the BCE term raises the logits of attended points and lowers the others
    arr = load_policy_arrays(masked_buffer, n_obs_steps=2, horizon=4)
    torch.manual_seed(0)
    model = PointFlowPolicy(tiny.model)
    model.set_normalization(arr.stats())
    b = arr.batch([2, 9])
    noise, t = torch.zeros(2, 4, 10), torch.full((2,), 0.5)
    grads = {}
    logits = {}

    def keep(module, inputs, out):
        out.retain_grad()
        logits["x"] = out

    for w in (0.0, 1.0):
        model.zero_grad()
        h = model.encoder.logit.register_forward_hook(keep)
        model(b["pcd"], b["robot_state"], b["action"], b["attention_mask"], noise, t, w)["loss"].backward()
        h.remove()
        grads[w] = logits["x"].grad.squeeze(-1)
    extra = grads[1.0] - grads[0.0]  # the gradient of the BCE term alone
    m = b["attention_mask"] >= 0.5
    assert (extra[m] < 0).all() and (extra[~m] > 0).all()

    # end to end: after a few steps the supervised logits match the masks, the free ones do not
    scores = {}
    for w in (1.0, 0.0):
        tiny.train(masked_buffer, tmp_path / f"w{w}", 60, attention_weight=w)
        model, _ = load_policy(tmp_path / f"w{w}" / "checkpoints" / "final")
        scores[w] = evaluate_policy(model, arr, sample=False)[1]
    # (rank-based: after so few steps the BCE has not yet lifted attended logits above 0 everywhere)
    assert scores[1.0]["attention_topk_iou"] > scores[0.0]["attention_topk_iou"] + 0.2


def test_on_the_fly_masks_when_the_buffer_has_none(tiny, mc, demo_buffer, tmp_path):
    import mc_pointflow.data.attention_dataset as mod
    from mc_core.checkpoint import load_checkpoint

    mod._warned_on_the_fly = False
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        r = mc("pointflow", "train", "--buffer", demo_buffer, "--out-dir", tmp_path / "run", "--steps", "2",
               "--object-ids", "31", "92", "--distance-threshold", "0.03", "--n-points", "128", *tiny.flags)
    assert r.exit_code == 0, r.stderr
    assert r.stderr.count("on the fly") == 1 and "warning:" in r.stderr  # once, not once per item
    ck = load_checkpoint(tmp_path / "run" / "checkpoints" / "final")
    assert ck.meta["precomputed_masks"] is False and ck.meta["mask_config"]["object_ids"] == [31, 92]
    # without masks or --object-ids: a one-line usage error
    r = mc("pointflow", "train", "--buffer", demo_buffer, "--out-dir", tmp_path / "run2", "--steps", "2", *tiny.flags)
    assert r.exit_code == 2 and "no preprocessed masks" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_checkpoint_loads_without_pickle(tiny, masked_buffer, tmp_path, monkeypatch):
    import pickle

    import torch

    from mc_core.checkpoint import STATE_FILE, load_state
    from mc_pointflow.models.flow_policy import load_policy

    tiny.train(masked_buffer, tmp_path / "run", 3)
    files = sorted(p.name for p in (tmp_path / "run" / "checkpoints" / "last").iterdir())
    assert files == ["config.json", "model.safetensors", "state.safetensors"]

    def refuse(*a, **k):
        raise AssertionError("unpickling is not allowed")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    model, ck = load_policy(tmp_path / "run" / "checkpoints" / "last")
    assert ck.model == "pointflow-policy" and model.config.horizon == 4
    assert float(model.point_scale) > 0 and float(model.action_std.min()) >= 0.0099  # normalisation travels too
    state = load_state(tmp_path / "run" / "checkpoints" / "last" / STATE_FILE)
    assert state["step"] == 3 and "state" in state["optimizer"]


def test_bad_input_is_one_line_with_exit_2(tiny, mc, masked_buffer, tmp_path):
    import shutil

    def one_line_2(r, *needles):
        assert r.exit_code == 2, (r.exit_code, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
        for n in needles:
            assert n in lines[0], lines[0]

    run = tmp_path / "run"
    one_line_2(mc("pointflow", "train", "--buffer", tmp_path / "nope", "--out-dir", run, *tiny.flags), "nope")
    one_line_2(mc("pointflow", "train", "--buffer", masked_buffer, "--out-dir", run, "--steps", "2", "--epochs", "1",
                  *tiny.flags), "--steps or --epochs")
    one_line_2(mc("pointflow", "train", "--buffer", masked_buffer, "--out-dir", run, "--resume", *tiny.flags),
               "nothing to resume")
    one_line_2(mc("pointflow", "train", "--buffer", masked_buffer, "--out-dir", run, "--attention-weight", "-1"),
               "--attention-weight")
    one_line_2(mc("pointflow", "train", "--out-dir", run), "unplug_charger_like/train_segmented")  # the default task
    one_line_2(mc("pointflow", "train", "--buffer", masked_buffer, "--out-dir", run, "train.lrr=1"), "did you mean")
    one_line_2(mc("pointflow", "train", "--buffer", masked_buffer, "--out-dir", run, "+experiment=nope"), "known:")
    one_line_2(mc("pointflow", "train", "--buffer", masked_buffer, "--out-dir", run, "31"), "unexpected argument")
    one_line_2(mc("pointflow", "train", "--buffer", masked_buffer, "--out-dir", run, "--set", "model.hidden=wide"),
               "model.hidden must be int")
    tiny.train(masked_buffer, run, 2)
    ck = run / "checkpoints" / "final"
    one_line_2(mc("pointflow", "eval", "--checkpoint", tmp_path / "missing", "--buffer", masked_buffer), "missing")
    one_line_2(mc("pointflow", "eval", "--checkpoint", ck, "--buffer", tmp_path / "nope"), "nope")
    other = tmp_path / "other"
    shutil.copytree(ck, other)
    cfg = json.loads((other / "config.json").read_text())
    cfg["model"] = "slot-segmenter"
    (other / "config.json").write_text(json.dumps(cfg))
    one_line_2(mc("pointflow", "eval", "--checkpoint", other, "--buffer", masked_buffer), "not one for `mc pointflow`")
    cfg["model"] = "pointflow-policy"
    cfg["config"]["model"]["feat_dim"] = 48
    (other / "config.json").write_text(json.dumps(cfg))
    one_line_2(mc("pointflow", "eval", "--checkpoint", other, "--buffer", masked_buffer), "do not fit")
    (other / "model.safetensors").write_bytes(b"not safetensors")
    one_line_2(mc("pointflow", "eval", "--checkpoint", other, "--buffer", masked_buffer), "corrupt weights")


def test_registered_model_factory():
    from mc_core.plugins import get_manager

    model = get_manager().registries.by_kind("models").create("pointflow-policy", horizon=3, feat_dim=16,
                                                              point_width=8, hidden=16, n_blocks=1)
    assert model.config.horizon == 3 and model.num_parameters() > 0
    with pytest.raises(ValueError, match="unknown model option"):
        get_manager().registries.by_kind("models").create("pointflow-policy", widht=3)


def test_rotation_helpers():
    from mc_pointflow.rotation import geodesic_deg, project_rot6d
    from mc_pointflow.sim.scene import rot6d_from_yaw

    a, b = rot6d_from_yaw(0.0), rot6d_from_yaw(np.deg2rad(30))
    assert geodesic_deg(a, b) == pytest.approx(30.0, abs=1e-6)
    assert geodesic_deg(a, a) == pytest.approx(0.0, abs=1e-4)
    np.testing.assert_allclose(project_rot6d(a * 3.0), a, atol=1e-12)


def test_attention_pos_weight_weighs_attended_points(tiny, masked_buffer, tmp_path, mc):
    import torch
    import torch.nn.functional as F

    from mc_core.checkpoint import load_checkpoint
    from mc_pointflow.data.policy_data import load_policy_arrays
    from mc_pointflow.models.flow_policy import PointFlowPolicy

    arr = load_policy_arrays(masked_buffer, n_obs_steps=2, horizon=4)
    torch.manual_seed(0)
    model = PointFlowPolicy(tiny.model)
    model.set_normalization(arr.stats())
    b = arr.batch([1, 7])
    args = (b["pcd"], b["robot_state"], b["action"], b["attention_mask"], torch.zeros(2, 4, 10), torch.full((2,), 0.5))
    one, ten = model(*args, 1.0, 1.0), model(*args, 1.0, 10.0)
    m = b["attention_mask"]
    terms = F.binary_cross_entropy_with_logits(one["logits"], m, reduction="none")
    assert torch.allclose(one["attention_bce"], terms.mean())
    assert torch.allclose(ten["attention_bce"], (terms * (1 + 9 * m)).mean(), rtol=1e-5)
    # the option reaches training and the checkpoint; a checkpoint from before the option resumes as weight 1
    run = tmp_path / "run"
    r = mc("pointflow", "train", "--buffer", masked_buffer, "--out-dir", run, "--steps", "2",
           "--attention-pos-weight", "5", *tiny.flags, "--set", "train.weight_decay=0", "model.time_dim=16")
    assert r.exit_code == 0, r.stderr
    cfg = load_checkpoint(run / "checkpoints" / "final").config
    assert cfg["train"]["attention_pos_weight"] == 5.0
    assert cfg["train"]["weight_decay"] == 0 and cfg["model"]["time_dim"] == 16  # --set and KEY=VALUE reach it
    old = tmp_path / "old"
    tiny.train(masked_buffer, old, 2)
    cfg_path = old / "checkpoints" / "last" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    del cfg["config"]["train"]["attention_pos_weight"]
    cfg_path.write_text(json.dumps(cfg))
    r = mc("pointflow", "train", "--buffer", masked_buffer, "--out-dir", old, "--steps", "3", "--resume", *tiny.flags)
    assert r.exit_code == 2 and "train.attention_pos_weight" in r.stderr, r.stderr  # settings must match
