"""`mc loci ...` end to end through the real entry point: exit codes, outputs, one-line errors."""

import json

import numpy as np
import pytest

from mc_core.testing import invoke

TINY = ["--num-slots", "3", "--hidden", "8", "--slot-dim", "8", "--pixel-dim", "8"]


def run(*args):
    r = invoke("loci", *args)
    return r.exit_code, r.stdout, r.stderr


def _ok(code, out, err):
    assert code == 0, err
    return out


def test_help_of_every_command_has_an_example():
    for cmd in ("make-data", "train", "eval", "segment", "pretrain-bg"):
        out = _ok(*run(cmd, "--help"))
        assert "Example" in out and f"mc loci {cmd}" in out


@pytest.mark.e2e
def test_make_data_train_resume_eval_segment(tmp_path):
    d = tmp_path / "data"
    _ok(*run("make-data", "--out-dir", str(d), "--videos", "3", "--frames", "3", "--size", "16", "-q"))
    assert len(list((d / "videos").glob("*.npz"))) == 3 and (d / "meta.json").exists()

    run_dir = tmp_path / "run"
    out = _ok(*run("train", "--data", str(d), "--out-dir", str(run_dir), "--steps", "2", "--batch-size", "2",
                   "--clip-frames", "2", "--device", "cpu", "-q", "--vis-every", "1", *TINY))
    assert json.loads(out)["steps"] == 2
    from PIL import Image

    with Image.open(run_dir / "vis" / "step_000001.gif") as im:  # video 0 | objects | truth, x3
        assert im.n_frames == 3 and im.size == (16 * 3 * 3, 16 * 3)
    out = _ok(*run("train", "--data", str(d), "--out-dir", str(run_dir), "--steps", "3", "--batch-size", "2",
                   "--clip-frames", "2", "--device", "cpu", "-q", "--resume", *TINY))
    assert json.loads(out)["steps"] == 3
    ckpt = run_dir / "checkpoints" / "final"
    assert (ckpt / "model.safetensors").exists()

    res_json = tmp_path / "m.json"
    out = _ok(*run("eval", "--data", str(d), "--checkpoint", str(ckpt), "--out-json", str(res_json),
                   "--device", "cpu", "-q"))
    res = json.loads(res_json.read_text())
    assert res["videos"] == 3 and 0.0 <= res["matched_iou"] <= 1.0 and -1.0 <= res["fg_ari"] <= 1.0
    assert len(res["per_video"]) == 3
    base = json.loads(_ok(*run("eval", "--data", str(d), "--method", "all-background", "-q")))
    assert base["matched_iou"] == 0.0 and base["fg_ari"] == 0.0

    gif = tmp_path / "seg.gif"
    ids_npz = tmp_path / "ids.npz"
    _ok(*run("segment", "--checkpoint", str(ckpt), "--video", str(d / "videos" / "video_00000.npz"),
             "--out-gif", str(gif), "--out-npz", str(ids_npz), "--device", "cpu"))

    with Image.open(gif) as im:
        assert im.n_frames == 3 and im.size == (16 * 3 * 3, 16 * 3)  # input | prediction | truth, x3
    assert np.load(ids_npz)["ids"].shape == (3, 16, 16)


def test_bad_input_is_one_line_exit_2(tmp_path):
    code, _, err = run("eval", "--data", str(tmp_path / "missing"), "--method", "median-cc")
    assert code == 2 and "missing: data folder not found" in err and "Traceback" not in err

    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"garbage")
    code, _, err = run("segment", "--method", "median-cc", "--video", str(bad), "--out-gif",
                       str(tmp_path / "x.gif"))
    assert code == 2 and "bad.npz: is not a zip archive (video npz expected)" in err
    assert not (tmp_path / "x.gif").exists()

    code, _, err = run("eval", "--data", str(tmp_path), "--checkpoint", str(tmp_path / "nockpt"))
    assert code == 2 and err.startswith("error:")

    code, _, err = run("eval", "--data", str(tmp_path))  # model without --checkpoint
    assert code == 2 and "method 'model' is a trained model: it needs a checkpoint" in err

    code, _, err = run("make-data", "--out-dir", str(tmp_path / "d"), "--min-objects", "5",
                       "--max-objects", "3")
    assert code == 2 and "min_objects 5 and max_objects 3" in err


