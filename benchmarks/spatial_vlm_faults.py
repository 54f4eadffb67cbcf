"""SIGKILL spatial-vlm's long commands at random points and check that the rerun a user would type
(the same command line) ends with outputs identical to an uninterrupted run (cases added to
benchmarks/fault_injection.py's machinery: the same kills, comparison by content, stray process
and temporary-file counts).

    uv run python benchmarks/spatial_vlm_faults.py              # build and eval, 3 trials each
    uv run python benchmarks/spatial_vlm_faults.py --trials 2 --kills 2 --only spatial-vlm-eval

build: the seed's command line on demo x3 data (320x240); a rerun keeps the images a killed run
finished (same settings) and writes the rest; compared: the 8 JSON files (with the output folder's own path, which the JSONs hold as absolute
image paths, written as OUT) and every image.
eval: pixel-diff on every Task2B sample of that data; a rerun goes on from OUTPUT.partial.jsonl;
compared: the output JSON.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fault_injection as fi  # noqa: E402  (the shared kill-and-compare machinery)


def setup_x3(work: Path) -> None:
    r = fi.run(fi.mc("spatial-vlm", "make-demo-data", "--out-root", work / "x3", "--train-scenes", 10,
                     "--val-scenes", 2, "--width", 320, "--height", 240, "--seed", 0, "-q"))
    assert r.returncode == 0, r.stderr


def setup_tasks(work: Path) -> None:
    setup_x3(work)
    r = fi.run(fi.mc("spatial-vlm", "build", "--data_root", work / "x3", "--out_dir", work / "tasks",
                     "--emit_concat", "0", "-q"))
    assert r.returncode == 0, r.stderr


CASES = [
    fi.Case("spatial-vlm-build", setup_x3,
            lambda w, o: fi.mc("spatial-vlm", "build", "--data_root", w / "x3", "--out_dir", o / "tasks",
                               "--mode", "allpairs", "--anchor_k", "1", "--alpha", "0.45", "--use_dilated_mask",
                               "--emit_concat", "1", "-q")),
    fi.Case("spatial-vlm-eval", setup_tasks,
            lambda w, o: fi.mc("spatial-vlm", "eval", "--model", "pixel-diff", "--data-json",
                               w / "tasks" / "t2b_train_multi.json", "--output-json", o / "t2b.json", "-q"),
            compare=["t2b.json"]),
]


if __name__ == "__main__":
    fi.main(CASES)
