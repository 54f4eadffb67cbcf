"""Analysis commands through the CLI on a tiny synthetic patches npz (baselines, no model)."""

import json

import numpy as np
import pytest

from mc_core.testing import invoke
from mc_landcover.legend import CODES


def _blob_codes(n, size, rng, classes=(1, 7, 8, 11), seeds=5):
    yy, xx = np.mgrid[:size, :size]
    out = []
    for _ in range(n):
        cy, cx = rng.uniform(0, size, seeds), rng.uniform(0, size, seeds)
        lab = rng.choice(classes, seeds)
        d = (yy[..., None] - cy) ** 2 + (xx[..., None] - cx) ** 2
        out.append(lab[d.argmin(-1)])
    return np.stack(out)[:, None].astype(np.uint8)


@pytest.fixture()
def patches(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "data_12.npz"
    np.savez(path, train_data=_blob_codes(40, 12, rng), test_data=_blob_codes(12, 12, rng),
             train_coords=np.zeros((40, 2)), test_coords=np.zeros((12, 2)), legend_codes=CODES)
    return path


def run(*args):
    """`mc landcover ARGS` in-process through the real entry point (one-line errors, exit codes)."""
    return invoke("landcover", *args)


def test_eval_inpaint_baselines_write_json_and_panels(patches, tmp_path):
    accs = {}
    for method in ("mode", "nearest", "potts"):
        out = tmp_path / f"{method}.json"
        r = run("eval-inpaint", "--method", method, "--data", patches, "--n-images", 10,
                "--mask-ratio", 0.25, "--save-results", out, "--quiet", *(["--visualize"] if method == "nearest" else []))
        assert r.exit_code == 0, r.output
        d = json.loads(out.read_text())
        assert d["n_images"] == 10 and d["metrics"]["n_images"] == 10
        m = d["metrics"]
        assert m["accuracy"]["low"] <= m["accuracy"]["mean"] <= m["accuracy"]["high"]
        assert m["log_loss_bits"]["mean"] == pytest.approx(m["log_loss_nats"]["mean"] / np.log(2))
        accs[method] = m["accuracy"]["mean"]
    assert accs["nearest"] > accs["mode"] and accs["potts"] > accs["mode"]
    assert (tmp_path / "nearest_panels.png").stat().st_size > 0


def test_sweep_then_plot(patches, tmp_path):
    out = tmp_path / "sweep"
    r = run("inpaint-sweep", "--data", patches, "--methods", "mode,nearest", "--ratios", "0.25,0.9",
            "--n-images", 6, "--out-dir", out, "--quiet")
    assert r.exit_code == 0, r.output
    for mt in ("interior", "random"):
        s = json.loads((out / f"sweep_{mt}.json").read_text())
        assert len(s["runs"]) == 4 and {x["mask_type"] for x in s["runs"]} == {mt}
    assert (out / "nearest_random_0.9.json").exists()
    # restart: existing runs are read back, not redone
    stamp = (out / "mode_interior_0.25.json").stat().st_mtime_ns
    assert run("inpaint-sweep", "--data", patches, "--methods", "mode", "--ratios", "0.25",
               "--mask-types", "interior", "--n-images", 6, "--out-dir", out, "--quiet").exit_code == 0
    assert (out / "mode_interior_0.25.json").stat().st_mtime_ns == stamp
    png = tmp_path / "acc.png"
    r = run("plot-inpaint", out, "--out", png)
    assert r.exit_code == 0, r.output
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_bad_input_exits_2(patches, tmp_path):
    r = run("eval-inpaint", "--method", "mode", "--data", patches, "--mask-ratio", 1.0)
    assert r.exit_code == 2 and "0.0<x<1.0" in r.output
    r = run("inpaint-sweep", "--data", patches, "--methods", "mode", "--ratios", "0.5,0")
    assert r.exit_code == 2
    empty = tmp_path / "empty.npz"
    np.savez(empty, train_data=np.zeros((0, 1, 8, 8), np.uint8), test_data=np.zeros((0, 1, 8, 8), np.uint8),
             train_coords=np.zeros((0, 2)), test_coords=np.zeros((0, 2)))
    r = run("eval-inpaint", "--method", "mode", "--data", empty)
    assert r.exit_code == 2 and "empty" in r.output and "empty.npz" in r.output
    r = run("eval-inpaint", "--method", "mode", "--data", tmp_path / "missing.npz")
    assert r.exit_code == 2 and "missing.npz" in r.output
    r = run("eval-inpaint", "--method", "mode", "--data", patches, "--size", 64)
    assert r.exit_code == 2 and "size 64 is larger than the 12x12 maps" in r.output
    r = run("eval-inpaint", "--data", patches)  # randar without a checkpoint
    assert r.exit_code == 2 and "--checkpoint" in r.output


def test_potts_cache_gives_same_result(patches, tmp_path):
    cache = tmp_path / "potts.json"
    outs = []
    for i in range(2):  # first run fits and writes the cache, second reads it
        out = tmp_path / f"p{i}.json"
        r = run("eval-inpaint", "--method", "potts", "--data", patches, "--n-images", 4, "--potts-model", cache,
                "--save-results", out, "--quiet")
        assert r.exit_code == 0, r.output
        outs.append(json.loads(out.read_text())["metrics"])
    assert json.loads(cache.read_text())["model"] == "potts"
    assert outs[0]["accuracy"] == outs[1]["accuracy"] and outs[0]["log_loss_nats"] == outs[1]["log_loss_nats"]


def test_data_from_config_relative_to_cwd_or_config(patches, tmp_path, monkeypatch):
    """Without --data the data set is the config's data.path (the seed's scripts read it there):
    relative to the working directory, else to the config file's folder."""
    import yaml

    cfg_dir = tmp_path / "configs"
    cfg_dir.mkdir()
    (cfg_dir / "d.npz").write_bytes(patches.read_bytes())
    cfg = cfg_dir / "c.yaml"
    cfg.write_text(yaml.safe_dump({"model": {"size": 12}, "data": {"path": "d.npz"}}))
    text = tmp_path / "t.txt"
    text.write_text("abcabcabd" * 20)
    monkeypatch.chdir(tmp_path)  # no d.npz here: found beside the config
    out = tmp_path / "info.json"
    r = run("compare-information", "--config", cfg, "--text-path", text, "--save-results", out)
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text())["data"] == str(cfg_dir / "d.npz")
    (cfg_dir / "c2.yaml").write_text(yaml.safe_dump({"model": {"size": 12}, "data": {"path": None}}))
    r = run("compare-information", "--config", cfg_dir / "c2.yaml", "--text-path", text)
    assert r.exit_code == 2 and "--data" in r.output and len(r.output.strip().splitlines()) == 1


def test_help_imports_no_heavy_library():
    """`mc landcover --help` and a command's --help load every command module, never torch or rasterio."""
    import subprocess
    import sys

    code = ("import sys\nfrom mc_core.cli import main\n"
            "for args in (['landcover', '--help'], ['landcover', 'eval-perplexity', '--help']):\n"
            "    try:\n        main(args)\n    except SystemExit:\n        pass\n"
            "print([m for m in ('torch', 'rasterio', 'matplotlib', 'scipy') if m in sys.modules])\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"
    assert "--gpt-ckpt" in r.stdout and "--verbose" in r.stdout


def test_sweep_into_the_folder_that_holds_the_data(patches):
    """Only the files a sweep writes are checked against its inputs, not the whole folder."""
    before = patches.read_bytes()
    r = run("inpaint-sweep", "--data", patches, "--methods", "mode", "--ratios", "0.5", "--mask-types", "interior",
            "--n-images", 3, "--out-dir", patches.parent, "--quiet")
    assert r.exit_code == 0, r.output
    assert (patches.parent / "mode_interior_0.5.json").exists() and patches.read_bytes() == before
