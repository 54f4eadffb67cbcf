"""Splitting work into shards for cluster job arrays (``--num-shards/--shard-index``); click-free."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from mc_core.errors import UsageError

T = TypeVar("T")


def check_shard(num_shards: int, shard_index: int) -> None:
    """Usage error unless ``0 <= shard_index < num_shards``."""
    if num_shards < 1:
        raise UsageError(f"num_shards must be at least 1, got {num_shards}")
    if not 0 <= shard_index < num_shards:
        raise UsageError(f"shard_index {shard_index} must be below num_shards {num_shards}")


def shard_slice(items: Sequence[T], num_shards: int, shard_index: int) -> list[T]:
    """Items of one shard: every num_shards-th item starting at shard_index (stable order)."""
    check_shard(num_shards, shard_index)
    return list(items[shard_index::num_shards])
