"""``NetSchoolConnector``: the school pull (roster + journal pages), push and read-back.

Streams and cursors. Two streams, ``roster`` (one page) and ``journal`` (one page per subject
group × term, scope ``journal:<sgId>:<termId>``), and a third, ``finals`` (one page per pupil,
scope ``finals:<userId>``), only when the config names family (student/parent) accounts: the
administrator's journal carries no final marks (note §5.1), the ``studenttotalmarks`` report of
a family account does (``_finals``). A cursor is ``{"pass", "done", "complete"}``:
a complete (or absent) cursor starts a new pass; an incomplete one resumes it, skipping the
scopes in ``done``. The journal pages need the roster's id maps (group, class, year), so the
roster is always read first — also when its page is not yielded again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from connectors.netschool.migration import MIGRATION
from core import platform
from core.codes import Role
from core.connector import (
    Capabilities,
    Change,
    ChannelCapability,
    Connector,
    Page,
    PullMode,
    PushChannel,
    PushOutcome,
    SchoolTarget,
    first_seen_everywhere,
)
from core.errors import ConfigError, Skippable
from core.http import HttpSettings
from core.model import Record
from core.platform import FINAL_ENTITIES, JOURNAL_ENTITIES, ROSTER_ENTITIES

from . import schema as s
from ._finals import FinalsReader, Pupil
from ._push import Pusher
from .client import NetSchoolClient
from .mapping import PLATFORM, Batch, LessonContext, Mapper
from .options import NetSchoolOptions

__all__ = ["NetSchoolConnector"]

INCREMENTAL_WINDOW = timedelta(days=14)

#: The administrator's API lists no enrollment dates: the roster carries none.
_ROSTER_ENTITIES = ROSTER_ENTITIES - {"enrollment"}


@dataclass(frozen=True, slots=True)
class _Scope:
    key: str
    sg_id: int
    class_id: int
    term: s.Term


@dataclass(slots=True)
class _Roster:
    """The roster page plus the id maps the journal pages need."""

    batch: Batch
    year: s.Year
    group_ids: dict[int, str] = field(default_factory=dict)  # sgId → canonical group id
    scopes: list[_Scope] = field(default_factory=list)
    periods: dict[str, str] = field(default_factory=dict)  # term name → canonical period id
    subject_ids: set[str] = field(default_factory=set)  # canonical subject ids
    students: set[int] = field(default_factory=set)  # user ids listed as students


class NetSchoolConnector(Connector):
    """NetSchool («Сетевой город / регион. Образование») over its ``/webapi`` (WIRE.md).

    Pulls need a school administrator (завуч) account: a plain teacher sees only their groups.
    """

    platform = PLATFORM
    capabilities = Capabilities(
        platform=PLATFORM,
        reads=_ROSTER_ENTITIES | JOURNAL_ENTITIES,
        fields_not_carried={
            "school": frozenset({"region"}),
            "person": frozenset({"birth_date"}),
            "period": frozenset(),
            "lesson": frozenset({"kind", "substitute_teacher_id"}),
            "homework": frozenset({"attachments", "student_ids"}),
            "mark": frozenset({"comment", "teacher_id"}),
            "attendance": frozenset({"minutes_late", "note"}),
        },
        push=(
            ChannelCapability(
                channel=PushChannel.API,
                entities=frozenset({"mark", "attendance", "lesson"}),
                evidence=(
                    "teacher class-journal writes (grade/journal/quickedit, grade/journal/edit) "
                    "evidenced by IRTech's own web-UI code; not yet verified on a live server"
                ),
                verified=False,
            ),
        ),
        notes=(
            "Guardians are not visible to the teacher/administrator API and are not pulled. "
            "Lesson topics can only be set to a lesson of the group's КТП (looked up by name). "
            "Mark pushes cannot set a weight: a new assignment gets its type's default weight. "
            "The write payloads' response shapes are guesses (WIRE.md). "
            "Final marks are not in the administrator's journal: they are read only when the "
            "school's config names family (student/parent) accounts, from each account's "
            "studenttotalmarks report, and only for the pupils those accounts show; without "
            "such accounts finals are not read (not 'none'), so final_mark is not in reads and "
            "rules on finals are not checked for NetSchool."
        ),
        entry_time=first_seen_everywhere(
            ("lesson", "homework", "mark", "attendance", "final_mark"),
        ),
        migration=MIGRATION,
    )

    options_model = NetSchoolOptions

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
        if not target.platform_school:
            raise ConfigError("netschool: platform_school (the school's name) is required")
        self.client = NetSchoolClient(
            target.base_url,
            target.credentials,
            target.platform_school,
            transport=transport,
            settings=self.http_settings(),
        )
        self.mapper = Mapper(target.school)
        # Optional family accounts (target.accounts): the only source of final marks.
        self.finals = FinalsReader(
            target,
            transport=transport,
            settings=self.http_settings(),
            timeout=NetSchoolOptions.of(target.options).report_timeout,
        )
        self._pusher = Pusher(self.client, self.mapper)

    async def login(self) -> None:
        await self.client.login()

    async def aclose(self) -> None:
        try:
            await self.finals.aclose()
        finally:
            await self.client.aclose()

    async def _ensure_login(self) -> None:
        if self.client.at is None:
            await self.client.login()

    # --- pull ------------------------------------------------------------------------------------

    async def pull(
        self, cursors: Mapping[str, Mapping[str, Any]], mode: PullMode = PullMode.FULL
    ) -> AsyncIterator[Page]:
        await self._ensure_login()
        self.mapper.fetched_at = datetime.now(UTC)
        roster = await self._read_roster()

        # Terms that have not started hold nothing a teacher has entered yet: not read.
        today = self.today()
        scopes = [sc for sc in roster.scopes if sc.term.startDate <= today]
        if mode is PullMode.INCREMENTAL:
            low = today - INCREMENTAL_WINDOW
            scopes = [sc for sc in scopes if sc.term.endDate >= low]

        async def read(scope: _Scope) -> Batch:
            return await self._read_journal(roster, scope)

        async for page in platform.run_streams(
            cursors,
            platform.one_page(platform.ROSTER, roster.batch, _ROSTER_ENTITIES),
            platform.Scopes(platform.JOURNAL, JOURNAL_ENTITIES, scopes, key=_key, read=read),
            sample=self.sampled,
        ):
            yield page
        async for page in self._finals_pages(roster, cursors.get(platform.FINALS)):
            yield page

    async def _finals_pages(
        self, roster: _Roster, cursor: Mapping[str, Any] | None
    ) -> AsyncIterator[Page]:
        """One page per pupil a family account shows (none without family accounts).

        A report that fails raises: the pass stays incomplete, so nothing of the pupils not yet
        read is replaced (a pupil's finals are replaced only by that pupil's own report)."""
        if not self.finals.configured:
            return
        pupils = await self.finals.pupils()
        if not pupils:
            return  # said by the reader's warning; an empty pass would claim "no finals"

        async def read(pupil: Pupil) -> Batch:
            return await self.finals.read(
                pupil, self.mapper, roster.periods, roster.subject_ids, roster.students
            )

        finals = platform.Scopes(
            platform.FINALS, FINAL_ENTITIES, pupils, key=lambda p: p.scope, read=read
        )
        async for page in platform.run_pass(finals, cursor):
            yield page

    async def _read_roster(self) -> _Roster:
        assert self.client.school is not None  # set by login
        m = self.mapper
        batch = Batch()
        year = await self.client.current_year()
        year_rec = m.year(year)
        batch.records += [m.school_record(self.client.school), year_rec]
        roster = _Roster(batch=batch, year=year)
        today = self.today()

        periods: dict[int, Record | None] = {}
        subjects: dict[str, Record] = {}
        people: dict[int, tuple[str, set[Role]]] = {}

        def person(user_id: int, full_name: str, role: Role) -> None:
            _, roles = people.setdefault(user_id, (full_name, set()))
            roles.add(role)

        for cls in await self.client.teacher_classes():
            if isinstance(cls, s.Bad):
                batch.bad(cls, "class_unit", f"class:{cls.item_id()}")
                continue
            try:
                unit = m.class_unit(year_rec.id, cls)
            except Skippable as exc:
                batch.skip(exc, "class_unit", f"class:{cls.id}", cls.model_dump(mode="json"))
                continue
            batch.records.append(unit)
            terms = self._terms(
                await self.client.terms(year.startDate, year.endDate, [cls.id]),
                batch,
                periods,
                year_rec.id,
            )
            # Student lists of the terms that have started (before the year: the first term's).
            # A later term's list is its planned composition; reading it cost a request per
            # group and term: 300 of 1,044 requests for a 1,000-student school in October.
            listed = [t for t in terms if t.startDate <= today] or terms[:1]
            whole_class_seen = False
            for sg in await self.client.subject_groups(cls.id):
                if isinstance(sg, s.Bad):
                    batch.bad(sg, "group", f"sg:{sg.item_id()}")
                    continue
                subject = m.subject(sg.subjectName, sg.subjectId)
                subjects.setdefault(subject.id, subject)
                teachers: list[int] = []
                for t in sg.teachers:
                    if isinstance(t, s.Bad):
                        batch.bad(t, "person", f"sg:{sg.id}/teacher:{t.item_id()}")
                        continue
                    teachers.append(t.id)
                    person(t.id, t.name, Role.TEACHER)
                members: list[int] = []
                # Students come from one whole-class group per class (they are the same in every
                # whole-class group) and from every subgroup (for its members).
                if sg.subgroup or not whole_class_seen:
                    whole_class_seen = whole_class_seen or not sg.subgroup
                    for term in listed:
                        for st in await self.client.student_list(sg.id, term.id):
                            if isinstance(st, s.Bad):
                                batch.bad(st, "person", f"sg:{sg.id}/student:{st.item_id()}")
                                continue
                            person(st.id, st.fullName, Role.STUDENT)
                            if st.id not in members:
                                members.append(st.id)
                group = m.group(
                    class_id=unit.id,
                    subject_id=subject.id,
                    sg_id=sg.id,
                    subgroup=sg.subgroup,
                    teacher_user_ids=teachers,
                    # by user id: a student list in another order is the same group
                    member_user_ids=sorted(members) if sg.subgroup else (),
                )
                batch.records.append(group)
                roster.group_ids[sg.id] = group.id
                roster.scopes += [
                    _Scope(f"{platform.JOURNAL}:{sg.id}:{t.id}", sg.id, cls.id, t) for t in terms
                ]
        batch.records += [p for p in periods.values() if p is not None]
        batch.records += subjects.values()
        roster.periods = {str(getattr(p, "name", "")): p.id for p in periods.values() if p}
        roster.subject_ids = set(subjects)
        roster.students = {u for u, (_, roles) in people.items() if Role.STUDENT in roles}
        # The pulling account (завуч) is staff but teaches no group, so no list shows it.
        me = await self.client.my_settings()
        person(me.userId, f"{me.lastName} {me.firstName} {me.middleName or ''}", Role.TEACHER)
        for user_id, (full_name, roles) in people.items():
            try:
                batch.records.append(m.person(user_id, full_name, roles))
            except Skippable as exc:
                batch.skip(exc, "person", f"user:{user_id}")
        return roster

    def _terms(
        self,
        terms: Sequence[s.Term | s.Bad],
        batch: Batch,
        periods: dict[int, Record | None],
        year_id: str,
    ) -> list[s.Term]:
        """The class's usable terms; each term is mapped (or quarantined) once, though every
        class lists it again."""
        usable: list[s.Term] = []
        for term in terms:
            if isinstance(term, s.Bad):
                record = f"term:{term.item_id()}"
                if all(q.record != record for q in batch.quarantine):
                    batch.bad(term, "period", record)
                continue
            if term.id not in periods:
                try:
                    periods[term.id] = self.mapper.period(year_id, term)
                except Skippable as exc:
                    periods[term.id] = None
                    batch.skip(exc, "period", f"term:{term.id}", term.model_dump(mode="json"))
            if periods[term.id] is not None:
                usable.append(term)
        return sorted(usable, key=lambda t: (t.startDate, t.id))

    async def _read_journal(self, roster: _Roster, scope: _Scope) -> Batch:
        batch = Batch()
        response = await self.client.journal(
            year_id=roster.year.id,
            class_id=scope.class_id,
            sg_id=scope.sg_id,
            term_id=scope.term.id,
        )
        ctx = LessonContext(
            group_id=roster.group_ids[scope.sg_id],
            sg_id=scope.sg_id,
            term_id=scope.term.id,
            class_id=scope.class_id,
            year_id=roster.year.id,
        )
        for journal in response.journals:
            if journal.subjectGroupId == scope.sg_id:
                self.mapper.journal_page(journal.classMeeting, ctx, batch)
        return batch

    # --- push ------------------------------------------------------------------------------------

    async def push(self, changes: Sequence[Change]) -> list[PushOutcome]:
        await self._ensure_login()
        return await self._pusher.push(changes)

    async def read_back(self, changes: Sequence[Change]) -> dict[str, Record | None]:
        await self._ensure_login()
        return await self._pusher.read_back(changes)


def _key(scope: _Scope) -> str:
    return scope.key
