"""Shared CLI plumbing: exit codes, error printing, store and connector construction."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

from rich.console import Console

from core.errors import (
    AuthError,
    ConfigError,
    JournalSyncError,
    Retriable,
)
from core.logging import get_logger, redact
from core.platform import installed
from core.store import SCHOOL_LOCK_WAIT, SchoolLock, Store, is_memory, parse_store_url

__all__ = [
    "EXIT_AUTH",
    "EXIT_FAILED",
    "EXIT_HELD",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "PLATFORM_HELP",
    "console",
    "die",
    "err_console",
    "exit_code_for",
    "lock_wait",
    "open_store",
    "report_unexpected",
    "reported_errors",
    "school_lock",
    "school_timezone",
    "store_options",
]

#: ``--platform`` help: the installed platforms (entry point names; nothing is imported).
PLATFORM_HELP = "an installed platform: " + ", ".join(installed())

#: Exit codes a script can rely on (also in the README).
EXIT_OK = 0
EXIT_FAILED = 1  # the run failed: contract broken, data problem, run ended failed
EXIT_USAGE = 2  # bad command line or configuration
EXIT_AUTH = 3  # the platform rejected the credentials
EXIT_UNAVAILABLE = 4  # the platform was unavailable after retries (try again later)
EXIT_HELD = 5  # the run is held for a person (`journalsync runs approve|discard RUN`)
EXIT_PARTIAL = 6  # the run ended partial: a family-account pull missed pupils (it names them)

console = Console()
err_console = Console(stderr=True)

DEFAULT_DB = "sqlite:///journalsync.db"

_log = get_logger("journalsync.cli")


class _StoreOptions:
    #: ``--init-store``: give journalsync's tables to a database that holds other tables.
    init = False


store_options = _StoreOptions()


def exit_code_for(exc: BaseException) -> int:
    if isinstance(exc, AuthError):
        return EXIT_AUTH
    if isinstance(exc, ConfigError):
        return EXIT_USAGE
    if isinstance(exc, Retriable):
        return EXIT_UNAVAILABLE
    return EXIT_FAILED


def die(message: str, code: int = EXIT_FAILED, hint: str = "") -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}")
    if hint:
        err_console.print(f"[yellow]what to do:[/] {hint}")
    sys.exit(code)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn journalsync errors into a clear message and the documented exit code."""
    try:
        yield
    except JournalSyncError as exc:
        die(exc.message, exit_code_for(exc), exc.hint)


def report_unexpected(exc: Exception) -> NoReturn:
    """The last resort for a bug: one line naming it, exit 1, the traceback only in the debug
    log (``--verbose``), never on the terminal by default."""
    _log.debug("cli.unexpected_error", exc_info=exc)
    first = (str(exc).strip().splitlines() or [""])[0]
    die(
        f"unexpected {type(exc).__name__}: {redact(first)[:300]}".rstrip(": "),
        EXIT_FAILED,
        "this is a bug in journalsync: report it with the command you ran (see --verbose)",
    )


def school_timezone(config: Path | None, school: str, timezone: str | None) -> str:
    """The time zone a school's documents print their times in: ``--timezone``, else the
    school's (or its municipality's) in ``--config``, else Europe/Moscow."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"unknown time zone {timezone!r} (an IANA name: Asia/Barnaul)"
            ) from None
        return timezone
    if config is not None:
        from journalsync.config import load_config

        plan = load_config(config, check_platforms=False)
        found = next((s for s in plan.schools if s.slug == school), None)
        return found.timezone if found is not None else plan.timezone
    return "Europe/Moscow"


def open_store(url: str | None) -> Store:
    """The store for a command: ``--db``, ``$JOURNALSYNC_DB`` or the default file.

    An in-memory SQLite store is refused: it would vanish with the command and keep nothing.
    """
    db = url or os.environ.get("JOURNALSYNC_DB") or DEFAULT_DB
    if is_memory(parse_store_url(db)):
        raise ConfigError(
            "an in-memory store (sqlite:// or sqlite:///:memory:) keeps nothing after the"
            " command ends",
            hint="give a file: --db sqlite:///journalsync.db",
        )
    return Store.open(db, init=store_options.init)


def lock_wait() -> float:
    """Seconds a run waits for another run of its school: ``$JOURNALSYNC_LOCK_WAIT`` (default
    300)."""
    raw = os.environ.get("JOURNALSYNC_LOCK_WAIT", "")
    try:
        wait = float(raw) if raw else SCHOOL_LOCK_WAIT
    except ValueError:
        wait = -1.0
    if not wait >= 0:  # also NaN
        raise ConfigError(
            f"JOURNALSYNC_LOCK_WAIT must be a number of seconds ≥ 0, not {raw!r}",
            hint="unset it for the default of 300 s",
        )
    return wait


def school_lock(store: Store, school: str) -> SchoolLock:
    """The school's run lock; a second run waits ``$JOURNALSYNC_LOCK_WAIT`` seconds (default
    300) for the first, then exits 4 ("try again later") naming the school."""
    return SchoolLock(store, school, wait=lock_wait())
