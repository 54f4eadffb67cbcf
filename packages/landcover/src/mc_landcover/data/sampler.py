"""Which patches each process trains on at each step, for data sets too large to permute in memory.

`epoch_batch_lazy` gives the same kind of schedule as `train.epoch_batch` (a fresh seeded
permutation of the n patches every epoch, cut into global batches of batch_size x num_processes,
process r taking the r-th slice), but evaluates the permutation only at the batch's positions: a
seeded Feistel network on the smallest even power of two >= n, walked until it lands below n
(a bijection of 0..n-1). Memory and time per step do not grow with n. Rank r of n processes gets
exactly its slice of the global batch, and the slices together are the batch one process with
batch_size x num_processes would draw, so an `accelerate launch` run sees the data a single
process would.
"""

from __future__ import annotations

import numpy as np

ROUNDS = 4
_M = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix(x: np.ndarray, key: np.uint64) -> np.ndarray:
    """A 64-bit hash of x under key (splitmix64 finaliser)."""
    z = (x ^ key) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def permute(positions, n: int, seed: int, epoch: int) -> np.ndarray:
    """perm[positions] of a seeded permutation `perm` of 0..n-1 (one per (seed, epoch)), computed
    without building `perm`."""
    pos = np.asarray(positions, dtype=np.uint64)
    if n <= 1:
        return np.zeros(pos.shape, dtype=np.int64)
    half = max(1, (int(n - 1).bit_length() + 1) // 2)
    mask = np.uint64((1 << half) - 1)
    keys = np.random.default_rng([int(seed), int(epoch), 0x5EED]).integers(0, 2**63, ROUNDS, dtype=np.uint64)
    with np.errstate(over="ignore"):
        def once(x):
            left, right = x >> np.uint64(half), x & mask
            for k in keys:
                left, right = right, left ^ (_mix(right, k) & mask)
            return (left << np.uint64(half)) | right

        out = once(pos)
        todo = out >= np.uint64(n)
        while todo.any():  # cycle-walking: stays a bijection of 0..n-1
            out[todo] = once(out[todo])
            todo = out >= np.uint64(n)
    return out.astype(np.int64)


def epoch_batch_lazy(n: int, batch_size: int, num_processes: int, rank: int, step: int, seed: int) -> np.ndarray:
    """Indices of process `rank`'s batch at `step`, from a permutation that is never materialised."""
    per_step = batch_size * num_processes
    steps_per_epoch = max(1, n // per_step)
    epoch, k = divmod(step, steps_per_epoch)
    start = k * per_step + rank * batch_size
    positions = np.arange(start, start + batch_size, dtype=np.int64) % n  # n < per_step: wrap around
    return permute(positions, n, seed, epoch)
