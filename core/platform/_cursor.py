"""Resumable stream cursors: ``{"pass", "done", "complete"}``.

A stream's pull is a *pass* over its scopes (pages). Each page's cursor names the pass, the
scopes done so far in it and whether the pass is complete. A complete (or absent) cursor starts
the next pass; an incomplete one — a pull that stopped part-way — resumes its pass, skipping the
scopes in ``done``. A resumed pass with nothing left (or a stream with no scopes) is closed by
an empty page that touches no records, so the stored cursor becomes complete.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from core.connector import Page
from core.model import Record

from ._batch import PageBatch

__all__ = ["StreamPass", "start_pass"]


class StreamPass(NamedTuple):
    """Where a stream's pull starts: pass number, scopes already done, and whether the
    stored cursor was an incomplete pass being resumed."""

    number: int
    done: list[str]
    resuming: bool


def start_pass(cursor: Mapping[str, Any] | None) -> StreamPass:
    """The pass a stream's stored cursor leads to (module doc)."""
    if not cursor:
        return StreamPass(1, [], False)
    number = int(cursor.get("pass", 0))
    if cursor.get("complete", True):
        return StreamPass(number + 1, [], False)
    return StreamPass(max(number, 1), [str(k) for k in cursor.get("done", [])], True)


def pass_cursor(
    number: int, done: Sequence[str], *, complete: bool, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A page's cursor (``extra`` keys follow the three standard ones)."""
    return {"pass": number, "done": done, "complete": complete, **(extra or {})}


def single_page(
    stream: str,
    cursor: Mapping[str, Any] | None,
    batch: PageBatch,
    *,
    complete_for: frozenset[str],
    visible_members: Mapping[str, frozenset[str]] | None = None,
) -> Page | None:
    """The page of a one-scope stream (scope = stream name) holding ``batch``, or ``None`` when
    the stored cursor is a pass that already holds it."""
    number, done, _ = start_pass(cursor)
    if stream in done:
        return None
    return Page(
        stream=stream,
        scope=stream,
        records=batch.records,
        quarantine=batch.quarantine,
        cursor=pass_cursor(number, [stream], complete=True),
        complete_for=complete_for,
        visible_members=visible_members,
    )


def visible_members(
    records: Iterable[Record], into: dict[str, frozenset[str]] | None = None
) -> dict[str, frozenset[str]]:
    """Group id → the pupils listed in it (empty: the whole class), from what a family-account
    pull has read so far (its roster, and its pages where groups come with the journal): the
    :attr:`Page.visible_members` of its pages. ``into`` accumulates across pages."""
    out = into if into is not None else {}
    for r in records:
        if r.ENTITY == "group":
            out[r.id] = frozenset(getattr(r, "member_ids", ()) or ())
    return dict(out)  # a page keeps what was visible when it was read


def closing_page(
    stream: str, number: int, done: list[str], extra: Mapping[str, Any] | None = None
) -> Page:
    """A resumed pass with nothing left (or an empty stream): close the pass, touching no
    records (the empty page replaces no entity of any scope)."""
    return Page(
        stream=stream,
        scope=f"{stream}:pass:{number}",
        records=[],
        cursor=pass_cursor(number, done, complete=True, extra=extra),
    )
