"""Kill long `mc` commands at random points (SIGKILL, several times per trial) and check that a
rerun completes with results identical to an uninterrupted run, with no processes and no
temporary files left behind. Prints counts per command.

    uv run python benchmarks/fault_injection.py                  # every command, 3 trials each
    uv run python benchmarks/fault_injection.py --trials 5 --kills 3 --only codec-compress
    uv run python benchmarks/fault_injection.py --list           # the commands it covers

The cases of this file cover codec, landcover and loci; `pointflow_faults.py` and
`spatial_vlm_faults.py` hold those plugins' cases (run alone, or here with all the others).

For each command: one uninterrupted reference run; then per trial, a fresh output folder, the
command started and SIGKILLed after a random fraction of the reference's wall time, `--kills`
times (each rerun is the command's own restart: the same command line, `--resume` for `train`),
then one run to the end. A `train` restarts with `--resume` once a `last` checkpoint with training
state exists (what its messages tell a user to do), else from scratch. Outputs are compared with the reference by content (arrays in npz,
zarr and safetensors files; JSON without timestamps and timings; other files byte for byte).
Stray processes are processes still alive in the killed command's process group 10 s after the
kill; stray
temporary files are hidden `.mc-tmp-` files and `*.tmp` left in the output folder after the
final run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MC = [sys.executable, "-m", "mc_core"]
# JSON keys that legitimately differ between runs (wall-clock facts, not results).
VOLATILE = {"created", "seconds", "train_seconds", "tokens_per_s", "elapsed", "wall_s", "time_s",
            "seconds_per_step", "steps_per_s", "resumed_from"}
SKIP_FILES = {"train_log.json", "metrics.csv", "loss.png"}  # logs of timing, checked elsewhere


@dataclass
class Case:
    name: str
    setup: Callable[[Path], None]                 # makes inputs under work/
    argv: Callable[[Path, Path], list[str]]       # (work, out) -> command line
    rerun: Callable[[Path, Path], list[str]] | None = None   # restart command (default: argv)
    compare: list[str] = field(default_factory=lambda: ["**/*"])  # globs under out/


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "MC_QUIET": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, **kw)


def mc(*args: str) -> list[str]:
    return [*MC, *map(str, args)]


# -- the commands -----------------------------------------------------------------------------

def setup_masks(work: Path) -> None:
    src = ROOT / "packages/codec/src/mc_codec/samples/data/masks/street"
    shutil.copytree(src, work / "masks")


def setup_loci(work: Path) -> None:
    r = run(mc("loci", "make-data", "--out-dir", work / "videos", "--videos", 6, "--frames", 4,
               "--size", 32, "--seed", 1))
    assert r.returncode == 0, r.stderr


def setup_none(work: Path) -> None:
    pass


def setup_landcover(work: Path) -> None:
    r = run(mc("landcover", "prepare", "--out", work / "patches.npz", "--size", 16, "--seed", 0))
    assert r.returncode == 0, r.stderr


def resumable(argv: Callable[[Path, Path], list[str]]) -> Callable[[Path, Path], list[str]]:
    """The restart of a `train`: `--resume` once `last` holds training state, else from scratch."""

    def rerun(work: Path, out: Path) -> list[str]:
        has_state = (out / "checkpoints" / "last" / "state.safetensors").exists()
        return argv(work, out) + (["--resume"] if has_state else [])

    return rerun


def codec_train(w: Path, o: Path) -> list[str]:
    return mc("codec", "train", "--data-root", w / "masks", "--out-dir", o, "--epochs", 2, "--hidden-dim", 16,
              "--embed-dim", 4, "--batch-size", 32, "--seed", 0, "--no-2d-context")


def landcover_train(w: Path, o: Path) -> list[str]:
    return mc("landcover", "train", "--config", "tiny", "--data", w / "patches.npz", "--out-dir", o,
              "--steps", 60, "--seed", 0, "--set", "train.ckpt_every=10", "--set", "train.vis_every=0")


def loci_train(w: Path, o: Path) -> list[str]:
    return mc("loci", "train", "--data", w / "videos", "--out-dir", o, "--steps", 40, "--batch-size", 2,
              "--clip-frames", 2, "--hidden", 8, "--slot-dim", 8, "--pixel-dim", 4, "--num-slots", 3,
              "--seed", 0)


CASES = [
    Case("codec-compress", setup_masks,
         lambda w, o: mc("codec", "compress", w / "masks", o / "mcz", "--jobs", 2)),
    Case("codec-train", setup_masks, codec_train, rerun=resumable(codec_train),
         compare=["checkpoints/final/model.safetensors"]),
    Case("landcover-prepare", setup_none,
         lambda w, o: mc("landcover", "prepare", "--out", o / "patches.npz", "--size", 16, "--stride", 2,
                         "--seed", 0),
         compare=["patches.npz"]),
    Case("landcover-train", setup_landcover, landcover_train, rerun=resumable(landcover_train),
         compare=["checkpoints/final/model.safetensors"]),
    Case("loci-make-data", setup_none,
         lambda w, o: mc("loci", "make-data", "--out-dir", o / "videos", "--videos", 400, "--frames", 8,
                         "--size", 32, "--seed", 3)),
    Case("loci-train", setup_loci, loci_train, rerun=resumable(loci_train),
         compare=["checkpoints/final/model.safetensors"]),
    Case("pointflow-collect-demos", setup_none,
         lambda w, o: mc("pointflow", "collect-demos", "--task", "reach_target", "--episodes", 24,
                         "--out-dir", o / "demos", "--steps", 12, "--image-size", 32, "--n-points", 256,
                         "--seed", 0)),
]
PLUGIN_CASE_MODULES = ("pointflow_faults", "spatial_vlm_faults")


def all_cases() -> list[Case]:
    """This file's cases and those of the plugins' own fault scripts."""
    import importlib

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    cases = list(CASES)
    for name in PLUGIN_CASE_MODULES:
        cases += importlib.import_module(name).CASES
    return cases


# -- comparing outputs ------------------------------------------------------------------------

def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def digest(path: Path, out: Path | None = None) -> str:
    """A content digest that ignores what legitimately differs between runs (in JSON: timings,
    and the run's own output folder, written as OUT)."""
    h = hashlib.sha256()
    if path.suffix == ".npz":
        import numpy as np

        with np.load(path, allow_pickle=False) as z:
            for k in sorted(z.files):
                h.update(k.encode() + z[k].tobytes() + str(z[k].dtype).encode() + str(z[k].shape).encode())
    elif path.suffix == ".safetensors":
        from safetensors.numpy import load_file

        t = load_file(str(path))
        for k in sorted(t):
            h.update(k.encode() + t[k].tobytes())
    elif path.suffix == ".json":
        try:
            text = path.read_text()
            if out is not None:
                text = text.replace(json.dumps(str(out))[1:-1], "OUT")
            h.update(json.dumps(_strip(json.loads(text)), sort_keys=True).encode())
        except (json.JSONDecodeError, UnicodeDecodeError):
            h.update(path.read_bytes())
    else:
        h.update(path.read_bytes())
    return h.hexdigest()


def snapshot(out: Path, globs: list[str]) -> dict[str, str]:
    files: dict[str, str] = {}
    for g in globs:
        for p in sorted(out.glob(g)):
            if p.is_file() and p.name not in SKIP_FILES and ".mc-tmp-" not in p.name:
                files[str(p.relative_to(out))] = digest(p, out)
    return files


def stray_temporaries(out: Path) -> list[Path]:
    return [p for p in out.rglob("*") if ".mc-tmp-" in p.name or p.name.endswith(".tmp")]


def stray_processes(pgid: int) -> list[int]:
    try:
        res = subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, text=True)
    except FileNotFoundError:  # no pgrep: look in /proc
        pids = []
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    if os.getpgid(int(d.name)) == pgid:
                        pids.append(int(d.name))
                except ProcessLookupError:
                    pass
        return pids
    return [int(x) for x in res.stdout.split()]


