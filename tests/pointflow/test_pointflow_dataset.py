"""The `pointflow-attention` dataset: precomputed and on-the-fly masks agree; metrics; registry."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mc_pointflow.masks import MaskConfig
from mc_pointflow.preprocess import preprocess_buffer

CFG = MaskConfig(object_ids=(31, 92), distance_threshold=0.03, gripper_radius=0.05, n_points=200,
                 soft_sigma=0.01, smoothing_window=1, velocity_horizon=2)


def test_precomputed_and_on_the_fly_items_are_identical(demo_buffer):
    import mc_pointflow.data.attention_dataset as mod
    from mc_pointflow.data.attention_dataset import make_dataset

    mod._warned_on_the_fly = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fly = make_dataset(demo_buffer, mask_config=CFG, n_obs_steps=3, horizon=4)
        fly_items = [fly[i] for i in range(len(fly))]
    msgs = [w for w in caught if "on the fly" in str(w.message)]
    assert len(msgs) == 1  # one warning per process, not one per item
    assert not fly.precomputed

    preprocess_buffer(demo_buffer, CFG)
    pre = make_dataset(demo_buffer, n_obs_steps=3, horizon=4)  # settings come from the stored masks
    assert pre.precomputed and pre.config == CFG and len(pre) == len(fly) == 18
    for i in range(len(pre)):
        a, b = pre[i], fly_items[i]
        for k in ("pcd", "robot_state", "action", "attention_mask"):
            assert a[k].dtype == b[k].dtype
            assert np.array_equal(a[k].numpy(), b[k].numpy()), (i, k)
    item = pre[6]  # first timestep of episode 1
    assert item["pcd"].shape == (200, 3) and item["attention_mask"].shape == (200,)
    assert item["robot_state"].shape == (3, 10) and item["action"].shape == (4, 10)
    assert (item["episode"], item["timestep"]) == (1, 0)
    # history before the episode start repeats its first state; actions after its end repeat the last
    assert np.array_equal(item["robot_state"][0].numpy(), item["robot_state"][2].numpy())
    last = pre[5]
    assert np.array_equal(last["action"][1].numpy(), last["action"][3].numpy())
    assert float(item["attention_mask"].max()) == 1.0 and 0 < float(item["attention_mask"].mean()) < 1


def test_dataset_ignores_masks_made_with_other_settings(demo_buffer):
    from mc_pointflow.data.attention_dataset import make_dataset

    preprocess_buffer(demo_buffer, CFG)
    other = MaskConfig(object_ids=(31,), distance_threshold=0.03, n_points=200)
    with pytest.warns(RuntimeWarning, match="other settings"):
        ds = make_dataset(demo_buffer, mask_config=other)
    assert not ds.precomputed


def test_attention_metrics():
    from mc_pointflow.metrics import attention_coverage, attention_iou

    a = np.array([1, 1, 0, 0, 0.6])
    b = np.array([1, 0, 0, 1, 0.4])
    assert attention_iou(a, b) == pytest.approx(1 / 4)
    assert attention_iou(a, a) == 1.0
    assert attention_iou(np.zeros(3), np.zeros(3)) == 1.0
    assert attention_coverage(a) == pytest.approx(3 / 5)
    with pytest.raises(Exception, match="shape"):
        attention_iou(a, b[:3])


def test_registered_entries_load():
    from mc_core.plugins import get_manager

    regs = get_manager().registries
    entry = regs.by_kind("datasets").entry("pointflow-attention")
    assert entry.plugin == "pointflow" and callable(entry.load())
    metric = regs.by_kind("metrics").get("attention-iou")
    assert metric([1, 0], [1, 1]) == pytest.approx(0.5)
    assert regs.by_kind("metrics").get("attention-coverage")([1, 0, 0, 0]) == pytest.approx(0.25)


def test_dataset_through_the_registry_factory(demo_buffer):
    import torch.utils.data

    from mc_core.plugins import get_manager

    preprocess_buffer(demo_buffer, CFG)
    ds = get_manager().registries.by_kind("datasets").create("pointflow-attention", path=demo_buffer, horizon=2)
    assert isinstance(ds, torch.utils.data.Dataset)
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=5)))
    assert tuple(batch["pcd"].shape) == (5, 200, 3) and tuple(batch["action"].shape) == (5, 2, 10)
    # picklable, so DataLoader workers started with "spawn" (macOS, Windows) get a working copy
    import pickle

    ds[3]  # after readers were opened
    copy = pickle.loads(pickle.dumps(ds))
    assert np.array_equal(copy[3]["attention_mask"].numpy(), ds[3]["attention_mask"].numpy())
