"""pluggy hook specifications of the `mc` plugin system.

A plugin is a module (or object) exposed under the ``mc`` entry-point group whose functions
are marked with :data:`hookimpl`. Each hook receives the thing to register into; a plugin
calls ``registry.register(name, "package.module:attr", "one-line summary")`` with lazy
targets so that discovery imports nothing heavy::

    from mc_core.hookspecs import hookimpl

    @hookimpl
    def mc_register_models(registry):
        registry.register("my-net", "my_pkg.models.net:MyNet", "A tiny net")

    @hookimpl
    def mc_register_commands(cli):
        from my_pkg.cli import group
        cli.add_command(group)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from mc_core.registry import Registry

PROJECT = "mc"
ENTRY_POINT_GROUP = "mc"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def mc_register_datasets(registry: Registry) -> None:
    """Register datasets: ``registry.register(name, "module:attr", summary)``.

    The target is usually a dataset class; ``registry.create(name, **kwargs)`` instantiates it.
    """


@hookspec
def mc_register_models(registry: Registry) -> None:
    """Register models (architectures): the target builds a model from keyword arguments."""


@hookspec
def mc_register_metrics(registry: Registry) -> None:
    """Register metrics: the target is a function computing the metric."""


@hookspec
def mc_register_commands(cli: click.Group) -> None:
    """Add the plugin's command group to the root ``mc`` group: ``cli.add_command(group)``.

    By convention the group's name is the plugin's name, so users call ``mc <plugin> <command>``.
    Import heavy libraries inside command bodies, not at module level.
    """
