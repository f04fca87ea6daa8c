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
    """Group id → the pupils the accounts see in it, from what a family-account pull has read
    so far (its roster, and its pages where groups come with the journal): the
    :attr:`Page.visible_members` of its pages. ``into`` accumulates across pages.

    A subgroup lists its members. A whole-class group lists none (``member_ids`` empty): its
    visible pupils are those the accounts see enrolled in its class — so a pupil moved to
    another class is out of sight in the old class's groups (its marks and absences there are
    kept), not deleted as if the accounts still saw the pupil there. Without enrollments the
    whole-class group stays "the whole class" (empty)."""
    out = into if into is not None else {}
    records = list(records)
    for r in records:
        if r.ENTITY == "enrollment" and getattr(r, "end", None) is None:
            key = _CLASS + str(getattr(r, "class_id", ""))
            out[key] = out.get(key, frozenset()) | {str(getattr(r, "student_id", ""))}
    for r in records:
        if r.ENTITY == "group":
            members = frozenset(getattr(r, "member_ids", ()) or ())
            if not members and not getattr(r, "subgroup", 0):
                members = out.get(_CLASS + str(getattr(r, "class_id", "")), frozenset())
            out[r.id] = members
    # A page keeps what was visible when it was read. The class entries ride along (under a
    # key no record id has) so a later call given this dict as ``into`` still has them.
    return dict(out)


#: Key prefix of a class's enrolled pupils among the groups (never a record id; the store
#: looks groups up by id only).
_CLASS = "class-enrolled:"


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
