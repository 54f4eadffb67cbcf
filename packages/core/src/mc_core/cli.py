"""The `mc` command line: `mc <plugin> <command>`, plus `mc plugins` and `mc list`.

Only click and the plugin manager are imported here; plugin command groups must import heavy
libraries (torch, transformers, rasterio) inside their command bodies so `mc --help` stays fast.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import click

from mc_core import __version__
from mc_core.errors import McError, describe, env_flag
from mc_core.registry import suggest

REGISTRY_KINDS = ("datasets", "models", "metrics")


class McGroup(click.Group):
    """A click group whose unknown-command error suggests close matches.

    Plugins should build their command groups with :func:`plugin_group` (or this class) so
    users get the same behaviour everywhere.
    """

    what = "command"

    def resolve_command(self, ctx: click.Context, args: list[str]):
        cmd_name = click.utils.make_str(args[0])
        if self.get_command(ctx, cmd_name) is None and not cmd_name.startswith("-"):
            where = "" if ctx.parent is None else f" for {ctx.command_path!r}"
            names = self.list_commands(ctx)
            hint = suggest(cmd_name, names) or (f" (choose from: {', '.join(names)})" if names else "")
            raise click.UsageError(f"unknown {self.what} {cmd_name!r}{where}{hint}", ctx)
        return super().resolve_command(ctx, args)


class PluginGroup(McGroup):
    """The command group of a plugin; its help also lists what the plugin registered."""

    def __init__(self, *args: Any, plugin: str | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.plugin = plugin or self.name

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        from mc_core.plugins import get_manager

        manager = get_manager()
        if self.plugin not in manager.infos:
            return
        regs = manager.registries
        for kind in REGISTRY_KINDS:
            # what this plugin registered, and what other plugins registered for its commands
            entries = [e for e in regs.by_kind(kind).list()
                       if e.plugin == self.plugin or e.task == self.plugin]
            if entries:
                with formatter.section(f"Registered {kind}"):
                    formatter.write_dl([(e.name, e.summary if e.plugin == self.plugin
                                         else f"{e.summary} (plugin {e.plugin})") for e in entries])


def plugin_group(name: str, help: str, commands: Sequence[click.Command] = (), **kwargs: Any) -> PluginGroup:
    """Make the top-level command group of a plugin (`mc <name> ...`).

    Every plugin assembles its group the same way: each ``cli_<concern>.py`` module defines
    plain ``@click.command`` functions and lists them in ``COMMANDS``; the plugin's ``cli.py``
    calls ``plugin_group(name, help, commands=[*cli_a.COMMANDS, *cli_b.COMMANDS])``. Command
    modules never import ``cli.py``, so there are no import loops.

    Its help lists the plugin's commands and the datasets, models and metrics registered by
    the plugin or for its commands.
    """
    group = PluginGroup(name=name, help=help, no_args_is_help=True, **kwargs)
    for cmd in commands:
        group.add_command(cmd)
    return group


class RootGroup(McGroup):
    """The root `mc` group; plugin groups are added by the plugins' command hooks on demand."""

    what = "plugin or command"
    _plugins_loaded = False

    def _load_plugin_commands(self) -> None:
        if not self._plugins_loaded:
            self._plugins_loaded = True
            from mc_core.plugins import get_manager

            get_manager().register_commands(self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str):
        cmd = super().get_command(ctx, cmd_name)
        if cmd is None:
            self._load_plugin_commands()
            cmd = super().get_command(ctx, cmd_name)
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        builtins, plugins = [], []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is None or cmd.hidden:
                continue
            row = (name, cmd.get_short_help_str(limit=formatter.width - 20))
            (builtins if name in ("plugins", "list") else plugins).append(row)
        if plugins:
            with formatter.section("Plugins"):
                formatter.write_dl(plugins)
        if builtins:
            with formatter.section("Commands"):
                formatter.write_dl(builtins)


