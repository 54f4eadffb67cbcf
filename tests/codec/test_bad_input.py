"""Bad input to the codec commands, one table: every case exits 2 with one line
`error: <file>: <problem>` (no traceback), and leaves every file that existed unchanged."""

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mc_core.checkpoint import save_checkpoint
from mc_core.factory import create_model
from mc_core.testing import invoke


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    masks = root / "data" / "masks"
    masks.mkdir(parents=True)
    rng = np.random.default_rng(5)
    for i in range(4):
        m = np.repeat(np.repeat(rng.integers(0, 4, (3, 3)), 3, 0), 3, 1).astype(np.uint8)
        Image.fromarray(m).save(masks / f"m{i}.png")
    splits = root / "splits"
    splits.mkdir()
    (splits / "train.txt").write_text("m0.png\nm1.png\n")
    (splits / "val.txt").write_text("m2.png\n")
    (splits / "test.txt").write_text("m3.png\n")
    # a split naming a real mask outside the data folder
    Image.fromarray(np.zeros((9, 9), np.uint8)).save(root / "data" / "outside.png")
    out_splits = root / "out_splits"
    out_splits.mkdir()
    (out_splits / "train.txt").write_text("m0.png\n../outside.png\n")
    (out_splits / "val.txt").write_text("")
    (out_splits / "test.txt").write_text("m3.png\n")
    torch.manual_seed(0)
    model = create_model("rle-lm", {"vocab_size": 6, "use_2d": True, "embed_dim": 4, "hidden_dim": 8},
                         task="codec")
    save_checkpoint(root / "ck", model.state_dict(), model="rle-lm", config={"model": model.config})
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    sd["heads.cls_head.bias"][0] = float("nan")
    save_checkpoint(root / "nan_ck", sd, model="rle-lm", config={"model": model.config})
    big = {k: v.clone() for k, v in model.state_dict().items()}
    big["heads.cls_head.bias"][0] = 1e9
    save_checkpoint(root / "big_ck", big, model="rle-lm", config={"model": model.config})
    save_checkpoint(root / "unknown_ck", {"w": torch.zeros(2)}, model="no-such-model", config={})
    r = invoke("codec", "compress", str(masks / "m0.png"), str(root / "m0.mcz"), "--checkpoint", str(root / "ck"))
    assert r.exit_code == 0, r.stderr
    return root


def _huge_mcz(root: Path) -> Path:
    """A valid-looking learned file (file check correct) claiming a 60000x60000 mask."""
    from mc_codec.coding.api import LEARNED_KIND, load_model
    from mc_codec.container import Header, pack

    digest = load_model(root / "ck").digest
    header = Header(shape=(60000, 60000), dtype="uint8", classes=(0, 1), kind=LEARNED_KIND, mask_crc=0,
                    model_digest=digest[:8])
    path = root / "huge.mcz"
    path.write_bytes(pack(header, bytes([1]) + b"\0" * 8))
    return path


CASES = {
    # name: (args (with {root}), the file the error names, what it says)
    "compress-onto-its-input": (["compress", "{root}/data/masks/m1.png", "{root}/data/masks/m1.png",
                                 "--checkpoint", "{root}/ck"], "m1.png", "also an input"),
    "decompress-onto-its-input": (["decompress", "{root}/m0.mcz", "{root}/m0.mcz", "--checkpoint", "{root}/ck"],
                                  "m0.mcz", "also an input"),
    "compress-over-the-checkpoint": (["compress", "{root}/data/masks/m1.png", "{root}/ck/model.safetensors",
                                      "--checkpoint", "{root}/ck"], "model.safetensors", "also an input"),
    "huge-shape-in-limits": (["decompress", "{huge}", "{root}/huge.png", "--checkpoint", "{root}/ck"],
                             "huge.mcz", "MiB, over the limit"),
    "unknown-codec": (["matrix", "--data-root", "{root}/data/masks", "--splits-dir", "{root}/splits",
                       "--checkpoint", "{root}/ck", "--codecs", "png,nosuch", "--out-csv", "{root}/m.csv"],
                      None, "unknown codec 'nosuch'"),
    "matrix-chart-over-a-mask": (["matrix", "--data-root", "{root}/data/masks", "--splits-dir", "{root}/splits",
                                  "--checkpoint", "{root}/ck", "--codecs", "png", "--out-csv",
                                  "{root}/data/masks/m3.csv", "-j", "1"], "m3.png", "also an input"),
    "eval-csv-over-checkpoint": (["eval", "--data-root", "{root}/data/masks", "--splits-dir", "{root}/splits",
                                  "--checkpoint", "{root}/ck", "--out-csv", "{root}/ck/config.json"],
                                 "config.json", "also an input"),
    "non-finite-weights": (["compress", "{root}/data/masks/m1.png", "{root}/x.mcz", "--checkpoint", "{root}/nan_ck"],
                           "model.safetensors", "NaN or infinite"),
    "weights-too-large-for-fixed-point": (["compress", "{root}/data/masks/m1.png", "{root}/x.mcz",
                                           "--checkpoint", "{root}/big_ck"], "big_ck", "too large"),
    "split-names-a-path-outside-the-data": (["train", "--data-root", "{root}/data/masks", "--splits-dir",
                                             "{root}/out_splits", "--out-dir", "{root}/run2", "--hidden-dim", "4"],
                                            "train.txt", "outside the data folder"),
    "unregistered-model": (["compress", "{root}/data/masks/m1.png", "{root}/x.mcz", "--checkpoint",
                            "{root}/unknown_ck"], "unknown_ck", "no-such-model"),
    "vocabulary-below-largest-id": (["train", "--data-root", "{root}/data/masks", "--splits-dir", "{root}/splits",
                                     "--out-dir", "{root}/run", "--vocab-size", "2", "--hidden-dim", "4"],
                                    ".png", "beyond the vocabulary (vocab_size=2)"),
    "train-into-the-data": (["train", "--data-root", "{root}/data/masks", "--splits-dir", "{root}/splits",
                             "--out-dir", "{root}/data/masks"], "masks", "also an input"),
    "truncated-mcz": (["decompress", "{cut}", "{root}/cut.png", "--checkpoint", "{root}/ck"],
                      "cut.mcz", "truncated or corrupt"),
}


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input(env, case):
    huge = _huge_mcz(env)
    cut = env / "cut.mcz"
    cut.write_bytes((env / "m0.mcz").read_bytes()[:15])
    args, named, problem = CASES[case]
    before = _tree(env)
    r = invoke("codec", *(a.format(root=env, huge=huge, cut=cut) for a in args))
    err = r.stderr.strip()
    assert r.exit_code == 2, (r.exit_code, r.stdout, err)
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("error: ") and problem in err, err
    if named is not None:
        path, _, rest = err[len("error: "):].partition(": ")
        assert named in path and rest, err
    after = _tree(env)
    assert {k: v for k, v in after.items() if k in before} == before
