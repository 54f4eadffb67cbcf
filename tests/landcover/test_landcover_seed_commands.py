"""The seed's (ckrapu/lc-gpt) commands, as its README writes them, through `mc landcover`: the same
flags (`--config`, `--gpt-ckpt`, `--verbose`, `--output-file`, ...), the data set taken from the
config's data.path, only paths replaced and sizes made tiny. Script -> command:

  accelerate launch train.py              -> train
  scripts/nlcd_animation.py               -> generate (--output-file X.gif writes the GIF)
  scripts/eval-inpaint-single.py          -> eval-inpaint
  scripts/eval-perplexity.py              -> eval-perplexity
  scripts/eval-compare-information.py     -> compare-information
  scripts/eval-zip-info-content.py        -> zip-info-content
  scripts/viz-embed-space.py              -> viz-embed
  scripts/viz-sample-chain.py, sample-chain.py -> sample-chain
  scripts/viz-prob-dev-plot.py            -> prob-dev
  scripts/inpaint-experiment.sh           -> inpaint-sweep
  scripts/plot-inpaint-evals.py           -> plot-inpaint
  scripts/prep-dataset.ipynb              -> prepare
"""

import json

import numpy as np
import pytest
import yaml

from mc_core.testing import invoke

torch = pytest.importorskip("torch")
torch.set_num_threads(1)
pytestmark = pytest.mark.e2e

CKPT = "runs/randar_nlcd_8/checkpoints/final"
CFG = "configs/randar_nlcd_8.yaml"


def mc(*args):
    r = invoke("landcover", *map(str, args))
    assert r.exit_code == 0, r.output
    return r


@pytest.fixture(scope="module")
def seed_dir(tmp_path_factory):
    """The seed's layout: configs/<name>.yaml naming data_8.npz, a trained checkpoint under runs/."""
    import os

    root = tmp_path_factory.mktemp("seed")
    cwd = os.getcwd()
    os.chdir(root)
    try:
        mc("prepare", "--size", 8, "--out", "data_8.npz", "--max-patches", 300, "--quiet")
        (root / "configs").mkdir()
        (root / CFG).write_text(yaml.safe_dump({
            "model": {"name": "randar", "size": 8, "n_layer": 1, "n_embd": 16, "n_head": 2, "mlp_ratio": 2.0},
            "data": {"path": "data_8.npz"},
            "train": {"batch_size": 8, "lr": 0.01, "warmup_steps": 2, "max_steps": 6, "log_every": 2,
                      "vis_every": 3, "ckpt_every": 0, "n_vis": 4, "gen_steps": 4, "eval_patches": 16},
        }))
        (root / "tiny_shakespeare.txt").write_text("First Citizen:\nBefore we proceed any further, hear me speak.\n" * 20)
        # accelerate launch train.py --config configs/randar_nlcd_32.yaml
        r = mc("train", "--config", CFG, "--device", "cpu", "--quiet")
        assert json.loads(r.stdout.strip().splitlines()[-1])["steps"] == 6
        assert (root / "runs/randar_nlcd_8/gen_000003.png").exists()
        yield root
    finally:
        os.chdir(cwd)


@pytest.fixture()
def in_seed_dir(seed_dir, monkeypatch):
    monkeypatch.chdir(seed_dir)
    return seed_dir


def test_nlcd_animation(in_seed_dir):
    # python3 scripts/nlcd_animation.py --config ... --gpt-ckpt ... --output-file generation_2x2.gif
    #   --device cuda --nrows 2 --ncols 2 --size 32
    mc("generate", "--config", CFG, "--gpt-ckpt", CKPT, "--output-file", "generation_2x2.gif", "--device", "cpu",
       "--nrows", 2, "--ncols", 2, "--size", 8, "--quiet")
    from PIL import Image

    with Image.open(in_seed_dir / "generation_2x2.gif") as im:
        assert im.format == "GIF" and im.n_frames > 2