@click.group(
    cls=RootGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=(
        "Examples:\n\n"
        "\b\n"
        "  mc plugins                 # installed plugins and their status\n"
        "  mc list models             # every registered model\n"
        "  mc codec --help            # the commands of one plugin\n"
        "  mc codec matrix            # the main job on the shipped sample masks\n\n"
        "Set MC_DEBUG=1 to see tracebacks, MC_DISABLE_PLUGINS=a,b to skip plugins and "
        "MC_STRICT_PLUGINS=1 to make a broken plugin an error."
    ),
)
@click.version_option(__version__, "-V", "--version", prog_name="mc", message="%(prog)s %(version)s")
def cli() -> None:
    """mc: a toolkit for discrete masks and label maps.

    Run `mc <plugin> <command>`; every plugin installed in this environment adds its own
    command group below.
    """


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def plugins_cmd(ctx: click.Context, as_json: bool) -> None:
    """List installed plugins: name, distribution, version, hooks and load errors.

    \b
    Example:
      mc plugins
      mc plugins --json
    """
    from mc_core.plugins import get_manager

    manager = get_manager()
    # Run every hook once (registrations are lazy and cheap) so failures inside hooks show too.
    _ = manager.registries
    root = ctx.find_root().command
    if isinstance(root, RootGroup):
        root._load_plugin_commands()
    infos = sorted(manager.infos.values(), key=lambda i: (i.name != "core", i.name))
    if as_json:
        rows = [
            {
                "name": i.name,
                "distribution": i.distribution,
                "version": i.version,
                "hooks": i.hooks,
                "status": "disabled" if i.disabled else ("error" if i.error else "ok"),
                "error": i.error,
            }
            for i in infos
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    table = [("NAME", "DISTRIBUTION", "VERSION", "STATUS", "HOOKS")]
    for i in infos:
        status = "disabled" if i.disabled else ("ERROR" if i.error else "ok")
        hooks = ",".join(h.removeprefix("mc_register_") for h in i.hooks) or "-"
        table.append((i.name, i.distribution or "-", i.version or "-", status, hooks))
    _echo_table(table)
    for i in infos:
        if i.error:
            click.echo(f"\n{i.name}: {i.error}")


@cli.command("list")
@click.argument("kind", required=False, type=click.Choice(REGISTRY_KINDS))
@click.option("--plugin", "-p", default=None, help="Only entries registered by this plugin.")
@click.option("--pattern", default=None, help="Glob pattern on names, e.g. 'rle*'.")
@click.option("--task", "-t", default=None,
              help="Only entries for this plugin's commands (whoever registered them), e.g. codec.")
def list_cmd(kind: str | None, plugin: str | None, pattern: str | None, task: str | None) -> None:
    """List registered datasets, models or metrics (all three when KIND is omitted).

    \b
    Examples:
      mc list models
      mc list datasets --plugin landcover
      mc list metrics --pattern '*iou*'
      mc list models --task codec       # every model `mc codec train --arch` accepts
    """
    from mc_core.plugins import get_manager

    manager = get_manager()
    if plugin is not None and plugin not in manager.infos:
        raise click.UsageError(f"unknown plugin {plugin!r}{suggest(plugin, list(manager.infos))}")
    regs = manager.registries
    for k in [kind] if kind else REGISTRY_KINDS:
        entries = regs.by_kind(k).list(pattern, plugin=plugin, task=task)
        if not kind:
            click.echo(f"{k}:")
        table = [("NAME", "PLUGIN", "FOR", "SUMMARY")] + [(e.name, e.plugin, e.task, e.summary)
                                                          for e in entries]
        if len(table) == 1:
            click.echo("  (none)" if not kind else f"no {k} registered")
        else:
            _echo_table(table, indent="  " if not kind else "")
        if not kind:
            click.echo()


def _echo_table(rows: Sequence[Sequence[str]], indent: str = "") -> None:
    widths = [max(len(str(r[c])) for r in rows) for c in range(len(rows[0]))]
    for r in rows:
        cells = [str(v).ljust(w) for v, w in zip(r, widths)]
        click.echo((indent + "  ".join(cells)).rstrip())


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    click.echo(f"warning: {message}", err=True)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `mc` script: one-line errors, exit 2 for bad usage or input."""
    debug = env_flag("MC_DEBUG")
    warnings.showwarning = _show_warning
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="mc", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        sys.exit(0)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        cmd = exc.ctx.command_path if exc.ctx else "mc"
        click.echo(f"error: {exc.format_message()} (see '{cmd} --help')", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.Abort as exc:
        if isinstance(exc.__cause__, EOFError):  # click turns any EOFError into Abort; it is a failure
            if debug:
                raise exc.__cause__ from None
            click.echo(f"error: {describe(exc.__cause__)} (unexpected end of a file or stream; "
                       "set MC_DEBUG=1 for the traceback)", err=True)
            sys.exit(1)
        click.echo("error: aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        sys.exit(130)
    except McError as exc:
        if debug:
            raise
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no tracebacks for users
        if debug:
            raise
        click.echo(f"error: {describe(exc)} (set MC_DEBUG=1 for the traceback)", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
