"""``AversConnector``: a school pull over every configured student account, merged.

АВЕРС shows one student's data per account (note §4), so a school pull logs in as each account
of ``target.all_accounts`` in turn. Two streams:

* ``roster`` (one page): school, year, terms, people, classes, subjects, groups, enrollments —
  read from every account (class, subgroups) plus the school-wide dictionaries.
* ``journal`` (one page per class × term, scope ``journal:<cls>:<period id>``): lessons,
  homework, marks, attendance and term marks of the class. A class's terms cut the whole year
  into date ranges (a gap between terms goes to the following term, the tail after the last
  term to the last one), so every lesson lands in exactly one page and each page carries its
  entities fully; period marks of other periods (half-years, the year, attestations) go on the
  page holding the period's end. An incremental pull re-reads the pages whose dates touch the
  days around today (the constructor's ``today`` or the school's local date).

The pull rests on the actions the captured web client calls (WIRE.md "Actions"); the others are
optional enrichments (:meth:`AversConnector._optional`): without them term dates are estimated
from the journal's dates, subgroups read from the period marks, and marks are «other».

Cursors are ``{"pass", "done", "complete"}`` as in the NetSchool connector: a complete (or
absent) cursor starts a new pass, an incomplete one resumes it, skipping the scopes in ``done``.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from connectors.avers.migration import MIGRATION
from core import platform
from core.codes import Role
from core.connector import (
    Capabilities,
    Connector,
    Credentials,
    EntryTime,
    EntryTimeKind,
    Page,
    PullMode,
    PupilSeen,
    SchoolTarget,
    first_seen_everywhere,
    hand_entry_channels,
)
from core.errors import (
    ConfigError,
    ContractError,
    MalformedRecord,
    NotFound,
    ServerError,
    Skippable,
)
from core.http import HttpSettings
from core.logging import get_logger
from core.model import Record, Subject
from core.platform import FINAL_ENTITIES, JOURNAL_ENTITIES, ROSTER_ENTITIES

from . import schema as s
from ._classes import ClassState, Roster, class_groups, groups_from_finals, parallel_ids
from ._journal import StudentRows, Timetable, journal_page
from ._terms import (
    Segment,
    clamped,
    estimate,
    final_pages,
    paging,
    segments_of,
    start_year,
    terms,
)
from .client import SHARED_ROWS, USER_TYPES, Ask, AversClient
from .jsarray import JsValue, Recent
from .mapping import PERIODS, PLATFORM, YEAR_PERIOD, Batch, Mapper

__all__ = ["AversConnector"]

_log = get_logger(__name__)

#: Days around today an incremental pull re-reads (its pages are whole terms touching them).
INCREMENTAL_BEFORE = timedelta(days=14)
INCREMENTAL_AFTER = timedelta(days=7)
STUDENT = 4

#: Period marks ride on the journal page holding the period's end.
_JOURNAL_ENTITIES = JOURNAL_ENTITIES | FINAL_ENTITIES

_MODELLED = (
    "modelled: no write API is known for АВЕРС (public clients, even the 2014 teacher tool, "
    "only read); entries are made by hand from the worklist or imported by the operator"
)


@functools.lru_cache(maxsize=1024)  # a pull asks a few dates, each thousands of times
def _ddmmyyyy(d: date) -> str:
    return d.strftime("%d.%m.%Y")


class AversConnector(Connector):
    """АВЕРС «Электронный классный журнал» over ``/login``, ``/auth`` and ``/act/*`` (WIRE.md).

    ``target.base_url`` is the school's own server (plain HTTP and a path prefix are fine);
    ``target.all_accounts`` are student accounts, one per student to be seen.
    """

    platform = PLATFORM
    capabilities = Capabilities(
        platform=PLATFORM,
        reads=ROSTER_ENTITIES | _JOURNAL_ENTITIES,
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
            "«ЗАЧТ»/«Н/З»/«ОСВ», attendance «Н», «Б», «У»; «ОП», «точка», «Н/А» in the journal "
            "have no known code. Enrollment begins on the first day of the year (the platform "
            "has no movement data). Lesson numbers come from the timetable (WIRE.md). The pull "
            "needs only the actions the captured web client calls; term dates, class terms, "
            "subgroups, teachers' names and types of work come from uncaptured actions when a "
            "server answers them, else they are estimated or left out (a warning says which)."
        ),
        partial_view=(
            "данные читаются через учётные записи семей: видны только обучающиеся, чьи "
            "учётные записи подключены; записи подгрупп, которые семья больше не видит "
            "(после перевода), сохранены из прошлых загрузок и далее не обновляются"
        ),
        entry_time=first_seen_everywhere(
            ("lesson", "homework", "mark", "attendance", "final_mark"),
            **{
                e: EntryTime(
                    EntryTimeKind.FIRST_SEEN,
                    "the school's desktop database is uploaded to the web diary several times "
                    "a day (avers.md §1): a pull sees a value hours after it was entered",
                    "журнал АВЕРС выгружается в веб-дневник несколько раз в день: запись видна "
                    "синхронизации через несколько часов после ввода",
                )
                for e in ("lesson", "homework", "mark")
            },
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
        self.client = AversClient(
            target.base_url,
            transport=transport,
            settings=self.http_settings(),
        )
        self.mapper = Mapper(target.school)
        self._warned: set[str] = set()  # optional actions already reported as unavailable
        self._finals: dict[int, list[s.DirectorRow | s.Bad]] = {}  # pupil → period marks
        self._journal: dict[int, list[s.JournalRow | s.Bad]] = {}  # pupil → rows read early
        #: pupil → rows read in the roster to vouch for an [] (AversClient.confirmed), kept for
        #: the journal page; unlike ``_journal`` never used to estimate term dates.
        self._kept: dict[int, list[s.JournalRow | s.Bad]] = {}
        #: The diary's and the lessons' rows read so far (their arrays are shared between the
        #: pupils' answers, AversClient's ``SHARED_ROWS``): each read once.
        self._memos: dict[str, s.RowMemo] = {action: Recent(4096) for action in SHARED_ROWS}

    async def login(self) -> None:
        await self._use(self.target.credentials)

    def _note_pupils(self, roster: Roster) -> None:
        """Each account's outcome and the pupil it showed (the school's coverage)."""
        persons = {r.id: r for r in roster.batch.records if r.ENTITY == "person"}
        seen: dict[str, list[PupilSeen]] = {}
        for cls in roster.classes.values():
            for account, pupil in cls.accounts:
                pid = self.mapper.person_id(pupil)
                p = persons.get(pid)
                name = " ".join(
                    x
                    for x in (
                        getattr(p, "last_name", ""),
                        getattr(p, "first_name", ""),
                        getattr(p, "middle_name", ""),
                    )
                    if x
                )
                seen.setdefault(account.login, []).append(PupilSeen(pid, name, cls.unit.name))
        for account in self.target.all_accounts:
            self.note_account(account.login, "ok", seen.get(account.login, []))

    async def aclose(self) -> None:
        # Closing never fails a run that got this far, and never hides the error that ended it.
        try:
            await self.client.aclose()
        except Exception as exc:  # closing must not mask the run's outcome
            _log.warning("avers: closing the session failed", error=type(exc).__name__)

    async def _use(self, account: Credentials) -> s.LoginRow:
        """Make ``account`` current, logging it in unless it did on this server already (the
        server keeps no session: its cookies go with every call, note §2)."""
        if self.client.logged_in(account) is not None:
            return self.client.use(account)
        return await self.client.login(account)

    async def _logged_in(self, account: Credentials) -> s.LoginRow:
        """``account``'s login row, logging it in once; the current account stays."""
        return self.client.logged_in(account) or await self.client.login_quietly(account)

    # --- pull ------------------------------------------------------------------------------------

    async def pull(
        self, cursors: Mapping[str, Mapping[str, Any]], mode: PullMode = PullMode.FULL
    ) -> AsyncIterator[Page]:
        self.mapper.fetched_at = datetime.now(UTC)
        roster = await self._read_roster()
        self._note_pupils(roster)
        # Family accounts: what they no longer see (a pupil's old subgroup) is kept, not deleted.
        visible = platform.visible_members(roster.batch.records)
        scopes = [(c, sg) for c in roster.classes.values() for sg in c.segments]
        if mode is PullMode.INCREMENTAL:
            today = self.today()
            low, high = today - INCREMENTAL_BEFORE, today + INCREMENTAL_AFTER
            scopes = [(c, sg) for c, sg in scopes if sg.start <= high and sg.end >= low]

        async def read_class(todo: Sequence[tuple[ClassState, Segment]]) -> list[Batch]:
            segments = [sg for _, sg in todo]
            return [batch async for _, batch in self._read_class(roster, todo[0][0], segments)]

        async for page in platform.run_streams(
            cursors,
            platform.one_page(platform.ROSTER, roster.batch, ROSTER_ENTITIES, visible),
            platform.Scopes(
                platform.JOURNAL,
                _JOURNAL_ENTITIES,
                scopes,
                key=lambda cs: cs[1].key,
                read_unit=read_class,
                unit=lambda cs: cs[0].row.cls,
                visible=visible,
                # the next class is read while one is mapped (a class's reads share nothing)
                read_ahead=2,
            ),
            sample=self.sampled,
        ):
            yield page

    # --- optional enrichments --------------------------------------------------------------------

    async def _optional(
        self,
        action: str,
        params: Mapping[str, str] | None,
        missing: str,
        account: Credentials | None = None,
        ask: Ask | None = None,
    ) -> list[JsValue]:
        """An action the captured web client never calls: ``[]``, a 404 or an error answer is
        logged once per pull (naming the action and what is not enriched) and read as ``[]``."""
        answer, reason = await self._try(action, params, account, ask)
        if not answer:
            self._unavailable(action, reason, missing)
        return answer

    async def _try(
        self,
        action: str,
        params: Mapping[str, str] | None,
        account: Credentials | None = None,
        ask: Ask | None = None,
    ) -> tuple[list[JsValue], str]:
        """An optional action's answer (``[]`` for a 404 or an error) and why it may be empty."""
        try:
            if ask is not None:
                return await ask(action, params), "empty answer"
            return await self.client.act(action, params, account=account), "empty answer"
        except (NotFound, ContractError, ServerError) as exc:
            return [], type(exc).__name__

    def _unavailable(self, action: str, reason: str, missing: str) -> None:
        if action not in self._warned:
            self._warned.add(action)
            _log.warning(
                "avers enrichment unavailable; going on without it",
                action=action,
                reason=reason,
                not_enriched=missing,
            )

    # --- roster ----------------------------------------------------------------------------------

    async def _read_roster(self) -> Roster:
        m, c = self.mapper, self.client
        today = self.today()
        self._warned, self._finals, self._journal, self._kept = set(), {}, {}, {}
        await self._use(self.target.credentials)
        user = await c.user_data()
        uch_year = start_year(await c.act("get_uch_year", {"currentDate": _ddmmyyyy(today)}), today)
        names = {
            p.id: p.name
            for p in s.parse_rows(s.PeriodName, await c.act("GET_PERIODS"), "GET_PERIODS")
            if isinstance(p, s.PeriodName)
        }
        info = await self._optional(
            "GET_JOURNAL_PERIODS_INFO",
            {"uchYear": str(uch_year), "ids": ",".join(str(i) for i in sorted(names))},
            "term dates: estimated from the dates of the journal rows",
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
        roster = Roster(batch=batch, uch_year=uch_year, year_start=start, year_end=end)
        timetable = Timetable(
            [
                r
                for r in s.parse_rows(s.TimetableRow, await c.act("GET_TIMETABLE"), "GET_TIMETABLE")
                if isinstance(r, s.TimetableRow)
            ]
        )
        people: dict[int, tuple[str, set[Role]]] = {}
        staff = await self._optional(
            "GET_SUBS_PERSONS_STORE_DATA",
            None,
            "teachers: lessons keep the teacher's platform id in provenance only",
        )
        for t in s.parse_rows(s.TeacherRow, staff, "GET_SUBS_PERSONS_STORE_DATA"):
            if isinstance(t, s.Bad):
                batch.bad(t, "person")
            else:
                people.setdefault(t.id, (t.name, set()))[1].add(Role.TEACHER)
        teachers = None if staff else frozenset[int]()

        subjects: dict[int, Subject] = {}
        accounts = list(self.target.all_accounts)
        limit = self.http_settings().max_concurrency

        async def whose(account: Credentials) -> tuple[s.LoginRow, s.StudentClass | None, str]:
            """The account's login row and, for a pupil's account, its class and parallel."""
            row = await self._logged_in(account)
            pupil = row.id8 if row.id8 is not None else row.id6
            if row.user_type != STUDENT or pupil is None:
                return row, None, ""
            ids = {"student": str(pupil), "uchYear": str(uch_year), "uchId": str(user.uch_id)}

            async def read(ask: Ask) -> tuple[s.StudentClass, str]:
                # The parallel first: its [] (captured for students) is vouched for by the
                # class row that follows, without a probe (AversClient.confirmed).
                parallel = await ask("GET_STUDENT_PARALLEL", ids)
                klass = s.single_row(
                    s.StudentClass,
                    await ask("GET_STUDENT_CLASS", {"currentDate": _ddmmyyyy(today), **ids}),
                    "GET_STUDENT_CLASS",
                )
                return klass, parallel_ids(parallel)

            klass, parallel = await c.confirmed(account, read)
            return row, klass, parallel

        # Every account at once within the per-host limit; what they show is merged in order.
        rows = await platform.each_account(accounts, whose, limit=limit)
        pupils: list[tuple[Credentials, int, ClassState]] = []
        new: list[tuple[ClassState, Credentials]] = []
        for k, (account, (row, klass, parallel)) in enumerate(zip(accounts, rows, strict=True)):
            if row.user_type != STUDENT:
                kind = USER_TYPES.get(row.user_type, str(row.user_type))
                raise ConfigError(
                    f"avers: account #{k + 1} is a {kind} account; a school pull reads student "
                    "accounts (user type 4), one per student"
                )
            pupil = row.id8 if row.id8 is not None else row.id6
            if pupil is None or klass is None:
                raise ConfigError(f"avers: account #{k + 1}: the login row names no pupil id")
            if row.name:
                people.setdefault(pupil, (row.name, set()))[1].add(Role.STUDENT)
            cls = roster.classes.get(klass.cls)
            if cls is None:
                try:
                    unit = m.class_unit(year.id, klass)
                except Skippable as exc:
                    batch.skip(exc, "class_unit", f"cls:{klass.cls}")
                    continue
                cls = roster.classes[klass.cls] = ClassState(row=klass, unit=unit)
                cls.parallel = parallel
                batch.records.append(unit)
                new.append((cls, account))
            cls.accounts.append((account, pupil))
            pupils.append((account, pupil, cls))
        # The class dictionaries, once per class, through the class's first account.
        answers = await platform.each_account(
            new, lambda ca: self._ask_class_dictionaries(ca[0], ca[1]), limit=limit
        )
        for (cls, _), answer in zip(new, answers, strict=True):
            self._class_dictionaries(cls, answer, subjects, batch)

        # Period marks and subgroups are often [] (before the first term ends; a pupil in no
        # subgroup): the one of them that has answered [] less often so far goes last, so that
        # its data vouches for the other's [] without a probe (AversClient.confirmed).
        empties = {"GET_STUDENT_DIRECTOR_DATA": 0, "GET_STUDENT_GROUPS": 0}
        groups_reason = ""

        async def per_pupil(
            item: tuple[Credentials, int, ClassState],
        ) -> tuple[list[JsValue], list[JsValue], list[s.JournalRow | s.Bad] | None]:
            nonlocal groups_reason
            account, pupil, cls = item
            base = {"cls": str(cls.row.cls), "parallelClasses": cls.parallel, "student": str(pupil)}
            early = not cls.term_ids or any(p not in dates for p in cls.term_ids)

            async def read(
                ask: Ask,
            ) -> tuple[list[JsValue], list[JsValue], list[s.JournalRow | s.Bad] | None, bool]:
                nonlocal groups_reason
                answers: dict[str, list[JsValue]] = {}
                for action in sorted(empties, key=lambda a: -empties[a]):
                    if action == "GET_STUDENT_GROUPS":
                        answer, reason = await self._try(
                            action, {"cls": str(cls.row.cls), "student": str(pupil)}, ask=ask
                        )
                        groups_reason = groups_reason if answer else reason
                    else:
                        answer = await ask(action, base)
                    answers[action] = answer
                journal = None
                if early or ask.unvouched:
                    # Instead of a probe, the pupil's journal (the whole year, read once per
                    # pull anyway): its rows vouch for the [] and are kept for the journal page.
                    journal = await self._journal_rows(base, ask=ask)
                finals = answers["GET_STUDENT_DIRECTOR_DATA"]
                return finals, answers["GET_STUDENT_GROUPS"], journal, early

            finals, groups, journal, early = await c.confirmed(account, read)
            for action, answer in (
                ("GET_STUDENT_DIRECTOR_DATA", finals),
                ("GET_STUDENT_GROUPS", groups),
            ):
                empties[action] += not answer
            if journal is not None and not early:
                self._kept[pupil] = journal  # read to vouch only: not for estimating terms
                journal = None
            return finals, groups, journal

        per = await platform.each_account(pupils, per_pupil, limit=limit)
        if pupils and not any(groups for _, groups, _ in per):
            # [] for a pupil in no subgroup is an answer; [] for every pupil is no enrichment.
            self._unavailable(
                "GET_STUDENT_GROUPS",
                groups_reason or "empty answer",
                "subgroups: read from the pupil's period marks (position 0)",
            )
        for (_, pupil, cls), (finals, groups, journal) in zip(pupils, per, strict=True):
            self._finals[pupil] = s.parse_rows(s.DirectorRow, finals, "GET_STUDENT_DIRECTOR_DATA")
            if groups:
                cls.groups[pupil] = {}
                for g in s.parse_rows(s.StudentGroup, groups, "GET_STUDENT_GROUPS"):
                    if isinstance(g, s.Bad):
                        batch.bad(g, "group")
                    else:
                        cls.groups[pupil][g.subject_id] = g.group_no
            else:
                cls.groups[pupil] = groups_from_finals(self._finals[pupil])
                cls.guessed.add(pupil)
            if journal is not None:
                self._journal[pupil] = journal
            batch.records.append(m.enrollment(pupil, cls.unit.id, start))

        periods = self._periods(roster, names, dates, today)
        batch.records += [rec for rec, _ in periods.values()]
        batch.records += subjects.values()
        for cls in roster.classes.values():
            class_groups(self.mapper, cls, subjects, timetable, teachers, batch)
            cls.segments = segments_of(cls.row.cls, paging(cls.term_ids), periods, start, end)
            cls.final_pages = final_pages(cls.segments, periods)
            cls.period_ids = {pid: rec.id for pid, (rec, _) in periods.items()}
        for ext_id, (name, roles) in people.items():
            try:
                batch.records.append(m.person(ext_id, name, roles))
            except Skippable as exc:
                batch.skip(exc, "person", f"person:{ext_id}")
        return roster

    async def _journal_rows(
        self, base: Mapping[str, str], account: Credentials | None = None, ask: Ask | None = None
    ) -> list[s.JournalRow | s.Bad]:
        action = "GET_STUDENT_JOURNAL_DATA"
        if ask is not None:
            answer = await ask(action, base)
        else:
            answer = await self.client.act(action, base, account=account)
        return s.parse_rows(s.JournalRow, answer, action)

    async def _ask_class_dictionaries(
        self, cls: ClassState, account: Credentials
    ) -> tuple[list[JsValue], list[JsValue]]:
        """The class's subjects and terms, read as ``account`` (a pupil of the class)."""
        cls_id = cls.row.cls
        answer = await self.client.act(
            "GET_DAIRY_CLASS_SUBJECTS",
            {"cls": str(cls_id), "pClassesIds": cls.parallel},
            account=account,
        )
        per_sp = await self._optional(
            "GET_CLASS_PER_SP",
            {"cls": str(cls_id)},
            "the class's terms: read from its period marks, else quarters",
            account,
        )
        return answer, per_sp

    def _class_dictionaries(
        self,
        cls: ClassState,
        answers: tuple[list[JsValue], list[JsValue]],
        subjects: dict[int, Subject],
        batch: Batch,
    ) -> None:
        answer, per_sp = answers
        own: dict[int, Subject] = {}
        for row in s.parse_rows(s.SubjectRow, answer, "GET_DAIRY_CLASS_SUBJECTS"):
            if isinstance(row, s.Bad):
                batch.bad(row, "subject")
                continue
            try:
                own[row.id] = subjects.setdefault(row.id, self.mapper.subject(row.name, row.id))
            except Skippable as exc:
                batch.skip(exc, "subject", f"subject:{row.id}")
        cls.subjects = {k: v.id for k, v in own.items()}
        cls.term_ids = terms(
            [r[0] for r in per_sp if isinstance(r, list) and r and isinstance(r[0], int)]
        )

    def _periods(
        self,
        roster: Roster,
        names: Mapping[int, str],
        dates: Mapping[int, s.PeriodDates],
        today: date,
    ) -> dict[int, tuple[Record, s.PeriodDates]]:
        """Every term of every class and every period a final names, with dates: the
        platform's (GET_JOURNAL_PERIODS_INFO), else estimated (:func:`_estimate`)."""
        for cls in roster.classes.values():
            if not cls.term_ids:  # GET_CLASS_PER_SP did not say: the terms its finals name
                named = {f.period_id for ps in self._class_finals(cls) for f in ps}
                cls.term_ids = terms(named)
                if not cls.term_ids:
                    cls.term_ids = terms(range(360000, 360004))
                    _log.warning("avers class terms unknown; assuming quarters", cls=cls.row.cls)
        wanted: set[int] = {p for c in roster.classes.values() for p in c.term_ids}
        for cls in roster.classes.values():
            # a period mark of an unknown period is quarantined with the mark, not as a period
            wanted |= {f.period_id for ps in self._class_finals(cls) for f in ps} & PERIODS.keys()
            wanted |= set(terms(p for p in wanted))  # a kind's whole set of terms
        found: dict[int, s.PeriodDates] = {p: dates[p] for p in wanted if p in dates}
        missing = [p for p in wanted if p not in found and p in PERIODS]
        if missing:
            days = sorted(
                {
                    j.day
                    for rows in self._journal.values()
                    for j in rows
                    if isinstance(j, s.JournalRow) and j.day <= today
                }
            )
            found.update(estimate(missing, days, roster.year_start, roster.year_end))
        out: dict[int, tuple[Record, s.PeriodDates]] = {}
        year_id = roster.batch.records[1].id
        for pid in sorted(wanted):
            info = found.get(pid)
            try:
                if info is None:
                    self.mapper.periods.lookup(pid)  # an unknown id says so
                    raise MalformedRecord("the period has no dates", field="start")
                rec = self.mapper.period(year_id, pid, names.get(pid, ""), info.start, info.end)
                out[pid] = (rec, info)
            except Skippable as exc:
                roster.batch.skip(exc, "period", f"period:{pid}")
        return out

    def _class_finals(self, cls: ClassState) -> list[list[s.DirectorRow]]:
        return [
            [f for f in self._finals.get(pupil, []) if isinstance(f, s.DirectorRow)]
            for _, pupil in cls.accounts
        ]

    # --- journal ---------------------------------------------------------------------------------

    async def _read_class(
        self, roster: Roster, cls: ClassState, segments: Sequence[Segment]
    ) -> AsyncIterator[tuple[str, Batch]]:
        """Every student's rows of the class for the pending terms, then one batch per term."""
        assert cls.ctx is not None
        c = self.client
        low, high = min(sg.start for sg in segments), max(sg.end for sg in segments)
        per_segment: dict[str, list[StudentRows]] = {sg.key: [] for sg in segments}
        first = cls.segments[0].key  # unreadable rows are quarantined once, on the first page
        memos = self._memos

        async def ask(
            item: tuple[Credentials, int],
        ) -> tuple[list[s.DiaryRow | s.Bad], list[s.LessonRow | s.Bad], list[s.JournalRow | s.Bad]]:
            account, pupil = item
            base = {"cls": str(cls.row.cls), "parallelClasses": cls.parallel, "student": str(pupil)}
            await self._logged_in(account)  # an account of an earlier pull's roster
            early = self._journal.pop(pupil, None)
            if early is None:
                early = self._kept.pop(pupil, None)

            async def read(
                ask: Ask,
            ) -> tuple[list[JsValue], tuple[list[JsValue], str], list[s.JournalRow | s.Bad]]:
                # The journal (the whole year: data for nearly every pupil) last, so that it
                # vouches for an [] of the diary or the lessons (AversClient.confirmed).
                diary = await ask(
                    "GET_STUDENT_DAIRY",
                    {"student": str(pupil), "cls": str(cls.row.cls), "pClassesIds": cls.parallel,
                     "uchYear": str(roster.uch_year), "begin_dt": _ddmmyyyy(low),
                     "end_dt": _ddmmyyyy(high)},
                )  # fmt: skip
                lessons = await self._try(
                    "GET_STUDENT_LESSONS",
                    {**base, "uchYear": str(roster.uch_year),
                     "period_begin": _ddmmyyyy(low), "period_end": _ddmmyyyy(high)},
                    ask=ask,
                )  # fmt: skip
                journal = early if early is not None else await self._journal_rows(base, ask=ask)
                return diary, lessons, journal

            diary, (lessons, reason), journal = await c.confirmed(account, read)
            if not lessons:  # warned once the run is known not to have lost its session
                self._unavailable(
                    "GET_STUDENT_LESSONS",
                    reason,
                    "types of work and weights: every mark is «other» with the default weight",
                )
            return (
                s.parse_rows(s.DiaryRow, diary, "GET_STUDENT_DAIRY", memos["GET_STUDENT_DAIRY"]),
                s.parse_rows(
                    s.LessonRow, lessons, "GET_STUDENT_LESSONS", memos["GET_STUDENT_LESSONS"]
                ),
                journal,
            )

        # The class's pupils at once, each through its account (logged in for the roster).
        answers = await platform.each_account(
            cls.accounts, ask, limit=self.http_settings().max_concurrency
        )
        for (_, pupil), (diary, lessons, journal) in zip(cls.accounts, answers, strict=True):
            rows = {sg.key: StudentRows(pupil) for sg in segments}

            def segment_of(day: date | None) -> str:
                return first if day is None else clamped(cls.segments, day)

            def add(rows: dict[str, StudentRows], key: str, attr: str, row: object) -> None:
                if key in rows:  # a page not read in this pass (incremental) gets it later
                    getattr(rows[key], attr).append(row)

            column_day = {d.column_id: d.day for d in diary if isinstance(d, s.DiaryRow)}
            for d in diary:
                add(rows, segment_of(d.day if isinstance(d, s.DiaryRow) else None), "diary", d)
            for j in journal:
                day = column_day.get(j.column_id, j.day) if isinstance(j, s.JournalRow) else None
                add(rows, segment_of(day), "journal", j)
            for f in self._finals.get(pupil, []):
                page = cls.final_pages.get(f.period_id) if isinstance(f, s.DirectorRow) else None
                add(rows, page or first, "finals", f)
            for sg in segments:
                rows[sg.key].lessons = (
                    lessons
                    if sg.key == first
                    else [lr for lr in lessons if isinstance(lr, s.LessonRow)]
                )
                per_segment[sg.key].append(rows[sg.key])
        for sg in segments:
            batch = journal_page(
                self.mapper,
                cls.ctx,
                per_segment[sg.key],
                period_id=sg.period_id,
                platform_period=sg.platform_period,
                finals={
                    pid: cls.period_ids[pid]
                    for pid, key in cls.final_pages.items()
                    if key == sg.key and pid in cls.period_ids
                },
            )
            yield sg.key, batch
