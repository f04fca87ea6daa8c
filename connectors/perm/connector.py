"""``PermConnector``: the ЭПОС.Школа school pull, merged from every student and parent account.

Streams and cursors. Three streams:

* ``roster`` — one page: school, year, periods, people, classes, subjects, groups, enrollments;
* ``journal`` — one page per class × week (scope ``journal:<class_unit_id>:<Monday>``): lessons,
  homework, marks and absences of that class's lessons in that week. A page is complete for
  those entities because every student of the class was read;
* ``finals`` — one page per class (scope ``finals:<class_unit_id>``): period finals from the
  progress reports of the class's students.

A cursor is ``{"pass", "done", "complete"}`` as in the NetSchool connector: a complete (or absent)
cursor starts a new pass; an incomplete one resumes it, skipping the scopes in ``done``. A full
pull covers the weeks from the year's start to a week after today; an incremental one the weeks
from two weeks before today to a week after (``options["today"]`` or today in the school's
time zone, Asia/Yekaterinburg by default).

Options (``target.options``): ``host`` = ``"current"`` (``edu-epos.permkrai.ru``, the default) or
``"legacy"`` (``school.permkrai.ru``) — used for the base URL when ``target.base_url`` is empty
and for what the web client sends along; ``per_page`` (int) overrides the page sizes;
``http_settings`` (an :class:`HttpSettings`); ``today``; ``timezone``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from core import platform
from core.codes import Role
from core.connector import (
    Capabilities,
    Connector,
    Page,
    PullMode,
    PupilSeen,
    SchoolTarget,
    first_seen_everywhere,
    hand_entry_channels,
)
from core.errors import AuthError, ConfigError, Skippable
from core.logging import get_logger
from core.model import normalise_subject_name

from . import schema as s
from ._accounts import SharedTransport, account_auth
from ._journal import monday, read_class
from ._paging import PageBase
from ._roster import ClassInfo, Roster, read_roster
from .client import HOSTS, PermSession, PerPage
from .mapping import PLATFORM, Batch, Mapper, normalise_code

_log = get_logger(__name__)

__all__ = ["PermConnector"]

ROSTER = "roster"
JOURNAL = "journal"
FINALS = "finals"
INCREMENTAL_BACK = timedelta(days=14)
AHEAD = timedelta(days=7)
DEFAULT_TIMEZONE = "Asia/Yekaterinburg"

_ROSTER_ENTITIES = frozenset(
    {
        "school",
        "academic_year",
        "period",
        "person",
        "class_unit",
        "subject",
        "group",
        "enrollment",
    }
)
_JOURNAL_ENTITIES = frozenset({"lesson", "homework", "mark", "attendance"})
_FINAL_ENTITIES = frozenset({"final_mark"})

_MODELLED = (
    "modelled: no write API is known for ЭПОС.Школа (no public client writes; teacher login "
    "exists but no teacher write route was ever seen for Perm, note §6)"
)


class PermConnector(Connector):
    """ЭПОС.Школа (Пермский край) over its МЭШ-derived student/parent API (WIRE.md)."""

    platform = PLATFORM
    capabilities = Capabilities(
        platform=PLATFORM,
        reads=_ROSTER_ENTITIES | _JOURNAL_ENTITIES | _FINAL_ENTITIES,
        fields_not_carried={
            "school": frozenset({"region", "inn", "ogrn"}),
            "lesson": frozenset({"kind", "shift", "substitute_teacher_id"}),
            "homework": frozenset({"student_ids"}),
            "attendance": frozenset({"code", "minutes_late", "note"}),
        },
        push=hand_entry_channels(
            worklist={"mark", "attendance", "lesson", "homework", "final_mark"},
            package={
                "person",
                "class_unit",
                "group",
                "enrollment",
                "lesson",
                "mark",
                "attendance",
                "homework",
                "final_mark",
            },
            worklist_evidence=_MODELLED + "; entries are made by hand from the worklist",
            package_evidence=_MODELLED
            + "; no import format is known either: the package (OneRoster CSV + journal "
            "XLSX) is for the regional operator to load by their own means",
        ),
        notes=(
            "A student/parent API: a school pull needs the accounts of every student (or a "
            "parent of each) and sees what they see; a student nobody's account shows is "
            "missing, and subgroup members are only those seen. Attendance rows carry no "
            "reason: every absence is «Н». «Точка» (is_point) marks are pulled as «точка». "
            "Mark ordinals count a student's marks of one work type on one lesson. The school "
            "name is the platform's short name. Unverified against a live server (WIRE.md)."
        ),
        partial_view=(
            "данные читаются через учётные записи семей: видны только обучающиеся, чьи "
            "учётные записи подключены; записи подгрупп, которые семья больше не видит "
            "(после перевода), сохранены из прошлых загрузок и далее не обновляются"
        ),
        entry_time=first_seen_everywhere(
            ("lesson", "homework", "mark", "attendance", "final_mark"),
        ),
    )

    def __init__(
        self,
        target: SchoolTarget,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        state: Mapping[str, Any] | None = None,
        save_state: Callable[[Mapping[str, Any]], None] | None = None,
    ) -> None:
        super().__init__(target, transport=transport, state=state, save_state=save_state)
        opts = target.options
        host = HOSTS.get(str(opts.get("host", "current")))
        if host is None:
            raise ConfigError(f"perm: options.host must be one of {', '.join(sorted(HOSTS))}")
        base_url = (target.base_url or host.default_url).rstrip("/")
        settings = platform.http_settings(opts)
        size = opts.get("per_page")
        per_page = PerPage(size, size, size) if isinstance(size, int) and size > 0 else PerPage()
        self._owned = transport is None
        self._transport_impl = transport or httpx.AsyncHTTPTransport(verify=settings.verify)
        shared = SharedTransport(self._transport_impl)
        paging = PageBase()
        self.sessions = [
            PermSession(
                base_url,
                account_auth(i, cred, self.state, self.persist_state),
                host=host,
                transport=shared,
                settings=settings,
                paging=paging,
                per_page=per_page,
            )
            for i, cred in enumerate(target.all_accounts)
        ]
        self.mapper = Mapper(target.school, base_url)

    async def login(self) -> None:
        await self.sessions[0].open()

    async def _open_accounts(self) -> list[PermSession]:
        """Sign every account in. The school's own (the first) must work; a further family's
        account the platform refuses is noted and left out (its pupils are missing then, which
        the school's coverage shows)."""
        opened: list[PermSession] = []
        for n, (session, cred) in enumerate(
            zip(self.sessions, self.target.all_accounts, strict=True)
        ):
            try:
                await session.open()
            except AuthError as exc:
                if n == 0:
                    raise
                self.note_account(cred.login or session.label, "rejected", detail=exc.message)
                _log.warning("perm account refused", account=session.label)
                continue
            opened.append(session)
        return opened

    def _note_pupils(self, roster: Roster) -> None:
        """Each opened account's outcome and the pupils it showed (the school's coverage)."""
        seen: dict[str, list[PupilSeen]] = {s.label: [] for s in self.sessions}
        for info in roster.classes:
            for st in info.students:
                p = st.profile
                try:
                    person = self.mapper.person(
                        p.id,
                        Role.STUDENT,
                        last=p.last_name,
                        first=p.first_name,
                        middle=p.middle_name,
                        full=p.user_name,
                    )
                except Skippable:
                    continue
                name = " ".join(
                    x for x in (person.last_name, person.first_name, person.middle_name) if x
                )
                seen[st.session.label].append(PupilSeen(person.id, name, info.record.name))
        for session, cred in zip(self.sessions, self.target.all_accounts, strict=True):
            if session.identity is not None:
                self.note_account(cred.login or session.label, "ok", seen[session.label])

    async def aclose(self) -> None:
        try:
            for session in self.sessions:
                await session.aclose()
        finally:
            if self._owned:
                await self._transport_impl.aclose()

    def today(self) -> date:
        """``options["today"]`` (tests, replays) or today in the school's time zone."""
        tz = self.target.options.get("timezone") or (
            self.target.timezone if self.target.timezone != "Europe/Moscow" else DEFAULT_TIMEZONE
        )
        return platform.today(self.target.options, str(tz))

    def _weeks(self, roster: Roster, mode: PullMode) -> list[date]:
        today = self.today()
        low = roster.start if mode is PullMode.FULL else max(roster.start, today - INCREMENTAL_BACK)
        high = min(roster.end, today + AHEAD)
        weeks: list[date] = []
        week = monday(low)
        while week <= high:
            weeks.append(week)
            week += timedelta(days=7)
        return weeks

    # --- pull ------------------------------------------------------------------------------------

    async def pull(
        self, cursors: Mapping[str, Mapping[str, Any]], mode: PullMode = PullMode.FULL
    ) -> AsyncIterator[Page]:
        self.mapper.fetched_at = datetime.now(UTC)
        roster = await read_roster(await self._open_accounts(), self.mapper)
        self._note_pupils(roster)

        # Family accounts: what they no longer see (a pupil's old subgroup) is kept, not deleted.
        visible = platform.visible_members(roster.batch.records)
        page = platform.single_page(
            ROSTER,
            cursors.get(ROSTER),
            roster.batch,
            complete_for=_ROSTER_ENTITIES,
            visible_members=visible,
        )
        if page is not None:
            yield page
        async for page in self._journal(roster, cursors.get(JOURNAL), mode):
            yield page
        async for page in self._finals(roster, cursors.get(FINALS)):
            yield page

    async def _journal(
        self, roster: Roster, cursor: Mapping[str, Any] | None, mode: PullMode
    ) -> AsyncIterator[Page]:
        weeks = self._weeks(roster, mode)
        visible = platform.visible_members(roster.batch.records)
        number, done, _ = platform.start_pass(cursor)
        done_set = set(done)
        todo = [
            (cls, week)
            for cls in roster.classes
            for week in weeks
            if f"{JOURNAL}:{cls.ext_id}:{week.isoformat()}" not in done_set
        ]
        today = self.today()
        # Sampling prefers the week holding today, then the weeks before it (entries are made).
        todo = list(self.sampled(todo, prefer=lambda cw: (cw[1] > today, abs(cw[1] - today))))
        if not todo:
            yield platform.closing_page(JOURNAL, number, done)
            return
        start = max(weeks[0], roster.start)
        end = min(weeks[-1] + timedelta(days=6), roster.end)
        left = len(todo)
        for cls in roster.classes:
            mine = [week for c, week in todo if c is cls]
            if not mine:
                continue
            journal = await read_class(
                roster,
                cls,
                self.mapper,
                start=start,
                end=end,
                today=self.today(),
                strict=mode is PullMode.FULL,
            )
            for n, week in enumerate(mine):
                batch = journal.weeks.get(week, Batch())
                quarantine = batch.quarantine + (journal.loose.quarantine if n == 0 else [])
                scope = f"{JOURNAL}:{cls.ext_id}:{week.isoformat()}"
                done = [*done, scope]
                left -= 1
                yield Page(
                    stream=JOURNAL,
                    scope=scope,
                    records=batch.records,
                    quarantine=quarantine,
                    cursor=platform.pass_cursor(number, done, complete=left == 0),
                    complete_for=_JOURNAL_ENTITIES,
                    visible_members=platform.visible_members(batch.records, visible),
                )

    async def _finals(
        self, roster: Roster, cursor: Mapping[str, Any] | None
    ) -> AsyncIterator[Page]:
        number, done, _ = platform.start_pass(cursor)
        todo = self.sampled([c for c in roster.classes if f"{FINALS}:{c.ext_id}" not in set(done)])
        if not todo:
            yield platform.closing_page(FINALS, number, done)
            return
        for n, cls in enumerate(todo, start=1):
            batch = await self._read_finals(roster, cls)
            scope = f"{FINALS}:{cls.ext_id}"
            done = [*done, scope]
            yield Page(
                stream=FINALS,
                scope=scope,
                records=batch.records,
                quarantine=batch.quarantine,
                cursor=platform.pass_cursor(number, done, complete=n == len(todo)),
                complete_for=_FINAL_ENTITIES,
            )

    async def _read_finals(self, roster: Roster, cls: ClassInfo) -> Batch:
        batch = Batch()
        for st in cls.students:
            for subject in await st.session.progress(st.id, roster.year.id):
                if isinstance(subject, s.Bad):
                    batch.bad(subject, "final_mark", f"progress:{st.id}/subject:?")
                    continue
                key = normalise_code(normalise_subject_name(subject.subject_name))
                ref = f"progress:{st.id}/subject:{subject.subject_id or '?'}"
                rec = roster.subjects.get(key)
                for period in subject.periods:
                    if isinstance(period, s.Bad):
                        batch.bad(period, "final_mark", f"{ref}/period:?")
                        continue
                    if not period.final_mark:
                        continue
                    where = f"{ref}/period:{period.name.strip()}"
                    per = roster.periods.get(normalise_code(period.name))
                    if rec is None or per is None:
                        batch.skip(
                            Skippable(
                                "final mark of a subject or period the roster does not know",
                                field="subject_name" if rec is None else "periods.name",
                            ),
                            "final_mark",
                            where,
                        )
                        continue
                    try:
                        batch.records.append(
                            self.mapper.final_mark(st.id, rec.id, per.id, period.final_mark)
                        )
                    except Skippable as exc:
                        batch.skip(exc, "final_mark", where)
        return batch
