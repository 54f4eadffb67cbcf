"""The learned background module: shapes, the mixture, EM training without masks, pretrain-bg CLI
(resume equal to uninterrupted), its use in the slot segmenter and learned-cc, and bad input."""

import json

import numpy as np
import pytest
import torch

from mc_core.testing import invoke
from mc_loci.models.background import (
    BackgroundModule,
    background_fit_loss,
    background_nll,
    estimate_video,
    foreground_logit,
)

TINY_BG = {"hidden": 8, "latent_channels": 2, "downsample": 2}
TINY_BG_FLAGS = ["--hidden", "8", "--latent-channels", "2", "--batch-size", "2", "--clip-frames", "2",
                 "--device", "cpu", "-q"]


def test_shapes_temporal_state_and_foreground_logit():
    torch.manual_seed(0)
    model = BackgroundModule(TINY_BG)
    rgb, depth = torch.rand(2, 3, 3, 16, 16), torch.rand(2, 3, 1, 16, 16)
    out = model(rgb, depth)
    assert out["bg"].shape == (2, 3, 4, 16, 16) and out["latent"].shape == (2, 3, 2, 4, 4)
    assert 0 <= out["bg"].min() and out["bg"].max() <= 1
    assert foreground_logit(model, out, rgb, depth).shape == (2, 3, 16, 16)
    # dynamic: frame 1's background depends on frame 0, and a carried state changes frame 0
    other = rgb.clone()
    other[:, 0] = torch.rand(2, 3, 16, 16)
    assert not torch.allclose(model(other, depth)["bg"][:, 1], out["bg"][:, 1])
    assert not torch.allclose(model(rgb, depth, state=out["state"])["bg"][:, 0], out["bg"][:, 0])
    # without temporal context frames are independent
    static = BackgroundModule({**TINY_BG, "temporal": False})
    torch.testing.assert_close(static(other, depth)["bg"][:, 1], static(rgb, depth)["bg"][:, 1])
    rgb_only = BackgroundModule({**TINY_BG, "depth_input": False})
    assert rgb_only(rgb)["bg"].shape == (2, 3, 3, 16, 16)
    with pytest.raises(ValueError, match="needs depth"):
        model(rgb)
    with pytest.raises(ValueError, match="unknown background model option"):
        BackgroundModule({"slots": 3})


def test_outlier_pixels_get_a_positive_foreground_logit():
    model = BackgroundModule({**TINY_BG, "init_sigma": 0.05})
    bg = torch.full((1, 1, 4, 2, 2), 0.5)
    rgb = torch.full((1, 1, 3, 2, 2), 0.52)
    depth = torch.full((1, 1, 1, 2, 2), 0.5)
    rgb[..., 0, 0] = torch.tensor([0.9, 0.1, 0.1])  # an object pixel: far from the background
    logit = foreground_logit(model, {"bg": bg}, rgb, depth)[0, 0]
    assert logit[0, 0] > 5 and (logit.flatten()[1:] < -5).all()
    # the loss of the network ignores the outlier pixel
    bg = bg.clone().requires_grad_(True)
    background_fit_loss(model, {"bg": bg}, rgb, depth).backward()
    assert bg.grad[0, 0, :, 0, 0].abs().max() < 1e-6 < bg.grad[0, 0, :, 1, 1].abs().max()


def test_em_training_without_masks_lowers_the_mixture_nll(tmp_path):
    from mc_core.factory import load_model
    from mc_loci import VideoSegmenter, pretrain_background
    from mc_loci.data.moving_shapes import make_dataset, make_video

    data = make_dataset(tmp_path / "pan", videos=4, frames=3, size=16, camera_motion="pan", progress_bar=False)
    res = pretrain_background(data, tmp_path / "run", steps=25, device="cpu", model_config=TINY_BG,
                              train_config={"batch_size": 4, "clip_frames": 3, "lr": 1e-2, "ckpt_every": 0})
    videos = [make_video(0, i, frames=3, size=16, camera_motion="pan") for i in range(4)]
    rgb = torch.as_tensor(np.stack([v["rgb"] for v in videos]), dtype=torch.float32).permute(0, 1, 4, 2, 3) / 255
    depth = torch.as_tensor(np.stack([v["depth"] for v in videos]))[:, :, None]
    torch.manual_seed(0)
    initial = BackgroundModule(TINY_BG)  # what training started from (same seed)
    trained = load_model(res.checkpoint, task="loci", protocol=VideoSegmenter)
    # the EM updates shrank the mixture's stds from their broad start (0.3)
    assert trained.sigma[0] < 0.25 and trained.sigma[1] < 0.25
    with torch.no_grad():
        # the network's gradient steps alone: the mixture parameters set back to the initial ones
        trained.sigma.copy_(initial.sigma)
        trained.fg_prior.copy_(initial.fg_prior)
        before = background_nll(initial, initial(rgb, depth), rgb, depth).item()
        after = background_nll(trained, trained(rgb, depth), rgb, depth).item()
    assert after < before - 0.5, (before, after)


