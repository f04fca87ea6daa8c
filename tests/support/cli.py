"""``journalsync ARGS`` run in the test's process, as ``python -m journalsync`` would run it.

A new interpreter per command costs more than a second of imports; most CLI tests only need what
a process would show — its exit code, standard output and error — not the process itself. This
runs the CLI's own app the way :func:`journalsync.cli.main` does (owner-only umask), with extra
environment variables, standard input, and a terminal of ``columns`` (80 as a pipe otherwise).
Tests of what only a real process shows (signals, SIGKILL, a server on a port) start one.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping

from typer.testing import CliRunner

__all__ = ["run_cli"]


def run_cli(
    *args: str,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    columns: int = 80,
) -> subprocess.CompletedProcess[str]:
    """Run ``journalsync ARGS``; the result as :func:`subprocess.run` gives it (text)."""
    from journalsync import _common
    from journalsync.cli import app

    consoles = (_common.console, _common.err_console)
    widths = [c.width for c in consoles]
    mask = os.umask(0o077)  # as main() sets it
    try:
        for c in consoles:
            c.width = columns
        extra = {k: v for k, v in (env or {}).items() if os.environ.get(k) != v}
        result = CliRunner().invoke(app, list(args), input=input, env=extra)
    finally:
        os.umask(mask)
        for c, w in zip(consoles, widths, strict=True):
            c.width = w
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(
        ["journalsync", *args], result.exit_code, result.stdout, result.stderr
    )
