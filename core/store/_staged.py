"""Staged pull pages: weighed when the pull ends, then applied, or held for a person.

See :mod:`core.store._staging` for what a staged page is. A pull that crashed leaves its staged
pages unheld; the school's next pull weighs them with its own (they are older reads, so a page
of the same scope read again supersedes them). A held pull's pages wait for
``journalsync runs approve`` (applied exactly as read) or ``runs discard`` (dropped, and the
streams they came from are read again in full by the next pull).
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import ColumnElement, Connection, delete, func, select, update

from core.store._remote import RemoteStore
from core.store._schema import cursors, staged_pages
from core.store._staging import page_from_json
from core.store._types import PageCounts

__all__ = ["StagedStore"]

_s = staged_pages.c

#: Staged pages are applied in transactions of about this many records (as a pull commits).
_APPLY_RECORDS = 20_000


class StagedStore(RemoteStore):
    def has_staged(self, school: str, platform: str) -> bool:
        with self._read() as conn:
            return (
                conn.execute(
                    select(_s.seq).where(_s.platform == platform, _s.school == school).limit(1)
                ).first()
                is not None
            )

    def staged_effects(
        self, school: str, platform: str, *, hold: str | None = None
    ) -> dict[str, Counter[str]]:
        """Per entity, what the staged pages (unheld, or of ``hold``) would do, by kind."""
        out: dict[str, Counter[str]] = {}
        with self._read() as conn:
            for (effects,) in conn.execute(
                select(_s.effects).where(*self._which(school, platform, hold))
            ):
                for entity, kinds in effects.items():
                    out.setdefault(entity, Counter()).update(kinds)
        return out

    def staged_count(self, hold: str) -> int:
        with self._read() as conn:
            return int(conn.execute(select(func.count()).where(_s.hold == hold)).scalar_one())

    def hold_staged(self, school: str, platform: str, hold: str) -> int:
        """Hold the unheld staged pages of the school for a person, under ``hold``."""
        with self._write() as conn:
            result = conn.execute(
                update(staged_pages).where(*self._which(school, platform, None)).values(hold=hold)
            )
            return int(result.rowcount or 0)

    def apply_staged(
        self, school: str, platform: str, *, hold: str | None = None, run_id: str | None = None
    ) -> list[PageCounts]:
        """Apply the staged pages (unheld, or those of ``hold``) in the order they were read.

        Each page is planned again against the snapshot as it is now, and removed from the
        stage in the same transaction as it is applied, so a crash applies none twice.
        """
        out: list[PageCounts] = []
        which = self._which(school, platform, hold)
        after = 0
        while True:
            with self._write() as conn:
                rows = conn.execute(
                    select(_s.seq, _s.page)
                    .where(*which, _s.seq > after)
                    .order_by(_s.seq)
                    .limit(200)
                ).all()
                if not rows:
                    return out
                records = 0
                for seq, text in rows:
                    page = page_from_json(text)
                    plan = self._plan_page(conn, school, platform, page)
                    out.append(self._apply_plan(conn, school, platform, plan, run_id))
                    conn.execute(delete(staged_pages).where(_s.seq == seq))
                    after = seq
                    records += len(page.records)
                    if records >= _APPLY_RECORDS:
                        break

    def discard_staged(self, hold: str) -> int:
        """Drop a held pull's pages; the streams they came from are read in full next time
        (their cursors are forgotten, since the pull that advanced them is not applied)."""
        with self._write() as conn:
            rows = conn.execute(
                select(_s.school, _s.platform, _s.stream).where(_s.hold == hold).distinct()
            ).all()
            for school, platform, stream_name in rows:
                _forget_cursor(conn, school, platform, stream_name)
            result = conn.execute(delete(staged_pages).where(_s.hold == hold))
            return int(result.rowcount or 0)

    @staticmethod
    def _which(school: str, platform: str, hold: str | None) -> tuple[ColumnElement[bool], ...]:
        held = _s.hold.is_(None) if hold is None else _s.hold == hold
        return (_s.platform == platform, _s.school == school, held)


def _forget_cursor(conn: Connection, school: str, platform: str, stream_name: str) -> None:
    c = cursors.c
    conn.execute(
        delete(cursors).where(c.school == school, c.platform == platform, c.stream == stream_name)
    )
