"""Discovery and loading of plugins from the ``mc`` entry-point group.

Built-in plugins (mc-core itself and the five domain packages) load through exactly this path,
like any third-party package. A plugin that fails to import, or that raises inside a hook, is
isolated: it becomes a visible broken entry (``mc plugins`` shows the error), a warning names it,
and every other plugin keeps working.

Environment:
  MC_DISABLE_PLUGINS=a,b   skip these plugins by name
  MC_STRICT_PLUGINS=1      turn any plugin failure into an error
"""

from __future__ import annotations

import os
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any

import pluggy

from mc_core import hookspecs
from mc_core.errors import PluginError, describe, env_flag
from mc_core.registry import Registry

REGISTRY_HOOKS = {
    "datasets": "mc_register_datasets",
    "models": "mc_register_models",
    "metrics": "mc_register_metrics",
}
COMMAND_HOOK = "mc_register_commands"


class PluginWarning(UserWarning):
    """A plugin failed to load or raised in a hook; the others keep working."""


@dataclass
class PluginInfo:
    name: str
    distribution: str = ""
    version: str = ""
    target: str = ""
    hooks: list[str] = field(default_factory=list)
    error: str | None = None
    disabled: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.disabled


@dataclass
class Registries:
    datasets: Registry = field(default_factory=lambda: Registry("dataset"))
    models: Registry = field(default_factory=lambda: Registry("model"))
    metrics: Registry = field(default_factory=lambda: Registry("metric"))

    def by_kind(self, kind: str) -> Registry:
        return getattr(self, kind)


def _disabled_names() -> set[str]:
    raw = os.environ.get("MC_DISABLE_PLUGINS", "")
    return {p.strip() for p in raw.split(",") if p.strip()}


class PluginManager:
    """Loads plugins, fills the registries and adds plugin commands to the CLI."""

    def __init__(self, *, strict: bool | None = None, disabled: set[str] | None = None):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.strict = env_flag("MC_STRICT_PLUGINS") if strict is None else strict
        self.disabled = _disabled_names() if disabled is None else set(disabled)
        self.infos: dict[str, PluginInfo] = {}
        self._registries: Registries | None = None

    # -- loading ------------------------------------------------------------------------------
    def load_entry_points(self, group: str = hookspecs.ENTRY_POINT_GROUP) -> None:
        seen: set[tuple[str, str]] = set()
        eps = sorted(entry_points(group=group), key=lambda ep: (ep.name != "core", ep.name))
        for ep in eps:
            if (ep.name, ep.value) in seen:  # the same distribution found twice on sys.path
                continue
            seen.add((ep.name, ep.value))
            self._load_entry_point(ep)

    def _load_entry_point(self, ep: EntryPoint) -> None:
        dist = getattr(ep, "dist", None)
        info = PluginInfo(
            name=ep.name,
            distribution=dist.name if dist else "",
            version=dist.version if dist else "",
            target=ep.value,
        )
        if ep.name in self.infos:
            other = self.infos[ep.name]
            info.error = (
                f"plugin name {ep.name!r} is already taken by distribution "
                f"{other.distribution or other.target!r}"
            )
            self._record_failure(info, f"{ep.name}@{info.distribution}")
            return
        if ep.name in self.disabled:
            info.disabled = True
            self.infos[ep.name] = info
            return
        try:
            plugin = ep.load()
        except Exception as exc:  # noqa: BLE001 - isolation is the point
            info.error = f"failed to import {ep.value}: {describe(exc)}"
            self._record_failure(info, ep.name, exc)
            return
        self._register(plugin, info)

    def register(self, plugin: ModuleType | object, name: str, **meta: str) -> PluginInfo:
        """Register a plugin object directly (for tests and embedding applications)."""
        info = PluginInfo(name=name, target=getattr(plugin, "__name__", repr(plugin)), **meta)
        if name in self.disabled:
            info.disabled = True
            self.infos[name] = info
            return info
        self._register(plugin, info)
        return info

    def unregister(self, name: str) -> None:
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin, name=name)
        self.infos.pop(name, None)
        self._registries = None

    def _register(self, plugin: object, info: PluginInfo) -> None:
        try:
            self.pm.register(plugin, name=info.name)
        except Exception as exc:  # noqa: BLE001 - pluggy validation errors, bad hook signatures
            info.error = f"invalid plugin: {describe(exc)}"
            self._record_failure(info, info.name, exc)
            return
        info.hooks = sorted(
            hc.name for hc in (self.pm.get_hookcallers(plugin) or []) if hc.name.startswith("mc_")
        )
        self.infos[info.name] = info
        self._registries = None

    def _record_failure(self, info: PluginInfo, key: str, exc: BaseException | None = None) -> None:
        self.infos[key] = info
        if self.strict:
            raise PluginError(f"plugin {info.name!r}: {info.error}") from exc
        if exc is not None and env_flag("MC_DEBUG"):
            traceback.print_exception(exc)
        warnings.warn(
            f"plugin {info.name!r} ({info.distribution or info.target}) is broken and was "
            f"skipped: {info.error}",
            PluginWarning,
            stacklevel=3,
        )

    # -- hooks --------------------------------------------------------------------------------
    def _call_isolated(self, hook_name: str, fn_for: Callable[[str], Any], **kwargs: Any) -> None:
        """Call every implementation of a hook on its own, so one failure cannot stop the rest."""
        hook = getattr(self.pm.hook, hook_name)
        impls = sorted(hook.get_hookimpls(), key=lambda i: (i.plugin_name != "core", i.plugin_name))
        for impl in impls:
            name = impl.plugin_name
            info = self.infos.get(name)
            if info is None or not info.ok:
                continue
            before = fn_for(name)
            try:
                impl.function(**{k: v for k, v in kwargs.items() if k in impl.argnames})
            except Exception as exc:  # noqa: BLE001
                if before is not None:
                    before()
                info.error = f"{hook_name} raised {describe(exc)}"
                self._record_failure(info, name, exc)

    @property
    def registries(self) -> Registries:
        if self._registries is None:
            regs = Registries()
            for kind, hook_name in REGISTRY_HOOKS.items():
                registry = regs.by_kind(kind)

                def prepare(plugin: str, registry: Registry = registry) -> Callable[[], None]:
                    registry._current_plugin = plugin
                    return lambda: registry.remove_plugin(plugin)

                self._call_isolated(hook_name, prepare, registry=registry)
                registry._current_plugin = ""
            self._registries = regs
        return self._registries

    def register_commands(self, cli: Any) -> None:
        def prepare(plugin: str) -> Callable[[], None]:
            existing = set(cli.commands)

            def undo() -> None:
                for cmd in set(cli.commands) - existing:
                    cli.commands.pop(cmd, None)

            return undo

        self._call_isolated(COMMAND_HOOK, prepare, cli=cli)


_manager: PluginManager | None = None


def get_manager() -> PluginManager:
    """The process-wide plugin manager, loading entry points on first use."""
    global _manager
    if _manager is None:
        manager = PluginManager()
        manager.load_entry_points()
        _manager = manager
    return _manager


def set_manager(manager: PluginManager | None) -> None:
    """Replace (or with None, reset) the process-wide manager; for tests and embedding."""
    global _manager
    _manager = manager
