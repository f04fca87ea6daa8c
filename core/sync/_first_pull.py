"""Which mode a pull really runs in: a school's first pull is full, whatever was asked.

An incremental pull reads what may have changed since the stored cursors. On a fresh store there
are none, so a scheduled incremental slot brought the roster and the last days of the journal
(908 of 27,582 records) and the rest waited for the weekly reconcile slot. Deciding here, at the
top of :func:`core.sync.pull`, serves every caller alike: CLI, scheduler, Temporal, tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.connector import PullMode
from core.logging import get_logger
from core.store import Store

__all__ = ["first_pull_mode"]

log = get_logger(__name__)


def _first_pass_unfinished(cursor: Mapping[str, Any]) -> bool:
    # The pass convention of core.platform (pass numbers start at 1 for a stream with no
    # cursor): pass 1 not complete is the stream's first read, interrupted. Resumed
    # incrementally, the scopes it had not reached yet would never be read.
    return cursor.get("pass") == 1 and cursor.get("complete") is False


def first_pull_mode(store: Store, school: str, platform: str, mode: PullMode) -> PullMode:
    """``FULL`` when the store has no cursor of the school yet, or its first pass of a stream
    was interrupted; otherwise ``mode``."""
    if mode is not PullMode.INCREMENTAL:
        return mode
    cursors = store.cursors(school, platform)
    if not cursors:
        log.info("first pull of this school: reading it in full")
        return PullMode.FULL
    if unfinished := sorted(s for s, c in cursors.items() if _first_pass_unfinished(c)):
        log.info(
            "the school's first pull was interrupted: finishing it in full", streams=unfinished
        )
        return PullMode.FULL
    return mode
