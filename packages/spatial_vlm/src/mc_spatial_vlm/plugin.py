"""Hook implementations of the `spatial-vlm` plugin: lazy registrations only, nothing heavy imported."""

from mc_core.hookspecs import hookimpl


@hookimpl
def mc_register_datasets(registry):
    registry.register("x3-tasks", "mc_spatial_vlm.data.tasks:load_task_json",
                      "Spatial task JSON (Task1 multi/concat, Task2A, Task2B) built from x3 multi-view data")
    registry.register("x3-demo", "mc_spatial_vlm.data.demo:make_demo_data",
                      "Synthetic x3 scenes: 5 rendered views per object with masks and inpainted views")


@hookimpl
def mc_register_models(registry):
    registry.register("hf-vlm", "mc_spatial_vlm.models.hf_vlm:HFVLMPredictor",
                      "Any local Hugging Face vision-language model folder, greedy decoding")
    registry.register("center", "mc_spatial_vlm.predictors:CenterPredictor",
                      "Baseline: always the centre of the query image")
    registry.register("not-visible", "mc_spatial_vlm.predictors:NotVisiblePredictor",
                      "Baseline: always NOT_VISIBLE")
    registry.register("pixel-diff", "mc_spatial_vlm.predictors:PixelDiffPredictor",
                      "Baseline for Task2B: centroid of the largest changed region")


@hookimpl
def mc_register_metrics(registry):
    registry.register("hit-at-mask", "mc_spatial_vlm.metrics:hit_at_mask",
                      "Whether a predicted point lands on the query mask (concat-aware)")
    registry.register("l2-error", "mc_spatial_vlm.metrics:l2_error",
                      "Euclidean distance between normalised points")
    registry.register("spatial-summary", "mc_spatial_vlm.metrics:summarize",
                      "The seed evaluator's 13 metric keys (Hit@Mask, NOT_VISIBLE accuracy, L2, Success@t) and our strict ones")


@hookimpl
def mc_register_commands(cli):
    from mc_spatial_vlm.cli import group

    cli.add_command(group)
