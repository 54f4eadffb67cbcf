"""Shared utilities: atomic writes, checkpoints, configs, seeding, devices, metrics, shards."""

import json
import os

import numpy as np
import pytest

from mc_core import atomic, metrics
from mc_core.errors import BadInputError, UsageError

# -- atomic writes ------------------------------------------------------------------------------

def test_atomic_write_replaces_only_on_success(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic.atomic_write(target, "w") as fh:
            fh.write("half")
            raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]  # no temporary left behind
    atomic.write_text(target, "new")
    assert target.read_text() == "new"


def test_atomic_path_keeps_suffix_and_cleans_up(tmp_path):
    with atomic.atomic_path(tmp_path / "a.png") as tmp:
        assert tmp.suffix == ".png" and tmp.name != "a.png"
        tmp.write_bytes(b"x")
    assert (tmp_path / "a.png").read_bytes() == b"x"
    with pytest.raises(ValueError):
        with atomic.atomic_path(tmp_path / "b.png") as tmp:
            tmp.write_bytes(b"y")
            raise ValueError
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


def test_atomic_dir_swaps_complete_directory(tmp_path):
    target = tmp_path / "ckpt"
    with atomic.atomic_dir(target) as d:
        (d / "f").write_text("1")
    with pytest.raises(KeyError):
        with atomic.atomic_dir(target) as d:
            (d / "f").write_text("2")
            raise KeyError
    assert (target / "f").read_text() == "1"
    with atomic.atomic_dir(target) as d:
        (d / "g").write_text("3")
    assert sorted(p.name for p in target.iterdir()) == ["g"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_write_json_handles_numpy(tmp_path):
    atomic.write_json(tmp_path / "r.json", {"a": np.float32(1.5), "b": np.arange(3)})
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": 1.5, "b": [0, 1, 2]}


# -- checkpoints --------------------------------------------------------------------------------

def test_checkpoint_round_trip_with_tied_weights_and_training_state(tmp_path):
    torch = pytest.importorskip("torch")
    from mc_core.checkpoint import load_checkpoint, load_state, save_checkpoint

    model = torch.nn.Sequential(torch.nn.Embedding(5, 3), torch.nn.Linear(3, 5, bias=False))
    model[1].weight = model[0].weight  # tied
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.tensor([1, 2])).sum().backward()
    opt.step()
    save_checkpoint(tmp_path / "ck", model.state_dict(), model="toy", config={"vocab": 5},
                    meta={"data_sha256": "abc"}, training_state={"opt": opt.state_dict(), "step": 7})
    ck = load_checkpoint(tmp_path / "ck", expect_model="toy")
    assert ck.config == {"vocab": 5} and ck.meta["data_sha256"] == "abc"
    assert len(ck.weights_sha256) == 64
    for k, v in model.state_dict().items():
        assert torch.equal(ck.state_dict[k], v)
    state = load_state(tmp_path / "ck" / "state.safetensors")
    assert state["step"] == 7
    opt2 = torch.optim.AdamW(model.parameters(), lr=1e-3)
    opt2.load_state_dict(state["opt"])
    assert opt2.state_dict()["param_groups"] == opt.state_dict()["param_groups"]


