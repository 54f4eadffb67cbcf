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

import argparse
import hashlib
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fault_injection as fi  # noqa: E402  (the shared kill-and-compare machinery)

_digest = fi.digest


def digest(path: Path) -> str:
    """As fault_injection's, but task JSONs compare with their output folder written as OUT."""
    if path.suffix == ".json" and path.parent.name == "tasks":
        text = re.sub(r"/(?:ref|trial\d+)/tasks/", "/OUT/tasks/", path.read_text())
        return hashlib.sha256(text.encode()).hexdigest()
    return _digest(path)


fi.digest = digest  # snapshot() looks it up at call time


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--kills", type=int, default=2, help="SIGKILLs per trial before the final run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", nargs="*", help="case names to run")
    ap.add_argument("--keep", action="store_true", help="keep the work folders")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    cols = ["case", "reference_s", "files", "trials", "kills", "identical", "different", "failed_rerun",
            "stray_processes", "stray_temporaries"]
    print("  ".join(f"{c:>17}" for c in cols))
    for case in CASES:
        if args.only and case.name not in args.only:
            continue
        res = fi.run_case(case, args.trials, args.kills, rng, args.keep)
        if "error" in res:
            print(f"{case.name:>17}  error: {res['error']}")
        else:
            print("  ".join(f"{res[c]!s:>17}" for c in cols), flush=True)


if __name__ == "__main__":
    main()
