"""Helpers for testing mc plugins: run the real `mc` entry point in-process."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def returncode(self) -> int:  # the subprocess.CompletedProcess name
        return self.exit_code

    @property
    def output(self) -> str:
        """stdout followed by stderr."""
        return self.stdout + self.stderr


def invoke(*args: object) -> CliResult:
    """Run `mc ARGS` through :func:`mc_core.cli.main`: the one-line errors and exit codes a user
    sees, without the cost of a new interpreter.

    >>> invoke("codec", "--help").exit_code  # doctest: +SKIP
    0
    """
    from mc_core.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return CliResult(code, out.getvalue(), err.getvalue())
