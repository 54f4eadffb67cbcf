"""Hook implementations of the `loci` plugin: lazy registrations only, nothing heavy imported."""

from mc_core.hookspecs import hookimpl


@hookimpl
def mc_register_commands(cli):
    from mc_loci.cli import group

    cli.add_command(group)
