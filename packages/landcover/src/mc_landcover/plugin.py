"""Hook implementations of the `landcover` plugin: lazy registrations only, nothing heavy imported."""

from mc_core.hookspecs import hookimpl


@hookimpl
def mc_register_datasets(registry):
    registry.register("nlcd-patches", "mc_landcover.data.patches:NLCDPatches",
                      "Square NLCD class-map patches (npz from `mc landcover prepare`)")


@hookimpl
def mc_register_models(registry):
    registry.register("randar", "mc_landcover.models.randar:RandAR",
                      "Random-order GPT over land-cover classes with position-instruction tokens")


@hookimpl
def mc_register_metrics(registry):
    """Land-cover metrics (landcover-B's part)."""


@hookimpl
def mc_register_commands(cli):
    from mc_landcover.cli import group

    cli.add_command(group)
