"""The Loci-Segmented model (loci-s): shapes, gradients, Gestalt binarisation, priority suppression,
the registry and the VideoSegmenter interface."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mc_loci.models.loci_segmented import LociSegmented
from mc_loci.models.loci_segmented.composition import compose, suppressed_logits
from mc_loci.models.loci_segmented.slots import SlotState, binarize, positions_of_masks

TINY = {"size": 32, "num_slots": 3, "gestalt": 8, "hidden": 8, "passes": 2}


def tiny(**kw) -> LociSegmented:
    torch.manual_seed(0)
    return LociSegmented({**TINY, **kw})


def test_video_shapes_and_gradients_reach_every_trained_part():
    model = tiny()
    # the update heads start at zero (slots start unchanged); after a first step they are not
    for head in (model.encoder.head[-1], model.predictor.out, model.encoder.hyper.hyper[-1]):
        torch.nn.init.normal_(head.weight, std=0.01)
    rgb, depth = torch.rand(2, 3, 3, 32, 32), torch.rand(2, 3, 1, 32, 32)
    out = model.run_video(rgb, depth)
    assert len(out["frames"]) == 3 and len(out["predictions"]) == 2
    f = out["frames"][-1]
    assert f["rgb"].shape == (2, 3, 32, 32) and f["depth"].shape == (2, 1, 32, 32)
    assert f["weights"].shape == (2, 4, 32, 32) and f["ids"].shape == (2, 32, 32)
    assert torch.allclose(f["weights"].sum(1), torch.ones(2, 32, 32), atol=1e-5)
    assert f["slot_rgb"].shape == (2, 3, 3, 32, 32)
    loss = sum(((fr["rgb"] - rgb[:, i]) ** 2).mean() for i, fr in enumerate(out["frames"]))
    loss = loss + sum(((p["rgb"] - rgb[:, i + 1]) ** 2).mean() for i, p in enumerate(out["predictions"]))
    loss.backward()
    for part in ("encoder.stem", "encoder.hyper.hyper", "mask_decoder", "depth_decoder", "rgb_decoder", "predictor.gru"):
        grads = [p.grad for n, p in model.named_parameters() if n.startswith(part)]
        assert any(g is not None and float(g.abs().sum()) > 0 for g in grads), part


def test_gestalt_is_noisy_sigmoid_in_training_and_binary_at_eval():
    logits = torch.linspace(-3, 3, 100)  # no logit at 0
    train1, train2 = binarize(logits, True, 0.1), binarize(logits, True, 0.1)
    assert not torch.equal(train1, train2)  # noise
    assert float((train1 - torch.sigmoid(logits)).std()) == pytest.approx(0.1, rel=0.3)
    ev = binarize(logits, False, 0.1)
    assert set(ev.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(ev, (logits > 0).float())
    model = tiny()
    model.eval()
    assert set(model.gestalt_code(torch.randn(50)).unique().tolist()) <= {0.0, 1.0}


def test_priority_suppresses_the_lower_slot_where_both_claim_a_pixel():
    logits = torch.full((1, 2, 4, 4), 3.0)        # both slots claim every pixel equally
    active = torch.ones(1, 2)
    high_first = suppressed_logits(logits, torch.tensor([[2.0, 0.0]]), active, 8.0)
    assert (high_first[0, 0] > high_first[0, 1]).all()
    low_first = suppressed_logits(logits, torch.tensor([[0.0, 2.0]]), active, 8.0)
    assert (low_first[0, 1] > low_first[0, 0]).all()
    # without suppression neither wins
    assert torch.equal(suppressed_logits(logits, torch.tensor([[2.0, 0.0]]), active, 0.0)[0, 0],
                       suppressed_logits(logits, torch.tensor([[2.0, 0.0]]), active, 0.0)[0, 1])
    # composition: the winner's colour fills the frame and the id map names it; freed slots vanish
    rgb = torch.stack([torch.zeros(3, 4, 4), torch.ones(3, 4, 4)])[None]
    out = compose(logits, torch.tensor([[0.0, 2.0]]), active, torch.full((1, 1, 4, 4), -5.0), rgb,
                  torch.zeros(1, 2, 1, 4, 4), torch.zeros(1, 3, 4, 4), torch.ones(1, 1, 4, 4), 8.0)
    assert (out["ids"] == 2).all() and float(out["rgb"].mean()) > 0.9
    freed = compose(logits, torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 0.0]]), torch.full((1, 1, 4, 4), -5.0),
                    rgb, torch.zeros(1, 2, 1, 4, 4), torch.zeros(1, 3, 4, 4), torch.ones(1, 1, 4, 4), 8.0)
    assert (freed["ids"] == 1).all()


def test_positions_of_masks():
    m = torch.zeros(1, 8, 8)
    m[0, 0:4, 4:8] = 1  # top-right quadrant
    depth = torch.full((1, 8, 8), 0.3)
    p = positions_of_masks(m, depth)[0]
    assert p[0] == pytest.approx(0.5) and p[1] == pytest.approx(-0.5) and p[2] == pytest.approx(0.3)
    assert 0.2 < float(p[3]) < 0.4


def test_discovery_places_slots_at_high_error_and_frees_empty_ones():
    model = tiny(discovery_threshold=0.2, depth_input=False)
    rgb = torch.zeros(1, 3, 32, 32)
    error = torch.zeros(1, 1, 32, 32)
    error[0, 0, 2:8, 22:28] = 1.0  # one object, top right
    state = model.discover(model.empty_state(1, "cpu"), rgb, None, error)
    assert int(state.active.sum()) == 1
    k = int(state.active[0].argmax())
    assert float(state.position[0, k, 0]) > 0.3 and float(state.position[0, k, 1]) < -0.3
    assert int(model.discover(model.empty_state(1, "cpu"), rgb, None, torch.zeros(1, 1, 32, 32)).active.sum()) == 0


def test_hyper_network_changes_the_encoder_per_slot():
    model = tiny()
    hc = model.encoder.hyper
    torch.nn.init.normal_(hc.hyper[-1].weight, std=0.1)
    x = torch.rand(2, 8, 4, 4)
    s = torch.randn(2, hc.hyper[0].in_features)
    assert not torch.allclose(hc(x, s), hc(x, None))
    assert not torch.allclose(hc(x, s)[0], hc(x[:1].expand(2, -1, -1, -1), s)[1])


def test_registered_and_segments_a_video(tmp_path):
    from mc_core import registries
    from mc_core.checkpoint import save_checkpoint
    from mc_core.factory import load_model
    from mc_loci.data.moving_shapes import make_video
    from mc_loci.interface import VideoSegmenter

    assert "loci-s" in registries().models.names(task="loci")
    model = tiny()
    save_checkpoint(tmp_path / "ck", model.state_dict(), model="loci-s", config={"model": model.config.to_dict()})
    seg = load_model(tmp_path / "ck", task="loci", protocol=VideoSegmenter)
    assert isinstance(seg, LociSegmented) and seg.needs_depth
    video = make_video(0, 0, frames=3, size=32)
    ids = seg.segment(video)
    assert ids.shape == (3, 32, 32) and ids.dtype == np.int64 and ids.min() >= 0 and ids.max() <= 3
    # another frame size is resized to the model's and back
    assert seg.segment(make_video(0, 0, frames=2, size=48)).shape == (2, 48, 48)


def test_slot_state_vector_size():
    model = tiny()
    s = model.empty_state(2, "cpu")
    assert isinstance(s, SlotState) and s.vector().shape == (2, 3, 3 * 8 + 5)
