"""Precompute attention masks into a replay buffer (`data/attention_masks`), restartable and shardable.

Written per episode: `data/attention_point_indices` (which stored points were sampled),
`data/attention_masks`, then the episode's flag in `meta/attention_masks_done`. An interrupted run
leaves finished episodes flagged; the next run with the same settings continues with the rest.
Shards handle every `num_shards`-th episode and write disjoint chunks (one timestep per chunk).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mc_core.errors import BadInputError, McError, UsageError, describe
from mc_pointflow.data.replay_buffer import ReplayBuffer, RowReader, make_compressor
from mc_pointflow.masks import (
    CLOUD_KEY,
    DONE_KEY,
    INDICES_KEY,
    MASKS_KEY,
    SEGMENTATION_KEYS,
    STATE_KEY,
    MaskConfig,
    episode_masks,
    index_dtype,
)
from mc_pointflow.tasks import buffer_path  # noqa: F401  (kept importable from here)

SPLITS = ("train", "valid")




def check_buffer(buf: ReplayBuffer, config: MaskConfig, *, scan_ids: bool = True) -> None:
    """Raise BadInputError (naming the store and key) when `buf` cannot give masks for `config`."""
    for key in SEGMENTATION_KEYS + (CLOUD_KEY, STATE_KEY):
        if key not in buf:
            hint = " (collect demos with segmentation)" if key in SEGMENTATION_KEYS else ""
            raise BadInputError(buf.location, f"missing key data/{key}{hint}")
    if buf.n_episodes == 0:
        raise BadInputError(buf.location, "meta/episode_ends: the buffer holds no episodes")
    cloud = buf[CLOUD_KEY]
    if cloud.ndim != 3 or cloud.shape[2] != 3:
        raise BadInputError(buf.location, f"data/{CLOUD_KEY} must have shape (T, P, 3), not {cloud.shape}")
    if config.n_points > cloud.shape[1]:
        raise BadInputError(buf.location, f"data/{CLOUD_KEY} stores {cloud.shape[1]} points per timestep, "
                                          f"fewer than n_points={config.n_points}")
    cams, seg = buf["camera_point_clouds"], buf["segmentation_masks"]
    if cams.ndim != 4 or seg.ndim != 4 or cams.shape[1] != seg.shape[1] \
            or cams.shape[2] != seg.shape[2] * seg.shape[3]:
        raise BadInputError(buf.location, f"data/camera_point_clouds {cams.shape} does not match "
                                          f"data/segmentation_masks {seg.shape} (want (T,C,H*W,3) and (T,C,H,W))")
    if not np.issubdtype(seg.dtype, np.integer):
        raise BadInputError(buf.location, f"data/segmentation_masks must hold integer ids, not {seg.dtype}")
    states = np.asarray(buf[STATE_KEY][: buf.n_steps])  # small: read it all now (a damaged chunk is bad input)
    if states.ndim != 2 or states.shape[1] < 3 or not np.all(np.isfinite(states[:, :3])):
        raise BadInputError(buf.location, f"data/{STATE_KEY} must hold finite gripper positions (T, >=3), "
                                          f"got shape {states.shape}")
    if scan_ids:
        present = present_ids(buf)
        missing = sorted({int(i) for i in config.object_ids} - set(present))
        if missing:
            names = buf.attrs.get("object_names", {})
            known = ", ".join(f"{i}:{names.get(str(i), '?')}" for i in present)
            raise BadInputError(buf.location, f"data/segmentation_masks: object ids {missing} do not occur "
                                              f"(present: {known})")


def present_ids(buf: ReplayBuffer, block: int = 64) -> list[int]:
    """Sorted ids that occur in `data/segmentation_masks` (scanned in blocks of timesteps)."""
    return sorted(pixel_counts(buf, block))


def pixel_counts(buf: ReplayBuffer, block: int = 64) -> dict[int, int]:
    read = RowReader(buf, "segmentation_masks")
    counts: dict[int, int] = {}
    for s in range(0, buf.n_steps, block):
        a = read.rows(s, min(s + block, buf.n_steps)).reshape(-1)
        if a.size and a.min() >= 0 and a.max() < 1 << 20:  # small non-negative ids: bincount is fast
            c = np.bincount(a)
            ids = np.flatnonzero(c)
            c = c[ids]
        else:
            ids, c = np.unique(a, return_counts=True)
        for i, n in zip(ids.tolist(), c.tolist()):
            counts[int(i)] = counts.get(int(i), 0) + int(n)
    return dict(sorted(counts.items()))


class InvalidStoredConfig:
    """Mask settings stored in a buffer that are not valid settings (e.g. NaN written by an older
    version): equal to no MaskConfig, so the masks are never used and only --overwrite replaces them."""

    def __init__(self, raw):
        self.raw = raw

    def __eq__(self, other):
        return False

    __hash__ = None

    def to_json(self):
        return {"invalid": str(self.raw)}


def stored_config(buf: ReplayBuffer) -> MaskConfig | InvalidStoredConfig | None:
    """The settings the buffer's masks were made with; None when it has none."""
    if MASKS_KEY not in buf:
        return None
    d = buf[MASKS_KEY].attrs.get("mask_config")
    if not d:
        return None
    try:
        return MaskConfig.from_json(d)
    except (TypeError, ValueError, KeyError, AttributeError):
        return InvalidStoredConfig(d)


