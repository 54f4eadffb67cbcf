"""Replay buffer: layout, formats, compressors, slices and crash-safe appends."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mc_core.errors import BadInputError
from mc_pointflow.data.replay_buffer import ReplayBuffer


def _episode(T, value, P=5):
    return {"obs": np.full((T, P, 3), value, np.float32), "state": np.arange(T, dtype=np.int64) + 100 * value}


@pytest.mark.parametrize("fmt", [2, 3])
def test_roundtrip_on_disk_in_both_formats(tmp_path, fmt):
    path = tmp_path / "buf.zarr"
    buf = ReplayBuffer.create(path, zarr_format=fmt)
    buf.add_episode(_episode(3, 1), chunks={"obs": (2, 5, 3)}, compressors={"state": "zstd"})
    buf.add_episode(_episode(4, 2))
    buf.add_episode(_episode(2, 3))
    re = ReplayBuffer.open(path)
    assert re.zarr_format == fmt
    assert (re.n_episodes, re.n_steps) == (3, 9)
    assert re.keys() == ["obs", "state"]
    np.testing.assert_array_equal(re.episode_ends, [3, 7, 9])
    assert re.episode_ends.dtype == np.int64
    ep = re.get_episode(1)
    assert ep["obs"].shape == (4, 5, 3) and np.all(ep["obs"] == 2)
    np.testing.assert_array_equal(re.get_episode(-1)["state"], [300, 301])
    np.testing.assert_array_equal(re.get_episodes(slice(1, 3))["state"], [200, 201, 202, 203, 300, 301])
    np.testing.assert_array_equal(re.get_steps(slice(2, 5))["state"], [102, 200, 201])
    assert re["obs"].chunks == (2, 5, 3)
    comp_obs, comp_state = str(re["obs"].compressors[0]), str(re["state"].compressors[0])
    assert "lz4" in comp_obs and "zstd" in comp_state
    # format 2 writes .zarray/.zgroup files that zarr-2 readers understand; format 3 writes zarr.json
    if fmt == 2:
        meta = json.loads((path / "meta" / "episode_ends" / ".zarray").read_text())
        assert meta["zarr_format"] == 2 and meta["dtype"] == "<i8"
        assert json.loads((path / "data" / "obs" / ".zarray").read_text())["compressor"]["cname"] == "lz4"
    else:
        assert json.loads((path / "zarr.json").read_text())["zarr_format"] == 3


def test_in_memory_buffer_and_key_checks():
    buf = ReplayBuffer.create(None)
    buf.add_episode(_episode(2, 1))
    assert buf.n_steps == 2 and repr(buf).startswith("ReplayBuffer('<memory>'")
    with pytest.raises(Exception, match="keys differ"):
        buf.add_episode({"obs": np.zeros((2, 5, 3), np.float32)})
    with pytest.raises(Exception, match="shape"):
        buf.add_episode({"obs": np.zeros((2, 4, 3), np.float32), "state": np.zeros(2, np.int64)})
    assert buf.n_episodes == 1


def test_crash_during_append_keeps_previous_episodes(tmp_path, monkeypatch):
    path = tmp_path / "buf.zarr"
    buf = ReplayBuffer.create(path)
    buf.add_episode(_episode(3, 1))
    buf.add_episode(_episode(2, 2))

    import zarr

    real_setitem = zarr.Array.__setitem__
    calls = {"n": 0}

    def crashing_setitem(self, sel, value):
        calls["n"] += 1
        if calls["n"] == 2:  # the second array of the episode: the first was already grown and written
            raise KeyboardInterrupt("simulated crash")
        return real_setitem(self, sel, value)

    monkeypatch.setattr(zarr.Array, "__setitem__", crashing_setitem)
    with pytest.raises(KeyboardInterrupt):
        buf.add_episode(_episode(4, 9))
    monkeypatch.setattr(zarr.Array, "__setitem__", real_setitem)

    re = ReplayBuffer.open(path, mode="a")
    assert (re.n_episodes, re.n_steps) == (2, 5)
    assert re["obs"].shape[0] > 5  # the crashed episode's rows exist but are ignored
    np.testing.assert_array_equal(re.get_steps(slice(None))["state"], [100, 101, 102, 200, 201])
    assert not np.any(re.get_steps(slice(None))["obs"] == 9)
    # the next append trims the leftovers and lands right after the last committed episode
    re.add_episode(_episode(1, 4))
    assert re["obs"].shape[0] == 6
    np.testing.assert_array_equal(ReplayBuffer.open(path).get_episode(2)["state"], [400])


def test_open_rejects_store_without_episode_ends(tmp_path):
    import zarr

    root = zarr.open_group(str(tmp_path / "x.zarr"), mode="w", zarr_format=2)
    root.require_group("data").create_array("a", shape=(3,), dtype="f4")
    with pytest.raises(BadInputError, match="meta/episode_ends") as err:
        ReplayBuffer.open(tmp_path / "x.zarr")
    assert str(tmp_path / "x.zarr") in str(err.value)


@pytest.mark.parametrize("fmt", [2, 3])
@pytest.mark.parametrize("compressor", ["lz4", "none"])
def test_row_reader_matches_zarr(tmp_path, fmt, compressor):
    from mc_pointflow.data.replay_buffer import RowReader

    buf = ReplayBuffer.create(tmp_path / "b", zarr_format=fmt)
    rng = np.random.default_rng(0)
    ep = {"m": rng.random((5, 7)).astype(np.float32), "i": rng.integers(0, 900, (5, 3, 2)).astype(np.uint16),
          "s": np.arange(5)}
    buf.add_episode(ep, chunks={"m": (1, 7), "i": (1, 3, 2), "s": (5,)}, compressor=compressor)
    buf = ReplayBuffer.open(tmp_path / "b")
    for key in ("m", "i", "s"):
        reader = RowReader(buf, key)
        assert reader.fast == (key != "s")  # fast path only for one-row chunks
        for t in range(5):
            np.testing.assert_array_equal(reader(t), ep[key][t])
        np.testing.assert_array_equal(reader.rows(1, 4), ep[key][1:4])
    # rows written by the fast path read back through zarr itself
    buf = ReplayBuffer.open(tmp_path / "b", mode="a")
    writer = RowReader(buf, "m")
    new = rng.random((2, 7)).astype(np.float32)
    writer.write(1, new[0])
    writer.write(4, new[1])
    again = ReplayBuffer.open(tmp_path / "b")["m"][:]
    np.testing.assert_array_equal(again[[1, 4]], new)
    np.testing.assert_array_equal(again[[0, 2, 3]], ep["m"][[0, 2, 3]])
