"""Start-up time of `mc --help` and `mc plugins` next to `python -c "import torch"`.

Run:  uv run python benchmarks/cli_startup.py [--repeat 5]

Each command runs in a fresh interpreter; the median wall time over the repeats is printed, with
the ratio to importing torch measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def timed(args: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    py = sys.executable
    rows = [
        ("python -c pass", [py, "-c", "pass"]),
        ("mc --help", [py, "-m", "mc_core", "--help"]),
        ("mc plugins", [py, "-m", "mc_core", "plugins"]),
        ("mc list models", [py, "-m", "mc_core", "list", "models"]),
        ("python -c 'import torch'", [py, "-c", "import torch"]),
    ]
    results = {name: timed(cmd, args.repeat) for name, cmd in rows}
    torch_t = results["python -c 'import torch'"]
    print(f"{'command':<28} {'median s':>9} {'vs import torch':>16}")
    for name, t in results.items():
        print(f"{name:<28} {t:>9.3f} {t / torch_t:>15.2f}x")


if __name__ == "__main__":
    main()
