"""Hook implementations of the `codec` plugin: lazy registrations only, nothing heavy imported."""

from mc_core.hookspecs import hookimpl


@hookimpl
def mc_register_commands(cli):
    from mc_codec.cli import group

    cli.add_command(group)
