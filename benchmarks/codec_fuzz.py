"""Fuzz `decompress`: random and mutated .mcz files must end in a clean error or the exact mask,
in bounded time.

    uv run python benchmarks/codec_fuzz.py [--n 2000] [--checkpoint C]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    import torch

    from mc_codec.coding.api import decode, encode, load_model
    from mc_codec.container import pack, unpack
    from mc_core.errors import BadInputError

    torch.set_num_threads(1)
    cm = load_model(a.checkpoint)
    rng = np.random.default_rng(a.seed)
    base = [np.repeat(np.repeat(rng.integers(0, 12, (4, 5)), 6, 0), 8, 1).astype(np.uint8)
            for _ in range(4)]
    files = [encode(m, cm) for m in base]
    outcome = {"clean error": 0, "exact mask": 0, "WRONG MASK": 0, "OTHER EXCEPTION": 0}
    worst = 0.0
    t_all = time.perf_counter()
    for i in range(a.n):
        k = i % len(files)
        data = bytearray(files[k])
        kind = i % 5
        if kind == 0:       # random bytes
            data = bytearray(rng.integers(0, 256, int(rng.integers(0, 200)), dtype=np.uint8).tobytes())
        elif kind == 1:     # truncation
            data = data[: int(rng.integers(0, len(data)))]
        elif kind == 2:     # bit flips anywhere
            for _ in range(int(rng.integers(1, 4))):
                j = int(rng.integers(0, len(data)))
                data[j] ^= 1 << int(rng.integers(0, 8))
        else:               # payload mutations re-packed with a valid file CRC (reach the coder)
            h, p = unpack(bytes(data))
            p = bytearray(p)
            for _ in range(int(rng.integers(1, 4))):
                j = int(rng.integers(0, len(p)))
                p[j] = int(rng.integers(0, 256))
            if kind == 4 and len(p) > 8:
                p = p[: int(rng.integers(7, len(p)))]
            data = bytearray(pack(h, bytes(p)))
        t0 = time.perf_counter()
        try:
            out = decode(bytes(data), cm)
            outcome["exact mask" if np.array_equal(out, base[k]) else "WRONG MASK"] += 1
        except BadInputError:
            outcome["clean error"] += 1
        except Exception as exc:  # noqa: BLE001
            outcome["OTHER EXCEPTION"] += 1
            print("unexpected", type(exc).__name__, exc)
        worst = max(worst, time.perf_counter() - t0)
    dt = time.perf_counter() - t_all
    print(f"{a.n} fuzzed files in {dt:.1f} s; slowest decode {worst * 1000:.0f} ms")
    for k, v in outcome.items():
        print(f"  {k:<16} {v}")


if __name__ == "__main__":
    main()
