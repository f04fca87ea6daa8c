"""``AversConnector``: a school pull over every configured student account, merged.

АВЕРС shows one student's data per account (note §4), so a school pull logs in as each account
of ``target.all_accounts`` in turn. Two streams:

* ``roster`` (one page): school, year, terms, people, classes, subjects, groups, enrollments —
  read from every account (class, subgroups) plus the school-wide dictionaries.
* ``journal`` (one page per class × term, scope ``journal:<cls>:<period id>``): lessons,
  homework, marks, attendance and term marks of the class. A class's terms cut the whole year
  into date ranges (a gap between terms goes to the following term, the tail after the last
  term to the last one), so every lesson lands in exactly one page and each page carries its
  entities fully. An incremental pull re-reads the pages whose dates touch the days around
  today (``options["today"]`` or the school's local date).

Cursors are ``{"pass", "done", "complete"}`` as in the NetSchool connector: a complete (or
absent) cursor starts a new pass, an incomplete one resumes it, skipping the scopes in ``done``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from core import platform
from core.codes import Role
from core.connector import (
    Capabilities,
    Connector,
    Credentials,
    Page,
    PullMode,
    SchoolTarget,
    hand_entry_channels,
)
from core.errors import ConfigError, MalformedRecord, Skippable
from core.model import ClassUnit, Record, Subject

from . import schema as s
from ._journal import ClassContext, StudentRows, Timetable, journal_page
from .client import USER_TYPES, AversClient
from .mapping import PLATFORM, YEAR_PERIOD, Batch, Mapper

__all__ = ["AversConnector"]

ROSTER = "roster"
JOURNAL = "journal"
#: Days around today an incremental pull re-reads (its pages are whole terms touching them).
INCREMENTAL_BEFORE = timedelta(days=14)
INCREMENTAL_AFTER = timedelta(days=7)
STUDENT = 4

_ROSTER_ENTITIES = frozenset(
    {"school", "academic_year", "period", "person", "class_unit", "subject", "group", "enrollment"}
)
_JOURNAL_ENTITIES = frozenset({"lesson", "homework", "mark", "attendance", "final_mark"})
#: Dictionary periods that are not terms (the year, control works, finals, attestations).
_NOT_TERMS = frozenset({YEAR_PERIOD, *range(360005, 360011), *range(360018, 360030)})

_MODELLED = (
    "modelled: no write API is known for АВЕРС (public clients, even the 2014 teacher tool, "
    "only read); entries are made by hand from the worklist or imported by the operator"
)


def _ddmmyyyy(d: date) -> str:
    return d.strftime("%d.%m.%Y")


@dataclass(frozen=True, slots=True)
class _Segment:
    key: str
    platform_period: int
    period_id: str
    start: date
    end: date


@dataclass(slots=True)
class _Class:
    row: s.StudentClass
    unit: ClassUnit
    accounts: list[tuple[Credentials, int]] = field(default_factory=list)  # (account, pupil)
    groups: dict[int, list[s.StudentGroup]] = field(default_factory=dict)  # pupil → rows
    ctx: ClassContext | None = None
    segments: list[_Segment] = field(default_factory=list)


@dataclass(slots=True)
class _Roster:
    batch: Batch
    uch_year: int
    year_start: date
    year_end: date
    classes: dict[int, _Class] = field(default_factory=dict)


class AversConnector(Connector):
    """АВЕРС «Электронный классный журнал» over ``/login``, ``/auth`` and ``/act/*`` (WIRE.md).

    ``target.base_url`` is the school's own server (plain HTTP and a path prefix are fine);
    ``target.all_accounts`` are student accounts, one per student to be seen.
    """

    platform = PLATFORM
    capabilities = Capabilities(
        platform=PLATFORM,
        reads=_ROSTER_ENTITIES | _JOURNAL_ENTITIES,
        fields_not_carried={
            "school": frozenset({"region", "inn", "ogrn"}),
            # Names come as «Фамилия И.О.»: first and middle names are initials only.
            "person": frozenset({"first_name", "middle_name", "birth_date"}),
            # GET_PERIODS names terms «I четверть»; the canonical name is the school's own.
            "period": frozenset({"name"}),
            # No group → teacher relation: the teacher is per lesson.
            "group": frozenset({"teacher_ids"}),
            "enrollment": frozenset({"end", "movement"}),
            "lesson": frozenset({"kind", "substitute_teacher_id", "start_time", "end_time"}),
            "homework": frozenset({"due_date", "attachments", "student_ids"}),
            "attendance": frozenset({"minutes_late", "note"}),
        },
        push=hand_entry_channels(
            worklist={"mark", "attendance", "lesson", "homework"},
            package={"person", "class_unit", "group", "enrollment", "mark"},
            worklist_evidence=_MODELLED,
            package_evidence=_MODELLED
            + "; the vendor's desktop-to-web upload format is not public",
        ),
        notes=(
            "One student's data per account: a school pull needs every student's account. "
            "Guardians are not visible. Only the codes seen in captures are mapped: marks 1–5, "
            "«ЗАЧТ»/«Н/З», attendance «Н», «Б», «ОСВ»; «У», «ОП», «точка», «Н/А» in the journal "
            "have no known code. Enrollment begins on the first day of the year (the platform "
            "has no movement data). Lesson numbers come from the timetable (WIRE.md)."
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
        self.client = AversClient(
            target.base_url,
            transport=transport,
            settings=platform.http_settings(target.options),
        )
        self.mapper = Mapper(target.school)

    async def login(self) -> None:
        await self._use(self.target.credentials)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def _use(self, account: Credentials) -> s.LoginRow:
        if self.client.account is account and self.client.session is not None:
            return self.client.session
        return await self.client.login(account)

    def today(self) -> date:
        """``options["today"]`` (tests, replays) or the school's local date (Europe/Kirov)."""
        return platform.today(self.target.options, self.target.timezone)

    # --- pull ------------------------------------------------------------------------------------

    async def pull(
        self, cursors: Mapping[str, Mapping[str, Any]], mode: PullMode = PullMode.FULL
    ) -> AsyncIterator[Page]:
        self.mapper.fetched_at = datetime.now(UTC)
        roster = await self._read_roster()
        page = platform.single_page(
            ROSTER, cursors.get(ROSTER), roster.batch, complete_for=_ROSTER_ENTITIES
        )
        if page is not None:
            yield page
        journal_pass, done, _ = platform.start_pass(cursors.get(JOURNAL))
        todo: list[tuple[_Class, _Segment]] = [
            (c, sg) for c in roster.classes.values() for sg in c.segments if sg.key not in done
        ]
        if mode is PullMode.INCREMENTAL:
            today = self.today()
            low, high = today - INCREMENTAL_BEFORE, today + INCREMENTAL_AFTER
            todo = [(c, sg) for c, sg in todo if sg.start <= high and sg.end >= low]
        if not todo:
            yield platform.closing_page(JOURNAL, journal_pass, done)
        n = 0
        for cls in roster.classes.values():
            segments = [sg for c, sg in todo if c is cls]
            if not segments:
                continue
            async for key, batch in self._read_class(roster, cls, segments):
                n += 1
                done = [*done, key]
                yield Page(
                    stream=JOURNAL,
                    scope=key,
                    records=batch.records,
                    quarantine=batch.quarantine,
                    cursor=platform.pass_cursor(journal_pass, done, complete=n == len(todo)),
                    complete_for=_JOURNAL_ENTITIES,
                )

    # --- roster ----------------------------------------------------------------------------------

    async def _read_roster(self) -> _Roster:
        m, c = self.mapper, self.client
        today = self.today()
        await self._use(self.target.credentials)
        user = await c.user_data()
        uch_year = _uch_year(await c.act("get_uch_year", {"currentDate": _ddmmyyyy(today)}), today)
        names = {
            p.id: p.name
            for p in s.parse_rows(s.PeriodName, await c.act("GET_PERIODS"), "GET_PERIODS")
            if isinstance(p, s.PeriodName)
        }
        info = await c.act(
            "GET_JOURNAL_PERIODS_INFO",
            {"uchYear": str(uch_year), "ids": ",".join(str(i) for i in sorted(names))},
        )
        dates = {
            p.id: p
            for p in s.parse_rows(s.PeriodDates, info, "GET_JOURNAL_PERIODS_INFO")
            if isinstance(p, s.PeriodDates)
        }
        year_row = dates.get(YEAR_PERIOD)
        start = year_row.start if year_row else date(uch_year, 9, 1)
        end = year_row.end if year_row else date(uch_year + 1, 5, 31)
        batch = Batch()
        year = m.year(uch_year, start, end)
        batch.records += [m.school_record(user.school_name, user.uch_id), year]
        roster = _Roster(batch=batch, uch_year=uch_year, year_start=start, year_end=end)
        timetable = Timetable(
            [
                r
                for r in s.parse_rows(s.TimetableRow, await c.act("GET_TIMETABLE"), "GET_TIMETABLE")
                if isinstance(r, s.TimetableRow)
            ]
        )
        people: dict[int, tuple[str, set[Role]]] = {}
        for t in s.parse_rows(
            s.TeacherRow, await c.act("GET_SUBS_PERSONS_STORE_DATA"), "GET_SUBS_PERSONS_STORE_DATA"
        ):
            if isinstance(t, s.Bad):
                batch.bad(t, "person")
            else:
                people.setdefault(t.id, (t.name, set()))[1].add(Role.TEACHER)

        subjects: dict[int, Subject] = {}
        class_periods: dict[int, list[int]] = {}
        for k, account in enumerate(self.target.all_accounts):
            row = await self._use(account)
            if row.user_type != STUDENT:
                kind = USER_TYPES.get(row.user_type, str(row.user_type))
                raise ConfigError(
                    f"avers: account #{k + 1} is a {kind} account; a school pull reads student "
                    "accounts (user type 4), one per student"
                )
            pupil = row.id8 if row.id8 is not None else row.id6
            if pupil is None:
                raise ConfigError(f"avers: account #{k + 1}: the login row names no pupil id")
            if row.name:
                people.setdefault(pupil, (row.name, set()))[1].add(Role.STUDENT)
            klass = s.single_row(
                s.StudentClass,
                await c.act(
                    "GET_STUDENT_CLASS",
                    {
                        "currentDate": _ddmmyyyy(today),
                        "student": str(pupil),
                        "uchYear": str(uch_year),
                        "uchId": str(user.uch_id),
                    },
                ),
                "GET_STUDENT_CLASS",
            )
            cls = roster.classes.get(klass.cls)
            if cls is None:
                try:
                    unit = m.class_unit(year.id, klass)
                except Skippable as exc:
                    batch.skip(exc, "class_unit", f"cls:{klass.cls}")
                    continue
                cls = roster.classes[klass.cls] = _Class(row=klass, unit=unit)
                batch.records.append(unit)
                await self._class_dictionaries(klass.cls, cls, subjects, class_periods, batch)
            cls.accounts.append((account, pupil))
            groups = await c.act(
                "GET_STUDENT_GROUPS", {"cls": str(klass.cls), "student": str(pupil)}
            )
            cls.groups[pupil] = []
            for g in s.parse_rows(s.StudentGroup, groups, "GET_STUDENT_GROUPS"):
                if isinstance(g, s.Bad):
                    batch.bad(g, "group")
                else:
                    cls.groups[pupil].append(g)
            batch.records.append(m.enrollment(pupil, cls.unit.id, start))

        periods = self._periods(year.id, names, dates, class_periods, batch)
        batch.records += [p for p, _ in periods.values()]
        batch.records += subjects.values()
        for cls in roster.classes.values():
            self._groups(cls, subjects, timetable, batch)
            cls.segments = _segments(cls.row.cls, class_periods[cls.row.cls], periods, start, end)
        for ext_id, (name, roles) in people.items():
            try:
                batch.records.append(m.person(ext_id, name, roles))
            except Skippable as exc:
                batch.skip(exc, "person", f"person:{ext_id}")
        return roster

    async def _class_dictionaries(
        self,
        cls_id: int,
        cls: _Class,
        subjects: dict[int, Subject],
        class_periods: dict[int, list[int]],
        batch: Batch,
    ) -> None:
        own: dict[int, Subject] = {}
        answer = await self.client.act(
            "GET_DAIRY_CLASS_SUBJECTS", {"cls": str(cls_id), "pClassesIds": ""}
        )
        for row in s.parse_rows(s.SubjectRow, answer, "GET_DAIRY_CLASS_SUBJECTS"):
            if isinstance(row, s.Bad):
                batch.bad(row, "subject")
                continue
            try:
                own[row.id] = subjects.setdefault(row.id, self.mapper.subject(row.name, row.id))
            except Skippable as exc:
                batch.skip(exc, "subject", f"subject:{row.id}")
        cls.ctx = ClassContext(
            cls=cls_id,
            class_id=cls.unit.id,
            split_subjects=frozenset(),
            groups={},
            subjects={k: v.id for k, v in own.items()},
            timetable=Timetable([]),
        )
        per_sp = await self.client.act("GET_CLASS_PER_SP", {"cls": str(cls_id)})
        class_periods[cls_id] = [
            r[0] for r in per_sp if isinstance(r, list) and r and isinstance(r[0], int)
        ]

    def _periods(
        self,
        year_id: str,
        names: Mapping[int, str],
        dates: Mapping[int, s.PeriodDates],
        class_periods: Mapping[int, Sequence[int]],
        batch: Batch,
    ) -> dict[int, tuple[Record, s.PeriodDates]]:
        out: dict[int, tuple[Record, s.PeriodDates]] = {}
        for pid in sorted({p for ps in class_periods.values() for p in ps} - _NOT_TERMS):
            info = dates.get(pid)
            try:
                if info is None:
                    raise MalformedRecord("the term has no dates", field="start")
                out[pid] = (
                    self.mapper.period(year_id, pid, names.get(pid, ""), info.start, info.end),
                    info,
                )
            except Skippable as exc:
                batch.skip(exc, "period", f"period:{pid}")
        return out

    def _groups(
        self, cls: _Class, subjects: Mapping[int, Subject], timetable: Timetable, batch: Batch
    ) -> None:
        assert cls.ctx is not None
        members: dict[tuple[int, int], list[int]] = {}
        for pupil, rows in cls.groups.items():
            for g in rows:
                members.setdefault((g.subject_id, g.group_no), []).append(pupil)
        split = frozenset(subj for subj, _ in members)
        groups: dict[tuple[int, int], str] = {}
        for subj_id in cls.ctx.subjects:
            subgroups = (
                sorted(no for sj, no in members if sj == subj_id) if subj_id in split else [0]
            )
            for no in subgroups:
                rec = self.mapper.group(
                    cls.unit.id,
                    subjects[subj_id].id,
                    no,
                    members.get((subj_id, no), []),
                    cls=cls.row.cls,
                    platform_subject=subj_id,
                )
                groups[(subj_id, no)] = rec.id
                batch.records.append(rec)
        cls.ctx = ClassContext(
            cls=cls.row.cls,
            class_id=cls.unit.id,
            split_subjects=split,
            groups=groups,
            subjects=cls.ctx.subjects,
            timetable=timetable,
        )

    # --- journal ---------------------------------------------------------------------------------

    async def _read_class(
        self, roster: _Roster, cls: _Class, segments: Sequence[_Segment]
    ) -> AsyncIterator[tuple[str, Batch]]:
        """Every student's rows of the class for the pending terms, then one batch per term."""
        assert cls.ctx is not None
        c = self.client
        low, high = min(sg.start for sg in segments), max(sg.end for sg in segments)
        per_segment: dict[str, list[StudentRows]] = {sg.key: [] for sg in segments}
        first = segments[0].key
        for account, pupil in cls.accounts:
            await self._use(account)
            base = {"cls": str(cls.row.cls), "student": str(pupil)}
            diary = s.parse_rows(
                s.DiaryRow,
                await c.act(
                    "GET_STUDENT_DAIRY",
                    {**base, "pClassesIds": "", "uchYear": str(roster.uch_year),
                     "begin_dt": _ddmmyyyy(low), "end_dt": _ddmmyyyy(high)},
                ),
                "GET_STUDENT_DAIRY",
            )  # fmt: skip
            lessons = s.parse_rows(
                s.LessonRow,
                await c.act(
                    "GET_STUDENT_LESSONS",
                    {**base, "parallelClasses": "", "uchYear": str(roster.uch_year),
                     "period_begin": _ddmmyyyy(low), "period_end": _ddmmyyyy(high)},
                ),
                "GET_STUDENT_LESSONS",
            )  # fmt: skip
            journal = s.parse_rows(
                s.JournalRow,
                await c.act("GET_STUDENT_JOURNAL_DATA", {**base, "parallelClasses": ""}),
                "GET_STUDENT_JOURNAL_DATA",
            )
            finals = s.parse_rows(
                s.DirectorRow,
                await c.act("GET_STUDENT_DIRECTOR_DATA", {**base, "parallelClasses": ""}),
                "GET_STUDENT_DIRECTOR_DATA",
            )
            rows = {sg.key: StudentRows(pupil) for sg in segments}
            column_day = {d.column_id: d.day for d in diary if isinstance(d, s.DiaryRow)}

            def segment_of(day: date | None) -> str | None:
                if day is None:
                    return first  # an unreadable row is quarantined once, on the first page
                return next((sg.key for sg in segments if sg.start <= day <= sg.end), None)

            for d in diary:
                key = segment_of(d.day if isinstance(d, s.DiaryRow) else None)
                if key is not None:
                    rows[key].diary.append(d)
            for j in journal:
                day = column_day.get(j.column_id, j.day) if isinstance(j, s.JournalRow) else None
                key = segment_of(day)
                if key is not None:
                    rows[key].journal.append(j)
            for sg in segments:
                rows[sg.key].lessons = (
                    lessons
                    if sg.key == first
                    else [lr for lr in lessons if isinstance(lr, s.LessonRow)]
                )
                rows[sg.key].finals = (
                    finals
                    if sg.key == first
                    else [f for f in finals if isinstance(f, s.DirectorRow)]
                )
                per_segment[sg.key].append(rows[sg.key])
        for sg in segments:
            batch = journal_page(
                self.mapper,
                cls.ctx,
                per_segment[sg.key],
                period_id=sg.period_id,
                platform_period=sg.platform_period,
            )
            yield sg.key, batch


def _uch_year(answer: Sequence[Any], today: date) -> int:
    """``[[2025]]`` → 2025; ``[[]]`` (seen on some servers) → computed from the date."""
    if answer and isinstance(answer[0], list) and answer[0] and isinstance(answer[0][0], int):
        return int(answer[0][0])
    return today.year if today.month >= 9 else today.year - 1


def _segments(
    cls: int,
    period_ids: Sequence[int],
    periods: Mapping[int, tuple[Record, s.PeriodDates]],
    year_start: date,
    year_end: date,
) -> list[_Segment]:
    """The class's terms as date ranges covering the whole year (module doc)."""
    terms = sorted((periods[p] for p in set(period_ids) if p in periods), key=lambda t: t[1].start)
    out: list[_Segment] = []
    begin = year_start
    for k, (rec, info) in enumerate(terms):
        end = year_end if k == len(terms) - 1 else max(info.end, begin)
        out.append(_Segment(f"{JOURNAL}:{cls}:{info.id}", info.id, rec.id, begin, end))
        begin = end + timedelta(days=1)
    return out
