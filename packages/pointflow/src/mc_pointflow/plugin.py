"""Hook implementations of the `pointflow` plugin: lazy registrations only, nothing heavy imported."""

from mc_core.hookspecs import hookimpl


@hookimpl
def mc_register_datasets(registry):
    registry.register("pointflow-attention", "mc_pointflow.data.attention_dataset:make_dataset",
                      "Point clouds, state history, action horizon and 3D attention masks from a zarr replay buffer")


@hookimpl
def mc_register_models(registry):
    # Policies for `mc pointflow rollout` (and eval): each offers mc_pointflow.interface.Policy
    registry.register("pointflow-policy", "mc_pointflow.models.flow_policy:PointFlowPolicy",
                      "Flow-matching policy over action chunks with an attention-pooled point-cloud encoder "
                      "(train it; roll out its --checkpoint)")
    registry.register("expert", "mc_pointflow.rollout:ExpertPolicy",
                      "Baseline: the scene's scripted expert trajectory (the upper bound)")
    registry.register("hold", "mc_pointflow.rollout:HoldPolicy",
                      "Baseline: holds its start pose (the gripper stays open)")
    registry.register("mean-demo", "mc_pointflow.rollout:MeanDemoPolicy",
                      "Baseline: replays the mean demo trajectory of --buffer, blind to the scene")


@hookimpl
def mc_register_metrics(registry):
    registry.register("attention-iou", "mc_pointflow.metrics:attention_iou",
                      "IoU of two per-point attention masks (binarised at 0.5)")
    registry.register("attention-coverage", "mc_pointflow.metrics:attention_coverage",
                      "Fraction of points an attention mask attends")
    registry.register("rollout-success", "mc_pointflow.metrics:rollout_success",
                      "1.0 if a robot-state trajectory closes the gripper within 2 cm of the grasp pose, else 0.0")


@hookimpl
def mc_register_commands(cli):
    from mc_pointflow.cli import group

    cli.add_command(group)