def done_flags(buf: ReplayBuffer) -> np.ndarray:
    """Per-episode flags: masks of the episode are complete (all False when there are none)."""
    if MASKS_KEY not in buf or DONE_KEY not in buf.meta:
        return np.zeros(buf.n_episodes, dtype=bool)
    flags = np.asarray(buf.meta_array(DONE_KEY)[:], dtype=bool)
    out = np.zeros(buf.n_episodes, dtype=bool)
    n = min(flags.shape[0], out.shape[0])
    out[:n] = flags[:n]
    if buf[MASKS_KEY].shape[0] < buf.n_steps:  # episodes added after preprocessing
        ends = buf.episode_ends
        out &= ends <= buf[MASKS_KEY].shape[0]
    return out


@dataclass
class PreprocessResult:
    location: str
    episodes_done: list[int]
    episodes_skipped: list[int]
    coverage: dict[int, float]
    already_done: bool = False


def _creation_error(buf: ReplayBuffer, where: str, exc: Exception) -> McError:
    """A one-line error naming the store and array that could not be created: exit 2 when what is
    already in the store is in the way (bad input), exit 1 for anything else (permissions, full disk)."""
    from zarr.errors import ContainsArrayAndGroupError, ContainsGroupError, MetadataValidationError

    if isinstance(exc, ContainsGroupError):
        return BadInputError(buf.location, f"{where} is a group, not an array (remove it)")
    if isinstance(exc, (ContainsArrayAndGroupError, MetadataValidationError)):
        return BadInputError(buf.location, f"{where}: invalid zarr metadata ({describe(exc)})")
    return McError(f"{buf.location}: cannot create {where} ({describe(exc)})")


def _create_arrays(buf: ReplayBuffer, config: MaskConfig, *, replace: bool) -> None:
    """Create the mask arrays. With `replace` existing ones are deleted first (one process only);
    without it, arrays that exist (e.g. made by a concurrent shard) are kept, never deleted."""
    from zarr.errors import ContainsArrayError

    n_stored = buf[CLOUD_KEY].shape[1]
    specs = [
        (buf.data, MASKS_KEY, (buf.n_steps, config.n_points), np.float32, {"mask_config": config.to_json()}),
        (buf.data, INDICES_KEY, (buf.n_steps, config.n_points), index_dtype(n_stored), {"n_stored": int(n_stored)}),
        (buf.meta, DONE_KEY, (buf.n_episodes,), np.uint8, {}),
    ]
    for grp, key, shape, dtype, attrs in specs[::-1]:  # the settings-bearing masks array last
        if not replace and key in grp:
            continue
        chunks = (1,) + shape[1:]
        try:
            grp.create_array(key, shape=shape, chunks=chunks, dtype=dtype, fill_value=0, overwrite=replace,
                             compressors=make_compressor("lz4", buf.zarr_format) if len(shape) > 1 else None,
                             attributes=attrs or None)
        except ContainsArrayError:
            if replace:
                raise
            continue  # a concurrent shard created it after the check above; its settings are checked below
        except (OSError, TypeError, ValueError) as exc:
            raise _creation_error(buf, f"{grp.path}/{key}", exc) from exc
    buf.refresh()
    if stored_config(buf) != config:
        raise UsageError(f"{buf.location}: data/{MASKS_KEY} was created concurrently with other settings; "
                         "rerun with overwrite (--overwrite) in one process")


def _grow_arrays(buf: ReplayBuffer) -> None:
    """Episodes were appended after preprocessing: extend the mask arrays (new episodes not done)."""
    for key in (MASKS_KEY, INDICES_KEY):
        arr = buf[key]
        if arr.shape[0] < buf.n_steps:
            arr.resize((buf.n_steps,) + arr.shape[1:])
    done = buf.meta[DONE_KEY]
    if done.shape[0] < buf.n_episodes:
        done.resize((buf.n_episodes,))


