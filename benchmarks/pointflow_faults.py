"""SIGKILL pointflow's long commands at random points and check that the rerun a user would type
ends with results identical to an uninterrupted run (cases added to benchmarks/fault_injection.py's
machinery: the same kills, comparison by content, stray process and temporary-file counts).

    uv run python benchmarks/pointflow_faults.py              # preprocess-masks and train, 3 trials
    uv run python benchmarks/pointflow_faults.py --trials 5 --kills 3

preprocess-masks: each trial preprocesses its own copy of a demo buffer in place; the rerun is the
same command (finished episodes are flagged and skipped). train: checkpoints every 10 steps; the
rerun adds --resume when a `last` checkpoint with training state exists, else starts again (what
the command's messages tell a user to do); compared: the final weights.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fault_injection as fi  # noqa: E402  (the shared kill-and-compare machinery)

TINY_MODEL = ["--horizon", "4", "--point-width", "16", "--feat-dim", "32", "--hidden", "64", "--n-blocks", "1",
              "--batch-size", "8", "--device", "cpu", "--threads", "1", "--seed", "0"]


def setup_demos(work: Path) -> None:
    r = fi.run(fi.mc("pointflow", "collect-demos", "--task", "unplug_charger", "--episodes", 6, "--steps", 10,
                     "--image-size", 32, "--n-cams", 3, "--n-points", 600, "--seed", 1, "--out-dir", work / "demos"))
    assert r.returncode == 0, r.stderr
    shutil.copytree(work / "demos" / "train_segmented", work / "masked")
    r = fi.run(fi.mc("pointflow", "preprocess-masks", "--buffer", work / "masked", "--object-ids", 31, 92,
                     "--distance-threshold", 0.03, "--n-points", 256))
    assert r.returncode == 0, r.stderr


def shell(script: str) -> list[str]:
    return ["bash", "-c", script]


def preprocess(w: Path, o: Path) -> list[str]:
    mc = " ".join(shlex.quote(str(a)) for a in fi.MC)
    buf = shlex.quote(str(o / "buf"))
    return shell(f"mkdir -p {shlex.quote(str(o))} && {{ [ -d {buf} ] || cp -r {shlex.quote(str(w / 'demos' / 'train_segmented'))} {buf}; }} && "
                 f"exec {mc} pointflow preprocess-masks --buffer {buf} --object-ids 31 34 35 92 --distance-threshold 0.02 "
                 "--n-points 256")


def train(w: Path, o: Path) -> list[str]:
    mc = " ".join(shlex.quote(str(a)) for a in fi.MC)
    args = " ".join(shlex.quote(str(a)) for a in ["--buffer", w / "masked", "--out-dir", o, "--steps", 60,
                                                   "--ckpt-every", 10, "--log-every", 10, *TINY_MODEL])
    state = shlex.quote(str(o / "checkpoints" / "last" / "state.safetensors"))
    return shell(f"if [ -f {state} ]; then exec {mc} pointflow train {args} --resume; "
                 f"else exec {mc} pointflow train {args}; fi")


CASES = [
    fi.Case("pointflow-preprocess-masks", setup_demos, preprocess,
            compare=["buf/data/attention_masks/**/*", "buf/data/attention_point_indices/**/*",
                     "buf/meta/attention_masks_done/**/*"]),
    fi.Case("pointflow-train", setup_demos, train, compare=["checkpoints/final/model.safetensors"]),
]


if __name__ == "__main__":
    fi.main(CASES)
