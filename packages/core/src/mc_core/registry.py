"""Registries of named entries (datasets, models, metrics).

An entry records a name, a one-line summary, the plugin that registered it and a *lazy target*:
either the object itself or a ``"package.module:attr"`` string that is imported only when the
entry is used. Listing entries therefore imports nothing heavy.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from mc_core.errors import RegistryError


@dataclass
class Entry:
    name: str
    target: str | Callable[..., Any]
    summary: str = ""
    plugin: str = ""
    kind: str = ""
    task: str = ""
    _loaded: Any = field(default=None, repr=False, compare=False)

    @property
    def target_path(self) -> str:
        """`module:attr` of the target (computed for object targets)."""
        if isinstance(self.target, str):
            return self.target
        return f"{self.target.__module__}:{getattr(self.target, '__qualname__', repr(self.target))}"

    def load(self) -> Any:
        """Import (once) and return the target object."""
        if self._loaded is None:
            self._loaded = _resolve_target(self.target, self)
        return self._loaded


def _resolve_target(target: str | Callable[..., Any], entry: Entry) -> Any:
    if not isinstance(target, str):
        return target
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise RegistryError(
            f"{entry.kind} {entry.name!r} (plugin {entry.plugin!r}) has a malformed target "
            f"{target!r}; expected 'package.module:attr'"
        )
    module = importlib.import_module(module_name)
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise RegistryError(
                f"{entry.kind} {entry.name!r} (plugin {entry.plugin!r}): {module_name} has no "
                f"attribute {attr!r}"
            ) from None
    return obj


class Registry:
    """A named collection of lazily loaded entries of one kind ("dataset", "model", "metric")."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry] = {}
        self._current_plugin: str = ""

    # -- registration -------------------------------------------------------------------------
    def register(
        self,
        name: str,
        target: str | Callable[..., Any],
        summary: str = "",
        *,
        plugin: str | None = None,
        task: str | None = None,
    ) -> Entry:
        """Add an entry. Registering a name that another plugin already holds is an error.

        `task` names the commands the entry serves (a plugin's name: "codec", "landcover", ...):
        the plugin's commands offer it (e.g. as a choice of `mc codec train --arch`) and check
        it against the plugin's model interface. It defaults to the registering plugin.
        """
        if not name or not isinstance(name, str):
            raise RegistryError(f"{self.kind} names must be non-empty strings, got {name!r}")
        plugin = plugin if plugin is not None else self._current_plugin
        if name in self._entries:
            other = self._entries[name].plugin
            raise RegistryError(
                f"{self.kind} {name!r} is registered twice: by plugin {other!r} and by "
                f"plugin {plugin!r}"
            )
        if not summary and not isinstance(target, str):
            summary = next(iter((getattr(target, "__doc__", None) or "").strip().splitlines()), "")
        entry = Entry(name=name, target=target, summary=summary, plugin=plugin, kind=self.kind,
                      task=task if task is not None else plugin)
        self._entries[name] = entry
        return entry

    def __call__(self, name: str, summary: str = "", *, task: str | None = None) -> Callable[[Any], Any]:
        """Decorator form: ``@registry("my-model", "what it is")``."""

        def decorate(obj: Any) -> Any:
            self.register(name, obj, summary, task=task)
            return obj

        return decorate

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)

    def remove_plugin(self, plugin: str) -> None:
        """Drop every entry a plugin registered (used when its hook fails half-way)."""
        for name in [n for n, e in self._entries.items() if e.plugin == plugin]:
            del self._entries[name]

    # -- lookup -------------------------------------------------------------------------------
    def entry(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            raise RegistryError(self._unknown_message(name)) from None

    def get(self, name: str) -> Any:
        """The target object (class or function) registered under `name`."""
        return self.entry(name).load()

    def create(self, name: str, /, **kwargs: Any) -> Any:
        """Call the registered target with keyword arguments (the factory)."""
        return self.get(name)(**kwargs)

    def names(self, pattern: str | None = None, *, plugin: str | None = None,
              task: str | None = None) -> list[str]:
        """Sorted names, optionally filtered by a glob pattern, by plugin and by task."""
        return [e.name for e in self.list(pattern, plugin=plugin, task=task)]

    def list(self, pattern: str | None = None, *, plugin: str | None = None,
             task: str | None = None) -> list[Entry]:
        entries = sorted(self._entries.values(), key=lambda e: e.name)
        if pattern:
            entries = [e for e in entries if fnmatch.fnmatchcase(e.name, pattern)]
        if plugin:
            entries = [e for e in entries if e.plugin == plugin]
        if task:
            entries = [e for e in entries if e.task == task]
        return entries

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self)} entries)"

    def _unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(name, list(self._entries), n=3, cutoff=0.5)
        msg = f"unknown {self.kind} {name!r}"
        if close:
            msg += "; did you mean " + " or ".join(repr(c) for c in close) + "?"
        else:
            msg += f" (see `mc list {self.kind}s`)"
        return msg


def suggest(name: str, choices: list[str]) -> str:
    """`; did you mean 'x'?` or an empty string."""
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    return ("; did you mean " + " or ".join(repr(c) for c in close) + "?") if close else ""
