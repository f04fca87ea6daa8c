"""``RuobrConnector``: a school pull merged from every family account of the school.

Ruobr («Электронная школа 2.0», Кузбасс) has no teacher or school API: each parent or student
account shows its own children only. A school pull therefore visits every account in
``target.all_accounts`` and merges what they see (WIRE.md, "School pull").

Streams and cursors. ``roster`` (one page: school, year, periods, classes, pupils, enrollments,
subjects from ``user/`` and ``controlmark/``) and ``journal`` (one page per class × period, scope
``journal:<class>:<period>``: lessons, homework, marks, attendance, final marks). The pages
partition the year: each reads its period from its first day to the day before the next period
(holidays included); a half-year or year rides on the page holding its last day. Groups and
teachers are derived from the lessons and carried once per run, on the first journal page that
sees them; no page claims them complete, so a pull adds and updates them but never deletes them.
A cursor is ``{"pass", "done", "complete"}`` as in the NetSchool connector: a complete (or
absent) cursor starts a new pass, an incomplete one resumes it, skipping the scopes in ``done``.
A full pass reads the pages that start no later than a week past today (``AHEAD``, as the КИАСУО
connector reads its weeks). A page starting after that is not read (no request) and comes out
empty and complete for nothing: it replaces nothing, so the store keeps whatever it held for the
scope, yet it stays in the pass (``done``), so a pass has the same pages whatever the date — the
sync engine refuses a full pass with under half the scopes of the last one. A page is read whole
or not at all: the one holding today is read to its end, as the scope replacement needs. A page
beyond the horizon is still read when a pupil's ``controlmark`` shows one of its periods closed
(its final marks ride on it; a period not started has none [I: controlmark shows finals only
for closed periods, note §4.4]). Lessons planned further ahead than the horizon are therefore
pulled only once their period nears. Two pages are read at once (``READ_AHEAD``: the next
class-period while one is assembled and stored); they are assembled in order. An incremental pull
re-reads the pages whose range overlaps the fortnight before today (today = the constructor's
``today``, else the date in the school's zone, Asia/Novokuznetsk by default) — whole periods,
so the scope replacement also sees deletions.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from core import platform
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
from core.errors import AuthError, ConfigError, Skippable
from core.http import HttpSettings
from core.logging import get_logger
from core.model import AcademicYear, ClassUnit, Period, Record
from core.platform import FINAL_ENTITIES, JOURNAL_ENTITIES, ROSTER_ENTITIES

from . import schema as s
from ._auth import BrowserUserAgent
from ._journal import ChildView, Seen, assemble
from .client import RuobrClient
from .mapping import PLATFORM, Batch, Mapper, subject_key
from .options import RuobrOptions

__all__ = ["TIMEZONE", "RuobrConnector"]

_log = get_logger(__name__)

#: The region's local time (payloads carry no offsets), unless the config names the school's.
TIMEZONE = "Asia/Novokuznetsk"
INCREMENTAL_WINDOW = timedelta(days=14)
#: A full pass reads the pages starting up to a week past today (lessons a week ahead carry
#: homework and planned topics); later periods have not started: nothing to read yet.
AHEAD = timedelta(days=7)
#: Journal pages read at once: the next class-period is read while one is assembled and stored.
READ_AHEAD = 2

#: Groups come with the journal pages, none complete: a pull adds them, never deletes them.
_ROSTER_ENTITIES = ROSTER_ENTITIES - {"group"}
#: Final marks ride on the journal page holding the period's last day.
_JOURNAL_ENTITIES = JOURNAL_ENTITIES | FINAL_ENTITIES

_MODELLED = "modelled: no write API is known for Ruobr («Электронная школа 2.0»; every api3d call "
_CAPABILITIES = Capabilities(
    platform=PLATFORM,
    reads=_ROSTER_ENTITIES | _JOURNAL_ENTITIES | {"group"},
    fields_not_carried={
        "school": frozenset({"region", "inn", "ogrn"}),
        "academic_year": frozenset({"end"}),
        "period": frozenset({"name"}),
        "enrollment": frozenset({"end", "movement"}),
        "lesson": frozenset({"kind", "shift", "substitute_teacher_id"}),
        "homework": frozenset({"student_ids"}),
        "mark": frozenset({"weight", "comment"}),
        "attendance": frozenset({"minutes_late", "note"}),
    },
    push=hand_entry_channels(
        worklist={"lesson", "homework", "mark", "attendance", "final_mark"},
        package={
            "person",
            "class_unit",
            "group",
            "enrollment",
            "lesson",
            "mark",
            "attendance",
            "final_mark",
        },
        worklist_evidence=_MODELLED + "is a GET); entries are made by hand from the worklist",
        package_evidence=_MODELLED + "is a GET) and no import format is known; the package is "
        "handed to the platform operator",
    ),
    notes=(
        "Read through parent/student accounts (one family each): a school pull needs every "
        "family's login, and a pupil whose family is not configured is invisible. Guardians "
        "themselves are not shown by the API and are not pulled. Attendance confidence is LOW: "
        "api3d has no attendance endpoint; absences are read from all_marks `status_lesson`, "
        "whose meaning and `indx` → lesson rule are guesses (WIRE.md); set options.attendance "
        "= false to skip them (one all_marks call per pupil × subject × period read). A full "
        "pull reads the periods started by a week past today; a later period is not read and "
        "its stored records are kept as they are until it starts. Lesson numbers "
        "are the rank of the start time in the class's day. No mark weights exist. The year's "
        "start is the first period's start and its end is not shown; enrollments are assumed "
        "to begin on the year's first day. Groups and teachers are added and updated, never "
        "deleted, by a pull. Final marks come from closed periods only (marks_future = 0)."
    ),
    partial_view=(
        "данные читаются через учётные записи семей: видны только обучающиеся, чьи "
        "учётные записи подключены; записи подгрупп, которые семья больше не видит "
        "(после перевода), сохранены из прошлых загрузок и далее не обновляются"
    ),
    entry_time=first_seen_everywhere(
        ("lesson", "homework", "mark", "attendance"),
        final_mark=EntryTime(
            EntryTimeKind.NOT_OBSERVABLE,
            "controlmark/ shows a period's finals only once the period is closed (marks_future "
            "= 0, ruobr.md §4.4): every final is first seen on or after the closing day",
            "Ruobr показывает итоговые отметки только после закрытия периода: момент их "
            "выставления не наблюдаем",
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class _Pupil:
    account: int
    child: s.Child


@dataclass(frozen=True, slots=True)
class _Scope:
    """One journal page: a class × a "leaf" period (one that contains no other), read from its
    start to the day before the next leaf starts, so the pages partition the year (lessons in
    the holidays belong to the period before). Half-years and the year contain leaves: their
    final marks ride on the page whose range holds their last day (``also``)."""

    key: str
    class_key: str
    period: s.ControlPeriod
    start: date
    end: date
    also: tuple[s.ControlPeriod, ...] = ()


@dataclass(slots=True)
class _Roster:
    batch: Batch
    year: AcademicYear
    periods: dict[int, Period] = field(default_factory=dict)  # control `period` → record
    classes: dict[str, tuple[ClassUnit, list[_Pupil]]] = field(default_factory=dict)
    control: dict[int, list[s.ControlPeriod | s.Bad]] = field(default_factory=dict)
    subject_ids: dict[str, int] = field(default_factory=dict)  # subject key → platform id
    scopes: list[_Scope] = field(default_factory=list)


class RuobrConnector(Connector):
    """Ruobr api3d (WIRE.md). ``target.all_accounts`` = the school's parent/student accounts.

    Options: :class:`.options.RuobrOptions` (``user_agent``, ``attendance``).
    """

    platform = PLATFORM
    default_timezone = TIMEZONE
    options_model = RuobrOptions
    capabilities = _CAPABILITIES

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
        options = RuobrOptions.of(target.options)
        self.client = RuobrClient(
            target.base_url,
            target.all_accounts,
            transport=transport,
            settings=self.http_settings(),
            user_agent=BrowserUserAgent.of(options.user_agent),
        )
        self.mapper = Mapper(target.school)
        self.read_attendance = options.attendance
        self._pupils: list[tuple[int, s.Child | s.Bad]] | None = None
        #: Accounts read at once: the per-host limit (more would only queue at the transport).
        self._limit = self.http_settings().max_concurrency

    async def aclose(self) -> None:
        await self.client.aclose()

    async def login(self) -> None:
        """``user/`` for every account: checks all credentials and caches the pupils."""
        pupils: list[tuple[int, s.Child | s.Bad]] = []
        accounts = list(enumerate(self.target.all_accounts))

        async def user(item: tuple[int, Credentials]) -> list[s.Child | s.Bad] | AuthError:
            try:
                return await self.client.user(item[0])
            except AuthError as exc:
                return exc

        # Every account at once, within the per-host limit; outcomes noted in account order.
        answers = await platform.each_account(accounts, user, limit=self._limit)
        for (account, cred), children in zip(accounts, answers, strict=True):
            if isinstance(children, AuthError):
                # Ruobr has no token to expire (note §2): a refusal is always "rejected".
                self.note_refused(cred.login, children)
                if account == 0:
                    raise children  # the school's own login: its credentials are wrong
                # One more family's account: noted (the school's coverage shows its pupils
                # missing) and the others are still read.
                _log.warning("ruobr account rejected", account=account + 1)
                continue
            if not children:
                _log.warning("ruobr account shows no children", account=account + 1)
            pupils.extend((account, c) for c in children)
            self.note_account(cred.login, "ok", self._seen(children))
        if not pupils:
            raise ConfigError(
                "ruobr: no configured account shows any pupil",
                hint="configure the parent or student accounts of the school's families",
            )
        self._pupils = pupils

    def _seen(self, children: list[s.Child | s.Bad]) -> list[PupilSeen]:
        """The pupils an account shows, for the school's coverage."""
        return [
            PupilSeen(
                self.mapper.student(c).id,
                " ".join(x for x in (c.last_name, c.first_name, c.middle_name) if x.strip()),
                c.group,
            )
            for c in children
            if isinstance(c, s.Child)
        ]

    # --- pull ------------------------------------------------------------------------------------

    async def pull(
        self, cursors: Mapping[str, Mapping[str, Any]], mode: PullMode = PullMode.FULL
    ) -> AsyncIterator[Page]:
        if self._pupils is None:
            await self.login()
        self.mapper.fetched_at = datetime.now(UTC)
        roster = await self._read_roster()

        # Family accounts: what they no longer see (a pupil's old subgroup) is kept, not deleted.
        visible = platform.visible_members(roster.batch.records)
        today = self.today()
        scopes = roster.scopes
        #: Pages of a full pass past the horizon: not read; they claim nothing (module doc).
        ahead: frozenset[str] = frozenset()
        if mode is PullMode.INCREMENTAL:
            low = today - INCREMENTAL_WINDOW
            scopes = [sc for sc in scopes if sc.start <= today and sc.end >= low]
        else:
            horizon = today + AHEAD
            ahead = frozenset(
                sc.key for sc in scopes if sc.start > horizon and not _closed(roster, sc)
            )
        # Subjects are the roster's; a journal page carries only one no control-mark list named.
        seen = Seen(records={r.id for r in roster.batch.records if r.ENTITY == "subject"})
        complete = _JOURNAL_ENTITIES if self.read_attendance else _JOURNAL_ENTITIES - {"attendance"}

        turns = _Turns()

        async def read(scope: _Scope) -> Batch:
            if scope.key in ahead:
                return Batch()  # no request: the period has not started (its page claims nothing)
            # Taken before the first await: the runner starts the reads in the pages' order.
            previous, mine = turns.take()
            try:
                unit, cp, views = await self._read_views(roster, scope)
                # Pages are assembled in order (the next class is read meanwhile), so a group or
                # teacher is carried by the first page that sees it, as without read-ahead.
                if previous is not None:
                    await asyncio.wait({previous})  # not cancelled if this read is
                return assemble(self.mapper, unit=unit, period=cp, views=views, seen=seen)
            finally:
                if not mine.done():
                    mine.set_result(None)

        async for page in platform.run_streams(
            cursors,
            platform.one_page(platform.ROSTER, roster.batch, _ROSTER_ENTITIES, visible),
            # groups come with the journal here: each page sees those read so far in this pull
            platform.Scopes(
                platform.JOURNAL,
                complete,
                scopes,
                key=_key,
                read=read,
                visible=visible,
                # the next class-period is read while this one is assembled and stored
                read_ahead=READ_AHEAD,
                # a sample reads the pages nearest today, never one past the horizon
                prefer=lambda sc: (sc.key in ahead, abs((sc.start - today).days)),
            ),
            sample=self.sampled,
        ):
            if page.scope in ahead:
                # Not read: the page replaces nothing, so the store keeps what it held for the
                # scope; it still counts in the pass (the engine's check of a full pass's size
                # compares it with the last full pass, and a new year's September must not look
                # like a platform answering partially).
                page.complete_for = frozenset()
            yield page

    async def _read_roster(self) -> _Roster:
        assert self._pupils is not None
        m = self.mapper
        batch = Batch()
        pupils: list[_Pupil] = []
        taken: set[int] = set()
        for account, child in self._pupils:
            if isinstance(child, s.Bad):
                batch.bad(child, "person", f"child:{child.item_id()}")
            elif child.id not in taken:  # a parent and a pupil account show the same child
                taken.add(child.id)
                pupils.append(_Pupil(account, child))

        control: dict[int, list[s.ControlPeriod | s.Bad]] = {}
        raw_periods: dict[int, s.ControlPeriod] = {}
        answers = await platform.each_account(
            pupils, lambda p: self.client.control_marks(p.account, p.child.id), limit=self._limit
        )
        for p, items in zip(pupils, answers, strict=True):
            control[p.child.id] = items
            for cp in items:
                if isinstance(cp, s.Bad):
                    batch.bad(cp, "period", f"period:{cp.item_id('period')}")
                else:
                    raw_periods.setdefault(cp.period, cp)

        year = self._year(list(raw_periods.values()))
        roster = _Roster(batch=batch, year=year, control=control)
        if pupils:
            batch.records.append(m.school_record(pupils[0].child.school))
        batch.records.append(year)
        for number, cp in sorted(raw_periods.items()):
            try:
                roster.periods[number] = m.period(year.id, cp)
            except Skippable as exc:
                batch.skip(exc, "period", f"period:{number}", cp.model_dump(mode="json"))
        batch.records.extend(roster.periods.values())

        subjects: dict[str, Record] = {}
        for p in pupils:
            student = m.student(p.child)
            batch.records.append(student)
            try:
                unit = m.class_unit(year.id, p.child.group)
            except Skippable as exc:
                batch.skip(exc, "class_unit", f"child:{p.child.id}")
                continue
            entry = roster.classes.setdefault(unit.name, (unit, []))
            entry[1].append(p)
            batch.records.append(m.enrollment(student.id, unit.id, year.start, p.child.id))
            for cp in control[p.child.id]:
                if isinstance(cp, s.ControlPeriod):
                    for cm in cp.marks:
                        if isinstance(cm, s.ControlMark):
                            key = subject_key(cm.subject_name)
                            roster.subject_ids.setdefault(key, cm.subject_id)
                            if key not in subjects:  # made once, not per pupil × period
                                subjects[key] = m.subject(cm.subject_name, cm.subject_id)
        batch.records.extend(unit for unit, _ in roster.classes.values())
        batch.records.extend(subjects.values())

        for key, (_unit, members) in sorted(roster.classes.items()):
            numbers = {
                cp.period
                for p in members
                for cp in control[p.child.id]
                if isinstance(cp, s.ControlPeriod) and cp.period in roster.periods
            }
            roster.scopes += _scopes(key, [raw_periods[n] for n in sorted(numbers)])
        roster.scopes.sort(key=lambda sc: (sc.start, sc.period.period, sc.class_key))
        return roster

    def _year(self, periods: list[s.ControlPeriod]) -> AcademicYear:
        if periods:
            return self.mapper.year(
                min(p.date_start for p in periods), max(p.date_end for p in periods)
            )
        # No period listed: assume the usual Russian school year around today.
        today = self.today()
        first = today.year if today.month >= 7 else today.year - 1
        return self.mapper.year(date(first, 9, 1), date(first + 1, 5, 31))

    async def _read_views(
        self, roster: _Roster, scope: _Scope
    ) -> tuple[ClassUnit, s.ControlPeriod, list[ChildView]]:
        """What every pupil of the scope's class saw in its range (the page before assembly)."""
        unit, members = roster.classes[scope.class_key]
        cp = scope.period
        numbers = {cp.period, *(x.period for x in scope.also)}

        async def view_of(p: _Pupil) -> ChildView:
            child = p.child.id
            timetable = await self.client.timetable(p.account, child, scope.start, scope.end)
            view = ChildView(child=child, lessons=timetable.lessons)
            for x in roster.control.get(child, []):
                # A running period shows a progress average, not a final mark (note §4.4).
                if isinstance(x, s.ControlPeriod) and x.period in numbers and x.marks_future == 0:
                    view.finals.append((roster.periods[x.period], x.marks))
            if self.read_attendance:
                first, last = cp.date_start, cp.date_end
                names = {
                    ls.subject
                    for ls in timetable.lessons
                    if isinstance(ls, s.Lesson) and first <= ls.date <= last
                }
                keys = sorted({subject_key(name) for name in names})
                wanted = [(k, roster.subject_ids[k]) for k in keys if k in roster.subject_ids]
                # The pupil's subjects at once too: the per-host limit bounds what is in flight,
                # and the class's last pupils do not read their subjects one by one alone.
                answers = await platform.each_account(
                    wanted,
                    lambda ks: self.client.all_marks(p.account, child, cp.period, ks[1]),
                    limit=self._limit,
                )
                view.attendance.update(zip((k for k, _ in wanted), answers, strict=True))
            return view

        # The class's pupils at once (each through its own account, headers per request),
        # within the per-host limit; the views in the members' order.
        views = await platform.each_account(members, view_of, limit=self._limit)
        return unit, cp, views