def preprocess_buffer(path: str | Path, config: MaskConfig, *, overwrite: bool = False, num_shards: int = 1,
                      shard_index: int = 0, progress=None) -> PreprocessResult:
    """Compute and store masks for this shard's episodes of the buffer at `path`."""
    if not 0 <= shard_index < num_shards:
        raise UsageError(f"shard_index {shard_index} must be below num_shards {num_shards}")
    buf = ReplayBuffer.open(path, mode="r")
    check_buffer(buf, config)
    mine = list(range(buf.n_episodes))[shard_index::num_shards]
    old = stored_config(buf)
    flags = done_flags(buf)
    recreate = old is None or DONE_KEY not in buf.meta
    # leftovers without settings (an interrupted creation) are replaced by a single process; shards
    # never delete anything (another shard may have just created the arrays)
    replace = old is None and num_shards == 1 and (MASKS_KEY in buf or INDICES_KEY in buf or DONE_KEY in buf.meta)
    if old is not None and old != config:
        if not overwrite:
            raise UsageError(f"{buf.location}: data/{MASKS_KEY} exists with other settings "
                             f"({old.to_json()}); pass overwrite (--overwrite) to recompute")
        if num_shards > 1:
            raise UsageError(f"{buf.location}: changing the settings of data/{MASKS_KEY} must be done by one "
                             "process (run once with num_shards 1, then shard)")
        recreate = replace = True
    elif old is not None and DONE_KEY in buf.meta and flags[mine].all() and not overwrite:
        # same settings, all done: write nothing (a rerun of `--split both` after an interruption
        # must go on to the next buffer); --overwrite recomputes
        return PreprocessResult(buf.location, [], mine, {}, already_done=True)
    buf = ReplayBuffer.open(path, mode="a")
    if recreate:
        _create_arrays(buf, config, replace=replace)
        flags = np.zeros(buf.n_episodes, dtype=bool)
    else:
        _grow_arrays(buf)
    if overwrite and not recreate:
        todo = mine
    else:
        todo = [e for e in mine if not flags[e]]
    skipped = [e for e in mine if e not in set(todo)]
    done = buf.meta[DONE_KEY]
    readers = {k: RowReader(buf, k) for k in list(SEGMENTATION_KEYS) + [CLOUD_KEY]}
    write_masks, write_idx = RowReader(buf, MASKS_KEY), RowReader(buf, INDICES_KEY)
    coverage: dict[int, float] = {}
    it = progress(todo, desc="episodes", total=len(todo)) if progress else todo
    for e in it:
        done[e] = 0
        sl = buf.episode_slice(e)
        episode = {k: r.rows(sl.start, sl.stop) for k, r in readers.items()}
        episode[STATE_KEY] = np.asarray(buf[STATE_KEY][sl])
        masks, indices = episode_masks(episode, e, config)
        for j, g in enumerate(range(sl.start, sl.stop)):  # one chunk file per timestep
            write_idx.write(g, indices[j])
            write_masks.write(g, masks[j])
        done[e] = 1  # the episode's masks are complete only once this flag is set
        coverage[e] = float(masks.mean())
    return PreprocessResult(buf.location, todo, skipped, coverage)


def mask_config(object_ids=None, *, task: str | None = None, **settings) -> MaskConfig:
    """A MaskConfig from `object_ids` (default: the task's) and the other MaskConfig fields;
    UsageError naming the field when a value is bad (nothing is read or written)."""
    from mc_pointflow.tasks import default_object_ids

    ids = tuple(int(i) for i in object_ids) if object_ids else default_object_ids(task)
    if settings.get("object_thresholds") is not None:
        settings["object_thresholds"] = tuple(float(x) for x in settings["object_thresholds"])
    try:
        return MaskConfig(object_ids=ids, **settings)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"bad mask settings: {exc}") from None


def preprocess_masks(buffers, config: MaskConfig, *, overwrite: bool = False, num_shards: int = 1,
                     shard_index: int = 0, progress=None) -> list[PreprocessResult]:
    """:func:`preprocess_buffer` on every buffer, after every one of them has been checked (so a bad
    second buffer leaves the first untouched)."""
    if not 0 <= shard_index < num_shards:
        raise UsageError(f"shard_index {shard_index} must be below num_shards {num_shards}")
    for path in buffers:
        check_buffer(ReplayBuffer.open(path, mode="r"), config, scan_ids=False)
    return [preprocess_buffer(p, config, overwrite=overwrite, num_shards=num_shards, shard_index=shard_index,
                              progress=progress) for p in buffers]
