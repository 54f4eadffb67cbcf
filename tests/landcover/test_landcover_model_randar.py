"""RandAR model: causality, masked prediction, KV-cache generation, schedules, loading."""

import math

import pytest
import torch

from mc_landcover.loading import load_landcover_model
from mc_landcover.models.randar import RandAR, RandARConfig

torch.set_num_threads(1)
SIZE = 6
L = SIZE * SIZE


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return RandAR(RandARConfig(size=SIZE, n_layer=2, n_embd=32, n_head=4, mlp_ratio=2.0)).eval()


def maps(n, seed=0):
    return torch.randint(0, 20, (n, SIZE, SIZE), generator=torch.Generator().manual_seed(seed))


def test_forward_is_causal_in_the_given_order(model):
    x = maps(2)
    order = model.random_order(2, torch.Generator().manual_seed(1))
    tokens = x.flatten(1).gather(1, order)
    with torch.no_grad():
        a = model(tokens, order)
        t2 = tokens.clone()
        t2[:, 5] = (t2[:, 5] + 1) % 20
        b = model(t2, order)
    assert a.shape == (2, L, 20)
    assert torch.allclose(a[:, :6], b[:, :6], atol=1e-5)  # logits up to t=5 do not see token 5
    assert not torch.allclose(a[:, 6:], b[:, 6:], atol=1e-5)


def test_position_instruction_changes_the_prediction(model):
    tokens = maps(1).flatten(1)[:, :2]
    with torch.no_grad():
        a = model(tokens, torch.tensor([[0, 1]]))
        b = model(tokens, torch.tensor([[0, 30]]))
    assert torch.allclose(a[:, 0], b[:, 0], atol=1e-6)
    assert not torch.allclose(a[:, 1], b[:, 1], atol=1e-4)


def test_log_likelihood_is_the_sum_of_conditionals(model):
    x = maps(3)
    order = model.raster_order(3)
    with torch.no_grad():
        ll = model.log_likelihood(x, order)
        logp = torch.log_softmax(model(x.flatten(1), order), -1)
    ref = logp.gather(-1, x.flatten(1)[..., None]).squeeze(-1).sum(1)
    assert torch.allclose(ll, ref, atol=1e-4)
    assert (ll < 0).all() and ll.shape == (3,)
    with pytest.raises(ValueError):
        model.log_likelihood(torch.zeros(1, SIZE + 1, SIZE, dtype=torch.long))


def test_predict_masked_matches_forward_with_known_pixels_first(model):
    x = maps(3, seed=2)
    order = model.raster_order(3)
    with torch.no_grad():
        ref = model(x.flatten(1), order)  # raster order: pixel t given pixels < t
        known = torch.zeros(3, L, dtype=torch.bool)
        counts = [0, 7, 20]  # a different number of known pixels per map
        for b, c in enumerate(counts):
            known[b, :c] = True
        pm = model.predict_masked(x, known.view(3, SIZE, SIZE)).flatten(1, 2)
    assert pm.shape == (3, L, 20)
    for b, c in enumerate(counts):
        assert torch.allclose(pm[b, c], ref[b, c], atol=1e-4)


def test_kv_cache_sampling_matches_a_naive_loop(model):
    g = torch.Generator().manual_seed(3)
    fast = model.sample(2, top_k=1, generator=g)  # greedy, one pixel per step
    g = torch.Generator().manual_seed(3)
    order = torch.rand(2, L, generator=g).argsort(1)
    toks = torch.zeros(2, 0, dtype=torch.long)
    with torch.no_grad():
        for t in range(L):
            nxt = model(torch.cat([toks, torch.zeros(2, 1, dtype=torch.long)], 1), order[:, :t + 1])[:, -1]
            toks = torch.cat([toks, nxt.argmax(-1, keepdim=True)], 1)
    naive = torch.zeros(2, L, dtype=torch.long).scatter(1, order, toks).view(2, SIZE, SIZE)
    assert torch.equal(fast, naive)


def test_parallel_decoding_frames_and_determinism(model):
    out, frames = model.sample(3, steps=5, generator=torch.Generator().manual_seed(0), return_frames=True)
    assert out.shape == (3, SIZE, SIZE) and out.min() >= 0 and out.max() < 20
    assert len(frames) == 6
    filled = [int((f[0] >= 0).sum()) for f in frames]
    assert filled[0] == 0 and filled[-1] == L and filled == sorted(filled)
    again = model.sample(3, steps=5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, again)


def test_inpainting_keeps_known_pixels(model):
    x = maps(2, seed=4)
    known = torch.rand(2, SIZE, SIZE, generator=torch.Generator().manual_seed(0)) < 0.5
    known[1] = False
    known[1, 0, 0] = True
    out = model.sample(2, known=x, known_mask=known, steps=4, generator=torch.Generator().manual_seed(1))
    assert torch.equal(out[known], x[known])
    assert out.min() >= 0


def test_cosine_schedule():
    s = RandAR.cosine_schedule(1024, 8)
    assert sum(s) == 1024 and len(s) == 8 and all(c >= 1 for c in s)
    assert s[0] < s[-2]  # few tokens first, more later
    assert RandAR.cosine_schedule(5, 10) == [1] * 5


def test_loading_through_the_registry_rejects_a_mismatched_config(tmp_path, model):
    from mc_core.checkpoint import save_checkpoint
    from mc_core.errors import BadInputError

    ck = save_checkpoint(tmp_path / "ck", model.state_dict(), model="randar",
                         config={"model": model.model_config()})
    loaded = load_landcover_model(ck)
    assert isinstance(loaded, RandAR) and not loaded.training
    x = maps(1)
    with torch.no_grad():
        assert torch.allclose(loaded.log_likelihood(x, model.raster_order(1)),
                              model.log_likelihood(x, model.raster_order(1)), atol=1e-5)
    with pytest.raises(BadInputError, match="does not match"):
        load_landcover_model(ck, config="tiny")  # tiny is 16x16
    with pytest.raises(BadInputError, match="no such config"):
        load_landcover_model(ck, config="no_such_config")
    # a checkpoint naming a model no plugin registers for landcover
    other = save_checkpoint(tmp_path / "other", model.state_dict(), model="no-such-model",
                            config={"model": model.model_config()})
    with pytest.raises(BadInputError, match="no-such-model"):
        load_landcover_model(other)
    assert math.isfinite(float(loaded.num_parameters()))