def _run(*args):
    r = invoke("loci", *args)
    return r.exit_code, r.stdout, r.stderr


@pytest.mark.e2e
def test_pretrain_bg_cli_resume_equals_uninterrupted_and_feeds_the_segmenter(tmp_path):
    from mc_core.checkpoint import load_checkpoint

    data = tmp_path / "pan"
    assert _run("make-data", "--out-dir", data, "--videos", "3", "--frames", "3", "--size", "16",
                "--camera-motion", "pan", "-q")[0] == 0
    code, out, err = _run("pretrain-bg", "--data", data, "--out-dir", tmp_path / "full", "--steps", "4",
                          *TINY_BG_FLAGS)
    assert code == 0, err
    assert json.loads(out)["steps"] == 4
    code, out, err = _run("pretrain-bg", "--data", data, "--out-dir", tmp_path / "half", "--steps", "2",
                          *TINY_BG_FLAGS)
    assert code == 0, err
    assert json.loads(out)["train_seconds"] > 0
    # what the resumed run starts from: the time recorded in the checkpoint it resumes
    first_seconds = load_checkpoint(tmp_path / "half" / "checkpoints" / "last").meta["train_seconds"]
    code, out, err = _run("pretrain-bg", "--data", data, "--out-dir", tmp_path / "half", "--steps", "4",
                          "--resume", *TINY_BG_FLAGS)
    assert code == 0, err
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "final")
    b = load_checkpoint(tmp_path / "half" / "checkpoints" / "final")
    assert a.model == "loci-background" and set(a.state_dict) == set(b.state_dict)
    for k in a.state_dict:  # weights and the EM-updated mixture parameters
        torch.testing.assert_close(a.state_dict[k], b.state_dict[k], rtol=1e-5, atol=1e-6)
    assert a.meta["camera_motion"] == "pan"
    log = json.loads((tmp_path / "full" / "train_log.json").read_text())
    assert "nll" in log["history"][-1]
    # the training time of a resumed run adds up its invocations
    assert json.loads(out)["train_seconds"] > first_seconds > 0

    bg_ckpt = tmp_path / "full" / "checkpoints" / "final"
    code, out, err = _run("eval", "--data", data, "--method", "learned-cc", "--bg-checkpoint", bg_ckpt, "-q")
    assert code == 0, err
    assert json.loads(out)["method"] == "learned-cc"
    # the module itself is a VideoSegmenter whose segmentation is learned-cc's
    code, out2, err = _run("eval", "--data", data, "--checkpoint", bg_ckpt, "-q")
    assert code == 0, err
    assert {k: v for k, v in json.loads(out2).items() if k != "method"} == \
        {k: v for k, v in json.loads(out).items() if k != "method"}
    code, out, err = _run("train", "--data", data, "--out-dir", tmp_path / "seg", "--steps", "1", "--batch-size", "1",
                          "--clip-frames", "2", "--unsupervised", "--background", "learned", "--bg-checkpoint",
                          bg_ckpt, "--num-slots", "2", "--hidden", "8", "--slot-dim", "8", "--pixel-dim", "8",
                          "--device", "cpu", "-q")
    assert code == 0, err
    seg = load_checkpoint(tmp_path / "seg" / "checkpoints" / "final")
    assert seg.config["model"]["background"] == "learned" and seg.config["model"]["fg_evidence"] == "none"
    # the frozen module travels inside the segmenter's checkpoint, unchanged by training
    torch.testing.assert_close(seg.state_dict["background_module.dec_out.weight"], a.state_dict["dec_out.weight"])
    code, out, err = _run("segment", "--checkpoint", tmp_path / "seg" / "checkpoints" / "final", "--video",
                          data / "videos" / "video_00000.npz", "--out-gif", tmp_path / "s.gif", "--device", "cpu")
    assert code == 0, err
    assert (tmp_path / "s.gif").exists()


def test_learned_background_in_the_segmenter_comes_per_frame_from_the_module():
    from mc_loci.models.slot_segmenter import SlotSegmenter

    torch.manual_seed(0)
    seg = SlotSegmenter({"num_slots": 2, "hidden": 8, "slot_dim": 8, "pixel_dim": 8, "appearance": "mean",
                         "bg_depth": "estimate", "background": "learned", "bg_model": TINY_BG})
    rgb, depth = torch.rand(1, 2, 3, 16, 16), torch.rand(1, 2, 1, 16, 16)
    out = seg(rgb, depth)
    want = seg.background_module(rgb, depth)["bg"]
    torch.testing.assert_close(out["comp_rgb"][:, :, 0], want[:, :, :3])
    torch.testing.assert_close(out["comp_depth"][:, :, 0], want[:, :, 3:4])
    assert not any(p.requires_grad for p in seg.background_module.parameters())
    seg.train()
    assert not seg.background_module.training


