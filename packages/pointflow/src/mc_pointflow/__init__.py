"""Zarr replay buffers, 3D attention masks and flow-matching policies (PointFlowMatch).

The public API, imported lazily (``import mc_pointflow`` loads neither torch nor zarr)::

    import mc_pointflow as pf

    pf.collect_demos("unplug_charger", 20, "train", "demos/sim/unplug_charger_like")
    cfg = pf.mask_config([31, 34, 35, 92], distance_threshold=0.01, gripper_radius=0.05, n_points=4096)
    pf.preprocess_masks(["demos/sim/unplug_charger_like/train_segmented"], cfg)
    pf.train_policy("demos/sim/unplug_charger_like/train_segmented", "runs/pf", steps=1000)
    summary = pf.rollout_policy(checkpoint="runs/pf/checkpoints/final", episodes=20)
    summary = pf.rollout_policy(policy="expert", task="unplug_charger", episodes=20)

(``train_policy`` and ``rollout_policy`` are the functions ``mc_pointflow.train.train`` and
``mc_pointflow.rollout.rollout``; the short names are the modules.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mc_core.lazy import lazy_exports
from mc_pointflow.interface import FlowModel, Policy

_EXPORTS = {
    # data
    "ReplayBuffer": "mc_pointflow.data.replay_buffer",
    "PointFlowAttentionDataset": "mc_pointflow.data.attention_dataset",
    "make_dataset": "mc_pointflow.data.attention_dataset",
    "load_policy_arrays": "mc_pointflow.data.policy_data",
    "collect_demos": "mc_pointflow.sim.collect",
    "TabletopEnv": "mc_pointflow.sim.env",
    # masks
    "MaskConfig": "mc_pointflow.masks",
    "mask_config": "mc_pointflow.preprocess",
    "preprocess_buffer": "mc_pointflow.preprocess",
    "preprocess_masks": "mc_pointflow.preprocess",
    "verify_buffer": "mc_pointflow.verify",
    "verify_buffers": "mc_pointflow.verify",
    # policies
    "PointFlowPolicy": "mc_pointflow.models.flow_policy",
    "PolicyConfig": "mc_pointflow.models.flow_policy",
    "load_policy": "mc_pointflow.models.flow_policy",
    "train_policy": "mc_pointflow.train:train",
    "evaluate_policy": "mc_pointflow.evaluate",
    "evaluate_checkpoint": "mc_pointflow.evaluate",
    "rollout_policy": "mc_pointflow.rollout:rollout",
    "run_rollouts": "mc_pointflow.rollout",
    "make_policy": "mc_pointflow.rollout",
    "rollout_settings": "mc_pointflow.rollout",
    "ExpertPolicy": "mc_pointflow.rollout",
    "HoldPolicy": "mc_pointflow.rollout",
    "MeanDemoPolicy": "mc_pointflow.rollout",
    # tasks and shipped scripts
    "TASKS": "mc_pointflow.tasks",
    "canonical_task": "mc_pointflow.tasks",
    "buffer_path": "mc_pointflow.tasks",
    "script_path": "mc_pointflow.scripts",
    "copy_script": "mc_pointflow.scripts",
}

__all__ = [
    "ExpertPolicy",
    "FlowModel",
    "HoldPolicy",
    "MaskConfig",
    "MeanDemoPolicy",
    "PointFlowAttentionDataset",
    "PointFlowPolicy",
    "Policy",
    "PolicyConfig",
    "ReplayBuffer",
    "TASKS",
    "TabletopEnv",
    "buffer_path",
    "canonical_task",
    "collect_demos",
    "copy_script",
    "evaluate_checkpoint",
    "evaluate_policy",
    "load_policy",
    "load_policy_arrays",
    "make_dataset",
    "make_policy",
    "mask_config",
    "preprocess_buffer",
    "preprocess_masks",
    "rollout_policy",
    "rollout_settings",
    "run_rollouts",
    "script_path",
    "train_policy",
    "verify_buffer",
    "verify_buffers",
]

if TYPE_CHECKING:
    from mc_pointflow.data.attention_dataset import PointFlowAttentionDataset, make_dataset
    from mc_pointflow.data.policy_data import load_policy_arrays
    from mc_pointflow.data.replay_buffer import ReplayBuffer
    from mc_pointflow.evaluate import evaluate_checkpoint, evaluate_policy
    from mc_pointflow.masks import MaskConfig
    from mc_pointflow.models.flow_policy import PointFlowPolicy, PolicyConfig, load_policy
    from mc_pointflow.preprocess import mask_config, preprocess_buffer, preprocess_masks
    from mc_pointflow.rollout import (
        ExpertPolicy,
        HoldPolicy,
        MeanDemoPolicy,
        make_policy,
        rollout_settings,
        run_rollouts,
    )
    from mc_pointflow.rollout import rollout as rollout_policy
    from mc_pointflow.scripts import copy_script, script_path
    from mc_pointflow.sim.collect import collect_demos
    from mc_pointflow.sim.env import TabletopEnv
    from mc_pointflow.tasks import TASKS, buffer_path, canonical_task
    from mc_pointflow.train import train as train_policy
    from mc_pointflow.verify import verify_buffer, verify_buffers


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
