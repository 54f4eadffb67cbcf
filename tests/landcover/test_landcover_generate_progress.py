"""`generate` shows a progress bar over its decoding steps on stderr; --quiet silences it."""

import numpy as np
import pytest
import torch
import yaml

from mc_core.checkpoint import save_checkpoint
from mc_core.testing import invoke
from mc_landcover.models.randar import RandAR

torch.set_num_threads(1)
MODEL_CFG = {"size": 4, "n_layer": 1, "n_embd": 16, "n_head": 2, "mlp_ratio": 2.0}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lc_gen")
    torch.manual_seed(0)
    model = RandAR(MODEL_CFG)
    (tmp / "m.yaml").write_text(yaml.safe_dump({"model": MODEL_CFG}))
    save_checkpoint(tmp / "ckpt", model.state_dict(), model="randar", config={"model": MODEL_CFG})
    return tmp / "ckpt", model


def generate(tmp_path, ckpt, name, *extra):
    arr = tmp_path / f"{name}.npz"
    r = invoke("landcover", "generate", "--checkpoint", ckpt, "--n", 2, "--steps", 5, "--seed", 3,
               "--device", "cpu", "--out", tmp_path / f"{name}.png", "--save-array", arr, *extra)
    assert r.exit_code == 0, r.output
    return r, np.load(arr)["maps"]


def test_progress_bar_and_quiet(tmp_path, checkpoint, monkeypatch):
    monkeypatch.delenv("MC_QUIET", raising=False)
    monkeypatch.setenv("MC_PROGRESS_DELAY", "0")  # show the bar even for this quick run
    ckpt, model = checkpoint
    loud, maps = generate(tmp_path, ckpt, "loud")
    assert "generate" in loud.stderr and "/5 " in loud.stderr and "step" in loud.stderr  # 5 decoding steps
    quiet, maps_q = generate(tmp_path, ckpt, "quiet", "--quiet")
    assert quiet.stderr == ""
    assert quiet.stdout.strip().startswith("{")  # the result line is still printed
    # the bar does not touch the sampling: same maps with and without it, and as the model's own
    assert np.array_equal(maps, maps_q)
    want = model.sample(2, steps=5, generator=torch.Generator().manual_seed(3))
    assert np.array_equal(maps, want.numpy())


def test_mc_quiet_environment_silences_the_bar(tmp_path, checkpoint, monkeypatch):
    monkeypatch.setenv("MC_QUIET", "1")
    r, _ = generate(tmp_path, checkpoint[0], "env")
    assert r.stderr == ""


def test_sample_progress_hook_sees_every_step():
    model = RandAR(MODEL_CFG)
    seen = []

    def hook(counts):
        seen.append(list(counts))
        return counts

    model.sample(1, steps=3, generator=torch.Generator().manual_seed(0), progress=hook)
    assert seen == [RandAR.cosine_schedule(16, 3)] and sum(seen[0]) == 16
