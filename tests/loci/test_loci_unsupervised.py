"""Unsupervised training of the slot-segmenter: background estimate, masked-mean appearance,
mixture likelihood, and a tiny model that learns foreground masks without seeing any."""

import json

import numpy as np
import pytest
import torch

from mc_loci.baselines import estimate_background, run_baseline
from mc_loci.data.moving_shapes import make_dataset, make_video
from mc_loci.models.slot_segmenter import SlotSegmenter, segment_video
from mc_loci.training import mixture_nll

TINY_UNSUP = {"num_slots": 3, "hidden": 16, "slot_dim": 16, "pixel_dim": 8, "iters": 2,
              "appearance": "mean", "bg_depth": "estimate", "background": "farthest"}


def _slow_object_video():
    """8 frames of a grey background; a red square sits on the same pixels for 5 frames."""
    rgb = np.full((8, 8, 8, 3), 100, np.uint8)
    depth = np.full((8, 8, 8), 0.9, np.float32)
    rgb[:5, 2:5, 2:5] = (230, 40, 40)
    depth[:5, 2:5, 2:5] = 0.3
    return rgb, depth


def test_farthest_background_has_no_ghost_of_a_slow_object():
    rgb, depth = _slow_object_video()
    med, med_depth = estimate_background(rgb, depth, "median")
    assert (med[3, 3] == (230, 40, 40)).all() and med_depth[3, 3] == pytest.approx(0.3)  # the ghost
    far, far_depth = estimate_background(rgb, depth, "farthest")
    assert (far == 100).all() and (far_depth == pytest.approx(0.9))
    ids = run_baseline("farthest-cc", rgb, depth)
    assert (ids[:5, 2:5, 2:5] > 0).all() and (ids[5:] == 0).all()
    assert (run_baseline("median-cc", rgb)[:5, 2:5, 2:5] == 0).all()  # the median misses it
    with pytest.raises(ValueError, match="farthest-cc needs depth"):
        run_baseline("farthest-cc", rgb)


def test_farthest_depth_cc_finds_an_object_of_the_background_colour_by_its_depth():
    rgb, depth = _slow_object_video()
    rgb[:5, 2:5, 2:5] = (110, 95, 100)  # within the colour threshold (30) of the grey background
    assert (run_baseline("farthest-cc", rgb, depth) == 0).all()  # colour alone misses it
    ids = run_baseline("farthest-depth-cc", rgb, depth)
    assert (ids[:5, 2:5, 2:5] > 0).all() and (ids[5:] == 0).all() and ids[:5].sum() == ids[0, 2, 2] * 45
    depth[:5, 2:5, 2:5] = 0.85  # nearer than the background by 0.05 only: below the depth threshold
    rgb[:5, 2:5, 2:5] = (230, 40, 40)  # and the colour does not count
    assert (run_baseline("farthest-depth-cc", rgb, depth) == 0).all()
    assert (run_baseline("farthest-cc", rgb, depth)[:5, 2:5, 2:5] > 0).all()
    with pytest.raises(ValueError, match="farthest-depth-cc needs depth"):
        run_baseline("farthest-depth-cc", rgb)


def test_masked_mean_appearance_is_the_colour_under_the_mask():
    torch.manual_seed(0)
    model = SlotSegmenter(TINY_UNSUP)
    rgb = torch.rand(1, 2, 3, 8, 8)
    depth = torch.rand(1, 2, 1, 8, 8)
    bg = torch.rand(1, 4, 8, 8)
    out = model(rgb, depth, bg)
    probs = torch.softmax(out["logits"], 2)
    for k in range(1, 4):
        w = probs[0, :, k]  # (T,H,W)
        want = (w[:, None] * rgb[0]).sum((2, 3)) / w.sum((1, 2))[:, None]
        torch.testing.assert_close(out["comp_rgb"][0, :, k, :, 0, 0], want, rtol=1e-2, atol=1e-3)
    # the background component is the given background (colour and estimated depth)
    torch.testing.assert_close(out["comp_rgb"][0, 1, 0], bg[0, :3])
    torch.testing.assert_close(out["comp_depth"][0, 1, 0, 0], bg[0, 3])
    with pytest.raises(ValueError, match="background depth"):
        model(rgb, depth, bg[:, :3])


def test_mixture_nll_pulls_a_fitting_slot_in_where_the_background_owns_the_pixel():
    # one pixel, 2 components: background (wrong colour) owns it almost entirely, slot 1 fits exactly
    logits = torch.tensor([6.0, -6.0]).reshape(1, 1, 2, 1, 1).requires_grad_(True)
    target = torch.tensor([0.9, 0.1, 0.1]).reshape(1, 1, 3, 1, 1)
    comp = torch.stack([torch.full((3,), 0.5), target.flatten()]).reshape(1, 1, 2, 3, 1, 1)
    out = {"logits": logits, "comp_rgb": comp, "comp_depth": torch.zeros(1, 1, 2, 1, 1, 1)}
    nll = mixture_nll(out, {"rgb": target, "depth": None}, sigma=0.1)
    nll.backward()
    g = logits.grad.flatten()
    assert g[1] < -0.9 and g[0] > 0.9  # descending raises the slot, lowers the background
    # while the MSE of the blended picture gives the slot almost no gradient there
    logits2 = logits.detach().clone().requires_grad_(True)
    blend = (torch.softmax(logits2, 2)[:, :, :, None] * comp).sum(2)
    ((blend - target) ** 2).mean().backward()
    assert logits2.grad.abs().max() < 0.01


def test_unsupervised_training_learns_foreground_without_true_masks(tmp_path):
    from mc_core.checkpoint import load_checkpoint
    from mc_loci.training import train

    data = make_dataset(tmp_path / "d", videos=6, frames=4, size=24, seed=0, max_objects=2, progress_bar=False)
    res = train(data, tmp_path / "run", steps=200, device="cpu", model_config=TINY_UNSUP,
                train_config={"batch_size": 4, "clip_frames": 2, "ckpt_every": 0, "lr": 1e-2,
                              "mask_weight": 0.0, "recon_loss": "mixture"})
    log = json.loads((tmp_path / "run" / "train_log.json").read_text())["history"]
    assert "mask_ce" not in log[0]  # no mask supervision at all
    first = np.mean([r["mixture_nll"] for r in log[:2]])
    last = np.mean([r["mixture_nll"] for r in log[-2:]])
    assert last < 0.5 * first
    ck = load_checkpoint(res.checkpoint)
    assert ck.config["model"]["appearance"] == "mean" and ck.config["train"]["mask_weight"] == 0.0
    model = SlotSegmenter(ck.config["model"])
    model.load_state_dict(ck.state_dict)
    # held-out video: predicted foreground overlaps the true objects, background stays background
    ious = []
    for i in range(3):
        video = make_video(1000, i, frames=4, size=24, max_objects=2)
        fg = segment_video(model, video) > 0
        true = video["masks"] > 0
        assert fg.any(), "collapsed to all-background"
        ious.append((fg & true).sum() / (fg | true).sum())
    assert np.mean(ious) > 0.4, ious