def test_eval_inpaint_single(in_seed_dir):
    # --config ... --gpt-ckpt ... --n-images 100
    r = mc("eval-inpaint", "--config", CFG, "--gpt-ckpt", CKPT, "--n-images", 100, "--quiet")
    assert "accuracy" in r.stdout
    # --n-images 2000 --size 32 --verbose --save-results inpaint_eval_results.json
    r = mc("eval-inpaint", "--config", CFG, "--gpt-ckpt", CKPT, "--n-images", 2000, "--size", 8, "--verbose",
           "--save-results", "inpaint_eval_results.json", "--quiet")
    saved = json.loads((in_seed_dir / "inpaint_eval_results.json").read_text())
    assert saved["data"] == "data_8.npz" and 0 <= saved["metrics"]["accuracy"]["mean"] <= 1
    assert '"metrics"' in r.stdout  # --verbose prints the full results
    # --n-images 2 --verbose --save-results ... --mask-type random --mask-ratio 0.9 --visualize
    mc("eval-inpaint", "--config", CFG, "--gpt-ckpt", CKPT, "--n-images", 2, "--verbose", "--save-results",
       "random.json", "--mask-type", "random", "--mask-ratio", 0.9, "--visualize", "--quiet")
    assert json.loads((in_seed_dir / "random.json").read_text())["n_images"] == 2
    assert (in_seed_dir / "random_panels.png").exists()


def test_eval_perplexity(in_seed_dir):
    # --config ... --gpt-ckpt ... --n 1000
    r = mc("eval-perplexity", "--config", CFG, "--gpt-ckpt", CKPT, "--n", 1000, "--verbose", "--quiet")
    assert "bits/pixel" in r.stdout and '"random_orders"' in r.stdout


def test_information_scripts(in_seed_dir):
    # eval-compare-information.py --text-path data/tiny_shakespeare.txt --config configs/randar_nlcd_32.yaml
    r = mc("compare-information", "--text-path", "tiny_shakespeare.txt", "--config", CFG)
    assert "H(X2|X1)" in r.stdout
    # eval-zip-info-content.py (its data set named here through the config)
    r = mc("zip-info-content", "--config", CFG, "--text-path", "tiny_shakespeare.txt")
    assert "land_cover" in r.stdout and "text" in r.stdout


def test_viz_embed_space(in_seed_dir):
    # --config ... --gpt-ckpt ... --n-embeddings 100
    r = mc("viz-embed", "--config", CFG, "--gpt-ckpt", CKPT, "--n-embeddings", 100, "--method", "pca")
    assert "test maps embedded" in r.stdout and "1-NN dominant-class agreement" in r.stdout
    assert (in_seed_dir / "embeddings.png").exists()


def test_sample_chains(in_seed_dir):
    # sample-chain.py --config --gpt-ckpt --t 20000 --n-chains 5 --save-array long_chains.npz
    #   --frame-interval 100 --device cuda
    mc("sample-chain", "--config", CFG, "--gpt-ckpt", CKPT, "--t", 20, "--n-chains", 5, "--save-array",
       "long_chains.npz", "--frame-interval", 10, "--device", "cpu", "--quiet")
    z = np.load(in_seed_dir / "long_chains.npz")
    assert z["frames"].shape == (3, 5, 8, 8)
    # viz-sample-chain.py --config --gpt-ckpt --t 100 --output-file chains.gif
    mc("sample-chain", "--config", CFG, "--gpt-ckpt", CKPT, "--t", 10, "--n-chains", 3, "--output-file",
       "chains.gif", "--frame-interval", 5, "--save-array", "short.npz", "--quiet")
    assert (in_seed_dir / "chains.gif").read_bytes()[:3] == b"GIF"


def test_prob_dev_sweep_and_plot(in_seed_dir):
    # viz-prob-dev-plot.py
    r = mc("prob-dev", "--config", CFG, "--gpt-ckpt", CKPT, "--n-samples", 4, "--quiet")
    assert "developed fraction" in r.stdout and (in_seed_dir / "prob_dev.png").exists()
    # inpaint-experiment.sh, then plot-inpaint-evals.py
    mc("inpaint-sweep", "--config", CFG, "--gpt-ckpt", CKPT, "--ratios", "0.25,0.5", "--methods", "randar,nearest",
       "--n-images", 4, "--out-dir", "sweep", "--quiet")
    r = mc("plot-inpaint", "sweep", "--out", "inpaint_accuracy.png")
    assert "plotted 8 runs" in r.stdout
