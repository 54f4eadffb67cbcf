"""User-facing errors. The CLI prints them as one line (`error: ...`) with their exit code."""

from __future__ import annotations

import os


class McError(Exception):
    """An error meant for the user; `exit_code` is what the CLI exits with."""

    exit_code = 1


class UsageError(McError):
    """Bad usage: an unknown name, a flag out of range, a missing argument. Exit code 2."""

    exit_code = 2


class BadInputError(McError):
    """Bad input data: names the file (or store, key) and says what is wrong. Exit code 2."""

    exit_code = 2

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)

    def __reduce__(self):  # so it survives pickling, e.g. out of a worker process
        return type(self), (self.path, self.problem)


class RegistryError(UsageError):
    """An unknown or duplicate registry name."""


class PluginError(McError):
    """A plugin failed to load while MC_STRICT_PLUGINS=1."""


def describe(exc: BaseException) -> str:
    """`Type: first line of the message`, for one-line reports."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def env_flag(name: str) -> bool:
    """Whether an MC_* switch in the environment is on (1, true, yes, on)."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
