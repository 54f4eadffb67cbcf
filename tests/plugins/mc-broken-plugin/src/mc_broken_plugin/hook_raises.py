"""A plugin whose hooks register something and then raise half-way."""

from mc_core.hookspecs import hookimpl


@hookimpl
def mc_register_models(registry):
    registry.register("half-registered", "mc_broken_plugin.hook_raises:nothing", "never kept")
    raise RuntimeError("model registration exploded")


@hookimpl
def mc_register_commands(cli):
    raise RuntimeError("command registration exploded")
