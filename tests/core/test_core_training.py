"""mc_core.training: the one loop (learning, exact resume, refusals, time budget, NaN stop, logs)."""

from __future__ import annotations

import json
import math

import pytest

torch = pytest.importorskip("torch")

from mc_core.checkpoint import load_checkpoint  # noqa: E402
from mc_core.errors import BadInputError, UsageError  # noqa: E402
from mc_core.training import TrainingDiverged, TrainSettings, TrainTask, fit, settings_differences  # noqa: E402

W_TRUE = torch.tensor([[1.5, -2.0, 0.5]])


class Linear(torch.nn.Module):
    def __init__(self, n: int = 3, dropout: float = 0.0):
        super().__init__()
        self.lin = torch.nn.Linear(n, 1)
        self.drop = torch.nn.Dropout(dropout)

    def forward(self, x):
        return self.lin(self.drop(x))


def make_task(lr: float = 0.1, dropout: float = 0.0, bad_after: int | None = None) -> TrainTask:
    torch.manual_seed(0)
    model = Linear(dropout=dropout)

    def loss(model, ctx):
        x = torch.as_tensor(ctx.rng().normal(size=(16, 3)), dtype=torch.float32)
        y = x @ W_TRUE.T
        out = torch.nn.functional.mse_loss(model(x), y)
        if bad_after is not None and ctx.step >= bad_after:
            out = out * float("nan")
        return {"loss": out, "mse": out.detach()}

    return TrainTask(
        model=model, model_name="test-linear",
        config={"model": {"n": 3}, "train": {"lr": lr, "steps": 0}},
        make_optimizer=lambda m: torch.optim.Adam(m.parameters(), lr=lr),
        make_scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, 25, 0.5),
        loss=loss, meta={"data": "synthetic"},
    )


def weights(path):
    return load_checkpoint(path).state_dict


def test_loss_falls_and_writes_checkpoints_and_logs(tmp_path):
    res = fit(make_task(), TrainSettings(out_dir=tmp_path, steps=60, log_every=5, ckpt_every=20,
                                         quiet=True))
    assert res.stopped == "steps" and res.steps == 60
    first, last = res.history[0]["loss"], res.history[-1]["loss"]
    assert last < 0.2 * first
    for kind in ("last", "best", "final"):
        ck = load_checkpoint(tmp_path / "checkpoints" / kind)
        assert ck.model == "test-linear" and ck.config["model"] == {"n": 3}
    assert (tmp_path / "loss.png").stat().st_size > 0
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("step,seconds,lr,loss,mse") and len(rows) == 1 + 12
    log = json.loads((tmp_path / "train_log.json").read_text())
    assert log["result"]["steps"] == 60


def test_loss_does_not_fall_without_optimizer_step(tmp_path):
    task = make_task()
    task.make_optimizer = lambda m: torch.optim.SGD(m.parameters(), lr=0.0)
    res = fit(task, TrainSettings(out_dir=tmp_path, steps=30, log_every=5, quiet=True))
    assert res.history[-1]["loss"] > 0.5 * res.history[0]["loss"]


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_resume_is_exact(tmp_path, dropout):
    full = tmp_path / "full"
    fit(make_task(dropout=dropout), TrainSettings(out_dir=full, steps=30, quiet=True))
    part = tmp_path / "part"
    fit(make_task(dropout=dropout), TrainSettings(out_dir=part, steps=12, quiet=True))
    res = fit(make_task(dropout=dropout), TrainSettings(out_dir=part, steps=30, resume=True, quiet=True))
    assert res.steps == 30
    a, b = weights(full / "checkpoints" / "final"), weights(part / "checkpoints" / "final")
    assert all(torch.equal(a[k], b[k]) for k in a)
    log = json.loads((part / "train_log.json").read_text())
    assert [r["step"] for r in log["history"]] == [10, 12, 20, 30]  # 12: where the first run ended


def test_resume_refusals(tmp_path):
    with pytest.raises(BadInputError, match="nothing to resume"):
        fit(make_task(), TrainSettings(out_dir=tmp_path, steps=5, resume=True, quiet=True))
    fit(make_task(), TrainSettings(out_dir=tmp_path, steps=5, quiet=True))
    before = (tmp_path / "checkpoints" / "last" / "model.safetensors").read_bytes()
    with pytest.raises(BadInputError, match="already here"):
        fit(make_task(), TrainSettings(out_dir=tmp_path, steps=5, quiet=True))
    with pytest.raises(BadInputError, match=r"settings differ .*train\.lr"):
        fit(make_task(lr=0.2), TrainSettings(out_dir=tmp_path, steps=10, resume=True, quiet=True))
    assert (tmp_path / "checkpoints" / "last" / "model.safetensors").read_bytes() == before


