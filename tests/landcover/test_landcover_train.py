"""`mc landcover train` runs mc_core.training.fit: the loss falls (it would not without the
optimizer step), resume is exact and keeps the training seconds, bad settings are refused."""

import json
import math

import numpy as np
import pytest

from mc_core.testing import invoke
from mc_landcover.legend import CODES

torch = pytest.importorskip("torch")
torch.set_num_threads(1)
SIZE = 8


def stripes(n, rng):
    out = np.zeros((n, SIZE, SIZE), np.uint8)
    for i in range(n):
        a, b = rng.choice([2, 7, 8, 11], 2, replace=False)
        cut = rng.integers(2, SIZE - 2)
        out[i, :, :cut], out[i, :, cut:] = a, b
    return out


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("lc_train") / "d.npz"
    np.savez(path, train_data=stripes(64, rng)[:, None], test_data=stripes(16, rng)[:, None],
             train_coords=np.zeros((64, 2)), test_coords=np.zeros((16, 2)), legend_codes=CODES)
    return path


TINY = ["--config", "tiny", "--set", f"model.size={SIZE}", "--set", "model.n_layer=1", "--set", "model.n_embd=16",
        "--set", "model.n_head=2", "--set", "train.batch_size=16", "--set", "train.lr=1e-2",
        "--set", "train.warmup_steps=2", "--set", "train.vis_every=0", "--set", "train.log_every=5",
        "--set", "train.ckpt_every=0", "--set", "train.n_vis=2", "--device", "cpu", "--quiet"]


def train(data, out, *extra):
    r = invoke("landcover", "train", "--data", data, "--out-dir", out, *TINY, *extra)
    return r, (json.loads(r.stdout.strip().splitlines()[-1]) if r.exit_code == 0 else None)


def test_loss_falls(data, tmp_path):
    r, res = train(data, tmp_path / "run", "--max-steps", 30)
    assert r.exit_code == 0, r.output
    hist = json.loads((tmp_path / "run" / "train_log.json").read_text())["history"]
    uniform = math.log2(20)
    # an untrained model sits near log2(20) bits; learning the stripes takes it far below
    assert hist[0]["bits_per_pixel"] > 0.75 * uniform
    assert hist[-1]["loss"] < hist[0]["loss"] - 1.0
    assert res["test_bits_per_pixel"] < 0.5 * uniform
    for name in ("metrics.csv", "loss.png", "checkpoints/best/config.json", "checkpoints/final/model.safetensors"):
        assert (tmp_path / "run" / name).exists(), name
    assert (tmp_path / "run" / "gen_000030.png").exists()


def test_resume_is_exact_and_keeps_train_seconds(data, tmp_path):
    from safetensors.torch import load_file

    sched = ["--set", "train.schedule_steps=12"]  # the same learning-rate schedule for both halves
    r, full = train(data, tmp_path / "full", "--max-steps", 12, *sched)
    assert r.exit_code == 0, r.output
    r, half = train(data, tmp_path / "part", "--max-steps", 6, *sched)
    assert r.exit_code == 0, r.output
    r, again = train(data, tmp_path / "part", "--max-steps", 6, *sched)  # no --resume: refused
    assert r.exit_code == 2 and "--resume" in r.output
    r, rest = train(data, tmp_path / "part", "--max-steps", 12, "--resume", *sched)
    assert r.exit_code == 0, r.output
    a = load_file(tmp_path / "full" / "checkpoints" / "final" / "model.safetensors")
    b = load_file(tmp_path / "part" / "checkpoints" / "final" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert rest["train_seconds"] > half["train_seconds"]
    r, _ = train(data, tmp_path / "part", "--max-steps", 14, "--resume", "--seed", 5, *sched)
    assert r.exit_code == 2 and "differ" in r.output


@pytest.mark.parametrize("extra, needle", [
    (["--device", "cuda"], "cuda"),
    (["--set", "train.lr=.nan"], "finite"),
    (["--set", "model.n_embd=100000"], "n_embd"),
    (["--set", "model.n_layers=2"], "unknown key"),
    (["--set", "train.batch_size=0"], "batch_size"),
])
def test_bad_settings_are_one_line_errors(data, tmp_path, extra, needle):
    if extra[:2] == ["--device", "cuda"] and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    r, _ = train(data, tmp_path / "bad", "--max-steps", 2, *extra)
    assert r.exit_code == 2, r.output
    assert needle in r.output and r.output.strip().startswith("error: ") and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "bad" / "checkpoints").exists()


def test_processes_share_each_global_batch_without_overlap():
    """With accelerate's N processes each takes its own slice of the global batch of step s;
    together they cover what one process with an N times larger batch would see."""
    from mc_landcover.train import epoch_batch

    for step in (0, 3, 7):  # 7: a later epoch (n=50 maps, 2 x 8 per step -> 3 steps an epoch)
        parts = [epoch_batch(50, 8, 2, rank, step, seed=1) for rank in (0, 1)]
        assert all(len(p) == 8 for p in parts) and not set(parts[0]) & set(parts[1])
        assert np.array_equal(np.concatenate(parts), epoch_batch(50, 16, 1, 0, step, seed=1))
    # one epoch visits every map at most once; different epochs are shuffled differently
    epoch0 = np.concatenate([epoch_batch(50, 8, 2, r, s, seed=1) for s in range(3) for r in (0, 1)])
    assert len(set(epoch0)) == 48
    assert not np.array_equal(epoch_batch(50, 8, 2, 0, 0, seed=1), epoch_batch(50, 8, 2, 0, 3, seed=1))


def test_time_budget_stops_cleanly_and_resume_finishes(data, tmp_path):
    r, res = train(data, tmp_path / "run", "--max-steps", 40, "--max-minutes", 0.0001)
    assert r.exit_code == 0, r.output
    assert res["stopped"] == "time-budget" and 1 <= res["steps"] < 40
    assert (tmp_path / "run" / "checkpoints" / "final" / "config.json").exists()
    r, res = train(data, tmp_path / "run", "--max-steps", 40, "--resume")
    assert r.exit_code == 0, r.output
    assert res["stopped"] == "steps" and res["steps"] == 40
