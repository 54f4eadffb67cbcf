"""Model-based analysis (RandAR): inpainting, perplexity, Gibbs chains with MH, embeddings, prob-dev."""

import itertools
import json

import numpy as np
import pytest
import torch
import yaml

from mc_core.checkpoint import save_checkpoint
from mc_core.testing import invoke
from mc_landcover.legend import CODES, DEVELOPED_INDICES
from mc_landcover.models.randar import RandAR

torch.set_num_threads(1)
SIZE = 8
MODEL_CFG = {"size": SIZE, "n_layer": 1, "n_embd": 16, "n_head": 2, "mlp_ratio": 2.0}


def run(*args):
    r = invoke("landcover", *args)
    return r.exit_code, r.output


def stripes(n, rng):
    """Maps of vertical stripes: the left part one class, the right part another (one developed)."""
    out = np.zeros((n, SIZE, SIZE), np.uint8)
    for i in range(n):
        a, b = rng.choice([7, 8, 11, DEVELOPED_INDICES[1]], 2, replace=False)
        cut = rng.integers(2, SIZE - 2)
        out[i, :, :cut], out[i, :, cut:] = a, b
    return out


def write_model(tmp_path, name, model_cfg, model):
    cfg_path = tmp_path / f"{name}.yaml"
    cfg_path.write_text(yaml.safe_dump({"model": model_cfg}))
    ckpt = tmp_path / f"{name}_ckpt"
    save_checkpoint(ckpt, model.state_dict(), model="randar", config={"model": model_cfg})
    return cfg_path, ckpt


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lcb_model")
    rng = np.random.default_rng(0)
    data = tmp / "data_8.npz"
    train, test = stripes(64, rng), stripes(16, rng)
    np.savez(data, train_data=train[:, None], test_data=test[:, None], train_coords=np.zeros((64, 2)),
             test_coords=np.zeros((16, 2)), legend_codes=CODES)
    torch.manual_seed(0)
    untrained = RandAR(MODEL_CFG)
    cfg_u, ck_u = write_model(tmp, "untrained", MODEL_CFG, untrained)
    model = RandAR(MODEL_CFG)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    x = torch.from_numpy(train.astype(np.int64))
    g = torch.Generator().manual_seed(0)
    for _ in range(120):
        idx = torch.randint(0, len(x), (32,), generator=g)
        loss = model.loss(x[idx], generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    cfg_t, ck_t = write_model(tmp, "trained", MODEL_CFG, model)
    return {"tmp": tmp, "data": data, "untrained": (cfg_u, ck_u), "trained": (cfg_t, ck_t)}


def test_perplexity_drops_with_training(setup, tmp_path):
    bpp = {}
    for which in ("untrained", "trained"):
        cfg, ck = setup[which]
        out = tmp_path / f"{which}.json"
        code, text = run("eval-perplexity", "--config", cfg, "--checkpoint", ck, "--data", setup["data"],
                         "--n", 16, "--orders", 3, "--save-results", out, "--quiet")
        assert code == 0, text
        d = json.loads(out.read_text())
        ro = d["random_orders"]
        assert len(ro["per_order_bits_per_pixel"]) == 3
        assert ro["bits_per_pixel_min"] <= np.mean(ro["per_order_bits_per_pixel"]) <= ro["bits_per_pixel_max"]
        assert d["raster_order"]["perplexity"] == pytest.approx(2 ** d["raster_order"]["bits_per_pixel"])
        bpp[which] = ro["bits_per_pixel"]
    assert bpp["untrained"] > 4.0  # about log2(20) for a near-uniform random init
    assert bpp["trained"] < 0.6 * bpp["untrained"]


def test_eval_inpaint_randar_and_visualize(setup, tmp_path):
    cfg, ck = setup["trained"]
    out = tmp_path / "r.json"
    code, text = run("eval-inpaint", "--config", cfg, "--checkpoint", ck, "--data", setup["data"], "--n-images", 8,
                     "--mask-type", "random", "--mask-ratio", 0.3, "--save-results", out, "--visualize", "--quiet")
    assert code == 0, text
    m = json.loads(out.read_text())["metrics"]
    # stripes are easy: a trained model fills most hidden pixels correctly, far above chance (1/20)
    assert m["accuracy"]["mean"] > 0.6
    assert 0 <= m["sampled_accuracy"]["mean"] <= 1 and np.isfinite(m["log_loss_bits"]["mean"])
    assert (tmp_path / "r_panels.png").read_bytes()[:4] == b"\x89PNG"


def test_eval_inpaint_confident_first_decoding(setup, tmp_path):
    cfg, ck = setup["trained"]
    out = tmp_path / "c.json"
    code, text = run("eval-inpaint", "--config", cfg, "--checkpoint", ck, "--data", setup["data"], "--n-images", 8,
                     "--mask-type", "interior", "--mask-ratio", 0.5, "--decode", "confident", "--pixels-per-step", 8,
                     "--save-results", out, "--quiet")
    assert code == 0, text
    rec = json.loads(out.read_text())
    assert rec["decode"] == "confident" and rec["pixels_per_step"] == 8
    assert rec["metrics"]["accuracy"]["mean"] > 0.6
    code, text = run("eval-inpaint", "--config", cfg, "--checkpoint", ck, "--data", setup["data"],
                     "--decode", "sideways")
    assert code == 2 and "sideways" in text


def test_mh_chain_targets_fixed_order_joint():
    """With --mh the chain's stationary law is p(x; raster order): check on all 16 states of a 2x2
    binary model. Plain Gibbs with the same model's conditionals lands elsewhere (they are not the
    conditionals of that joint), which is why --mh exists."""
    from mc_landcover.analysis.gibbs import run_chains

    torch.manual_seed(2)
    model = RandAR({"size": 2, "n_layer": 1, "n_embd": 16, "n_head": 2, "num_classes": 2}).eval()
    with torch.no_grad():
        model.head.weight.mul_(60.0)  # make the distribution far from uniform
        model.class_emb.weight.mul_(20.0)
    states = torch.tensor(list(itertools.product([0, 1], repeat=4))).view(16, 2, 2)
    with torch.no_grad():
        p = model.log_likelihood(states, order=torch.arange(4).expand(16, -1)).exp().numpy()
    assert abs(p.sum() - 1) < 1e-4 and p.max() > 0.3  # a proper, non-uniform joint
    init = np.random.default_rng(0).integers(0, 2, size=(300, 2, 2))

    def tv_to_joint(res):
        after = res.frames[20:].reshape(-1, 4).astype(np.int64)
        emp = np.bincount(after @ np.array([8, 4, 2, 1]), minlength=16) / len(after)
        return 0.5 * np.abs(emp - p).sum()

    res = run_chains(model, init, 80, frame_interval=1, mh=True, seed=0)
    assert 0 < res.acceptance_rate <= 1
    assert tv_to_joint(res) < 0.04
    plain = run_chains(model, init, 80, frame_interval=1, mh=False, seed=0)
    assert plain.acceptance_rate is None and tv_to_joint(plain) > 0.06


def test_sample_chain_cli_gif_and_array(setup, tmp_path):
    cfg, ck = setup["trained"]
    arr, gif = tmp_path / "chains.npz", tmp_path / "chains.gif"
    code, text = run("sample-chain", "--config", cfg, "--checkpoint", ck, "--t", 6, "--n-chains", 2,
                     "--frame-interval", 2, "--save-array", arr, "--output-file", gif, "--mh", "--quiet")
    assert code == 0, text
    assert "acceptance rate" in text
    with np.load(arr) as z:
        assert z["frames"].shape == (4, 2, SIZE, SIZE) and list(z["steps"]) == [0, 2, 4, 6]
        assert 0 <= float(z["acceptance_rate"]) <= 1
    assert gif.read_bytes()[:3] == b"GIF"
    code, text = run("sample-chain", "--config", cfg, "--checkpoint", ck, "--t", 2, "--n-chains", 2,
                     "--block-size", 2, "--init", "data", "--data", setup["data"], "--save-array", arr, "--quiet")
    assert code == 0, text


def test_viz_embed_and_prob_dev(setup, tmp_path):
    cfg, ck = setup["trained"]
    png = tmp_path / "embed.png"
    code, text = run("viz-embed", "--config", cfg, "--checkpoint", ck, "--method", "pca", "--out", png)
    assert code == 0, text
    assert png.read_bytes()[:4] == b"\x89PNG"
    heat, arr = tmp_path / "dev.png", tmp_path / "dev.npz"
    code, text = run("prob-dev", "--config", cfg, "--checkpoint", ck, "--data", setup["data"], "--n-samples", 12,
                     "--out", heat, "--save-array", arr, "--quiet")
    assert code == 0, text
    with np.load(arr) as z:
        prob, truth, hidden = z["prob"], z["truth"], z["hidden"]
        assert z["samples"].shape == (12, SIZE, SIZE)
    # known pixels are kept, so their probability is exactly whether they are developed
    np.testing.assert_array_equal(prob[~hidden], np.isin(truth[~hidden], DEVELOPED_INDICES).astype(float))
    assert ((0 <= prob) & (prob <= 1)).all() and heat.read_bytes()[:4] == b"\x89PNG"


def test_viz_embed_map_vectors(setup, tmp_path):
    """With --data each test map gets a vector, and the vectors group by dominant class well above
    chance (so does an untrained model's: a mean over class tokens carries the map's composition)."""
    png, arr = tmp_path / "embed.png", tmp_path / "embed.npz"
    agreements = {}
    for name in ("trained", "untrained"):
        cfg, ck = setup[name]
        code, text = run("viz-embed", "--config", cfg, "--checkpoint", ck, "--data", setup["data"],
                         "--n-embeddings", 16, "--method", "pca", "--out", png, "--save-array", arr)
        assert code == 0, text
        assert "1-NN dominant-class agreement" in text and png.read_bytes()[:4] == b"\x89PNG"
        with np.load(arr) as z:
            feats, dom = z["map_features"], z["dominant_class"]
            assert feats.shape == (16, MODEL_CFG["n_embd"]) and z["map_coords"].shape == (16, 2)
        from mc_landcover.analysis.embeddings import knn_agreement

        agreements[name] = knn_agreement(feats, dom)
    for agree, chance in agreements.values():
        assert agree > chance + 0.2, agreements
    cfg, ck = setup["trained"]
    code, text = run("viz-embed", "--checkpoint", ck, "--data", setup["data"], "--n-embeddings", 1)
    assert code == 2


def test_knn_agreement_and_dominant_class():
    from mc_landcover.analysis.embeddings import dominant_class, knn_agreement

    maps = np.array([[[1, 1], [2, 0]], [[3, 3], [3, 1]], [[0, 0], [0, 0]]])
    assert dominant_class(maps, 4).tolist() == [1, 3, 0]
    x = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
    assert knn_agreement(x, np.array([0, 0, 1, 1])) == (1.0, 1 / 3)
    assert knn_agreement(x, np.array([0, 1, 0, 1]))[0] == 0.0


def test_checkpoint_not_matching_config_exits_2(setup, tmp_path):
    _, ck = setup["trained"]
    other = tmp_path / "wide.yaml"
    other.write_text(yaml.safe_dump({"model": {**MODEL_CFG, "n_embd": 32}}))
    code, text = run("eval-inpaint", "--config", other, "--checkpoint", ck, "--data", setup["data"])
    assert code == 2 and "does not match" in text and "Traceback" not in text
    code, text = run("eval-perplexity", "--config", other, "--checkpoint", ck, "--data", setup["data"])
    assert code == 2 and "does not match" in text
    code, text = run("eval-inpaint", "--checkpoint", ck, "--data", setup["data"], "--size", 6)
    assert code == 2 and "6x6" in text and "Traceback" not in text
