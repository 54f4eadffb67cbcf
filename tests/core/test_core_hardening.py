"""Shared guards against bad input: outputs that are inputs, non-finite numbers, schema-checked
`--set` overrides, workers that end with their parent."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import click
import pytest

from mc_core.config import apply_overrides
from mc_core.errors import BadInputError, UsageError
from mc_core.options import FiniteFloat
from mc_core.paths import check_outputs


def test_output_that_is_an_input_is_refused(tmp_path):
    src = tmp_path / "a.png"
    src.write_bytes(b"x")
    os.symlink(src, tmp_path / "link.png")
    for out in (src, tmp_path / "link.png", tmp_path / "sub" / ".." / "a.png"):
        with pytest.raises(BadInputError, match="also an input"):
            check_outputs([src], [out])
    with pytest.raises(BadInputError, match="written twice"):
        check_outputs([src], [tmp_path / "o.json", tmp_path / "./o.json"])
    check_outputs([src, None], [tmp_path / "b.mcz", None])
    assert src.read_bytes() == b"x"
    folder = tmp_path / "buffer.zarr"
    folder.mkdir()
    check_outputs([folder], [folder / "new.json"])  # beside the data: allowed by default
    with pytest.raises(BadInputError, match="lies inside an input"):
        check_outputs([folder], [folder / "masks" / "x.npy"], not_inside_inputs=True)
    with pytest.raises(BadInputError, match="holds an input"):
        check_outputs([src], [tmp_path])


@pytest.mark.parametrize("raw", ["nan", "inf", "-inf", "NaN", "1e999"])
def test_finite_float_rejects_non_numbers(raw):
    with pytest.raises(click.BadParameter, match="not a finite number"):
        FiniteFloat(min=0).convert(raw, None, None)


def test_finite_float_keeps_ranges():
    t = FiniteFloat(min=0, min_open=True)
    assert t.convert("0.5", None, None) == 0.5
    with pytest.raises(click.BadParameter):
        t.convert("0", None, None)


def test_overrides_checked_against_schema():
    schema = {"model": {"n_embd": 64, "dropout": 0.1, "bias": True}, "train": {"lr": 3e-4, "betas": [0.9, 0.95]}}
    out = apply_overrides(schema, ["model.n_embd=32", "train.lr=1e-3", "model.dropout=0"], schema=schema)
    assert out["model"]["n_embd"] == 32 and out["train"]["lr"] == 1e-3
    with pytest.raises(UsageError, match="unknown key 'model.n_emb'; did you mean 'model.n_embd'"):
        apply_overrides(schema, ["model.n_emb=3"], schema=schema)
    with pytest.raises(UsageError, match="model.n_embd must be int"):
        apply_overrides(schema, ["model.n_embd=big"], schema=schema)
    for raw in (".nan", "nan", "inf", "-Infinity"):
        with pytest.raises(UsageError, match="must be a finite number"):
            apply_overrides(schema, [f"train.lr={raw}"], schema=schema)
    with pytest.raises(UsageError, match="model.bias must be bool"):
        apply_overrides(schema, ["model.bias=3"], schema=schema)


def test_worker_dies_with_its_parent(tmp_path):
    pidfile = tmp_path / "child.pid"
    parent = textwrap.dedent(f"""
        import multiprocessing as mp, os, time
        from mc_core.procs import die_with_parent

        def work():
            die_with_parent()
            open({str(pidfile)!r}, "w").write(str(os.getpid()))
            time.sleep(60)

        if __name__ == "__main__":
            mp.set_start_method("spawn")
            p = mp.Process(target=work)
            p.start()
            time.sleep(60)
    """)
    script = tmp_path / "parent.py"
    script.write_text(parent)
    proc = subprocess.Popen([sys.executable, str(script)])
    deadline = time.time() + 30
    while not pidfile.exists() or not pidfile.read_text():
        assert time.time() < deadline, "worker never started"
        time.sleep(0.1)
    child = int(pidfile.read_text())
    proc.kill()
    proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(child, 9)
    pytest.fail("the worker outlived its parent")


def test_next_atomic_write_removes_temporaries_of_killed_writers(tmp_path):
    from mc_core.atomic import atomic_dir, write_json

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    target = tmp_path / "patches.npz"
    stale = tmp_path / f".patches.npz.mc-tmp-{dead}-abcd.npz"
    stale.write_bytes(b"half")
    live = tmp_path / f".patches.npz.mc-tmp-{os.getppid()}-efgh.npz"  # a live writer's: kept
    live.write_bytes(b"busy")
    stale_dir = tmp_path / f".ck.mc-tmp-{dead}-zz.tmp"
    stale_dir.mkdir()
    (stale_dir / "model.safetensors").write_bytes(b"x")
    write_json(target, {"ok": 1})
    with atomic_dir(tmp_path / "ck") as d:
        (d / "f").write_text("done")
    assert not stale.exists() and live.exists() and not stale_dir.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["ck", "patches.npz", live.name])