# -- one case ---------------------------------------------------------------------------------

def run_case(case: Case, trials: int, kills: int, rng: random.Random, keep: bool) -> dict:
    base = Path(tempfile.mkdtemp(prefix=f"mc-fault-{case.name}-"))
    try:
        work = base / "work"
        work.mkdir()
        case.setup(work)
        ref_out = base / "ref"
        t0 = time.perf_counter()
        r = run(case.argv(work, ref_out))
        ref_s = time.perf_counter() - t0
        if r.returncode != 0:
            return {"case": case.name, "error": f"reference run failed: {r.stderr.strip()[-300:]}"}
        ref = snapshot(ref_out, case.compare)
        counts = {"case": case.name, "reference_s": round(ref_s, 2), "files": len(ref), "trials": trials,
                  "kills": 0, "identical": 0, "different": 0, "failed_rerun": 0, "stray_processes": 0,
                  "stray_temporaries": 0}
        for t in range(trials):
            out = base / f"trial{t}"
            argv = case.argv(work, out)
            for k in range(kills):
                cmd = argv if k == 0 else (case.rerun or case.argv)(work, out)
                proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True,
                                        env={**os.environ, "MC_QUIET": "1", "OMP_NUM_THREADS": "1"})
                time.sleep(rng.uniform(0.15, 0.9) * ref_s)
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGKILL)  # the main process only, as `kill -9 <pid>`
                    counts["kills"] += 1
                proc.wait()
                deadline = time.time() + 10  # workers get 10 s to notice their parent's death
                while (left := stray_processes(proc.pid)) and time.time() < deadline:
                    time.sleep(0.25)
                if left:
                    counts["stray_processes"] += len(left)
                    for pid in left:
                        try:
                            os.kill(pid, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
            final = run((case.rerun or case.argv)(work, out) if kills else argv)
            if final.returncode != 0:
                counts["failed_rerun"] += 1
                print(f"  {case.name} trial {t}: rerun exit {final.returncode}: "
                      f"{final.stderr.strip().splitlines()[-1:] }", file=sys.stderr)
                continue
            got = snapshot(out, case.compare)
            counts["identical" if got == ref else "different"] += 1
            if got != ref:
                diff = sorted(k for k in set(ref) | set(got) if ref.get(k) != got.get(k))
                print(f"  {case.name} trial {t}: differs in {diff[:5]}", file=sys.stderr)
            counts["stray_temporaries"] += len(stray_temporaries(out))
        return counts
    finally:
        if not keep:
            shutil.rmtree(base, ignore_errors=True)


COLUMNS = ["case", "reference_s", "files", "trials", "kills", "identical", "different", "failed_rerun",
           "stray_processes", "stray_temporaries"]


def main(cases: list[Case] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--kills", type=int, default=2, help="SIGKILLs per trial before the final run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", nargs="*", help="case names to run")
    ap.add_argument("--list", action="store_true", help="print the case names and exit")
    ap.add_argument("--keep", action="store_true", help="keep the work folders")
    args = ap.parse_args()
    cases = all_cases() if cases is None else cases
    if args.list:
        print("\n".join(c.name for c in cases))
        return
    unknown = set(args.only or []) - {c.name for c in cases}
    if unknown:
        ap.error(f"unknown case(s): {', '.join(sorted(unknown))} (see --list)")
    rng = random.Random(args.seed)
    print("  ".join(f"{c:>17}" for c in COLUMNS))
    for case in cases:
        if args.only and case.name not in args.only:
            continue
        res = run_case(case, args.trials, args.kills, rng, args.keep)
        if "error" in res:
            print(f"{case.name:>17}  error: {res['error']}")
        else:
            print("  ".join(f"{res[c]!s:>17}" for c in COLUMNS), flush=True)


if __name__ == "__main__":
    main()
