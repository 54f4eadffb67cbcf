"""Hook implementations of the `landcover` plugin: lazy registrations only, nothing heavy imported."""

from mc_core.hookspecs import hookimpl


@hookimpl
def mc_register_datasets(registry):
    registry.register("nlcd-patches", "mc_landcover.data.patches:NLCDPatches",
                      "Square NLCD class-map patches (npz from `mc landcover prepare`)")


@hookimpl
def mc_register_models(registry):
    registry.register("randar", "mc_landcover.models.randar:RandAR",
                      "Random-order GPT over land-cover classes with position-instruction tokens",
                      task="landcover")


@hookimpl
def mc_register_metrics(registry):
    """Land-cover metrics (landcover-B's part)."""
    registry.register("inpaint-accuracy", "mc_landcover.inpaint.metrics:inpaint_accuracy",
                      "Accuracy over the hidden pixels of an inpainting mask (pred, target, hidden)")
    registry.register("class-proportion-error", "mc_landcover.inpaint.metrics:class_proportion_error",
                      "Total variation between predicted and true class proportions (0..1)")
    registry.register("landscape-stats", "mc_landcover.analysis.landscape:landscape_stats_metric",
                      "Class proportions, patch count, mean patch area, edge density (vs target maps)")


@hookimpl
def mc_register_commands(cli):
    from mc_landcover.cli import group

    cli.add_command(group)
