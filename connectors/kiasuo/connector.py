"""``KiasuoConnector``: a school pull merged from many family accounts.

Streams and cursors. Three streams, each with a cursor ``{"pass", "done", "complete"}`` as in
the NetSchool connector (a complete or absent cursor starts a new pass; an incomplete one resumes
it, skipping the scopes in ``done``):

* ``roster`` — one page: school, year, terms, people, classes, subjects, groups, enrollments;
* ``journal`` — one page per class × ISO week (``week:7А:2026-W53``): lessons, homework, marks,
  absences of every child of the class the accounts see, so a lesson classmates share is one
  record; the cursor also keeps ``watermark`` (the newest slot ``updated_at`` seen);
* ``finals`` — one page per class × term (``finals:7А:<term id>``): period marks.

A full pass reads every week of the year up to a week past today; an incremental pass reads the
weeks around today plus the weeks holding a mark or absence updated after the last watermark
(``lesson_marks`` shows ``updated_at``; a deletion shows nowhere, so a periodic full pull is
still needed). The roster is read first on every pass: the journal pages need its maps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from core import platform
from core.connector import (
    Capabilities,
    Connector,
    EntryTime,
    EntryTimeKind,
    Page,
    PullMode,
    PupilSeen,
    Quarantined,
    SchoolTarget,
    first_seen_everywhere,
    hand_entry_channels,
)
from core.errors import AuthError, Skippable
from core.http import HttpSettings
from core.logging import get_logger
from core.model import Lesson, Record, normalise_subject_name
from core.platform import FINAL_ENTITIES, JOURNAL_ENTITIES, ROSTER_ENTITIES

from . import schema as s
from ._roster import ClassView, Roster, read_roster
from ._weeks import IsoWeek, weeks_between
from .client import Account, KiasuoClient
from .mapping import PLATFORM, Batch, Mapper, distinct_slots

__all__ = ["TIMEZONE", "KiasuoConnector"]

_log = get_logger(__name__)

#: Where КИАСУО's schools are, unless the config names the school's zone.
TIMEZONE = "Asia/Krasnoyarsk"
AHEAD = timedelta(days=7)  # lessons a week ahead carry homework and planned topics
INCREMENTAL_BACK = timedelta(days=7)
#: Journal and finals units read at once (their accounts' reads share the per-host limit).
READ_AHEAD = 2

_MODELLED = (
    "modelled: no write API is known for КИАСУО; entries are made by hand from the worklist "
    "(teachers work in the per-school journal or «КИАСУО 4», which have no known API)"
)


def _stamp(value: Any) -> datetime | None:
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


class KiasuoConnector(Connector):
    """КИАСУО («Электронный журнал и дневник», Красноярский край) over its diary API (WIRE.md).

    Every account in ``target.all_accounts`` is a parent or student whose refresh token (from a
    Госуслуги login in a browser, see ``HOW_TO_GET_TOKEN``) is in ``Credentials.token`` and whose
    ``Credentials.login`` names it. Rotated refresh tokens are kept in :attr:`state`.
    """

    platform = PLATFORM
    default_timezone = TIMEZONE
    capabilities = Capabilities(
        platform=PLATFORM,
        reads=ROSTER_ENTITIES | JOURNAL_ENTITIES | FINAL_ENTITIES,
        fields_not_carried={
            "school": frozenset({"region", "inn", "ogrn"}),
            # derived from the terms: the first term's start, the last term's end
            "academic_year": frozenset({"start", "end"}),
            # the API shows an age, not a birth date; guardians show no name at all
            "person": frozenset({"birth_date"}),
            # no enrollment dates or movements: begin is the year's start
            "enrollment": frozenset({"begin", "end", "movement"}),
            "lesson": frozenset({"kind", "shift", "substitute_teacher_id"}),
            "homework": frozenset({"student_ids"}),
            # no weight in the current API (the type's default weight is set); the slot text
            # names the kind of work, so a comment only holds an unknown kind's label
            "mark": frozenset({"weight", "comment"}),
            "attendance": frozenset({"minutes_late", "note"}),
        },
        push=hand_entry_channels(
            worklist={"mark", "attendance", "lesson", "homework", "final_mark"},
            package={
                "person",
                "class_unit",
                "subject",
                "group",
                "enrollment",
                "lesson",
                "homework",
                "mark",
                "attendance",
                "final_mark",
            },
            worklist_evidence=_MODELLED,
            package_evidence=(
                "modelled: no import format is documented for КИАСУО; the package is for "
                "the regional operator to load by hand"
            ),
        ),
        notes=(
            "Family API only: each account (parent or student) shows its own children, so a "
            "school pull merges every configured account and sees only their children's marks. "
            "Guardians, birth dates, weights and lateness (ОП) are not shown. Subgroups are "
            "inferred from the subject journal ids children see; a lesson's teacher from a short "
            "name. Only a lesson's first homework is shown. Deletions are found by full pulls."
        ),
        partial_view=(
            "данные читаются через учётные записи семей: видны только обучающиеся, чьи "
            "учётные записи подключены; записи подгрупп, которые семья больше не видит "
            "(после перевода), сохранены из прошлых загрузок и далее не обновляются"
        ),
        entry_time=first_seen_everywhere(
            ("lesson", "homework", "attendance", "final_mark"),
            mark=EntryTime(
                EntryTimeKind.FIRST_SEEN,
                "lesson_marks slots carry updated_at (kiasuo.md §3): a change's time is the "
                "platform's; a mark's entry is only first seen by a pull",
                "время изменения отметки — по данным платформы (updated_at), время выставления "
                "— момент, когда синхронизация впервые увидела отметку",
            ),
        ),
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
        self.client = KiasuoClient(
            target.base_url,
            target.all_accounts,
            school=target.platform_school or target.school,
            state=self.state,
            persist=self.persist_state,
            transport=transport,
            settings=self.http_settings(),
            clock=self.clock,
        )
        self.mapper = Mapper(target.school, str(self.client.http.client.base_url))
        self._logged_in = False
        #: Accounts read at once: the per-host limit (more would only queue at the transport).
        self._limit = self.http_settings().max_concurrency

    async def login(self) -> None:
        """Refresh every account's tokens and read who it is (``/api/user``), the accounts at
        once within the per-host limit. The school's own (the first) must work; a further
        family's account the platform refuses (its refresh token expired or revoked) is noted
        and left out — its pupils are missing then, which the school's coverage shows."""
        first = self.client.accounts[0] if self.client.accounts else None

        async def open_one(account: Account) -> Account | None:
            try:
                await self.client.user(account)
            except AuthError as exc:
                self.note_refused(account.label, exc)
                if account is first:
                    raise
                _log.warning("kiasuo account refused", account=account.label)
                return None
            return account

        opened = await platform.each_account(self.client.accounts, open_one, limit=self._limit)
        self.client.accounts = [a for a in opened if a is not None]
        self._logged_in = True

    async def aclose(self) -> None:
        await self.client.aclose()

    def _note_pupils(self, roster: Roster) -> None:
        """Each account's outcome and the pupils it showed (the school's coverage)."""
        seen: dict[int, list[PupilSeen]] = {id(a): [] for a in self.client.accounts}
        for cls in roster.classes.values():
            for v in cls.viewers:
                c = v.child
                name = " ".join(x for x in (c.last_name, c.first_name, c.middle_name or "") if x)
                pupil = PupilSeen(self.mapper.student(c).id, name, cls.unit.name)
                seen.setdefault(id(v.account), []).append(pupil)
        for account in self.client.accounts:
            self.note_account(account.label, "ok", seen[id(account)])

    # --- pull ------------------------------------------------------------------------------------

    async def pull(
        self, cursors: Mapping[str, Mapping[str, Any]], mode: PullMode = PullMode.FULL
    ) -> AsyncIterator[Page]:
        if not self._logged_in:
            await self.login()
        self.mapper.fetched_at = datetime.now(UTC)
        today = self.today()
        journal_cursor = cursors.get(platform.JOURNAL) or {}
        resuming = platform.start_pass(journal_cursor).resuming
        since = _stamp(journal_cursor.get("since" if resuming else "watermark"))
        roster = await read_roster(
            self.client,
            self.mapper,
            school_label=self.target.platform_school or self.target.school,
            until=today + AHEAD,
            since=since,
            limit=self._limit,
        )
        watermark = (
            journal_cursor.get("watermark")
            if resuming
            else (roster.watermark.isoformat() if roster.watermark else None)
        )
        self._note_pupils(roster)

        # Family accounts: what they no longer see (a pupil's old subgroup) is kept, not deleted.
        visible = platform.visible_members(roster.batch.records)
        extra = {"since": since.isoformat() if since else None, "watermark": watermark}
        weeks = self._weeks(roster, today, mode)
        scopes = [
            (f"week:{key}:{w[0]}-W{w[1]:02d}", cls, w)
            for key, cls in sorted(roster.classes.items())
            for w in sorted(
                weeks | roster.changed.get(key, set()) if mode is PullMode.INCREMENTAL else weeks
            )
        ]
        final_scopes = [
            (f"finals:{key}:{sp.id}", cls, sp.id)
            for key, cls in sorted(roster.classes.items())
            for sp, _ in roster.periods
        ]

        async def read_week(scope: tuple[str, ClassView, IsoWeek]) -> Batch:
            return await self._journal(roster, scope[1], scope[2])

        async def read_finals(scopes: Sequence[tuple[str, ClassView, int]]) -> list[Batch]:
            """One class's period marks (all its terms are read at once)."""
            by_period = await self._finals(roster, scopes[0][1])
            return [by_period.get(period_id, Batch()) for _, _, period_id in scopes]

        async for page in platform.run_streams(
            cursors,
            platform.one_page(platform.ROSTER, roster.batch, ROSTER_ENTITIES, visible),
            platform.Scopes(
                platform.JOURNAL,
                JOURNAL_ENTITIES,
                scopes,
                key=lambda sc: sc[0],
                read=read_week,
                prefer=lambda sc: _recent(sc[2], today),
                visible=visible,
                extra=extra,
                # the next class-week is read while this one is mapped (no shared state)
                read_ahead=READ_AHEAD,
            ),
            platform.Scopes(
                platform.FINALS,
                FINAL_ENTITIES,
                final_scopes,
                key=lambda sc: sc[0],
                read_unit=read_finals,
                unit=lambda sc: sc[1].key,
                read_ahead=READ_AHEAD,
            ),
            sample=self.sampled,
        ):
            yield page

    def _weeks(self, roster: Roster, today: date, mode: PullMode) -> set[IsoWeek]:
        first, last = roster.year.start, min(roster.year.end, today + AHEAD)
        if mode is PullMode.INCREMENTAL:
            first = max(first, today - INCREMENTAL_BACK)
        return set(weeks_between(first, last)) if first <= last else set()

    async def _journal(self, roster: Roster, cls: ClassView, week: IsoWeek) -> Batch:
        """One class × week: every child's schedule, merged by lesson event id."""
        batch = Batch()
        lessons: dict[int, Lesson] = {}
        owned: list[Record] = []
        # Every child's week at once (each through its account), merged in the viewers' order.
        weeks = await platform.each_account(
            cls.viewers,
            lambda v: self.client.schedule(v.account, v.child.id, *week),
            limit=self._limit,
        )
        for viewer, week_data in zip(cls.viewers, weeks, strict=True):
            child = viewer.child.id
            events: set[int] = set()  # a lesson event listed twice is read once
            homework: dict[int, s.HomeworkItem] = {}
            for item in week_data.homeworks:
                if isinstance(item, s.Bad):
                    batch.bad(item, "homework", f"child:{child}/homework:{item.item_id()}")
                else:
                    homework[item.id] = item
            for le in week_data.schedule:
                if isinstance(le, s.Bad):
                    batch.bad(le, "lesson", f"child:{child}/lesson_event:{le.item_id()}")
                    continue
                if le.lesson_event_id in events:
                    continue
                events.add(le.lesson_event_id)
                ref = f"lesson_event:{le.lesson_event_id}"
                lesson = lessons.get(le.lesson_event_id)
                if lesson is None:
                    subject = normalise_subject_name(le.subject)
                    group_id = viewer.groups.get(subject)
                    if group_id is None:
                        batch.quarantine.append(
                            _missing(ref, f"subject {subject!r} is not in the child's journals")
                        )
                        continue
                    teacher = viewer.teacher(le.teacher, subject, roster)
                    lesson = lessons[le.lesson_event_id] = self.mapper.lesson(le, group_id, teacher)
                    self._homework(le, lesson, homework, batch, owned)
                ordinals: dict[tuple[int, str], int] = {}
                for slot in distinct_slots(le.slots):
                    if isinstance(slot, s.Bad):
                        batch.bad(slot, "mark", f"{ref}/student:{child}")
                        continue
                    try:
                        owned += self.mapper.slot_records(
                            slot,
                            student=child,
                            lesson=lesson,
                            event_id=le.lesson_event_id,
                            ordinals=ordinals,
                        )
                    except Skippable as exc:
                        batch.skip(exc, "mark", f"{ref}/student:{child}")
        batch.records = [*lessons.values(), *owned]
        return batch

    def _homework(
        self,
        le: s.ScheduleLesson,
        lesson: Lesson,
        homework: Mapping[int, s.HomeworkItem],
        batch: Batch,
        out: list[Record],
    ) -> None:
        if le.created_homework_id is None:
            return
        item = homework.get(le.created_homework_id)
        if item is None:
            batch.quarantine.append(
                _missing(
                    f"homework:{le.created_homework_id}",
                    "created_homework_id is not in the week's homeworks",
                    entity="homework",
                    field="created_homework_id",
                )
            )
            return
        rec = self.mapper.homework(item, lesson.id)
        if rec is not None:
            out.append(rec)

    async def _finals(self, roster: Roster, cls: ClassView) -> dict[int, Batch]:
        """Period marks of every child of the class, by term id."""
        out: dict[int, Batch] = {sp.id: Batch() for sp, _ in roster.periods}
        if cls.platform_id is None or not out:
            return out
        first = next(iter(out.values()))
        by_text = {" ".join(sp.text.casefold().split()): (sp.id, p.id) for sp, p in roster.periods}
        class_id = cls.platform_id
        answers = await platform.each_account(
            cls.viewers,
            lambda v: self.client.student_marks(v.account, v.child.id, class_id),
            limit=self._limit,
        )
        for viewer, data in zip(cls.viewers, answers, strict=True):
            child = viewer.child.id
            columns: dict[str, tuple[int, str] | None] = {}
            for mt in data.standard_mark_type:
                if isinstance(mt, s.Bad):
                    first.bad(mt, "final_mark", f"child:{child}/mark_type:{mt.item_id()}")
                    continue
                columns[mt.id] = by_text.get(" ".join(mt.text.casefold().split()))
            for subj in data.lessons:
                if isinstance(subj, s.Bad):
                    first.bad(subj, "final_mark", f"child:{child}/subject:{subj.item_id()}")
                    continue
                subject_id = roster.subjects.get(normalise_subject_name(subj.subject))
                for column, value in subj.marks.items():
                    if value is None or not value.strip():
                        continue
                    ref = f"child:{child}/subject:{subj.id}/mark_type:{column}"
                    target = columns.get(column)
                    if target is None or subject_id is None:
                        why = "no study period" if target is None else "no subject journal"
                        first.quarantine.append(
                            _missing(
                                ref,
                                f"a period mark with {why} to attach to",
                                entity="final_mark",
                                field="marks",
                            )
                        )
                        continue
                    batch = out[target[0]]
                    try:
                        batch.records.append(
                            self.mapper.final_mark(child, subject_id, target[1], value, column)
                        )
                    except Skippable as exc:
                        batch.skip(exc, "final_mark", ref)
        return out


def _missing(
    record: str, reason: str, *, entity: str = "lesson", field: str = "subject"
) -> Quarantined:
    return Quarantined(entity=entity, record=record, field=field, reason=reason)


def _recent(week: IsoWeek, today: date) -> tuple[bool, timedelta]:
    """Sampling prefers the week holding today, then the weeks before it (entries are made)."""
    monday = date.fromisocalendar(*week, 1)
    return monday > today, abs(monday - today)