def test_device_cuda_without_cuda_is_usage_error(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(UsageError, match="CUDA is not available"):
        fit(make_task(), TrainSettings(out_dir=tmp_path, steps=5, device="cuda", quiet=True))
    assert not (tmp_path / "checkpoints").exists()


def test_time_budget_ends_cleanly_and_resumes(tmp_path):
    task = make_task()
    slow = task.loss

    def loss(model, ctx):
        import time

        time.sleep(0.05)
        return slow(model, ctx)

    task.loss = loss
    res = fit(task, TrainSettings(out_dir=tmp_path, steps=10_000, max_minutes=0.005, quiet=True))
    assert res.stopped == "time-budget" and 0 < res.steps < 10_000
    for kind in ("last", "final"):
        assert load_checkpoint(tmp_path / "checkpoints" / kind).meta["step"] == res.steps
    res2 = fit(make_task(), TrainSettings(out_dir=tmp_path, steps=res.steps + 5, resume=True, quiet=True))
    assert res2.steps == res.steps + 5 and res2.train_seconds > res.train_seconds


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    with pytest.raises(TrainingDiverged, match=r"non-finite loss \(nan\) at step 25.*step 20") as exc:
        fit(make_task(bad_after=25), TrainSettings(out_dir=tmp_path, steps=40, ckpt_every=10, quiet=True))
    assert exc.value.exit_code == 1
    ck = load_checkpoint(tmp_path / "checkpoints" / "last")
    assert ck.meta["step"] == 20
    assert all(torch.isfinite(t).all() for t in ck.state_dict.values())
    assert not (tmp_path / "checkpoints" / "final").exists()


def test_infinite_lr_never_writes_a_nan_checkpoint(tmp_path):
    with pytest.raises(TrainingDiverged):
        fit(make_task(lr=math.inf), TrainSettings(out_dir=tmp_path, steps=10, ckpt_every=1, quiet=True))
    assert not (tmp_path / "checkpoints" / "final").exists()


def test_settings_differences_ignores_run_length():
    a = {"model": {"d": 4}, "train": {"lr": 1e-3, "steps": 10, "max_minutes": 3}}
    b = {"model": {"d": 4}, "train": {"lr": 1e-3, "steps": 99}}
    assert settings_differences(a, b) == []
    assert settings_differences(a, {**b, "model": {"d": 8}}) == ["model.d"]
    with pytest.raises(UsageError):
        TrainSettings(out_dir="x", steps=-1)
    with pytest.raises(UsageError):
        TrainSettings(out_dir="x", steps=1, max_minutes=float("nan"))


def test_metrics_rows_are_means_with_the_rate_used_and_a_short_run_is_logged(tmp_path):
    task = make_task()
    seen = []
    inner = task.loss

    def loss(model, ctx):
        out = inner(model, ctx)
        seen.append(float(out["loss"].detach()))
        return out

    task.loss = loss
    res = fit(task, TrainSettings(out_dir=tmp_path / "a", steps=10, log_every=5, quiet=True))
    assert [r["step"] for r in res.history] == [5, 10]
    assert res.history[0]["loss"] == pytest.approx(sum(seen[:5]) / 5)
    assert res.history[0]["lr"] == pytest.approx(0.1)  # StepLR halves after 25 steps: not yet
    short = fit(make_task(), TrainSettings(out_dir=tmp_path / "b", steps=3, log_every=50, quiet=True))
    assert [r["step"] for r in short.history] == [3] and short.final_loss is not None


def test_checkpoint_files_go_into_every_checkpoint(tmp_path):
    task = make_task()
    task.checkpoint_files = lambda d: (d / "counts.txt").write_text("42")
    fit(task, TrainSettings(out_dir=tmp_path, steps=4, ckpt_every=2, quiet=True))
    for kind in ("last", "best", "final"):
        assert (tmp_path / "checkpoints" / kind / "counts.txt").read_text() == "42"


@pytest.mark.parametrize("steps,expected", [(10, [4, 8, 10]), (8, [4, 8])])
def test_every_callbacks_run_every_n_steps_and_once_at_the_last(tmp_path, steps, expected):
    task, seen = make_task(), []
    task.every = [(4, lambda model, step: seen.append(step))]
    fit(task, TrainSettings(out_dir=tmp_path, steps=steps, quiet=True))
    assert seen == expected
    # a resumed run that has nothing left to do calls nothing
    seen.clear()
    task2 = make_task()
    task2.every = [(4, lambda model, step: seen.append(step))]
    fit(task2, TrainSettings(out_dir=tmp_path, steps=steps, resume=True, quiet=True))
    assert seen == []