def test_segment_with_baseline_writes_gif(tmp_path):
    from mc_loci.data.moving_shapes import make_video, write_video

    video = tmp_path / "v.npz"
    write_video(video, make_video(1, 0, frames=4, size=32))
    gif = tmp_path / "cc.gif"
    out = _ok(*run("segment", "--method", "median-cc", "--video", str(video), "--out-gif", str(gif),
                   "--scale", "1"))
    assert "fg_ari=" in out
    from PIL import Image

    with Image.open(gif) as im:
        assert im.n_frames == 4 and im.size == (96, 32)


def test_train_unsupervised_recipe_and_its_usage_errors(tmp_path):
    d = tmp_path / "data"
    _ok(*run("make-data", "--out-dir", str(d), "--videos", "2", "--frames", "3", "--size", "16", "-q"))
    run_dir = tmp_path / "run"
    _ok(*run("train", "--data", str(d), "--out-dir", str(run_dir), "--steps", "2", "--batch-size", "2",
             "--clip-frames", "2", "--device", "cpu", "-q", "--unsupervised", *TINY))
    cfg = json.loads((run_dir / "checkpoints" / "final" / "config.json").read_text())
    text = json.dumps(cfg)
    assert '"appearance": "mean"' in text and '"background": "farthest"' in text
    assert '"recon_loss": "mixture"' in text and '"mask_weight": 0.0' in text
    out = _ok(*run("eval", "--data", str(d), "--checkpoint", str(run_dir / "checkpoints" / "final"), "-q"))
    assert json.loads(out)["videos"] == 2
    out = _ok(*run("eval", "--data", str(d), "--method", "farthest-cc", "-q"))
    assert json.loads(out)["method"] == "farthest-cc"
    out = _ok(*run("eval", "--data", str(d), "--method", "farthest-depth-cc", "-q"))
    assert json.loads(out)["method"] == "farthest-depth-cc"
    code, _, err = run("train", "--data", str(d), "--out-dir", str(tmp_path / "x"), "--unsupervised",
                       "--fg-evidence", "input")
    assert code == 2 and "fg_evidence (the background module's foreground logit) needs background 'learned'" in err

    code, _, err = run("train", "--data", str(d), "--out-dir", str(tmp_path / "x"), "--unsupervised",
                       "--mask-weight", "1")
    assert code == 2 and "unsupervised training uses no true masks: mask_weight must be 0" in err
    code, _, err = run("train", "--data", str(d), "--out-dir", str(tmp_path / "x"), "--no-depth-input",
                       "--background", "farthest")
    assert code == 2 and "needs depth" in err


def test_time_budget_stops_cleanly_and_resume_finishes(tmp_path):
    d = tmp_path / "data"
    _ok(*run("make-data", "--out-dir", str(d), "--videos", "2", "--frames", "2", "--size", "16", "-q"))
    args = ["pretrain-bg", "--data", str(d), "--out-dir", str(tmp_path / "bg"), "--steps", "30", "--batch-size", "1",
            "--clip-frames", "2", "--hidden", "4", "--latent-channels", "2", "--device", "cpu", "-q"]
    first = json.loads(_ok(*run(*args, "--max-minutes", "0.00001")))
    assert first["stopped"] == "time-budget" and 1 <= first["steps"] < 30
    assert (tmp_path / "bg" / "checkpoints" / "final" / "model.safetensors").exists()
    done = json.loads(_ok(*run(*args, "--resume")))
    assert done["stopped"] == "steps" and done["steps"] == 30
