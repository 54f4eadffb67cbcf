"""Memory: training from the row cache keeps resident memory flat as the data set grows.

Builds row caches of generated street masks at two sizes, trains one epoch from each in a fresh
process (`mc codec train --row-cache-dir`), and prints each run's peak RSS.

    uv run python benchmarks/codec_memory.py [--sizes 40 160] [--work /tmp/codec_mem]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
from pathlib import Path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs=2, default=[40, 160])
    ap.add_argument("--work", default="/tmp/codec_mem")
    a = ap.parse_args()
    from mc_codec.data.masks import write_mask
    from mc_codec.samples import generate_street_like

    work = Path(a.work)
    for n in a.sizes:
        data = work / f"n{n}"
        for i in range(n):
            p = data / "masks" / f"s_{i:04d}.png"
            if not p.exists():
                write_mask(p, generate_street_like(seed=i, height=180, width=240))
        mc = [sys.executable, "-m", "mc_core", "codec"]
        shutil.rmtree(data / "run", ignore_errors=True)  # train refuses to overwrite an earlier run
        subprocess.run([*mc, "cache", "--data-root", str(data / "masks"), "--cache-dir",
                        str(data / "cache"), "--include-above-features", "-q"], check=True)
        code = ("import resource,sys,runpy;sys.argv=['mc','codec','train','--data-root',%r,'--out-dir',%r,"  # noqa: UP031 - a repr-quoted program text
                "'--row-cache-dir',%r,'--use-2d-context','--epochs','1','--vocab-size','12','-q'];"
                "from mc_core.cli import main\ntry: main(sys.argv[1:])\nexcept SystemExit: pass\n"
                "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)") % (
                    str(data / "masks"), str(data / "run"), str(data / "cache"))
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
        rss_mb = int(out.stdout.strip().splitlines()[-1]) / 1024
        print(f"{n:>5} images ({n * 180 * 240 / 1e6:.1f} MP) from the row cache: peak RSS {rss_mb:.0f} MB")
    _ = resource


if __name__ == "__main__":
    main()
