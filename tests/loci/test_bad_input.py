"""Bad input and faults fed to every `mc loci` command (issue 17): exit 2, one line
`error: <file>: <problem>`, no traceback, and nothing of the inputs or earlier outputs changed."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from numpy.lib import format as npformat

from mc_core.testing import invoke

TINY = ["--num-slots", "2", "--hidden", "4", "--slot-dim", "4", "--pixel-dim", "4", "--batch-size", "1",
        "--device", "cpu", "-q"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A data set (3 videos of 4 frames), one whose video 1 is a frame short, a trained run, an npz
    holding object arrays."""
    from mc_loci.data.moving_shapes import make_dataset, make_video, write_video

    root = tmp_path_factory.mktemp("loci_bad")
    data = make_dataset(root / "data", videos=3, frames=4, size=16, progress_bar=False)
    short = make_dataset(root / "short", videos=3, frames=4, size=16, progress_bar=False)
    write_video(short / "videos" / "video_00001.npz", make_video(0, 1, frames=3, size=16))
    r = invoke("loci", "train", "--data", data, "--out-dir", root / "run", "--steps", "1", "--clip-frames", "2",
               *TINY)
    assert r.exit_code == 0, r.stderr
    np.savez(root / "objects.npz", rgb=np.array([{"a": 1}], dtype=object))
    # a 300-byte npz whose rgb header claims 300 GB (numpy would allocate it before reading)
    header = io.BytesIO()
    npformat.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": (100000, 1000, 1000, 3)})
    with zipfile.ZipFile(root / "claims.npz", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("rgb.npy", header.getvalue() + bytes(100))
    for name, change in (("huge_count", {"videos": 10 ** 12}), ("escape", {"video_dir": "../.."})):
        shutil.copytree(root / "data", root / name)
        meta = json.loads((root / name / "meta.json").read_text())
        (root / name / "meta.json").write_text(json.dumps({**meta, **change}))
    for name, num_slots in (("ck_misfit", 3), ("ck_badcfg", "many")):
        shutil.copytree(root / "run" / "checkpoints" / "final", root / name)
        cfg = json.loads((root / name / "config.json").read_text())
        cfg["config"]["model"]["num_slots"] = num_slots
        (root / name / "config.json").write_text(json.dumps(cfg))
    return root


def checksums(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


V0 = "data/videos/video_00000.npz"
CK = "run/checkpoints/final"

# (id, args with {root} for the world folder, the file the error names (relative) or None, problem)
CASES = [
    ("eval-out-json-onto-meta", ["eval", "--data", "{root}/data", "--method", "median-cc", "--out-json",
                                 "{root}/data/meta.json"], "data/meta.json", "this output is also an input"),
    ("eval-out-json-onto-video", ["eval", "--data", "{root}/data", "--method", "median-cc", "--out-json",
                                  "{root}/" + V0], V0, "this output is also an input"),
    ("eval-out-json-onto-checkpoint", ["eval", "--data", "{root}/data", "--checkpoint", "{root}/" + CK,
                                       "--out-json", "{root}/" + CK + "/config.json"], CK + "/config.json",
     "this output is also an input"),
    ("segment-gif-onto-video", ["segment", "--method", "median-cc", "--video", "{root}/" + V0, "--out-gif",
                                "{root}/" + V0], V0, "this output is also an input"),
    ("segment-gif-and-npz-same-file", ["segment", "--method", "median-cc", "--video", "{root}/" + V0, "--out-gif",
                                       "{root}/x.gif", "--out-npz", "{root}/x.gif"], "x.gif", "written twice"),
    ("make-data-other-size", ["make-data", "--out-dir", "{root}/data", "--videos", "3", "--frames", "6",
                              "--size", "16", "-q"], "data/meta.json",
     "holds a data set made with other settings (frames 4 (asked: 6))"),
    ("make-data-other-seed", ["make-data", "--out-dir", "{root}/data", "--videos", "3", "--frames", "4",
                              "--size", "16", "--seed", "1", "-q"], "data/meta.json", "seed 0 (asked: 1)"),
    ("meta-claims-a-trillion-videos", ["eval", "--data", "{root}/huge_count", "--method", "median-cc", "-q"],
     "huge_count/videos/video_00003.npz", "video file missing (999999999997 of 1000000000000 missing"),
    ("meta-video-dir-outside", ["eval", "--data", "{root}/escape", "--method", "median-cc", "-q"],
     "escape/meta.json", "'video_dir' must be a folder name inside the data set"),
    ("video-fewer-frames-than-meta-eval", ["eval", "--data", "{root}/short", "--method", "median-cc", "-q"],
     "short/videos/video_00001.npz", "the video has 3 frame(s), meta.json says 4"),
    ("video-fewer-frames-than-meta-train", ["train", "--data", "{root}/short", "--out-dir", "{root}/new",
                                            "--steps", "1", "--clip-frames", "2", *TINY],
     "short/videos/video_00001.npz", "the video has 3 frame(s), meta.json says 4"),
    ("clip-frames-longer-than-videos", ["train", "--data", "{root}/data", "--out-dir", "{root}/new", "--steps",
                                        "1", "--clip-frames", "5", *TINY], "data/meta.json",
     "the videos have 4 frame(s), fewer than clip_frames=5"),
    ("pretrain-bg-clip-frames-longer", ["pretrain-bg", "--data", "{root}/data", "--out-dir", "{root}/new",
                                        "--steps", "1", "--clip-frames", "9", "--device", "cpu", "-q"],
     "data/meta.json", "fewer than clip_frames=9"),
    ("npz-of-object-arrays", ["segment", "--method", "median-cc", "--video", "{root}/objects.npz", "--out-gif",
                              "{root}/x.gif"], "objects.npz", "array 'rgb' holds Python objects"),
    ("npz-claiming-a-huge-array", ["segment", "--method", "median-cc", "--video", "{root}/claims.npz",
                                   "--out-gif", "{root}/x.gif"], "claims.npz",
     "array 'rgb' claims shape (100000, 1000, 1000, 3) uint8 (300000000000 bytes), more than the"),
    ("make-data-video-too-big", ["make-data", "--out-dir", "{root}/new", "--videos", "1", "--frames", "1000",
                                 "--size", "4096"], None, "over the limit of 67108864 pixels"),
    ("model-too-big", ["train", "--data", "{root}/data", "--out-dir", "{root}/new", "--hidden", "100000"], None,
     "hidden must be an integer in 1..1024, got 100000"),
    ("batch-too-big", ["train", "--data", "{root}/data", "--out-dir", "{root}/new", "--batch-size", "1000000000"],
     None, "batch_size must be at most 1024, got 1000000000"),
    ("bg-model-too-big", ["pretrain-bg", "--data", "{root}/data", "--out-dir", "{root}/new", "--latent-channels",
                          "100000"], None, "latent_channels must be an integer in 1..256"),
    ("run-already-there", ["train", "--data", "{root}/data", "--out-dir", "{root}/run", "--steps", "1",
                           "--clip-frames", "2", *TINY], "run/checkpoints/last", "a run is already here"),
    ("resume-nothing", ["train", "--data", "{root}/data", "--out-dir", "{root}/new", "--steps", "2",
                        "--clip-frames", "2", "--resume", *TINY], "new/checkpoints/last", "nothing to resume"),
    ("resume-other-settings", ["train", "--data", "{root}/data", "--out-dir", "{root}/run", "--steps", "2",
                               "--clip-frames", "2", "--lr", "0.01", "--resume", *TINY], "run/checkpoints/last",
     "settings differ from the checkpoint's (train.lr)"),
    ("pretrain-bg-checkpoint-of-a-segmenter", ["eval", "--data", "{root}/data", "--method", "learned-cc",
                                               "--bg-checkpoint", "{root}/" + CK], CK,
     "checkpoint holds a 'slot-segmenter' model, expected 'loci-background'"),
    ("method-checkpoint-of-another-model", ["eval", "--data", "{root}/data", "--method", "loci-background",
                                            "--checkpoint", "{root}/" + CK], CK,
     "checkpoint holds a 'slot-segmenter' model, not 'loci-background'"),
    ("checkpoint-weights-do-not-fit", ["eval", "--data", "{root}/data", "--checkpoint", "{root}/ck_misfit"],
     "ck_misfit", "weights do not fit model 'slot-segmenter'"),
    ("checkpoint-config-of-wrong-type", ["segment", "--checkpoint", "{root}/ck_badcfg", "--video", "{root}/" + V0,
                                         "--out-gif", "{root}/x.gif"], "ck_badcfg",
     "bad config (num_slots must be an integer in 1..64, got 'many')"),
    ("baseline-with-checkpoint", ["eval", "--data", "{root}/data", "--method", "median-cc", "--checkpoint",
                                  "{root}/" + CK], None, "method 'median-cc' is a baseline: it takes no checkpoint"),
    ("set-unknown-key", ["eval", "--data", "{root}/data", "--method", "median-cc", "--set", "thresh=3"], None,
     "override 'thresh=3': unknown key 'thresh'; did you mean 'threshold'?"),
    ("set-wrong-type", ["segment", "--method", "farthest-depth-cc", "--video", "{root}/" + V0, "--out-gif",
                        "{root}/x.gif", "--set", "min_area=big"], None, "min_area must be int (like 6), got str"),
    ("set-out-of-range", ["eval", "--data", "{root}/data", "--method", "median-cc", "--set", "threshold=-1"], None,
     "bad config (threshold must be a finite number >= 0, got -1)"),
    ("set-on-a-trained-model", ["eval", "--data", "{root}/data", "--checkpoint", "{root}/" + CK, "--set",
                                "num_slots=3"], None, "overrides set a baseline's config"),
    ("unknown-method", ["eval", "--data", "{root}/data", "--method", "median-c"], None,
     "unknown model 'median-c'; did you mean 'median-cc'"),
    ("lr-nan", ["train", "--data", "{root}/data", "--out-dir", "{root}/new", "--lr", "nan"], None,
     "'nan' is not a finite number"),
    ("sigma-inf", ["train", "--data", "{root}/data", "--out-dir", "{root}/new", "--sigma", "inf"], None,
     "'inf' is not a finite number"),
    ("mask-weight-nan", ["train", "--data", "{root}/data", "--out-dir", "{root}/new", "--mask-weight", "nan"],
     None, "'nan' is not a finite number"),
    ("fps-inf", ["segment", "--method", "median-cc", "--video", "{root}/" + V0, "--out-gif", "{root}/x.gif",
                 "--fps", "inf"], None, "'inf' is not a finite number"),
    ("negative-seed-make-data", ["make-data", "--out-dir", "{root}/new", "--seed", "-1"], None,
     "Invalid value for '--seed': -1 is not in the range"),
    ("negative-seed-train", ["train", "--data", "{root}/data", "--out-dir", "{root}/new", "--seed", "-1"], None,
     "Invalid value for '--seed': -1 is not in the range"),
    ("max-minutes-nan", ["pretrain-bg", "--data", "{root}/data", "--out-dir", "{root}/new", "--max-minutes",
                         "nan"], None, "'nan' is not a finite number"),
]


@pytest.mark.parametrize("args,where,problem", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_exit_2_one_line_and_changes_nothing(world, args, where, problem):
    before = checksums(world)
    r = invoke("loci", *[a.replace("{root}", str(world)) if isinstance(a, str) else a for a in args])
    lines = r.stderr.strip().splitlines()
    assert r.exit_code == 2, r.stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.stderr, r.stderr
    if where is not None:
        assert lines[0].startswith(f"error: {world / where}: "), lines[0]
    assert problem in lines[0], lines[0]
    assert checksums(world) == before
    assert not (world / "new").exists() and not (world / "x.gif").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_device_cuda_without_cuda_is_exit_2(world):
    for cmd in (["train", "--data", world / "data", "--out-dir", world / "new", "--clip-frames", "2"],
                ["pretrain-bg", "--data", world / "data", "--out-dir", world / "new", "--clip-frames", "2"]):
        r = invoke("loci", *cmd, "--device", "cuda", "-q")
        assert r.exit_code == 2 and "CUDA is not available" in r.stderr, r.stderr
    r = invoke("loci", "eval", "--data", world / "data", "--method", "median-cc", "--device", "cuda", "-q")
    assert r.exit_code == 2 and "CUDA is not available" in r.stderr
    assert not (world / "new").exists()


def test_make_data_rerun_with_the_same_settings_keeps_the_videos_and_overwrite_replaces(tmp_path):
    args = ["make-data", "--out-dir", tmp_path / "d", "--videos", "3", "--frames", "3", "--size", "16", "-q"]
    assert invoke("loci", *args).exit_code == 0
    first = checksums(tmp_path)
    (tmp_path / "d" / "videos" / "video_00002.npz").unlink()  # as if killed before the last video
    r = invoke("loci", *args)
    assert r.exit_code == 0, r.stderr
    assert checksums(tmp_path) == first  # the missing video written again, identical; the others kept
    r = invoke("loci", "make-data", "--out-dir", tmp_path / "d", "--videos", "2", "--frames", "5", "--size", "16",
               "--overwrite", "-q")
    assert r.exit_code == 0, r.stderr
    meta = json.loads((tmp_path / "d" / "meta.json").read_text())
    assert meta["frames"] == 5 and meta["videos"] == 2
    assert sorted(p.name for p in (tmp_path / "d" / "videos").iterdir()) == ["video_00000.npz", "video_00001.npz"]
    from mc_loci import MovingShapes

    assert MovingShapes(tmp_path / "d")[1]["rgb"].shape[0] == 5