def _scopes(class_key: str, periods: list[s.ControlPeriod]) -> list[_Scope]:
    """The class's journal pages (see :class:`_Scope`)."""

    def contains(outer: s.ControlPeriod, inner: s.ControlPeriod) -> bool:
        return (
            outer is not inner
            and outer.date_start <= inner.date_start
            and inner.date_end <= outer.date_end
            and (outer.date_start, outer.date_end) != (inner.date_start, inner.date_end)
        )

    leaves = sorted(
        (p for p in periods if not any(contains(p, o) for o in periods)),
        key=lambda p: (p.date_start, p.period),
    )
    if not leaves:
        return []
    last_day = max(p.date_end for p in periods)
    ranges = [
        (leaf, leaf.date_start, nxt.date_start - timedelta(days=1) if nxt else last_day)
        for leaf, nxt in zip(leaves, [*leaves[1:], None], strict=True)
    ]
    ranges = [(leaf, start, max(end, leaf.date_end)) for leaf, start, end in ranges]
    outer = [p for p in periods if p not in leaves]
    out = []
    for leaf, start, end in ranges:
        also = tuple(p for p in outer if start <= p.date_end <= end)
        out.append(
            _Scope(
                f"{platform.JOURNAL}:{class_key}:{leaf.period}", class_key, leaf, start, end, also
            )
        )
    return out


class _Turns:
    """Journal pages assembled in the order their reads started (read-ahead reads two at once):
    each read waits for the one before it to finish before it assembles."""

    def __init__(self) -> None:
        self._last: asyncio.Future[None] | None = None

    def take(self) -> tuple[asyncio.Future[None] | None, asyncio.Future[None]]:
        """(the previous read's future or ``None``, this read's): set this one when done."""
        previous, self._last = self._last, asyncio.get_running_loop().create_future()
        return previous, self._last


def _closed(roster: _Roster, scope: _Scope) -> bool:
    """Whether a pupil of the scope's class sees one of the scope's periods closed
    (``marks_future == 0``): its final marks ride on the scope's page."""
    numbers = {scope.period.period, *(x.period for x in scope.also)}
    return any(
        isinstance(x, s.ControlPeriod) and x.period in numbers and x.marks_future == 0
        for p in roster.classes[scope.class_key][1]
        for x in roster.control.get(p.child.id, [])
    )


def _key(scope: _Scope) -> str:
    return scope.key