def _learned_segmenter(fg_evidence: str):
    from mc_loci.models.slot_segmenter import SlotSegmenter

    torch.manual_seed(0)
    return SlotSegmenter({"num_slots": 2, "hidden": 8, "slot_dim": 8, "pixel_dim": 8, "appearance": "mean",
                          "bg_depth": "estimate", "background": "learned", "bg_model": TINY_BG,
                          "fg_evidence": fg_evidence})


def test_fg_evidence_prior_adds_the_module_log_odds_to_the_background_mask_logit():
    rgb, depth = torch.rand(1, 2, 3, 16, 16), torch.rand(1, 2, 1, 16, 16)
    plain, prior = _learned_segmenter("none"), _learned_segmenter("prior")
    prior.load_state_dict(plain.state_dict())  # same weights: only the use of the logit differs
    a, b = plain(rgb, depth), prior(rgb, depth)
    module = plain.background_module
    want = foreground_logit(module, module(rgb, depth), rgb, depth)
    torch.testing.assert_close(a["fg_logit"], want)
    torch.testing.assert_close(b["logits"][:, :, 0], a["logits"][:, :, 0] - want)
    torch.testing.assert_close(b["logits"][:, :, 1:], a["logits"][:, :, 1:])


def test_fg_evidence_input_makes_the_segmenter_read_the_module_posterior():
    from mc_loci.models.slot_segmenter import SlotSegmenter

    rgb, depth = torch.rand(1, 2, 3, 16, 16), torch.rand(1, 2, 1, 16, 16)
    for fg_evidence, reads in (("none", False), ("input", True)):
        seg = _learned_segmenter(fg_evidence)
        before = seg(rgb, depth)
        # a broader background Gaussian changes the module's foreground logit, not its background
        seg.background_module.sigma.fill_(0.5)
        after = seg(rgb, depth)
        torch.testing.assert_close(after["comp_rgb"][:, :, 0], before["comp_rgb"][:, :, 0])  # the background
        assert not torch.allclose(after["fg_logit"], before["fg_logit"])
        assert reads != torch.allclose(after["logits"], before["logits"])
    with pytest.raises(ValueError, match="fg_evidence .* needs background 'learned'"):
        SlotSegmenter({"background": "farthest", "fg_evidence": "input"})
    with pytest.raises(ValueError, match="fg_evidence must be one of"):
        _learned_segmenter("posterior")


def test_bad_bg_checkpoint_is_one_line_exit_2(tmp_path):
    from mc_loci.data.moving_shapes import make_dataset

    data = make_dataset(tmp_path / "d", videos=1, frames=2, size=16, progress_bar=False)
    seg_dir = tmp_path / "seg"
    assert _run("train", "--data", data, "--out-dir", seg_dir, "--steps", "1", "--batch-size", "1",
                "--clip-frames", "2", "--num-slots", "2", "--hidden", "4", "--slot-dim", "4", "--pixel-dim", "4",
                "--device", "cpu", "-q")[0] == 0
    not_bg = seg_dir / "checkpoints" / "final"
    missing = tmp_path / "nothing_here"
    cases = [
        (("eval", "--data", data, "--method", "learned-cc", "--bg-checkpoint", not_bg),
         f"error: {not_bg}: checkpoint holds a 'slot-segmenter' model"),
        (("eval", "--data", data, "--method", "learned-cc", "--bg-checkpoint", missing),
         f"error: {missing}: checkpoint not found"),
        (("train", "--data", data, "--out-dir", tmp_path / "x", "--unsupervised", "--background", "learned",
          "--bg-checkpoint", not_bg), f"error: {not_bg}: checkpoint holds a 'slot-segmenter' model"),
        (("segment", "--method", "learned-cc", "--bg-checkpoint", missing, "--video",
          data / "videos" / "video_00000.npz", "--out-gif", tmp_path / "x.gif"), f"error: {missing}: "),
    ]
    for args, want in cases:
        code, _, err = _run(*args)
        assert code == 2 and err.startswith(want) and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x.gif").exists() and not (tmp_path / "x" / "checkpoints").exists()
    code, _, err = _run("train", "--data", data, "--out-dir", tmp_path / "x", "--background", "learned")
    assert code == 2 and "background 'learned' needs bg_checkpoint" in err
    code, _, err = _run("eval", "--data", data, "--method", "median-cc", "--bg-checkpoint", not_bg)
    assert code == 2 and "bg_checkpoint goes with method 'learned-cc' only" in err
    code, _, err = _run("pretrain-bg", "--data", tmp_path / "nodata", "--out-dir", tmp_path / "y")
    assert code == 2 and "nodata: data folder not found" in err


def test_estimate_video_outputs_per_frame_maps():
    from mc_loci.data.moving_shapes import make_video

    video = make_video(2, 0, frames=3, size=16, camera_motion="pan")
    est = estimate_video(BackgroundModule(TINY_BG), video)
    assert est["colour"].shape == (3, 16, 16, 3) and est["depth"].shape == (3, 16, 16)
    assert est["fg_logit"].shape == (3, 16, 16) and est["colour"].max() <= 255.0
