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
from two weeks before today to a week after (the constructor's ``today`` or today in the
school's time zone: the configured one, else Asia/Yekaterinburg).

Options: :class:`.options.PermOptions` (``host``, ``per_page``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from connectors.perm.migration import MIGRATION
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
from core.errors import AuthError, Skippable
from core.http import HttpSettings
from core.logging import get_logger
from core.model import normalise_subject_name
from core.platform import FINAL_ENTITIES, JOURNAL_ENTITIES, ROSTER_ENTITIES, Scopes

from . import schema as s
from ._accounts import SharedTransport, account_auth
from ._journal import monday, read_class
from ._paging import PageBase
from ._roster import ClassInfo, Roster, read_roster
from .client import HOSTS, PermSession, PerPage
from .mapping import PLATFORM, Batch, Mapper, normalise_code
from .options import PermOptions

_log = get_logger(__name__)

__all__ = ["PermConnector"]

INCREMENTAL_BACK = timedelta(days=14)
AHEAD = timedelta(days=7)

_MODELLED = (
    "modelled: no write API is known for ЭПОС.Школа (no public client writes; teacher login "
    "exists but no teacher write route was ever seen for Perm, note §6)"
)


class PermConnector(Connector):
    """ЭПОС.Школа (Пермский край) over its МЭШ-derived student/parent API (WIRE.md)."""

    platform = PLATFORM
    default_timezone = "Asia/Yekaterinburg"
    options_model = PermOptions
    capabilities = Capabilities(
        platform=PLATFORM,
        reads=ROSTER_ENTITIES | JOURNAL_ENTITIES | FINAL_ENTITIES,
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
        migration=MIGRATION,
    )

    def __init__(
        self,
        target: SchoolTarget,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        state: Mapping[str, Any] | None = None,
        save_state: Callable[[Mapping[str, Any]], None] | None = None,
        http: HttpSettings | None = None,
        clock: Callable[[], float] | None = None,
        today: date | None = None,
    ) -> None:
        super().__init__(
            target,
            transport=transport,
            state=state,
            save_state=save_state,
            http=http,
            clock=clock,
            today=today,
        )
        opts = PermOptions.of(target.options)
        host = HOSTS[opts.host]
        base_url = (target.base_url or host.default_url).rstrip("/")
        settings = self.http_settings()
        size = opts.per_page
        per_page = PerPage(size, size, size) if size is not None else PerPage()
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
        #: Accounts read at once: the per-host limit (more would only queue at the transport).
        self._limit = settings.max_concurrency

    async def login(self) -> None:
        try:
            await self.sessions[0].open()
        except AuthError as exc:  # the school's own account: noted, then the run stops
            self.note_refused(self.target.all_accounts[0].login or self.sessions[0].label, exc)
            raise

    async def _open_accounts(self) -> list[PermSession]:
        """Sign every account in. The school's own (the first) must work; a further family's
        account the platform refuses is noted and left out (its pupils are missing then, which
        the school's coverage shows)."""
        opened: list[PermSession] = []

        async def open_one(session: PermSession) -> AuthError | None:
            try:
                await session.open()
            except AuthError as exc:
                return exc
            return None

        # Every account at once within the per-host limit; outcomes taken in account order.
        refused = await platform.each_account(self.sessions, open_one, limit=self._limit)
        for n, (session, cred, exc) in enumerate(
            zip(self.sessions, self.target.all_accounts, refused, strict=True)
        ):
            if exc is not None:
                self.note_refused(cred.login or session.label, exc)
                if n == 0:
                    raise exc
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
        roster = await read_roster(await self._open_accounts(), self.mapper, limit=self._limit)
        self._note_pupils(roster)

        # Family accounts: what they no longer see (a pupil's old subgroup) is kept, not deleted.
        visible = platform.visible_members(roster.batch.records)

        async def read_finals(cls: ClassInfo) -> Batch:
            return await self._read_finals(roster, cls)

        async for page in platform.run_streams(
            cursors,
            platform.one_page(platform.ROSTER, roster.batch, ROSTER_ENTITIES, visible),
            self._journal(roster, mode, visible),
            platform.Scopes(
                platform.FINALS,
                FINAL_ENTITIES,
                roster.classes,
                key=lambda cls: f"{platform.FINALS}:{cls.ext_id}",
                read=read_finals,
                read_ahead=2,
            ),
            sample=self.sampled,
        ):
            yield page

    def _journal(
        self, roster: Roster, mode: PullMode, visible: Mapping[str, frozenset[str]]
    ) -> Scopes[tuple[ClassInfo, date]]:
        """One page per class × week; a class's weeks are read together, through every
        account of the class."""
        weeks = self._weeks(roster, mode)
        today = self.today()
        start = max(weeks[0], roster.start) if weeks else roster.start
        end = min(weeks[-1] + timedelta(days=6), roster.end) if weeks else roster.end

        async def read_class_weeks(scopes: Sequence[tuple[ClassInfo, date]]) -> list[Batch]:
            cls = scopes[0][0]
            journal = await read_class(
                roster,
                cls,
                self.mapper,
                start=start,
                end=end,
                today=self.today(),
                strict=mode is PullMode.FULL,
                limit=self._limit,
            )
            batches = [journal.weeks.get(week, Batch()) for _, week in scopes]
            # Unreadable rows not tied to a week are quarantined once, on the class's first page.
            first = batches[0]
            batches[0] = Batch(first.records, first.quarantine + journal.loose.quarantine)
            return batches

        return Scopes(
            platform.JOURNAL,
            JOURNAL_ENTITIES,
            [(cls, week) for cls in roster.classes for week in weeks],
            key=lambda cw: f"{platform.JOURNAL}:{cw[0].ext_id}:{cw[1].isoformat()}",
            read_unit=read_class_weeks,
            unit=lambda cw: cw[0].ext_id,
            # Sampling prefers the week holding today, then the weeks before it (entries are made).
            prefer=lambda cw: (cw[1] > today, abs(cw[1] - today)),
            visible=visible,
            # the next class is read while one is mapped (a class's reads share nothing)
            read_ahead=2,
        )

    async def _read_finals(self, roster: Roster, cls: ClassInfo) -> Batch:
        batch = Batch()
        answers = await platform.each_account(
            cls.students, lambda st: st.session.progress(st.id, roster.year.id), limit=self._limit
        )
        for st, progress in zip(cls.students, answers, strict=True):
            for subject in progress:
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
