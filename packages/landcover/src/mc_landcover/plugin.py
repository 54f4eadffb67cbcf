"""Hook implementations of the `landcover` plugin: lazy registrations only, nothing heavy imported."""

from mc_core.hookspecs import hookimpl


@hookimpl
def mc_register_commands(cli):
    from mc_landcover.cli import group

    cli.add_command(group)