def test_checkpoint_errors_name_the_file(tmp_path):
    pytest.importorskip("torch")
    import torch

    from mc_core.checkpoint import load_checkpoint, save_checkpoint

    with pytest.raises(BadInputError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nope")
    save_checkpoint(tmp_path / "ck", {"w": torch.zeros(2)}, model="toy", config={})
    with pytest.raises(BadInputError, match=r"holds a 'toy' model, expected 'other'"):
        load_checkpoint(tmp_path / "ck", expect_model="other")
    (tmp_path / "ck" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(BadInputError, match="model.safetensors: corrupt weights"):
        load_checkpoint(tmp_path / "ck")
    (tmp_path / "ck" / "config.json").write_text("{not json")
    with pytest.raises(BadInputError, match="config.json: corrupt checkpoint config"):
        load_checkpoint(tmp_path / "ck")


@pytest.mark.parametrize("key,value", [("config", [1, 2]), ("meta", "text"), ("config", 3), ("model", 7)])
def test_checkpoint_config_fields_of_the_wrong_type_name_the_file(tmp_path, key, value):
    pytest.importorskip("torch")
    import json

    import torch

    from mc_core.checkpoint import load_checkpoint, save_checkpoint

    save_checkpoint(tmp_path / "ck", {"w": torch.zeros(2)}, model="toy", config={})
    cfg = tmp_path / "ck" / "config.json"
    info = json.loads(cfg.read_text())
    info[key] = value
    cfg.write_text(json.dumps(info))
    with pytest.raises(BadInputError, match=rf"config.json: '{key}' must be"):
        load_checkpoint(tmp_path / "ck")


def test_fingerprint_changes_with_content(tmp_path):
    from mc_core.checkpoint import fingerprint_files

    (tmp_path / "a").write_text("1")
    (tmp_path / "b").write_text("2")
    h1 = fingerprint_files([tmp_path / "a", tmp_path / "b"], root=tmp_path)
    assert h1 == fingerprint_files([tmp_path / "b", tmp_path / "a"], root=tmp_path)
    (tmp_path / "b").write_text("3")
    assert fingerprint_files([tmp_path / "a", tmp_path / "b"], root=tmp_path) != h1


# -- configs ------------------------------------------------------------------------------------

def test_config_yaml_json_and_overrides(tmp_path):
    from mc_core.config import apply_overrides, load_config, merge

    (tmp_path / "c.yaml").write_text("model:\n  width: 64\n  layers: 2\nlr: 1e-3\n")
    cfg = load_config(tmp_path / "c.yaml")
    out = apply_overrides(cfg, ["model.width=128", "lr=3e-4", "name=tiny", "extra.flag=true"])
    assert out == {"model": {"width": 128, "layers": 2}, "lr": 3e-4, "name": "tiny", "extra": {"flag": True}}
    assert cfg["model"]["width"] == 64 and cfg["lr"] == 1e-3  # untouched; 1e-3 is a float
    (tmp_path / "c.json").write_text('{"a": {"b": 1}}')
    assert merge(load_config(tmp_path / "c.json"), {"a": {"c": 2}, "d": None}) == {"a": {"b": 1, "c": 2}}


def test_config_errors(tmp_path):
    from mc_core.config import apply_overrides, load_config

    with pytest.raises(BadInputError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("a: [1, 2\n")
    with pytest.raises(BadInputError, match="bad.yaml: invalid YAML"):
        load_config(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(BadInputError, match="must be a mapping"):
        load_config(tmp_path / "list.yaml")
    with pytest.raises(UsageError, match="key=value"):
        apply_overrides({}, ["novalue"])
    with pytest.raises(UsageError, match="'a' is not a section"):
        apply_overrides({"a": 1}, ["a.b=2"])


# -- seeding and devices ------------------------------------------------------------------------

def test_seed_everything_is_reproducible():
    torch = pytest.importorskip("torch")
    from mc_core.seeding import seed_everything

    g1 = seed_everything(123)
    a = (np.random.rand(3), torch.rand(3), g1.random(3))
    g2 = seed_everything(123)
    b = (np.random.rand(3), torch.rand(3), g2.random(3))
    assert np.array_equal(a[0], b[0]) and torch.equal(a[1], b[1]) and np.array_equal(a[2], b[2])


def test_set_deterministic_toggles_torch():
    torch = pytest.importorskip("torch")
    from mc_core.seeding import set_deterministic

    threads = torch.get_num_threads()
    try:
        set_deterministic(True, threads=1)
        assert torch.are_deterministic_algorithms_enabled() and torch.get_num_threads() == 1
        assert os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    finally:
        set_deterministic(False, threads=threads)
    assert not torch.are_deterministic_algorithms_enabled()


def test_resolve_device():
    torch = pytest.importorskip("torch")
    from mc_core.device import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(UsageError, match="expected one of"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="CUDA is not available"):
            resolve_device("cuda")


# -- metrics and shards -------------------------------------------------------------------------

def test_core_metrics_hand_computed():
    pred = np.array([[0, 0, 1], [1, 2, 2]])
    true = np.array([[0, 1, 1], [1, 2, 0]])
    assert metrics.pixel_accuracy(pred, true) == pytest.approx(4 / 6)
    # class 0: inter 1, union 3; class 1: inter 2, union 3; class 2: inter 1, union 2
    assert metrics.mean_iou(pred, true) == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)
    assert metrics.dice(pred, true) == pytest.approx((2 / 4 + 4 / 5 + 2 / 3) / 3)
    assert metrics.pixel_accuracy(pred, true, ignore_index=0) == pytest.approx(3 / 4)
    with pytest.raises(UsageError, match="shape"):
        metrics.pixel_accuracy(pred, true[:1])


def test_shard_slice_partitions_items():
    from mc_core.shards import shard_slice

    items = list(range(10))
    shards = [shard_slice(items, 3, i) for i in range(3)]
    assert sorted(sum(shards, [])) == items and shards[0] == [0, 3, 6, 9]
    with pytest.raises(UsageError, match="shard_index 2 must be below num_shards 2"):
        shard_slice(items, 2, 2)


def test_atomic_outputs_get_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        atomic.write_text(tmp_path / "new.txt", "x")
        with atomic.atomic_dir(tmp_path / "d") as d:
            (d / "f").write_text("1")
        (tmp_path / "kept.txt").write_text("old")
        os.chmod(tmp_path / "kept.txt", 0o640)
        atomic.write_text(tmp_path / "kept.txt", "new")
    finally:
        os.umask(old)
    assert (tmp_path / "new.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "kept.txt").stat().st_mode & 0o777 == 0o640


def test_progress_bars_wait_before_showing_and_quiet_silences(capsys, monkeypatch):
    import time

    from mc_core import progress as pg

    monkeypatch.delenv("MC_QUIET", raising=False)
    monkeypatch.delenv("MC_PROGRESS_DELAY", raising=False)
    assert pg.progress_delay() == 0.5
    list(pg.progress(range(3), desc="quick"))              # done before the delay: no bar at all
    assert "quick" not in capsys.readouterr().err
    monkeypatch.setenv("MC_PROGRESS_DELAY", "0.05")
    for _ in pg.progress(range(3), desc="slow"):
        time.sleep(0.05)
    assert "slow" in capsys.readouterr().err
    monkeypatch.setenv("MC_PROGRESS_DELAY", "0")
    list(pg.progress(range(3), desc="hushed", quiet=True))
    assert "hushed" not in capsys.readouterr().err
    monkeypatch.setenv("MC_PROGRESS_DELAY", "soon")          # unreadable: the default
    assert pg.progress_delay() == 0.5


def test_errors_survive_pickling_out_of_worker_processes():
    import pickle

    from mc_core.errors import BadInputError, McError, UsageError

    e = pickle.loads(pickle.dumps(BadInputError("in/a.png", "not a mask")))
    assert isinstance(e, BadInputError) and (e.path, e.problem) == ("in/a.png", "not a mask")
    assert str(e) == "in/a.png: not a mask" and e.exit_code == 2
    assert str(pickle.loads(pickle.dumps(BadInputError(None, "empty")))) == "empty"
    for cls in (McError, UsageError):
        assert str(pickle.loads(pickle.dumps(cls("x")))) == "x"


def test_write_csv_formats_and_orders_columns(tmp_path):
    from mc_core.atomic import write_csv

    rows = [{"b": 1.0 / 3, "a": "x", "extra": 5}, {"a": "y", "b": None}]
    write_csv(tmp_path / "t.csv", rows, ["a", "b"])
    assert (tmp_path / "t.csv").read_text() == "a,b\nx,0.333333\ny,\n"
    write_csv(tmp_path / "u.csv", [{"k": 2, "v": 1e-9}])          # columns from the first row
    assert (tmp_path / "u.csv").read_text() == "k,v\n2,1e-09\n"
    write_csv(tmp_path / "e.csv", [], ["a"])
    assert (tmp_path / "e.csv").read_text() == "a\n"


# ----------------------------------------------------------------------------- open_npz

def test_open_npz_names_each_problem(tmp_path):
    import numpy as np

    from mc_core.npz import open_npz

    good = tmp_path / "good.npz"
    np.savez(good, a=np.arange(3))
    with open_npz(good) as z:
        assert z["a"].tolist() == [0, 1, 2]
    (tmp_path / "empty.npz").write_bytes(b"")
    (tmp_path / "junk.npz").write_bytes(b"hello, not an archive")
    np.save(tmp_path / "one.npy", np.arange(3))
    good_bytes = good.read_bytes()
    (tmp_path / "cut.npz").write_bytes(good_bytes[: len(good_bytes) // 2])
    (tmp_path / "folder.npz").mkdir()
    cases = {"missing.npz": "data not found", "folder.npz": "is a folder", "empty.npz": "is empty",
             "junk.npz": "is not a zip archive (data expected)", "one.npy": "single .npy array",
             "cut.npz": "damaged data"}
    for name, problem in cases.items():
        with pytest.raises(BadInputError) as e:
            open_npz(tmp_path / name, "data")
        assert str(e.value).startswith(str(tmp_path / name)) and problem in str(e.value), (name, str(e.value))


def test_load_resume_checks_state_model_and_config(tmp_path):
    import torch

    from mc_core.checkpoint import load_resume, restore_training, save_checkpoint

    last = tmp_path / "last"
    weights = {"w": torch.zeros(2)}
    save_checkpoint(last, weights, model="m", config={"model": {"width": 2}})
    with pytest.raises(BadInputError, match="nothing to resume"):
        load_resume(last, expect_model="m", model_config={"width": 2})
    save_checkpoint(last, weights, model="m", config={"model": {"width": 2}},
                    training_state={"step": 7, "optimizer": {"lr": 0.1}})
    ck, state = load_resume(last, expect_model="m", model_config={"width": 2})
    assert state["step"] == 7 and ck.state_dict["w"].shape == (2,)
    model = torch.nn.Linear(2, 1)
    model_ck = {k: torch.full_like(v, 3.0) for k, v in model.state_dict().items()}
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    save_checkpoint(last, model_ck, model="m", config={"model": {"width": 2}},
                    training_state={"step": 9, "optimizer": opt.state_dict(), "history": '[{"loss": 1.5}]'})
    ck, state = load_resume(last, expect_model="m", model_config={"width": 2})
    opt2 = torch.optim.SGD(model.parameters(), lr=0.1)
    assert restore_training(ck, state, model, opt2) == (9, [{"loss": 1.5}], 0.0)
    assert (model.weight == 3.0).all() and opt2.param_groups[0]["lr"] == 0.5
    with pytest.raises(BadInputError, match="model config differs"):
        load_resume(last, expect_model="m", model_config={"width": 3})
    with pytest.raises(BadInputError, match="expected 'other'"):
        load_resume(last, expect_model="other", model_config={"width": 2})


def test_lazy_exports_import_on_first_use(monkeypatch):
    import sys
    import types

    from mc_core.lazy import lazy_exports

    pkg = types.ModuleType("fake_pkg")
    monkeypatch.setitem(sys.modules, "fake_pkg", pkg)
    pkg.__getattr__, pkg.__dir__ = lazy_exports("fake_pkg", {"dumps": "json", "jload": "json:loads"})
    assert "dumps" not in vars(pkg)
    assert pkg.__getattr__("jload")("[1]") == [1]
    assert "jload" in vars(pkg) and "dumps" in pkg.__dir__()
    with pytest.raises(AttributeError, match="module 'fake_pkg' has no attribute 'nope'"):
        pkg.__getattr__("nope")
