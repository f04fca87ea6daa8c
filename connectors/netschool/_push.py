"""Teacher journal writes (WIRE.md "Teacher writes") and their read-back.

Every write is **read first, then written only if needed**, which is what makes a repeated push
harmless: a mark goes to the assignment that already holds its (work type, ordinal) slot, so a
retry never creates a second assignment; attendance and topics that already have the wanted
value send nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from core.codes import AttendanceCode, MarkValue, numeric_mark
from core.connector import Change, PushOutcome
from core.errors import AuthError, JournalSyncError, Retriable
from core.model import Attendance, Lesson, Mark, Record

from . import schema as s
from .client import NetSchoolClient
from .mapping import HOMEWORK_TYPE_ID, Batch, LessonContext, Mapper

__all__ = ["LessonRef", "Pusher"]


class _Refused(Exception):
    """A change the platform cannot take as asked (not retriable); becomes a failed outcome."""


class LessonRef:
    """The platform ids of one lesson, from :attr:`Change.refs` (its pull provenance)."""

    __slots__ = ("class_id", "cm_id", "sg_id", "term_id", "year_id")

    def __init__(self, ids: Mapping[str, str]) -> None:
        try:
            self.cm_id = int(ids["cmId"])
            self.sg_id = int(ids["sgId"])
            self.term_id = int(ids["termId"])
        except (KeyError, ValueError):
            raise _Refused(
                "the lesson has no NetSchool ids (cmId, sgId, termId); pull first"
            ) from None
        self.class_id = int(ids["classId"]) if ids.get("classId") else None
        self.year_id = int(ids["yearId"]) if ids.get("yearId") else None


def _lesson_of(change: Change) -> tuple[str, LessonRef]:
    record = change.record
    lesson_id = record.id if isinstance(record, Lesson) else getattr(record, "lesson_id", None)
    if not isinstance(lesson_id, str):
        raise _Refused(f"{record.ENTITY} records cannot be pushed to NetSchool")
    return lesson_id, LessonRef(change.refs.get(lesson_id, {}))


def _user_of(change: Change, student_id: str) -> int:
    try:
        return int(change.refs[student_id]["userId"])
    except (KeyError, ValueError):
        raise _Refused("the student has no NetSchool user id; pull first") from None


def _wire_mark(value: MarkValue) -> tuple[int | None, bool]:
    """(mark, duty) as quickedit takes them; only the 5-point scale and «точка» exist there."""
    if value is MarkValue.DOT:
        return None, True
    number = numeric_mark(value)
    if number is None:
        raise _Refused(f"NetSchool's quick edit takes 1–5 or «точка», not {value.value!r}")
    return number, False


class _View:
    """One lesson as the platform shows it now: from the group's journal (``classMeeting``) or
    from the lesson's edit screen (``journal/edit``)."""

    __slots__ = ("assignments", "attendance", "lesson_name", "meeting")

    def __init__(
        self,
        assignments: Sequence[s.JournalAssignment | s.EditAssignment | s.Bad],
        attendance: Sequence[s.AttendanceMark | s.Bad],
        lesson_name: str | None,
        meeting: s.ClassMeeting | None = None,
    ) -> None:
        self.assignments = assignments
        self.attendance = attendance
        self.lesson_name = lesson_name
        self.meeting = meeting

    def slots_all(self) -> list[s.JournalAssignment | s.EditAssignment]:
        return [
            a for a in self.assignments if isinstance(a, s.JournalAssignment | s.EditAssignment)
        ]

    def slots(self, type_id: int) -> list[s.JournalAssignment | s.EditAssignment]:
        """The lesson's assignments of one type by id: slot n holds the marks of ordinal n."""
        return sorted(
            (
                a
                for a in self.assignments
                if isinstance(a, s.JournalAssignment | s.EditAssignment) and a.typeId == type_id
            ),
            key=lambda a: a.id,
        )


_Item = tuple[int, Change, LessonRef]
#: (subject group, term): the unit one journal read covers.
_GroupKey = tuple[int, int]


def _by_group(
    changes: Sequence[Change], outcomes: dict[int, PushOutcome] | None
) -> dict[_GroupKey, dict[int, list[_Item]]]:
    """Changes by subject group and term, then by lesson (class meeting); a change without a
    lesson's NetSchool ids is refused into ``outcomes`` (or skipped when there are none)."""
    groups: dict[_GroupKey, dict[int, list[_Item]]] = {}
    for i, change in enumerate(changes):
        try:
            _, ref = _lesson_of(change)
        except _Refused as exc:
            if outcomes is not None:
                outcomes[i] = PushOutcome(change.key, ok=False, message=str(exc))
            continue
        lessons = groups.setdefault((ref.sg_id, ref.term_id), {})
        lessons.setdefault(ref.cm_id, []).append((i, change, ref))
    return groups


class Pusher:
    """Writes are batched: the changes of one subject group and term are read with one
    ``grade/journal`` request (the edit screen per lesson when the class and year ids are not
    known), a group's marks go in one ``quickedit`` per mark number (its ``results[]`` rows
    carry their lesson, note §6.2 p. 3), and a lesson's attendance and topic in one
    ``journal/edit`` form (note §6.2 p. 4). Groups are pushed concurrently; the per-host limit
    of the HTTP client bounds the requests in flight."""

    def __init__(self, client: NetSchoolClient, mapper: Mapper) -> None:
        self.client = client
        self.mapper = mapper
        self._plans: dict[int, asyncio.Task[s.SubjectPlan]] = {}

    async def push(self, changes: Sequence[Change]) -> list[PushOutcome]:
        outcomes: dict[int, PushOutcome] = {}
        groups = _by_group(changes, outcomes)
        self._plans = {}
        try:
            async with asyncio.TaskGroup() as tg:
                for (sg_id, term_id), lessons in groups.items():
                    tg.create_task(self._group(sg_id, term_id, lessons, outcomes))
        except BaseExceptionGroup as group:
            auth = group.subgroup(AuthError)
            if auth is not None:
                raise auth.exceptions[0] from None  # bad credentials stop the run
            raise
        finally:
            for task in self._plans.values():
                task.cancel()
            self._plans = {}
        return [outcomes[i] for i in range(len(changes))]

    async def _group(
        self,
        sg_id: int,
        term_id: int,
        lessons: dict[int, list[_Item]],
        outcomes: dict[int, PushOutcome],
    ) -> None:
        items = [item for rows in lessons.values() for item in rows]
        try:
            views = await self._views(sg_id, term_id, lessons)
        except AuthError:
            raise
        except JournalSyncError as exc:
            for i, change, _ in items:
                outcomes[i] = _failed(change, exc)
            return
        marks: list[tuple[int, Change, LessonRef, Mark]] = []
        rest: dict[int, list[_Item]] = {}
        for i, change, ref in items:
            record = change.record
            if isinstance(record, Mark):
                marks.append((i, change, ref, record))
            elif isinstance(record, Attendance | Lesson):
                rest.setdefault(ref.cm_id, []).append((i, change, ref))
            else:
                outcomes[i] = PushOutcome(
                    change.key,
                    ok=False,
                    message=f"{record.ENTITY} records cannot be pushed to NetSchool",
                )
        if marks:
            await self._marks(sg_id, marks, views, outcomes)
        if rest:
            async with asyncio.TaskGroup() as tg:
                for cm_id, rows in rest.items():
                    tg.create_task(self._save(sg_id, cm_id, rows, views[cm_id], outcomes))

    async def _views(
        self, sg_id: int, term_id: int, lessons: Mapping[int, Sequence[_Item]]
    ) -> dict[int, _View]:
        """Each lesson's current state: the group's journal once when its class and year ids are
        known, and the edit screen of any lesson the journal does not show."""
        refs = [rows[0][2] for rows in lessons.values()]
        known = next((r for r in refs if r.class_id is not None and r.year_id is not None), None)
        views: dict[int, _View] = {}
        if known is not None:
            assert known.class_id is not None and known.year_id is not None
            journal = await self.client.journal(
                year_id=known.year_id, class_id=known.class_id, sg_id=sg_id, term_id=term_id
            )
            for j in journal.journals:
                for cm in j.classMeeting:
                    if isinstance(cm, s.ClassMeeting) and cm.id in lessons:
                        views[cm.id] = _View(cm.assignments, cm.attendance, cm.lessonName, cm)
        missing = [r for r in refs if r.cm_id not in views]
        if missing:
            edits = await asyncio.gather(
                *(
                    self.client.journal_edit(cm_id=r.cm_id, sg_id=r.sg_id, term_id=r.term_id)
                    for r in missing
                )
            )
            for r, edit in zip(missing, edits, strict=True):
                views[r.cm_id] = _View(edit.assignments, edit.attendance, edit.lessonName)
        return views

    # --- marks -----------------------------------------------------------------------------------

    async def _marks(
        self,
        sg_id: int,
        marks: list[tuple[int, Change, LessonRef, Mark]],
        views: Mapping[int, _View],
        outcomes: dict[int, PushOutcome],
    ) -> None:
        """One ``quickedit`` per mark number (ordinal), lowest first: a new assignment is made
        for each (lesson, type) whose slot a row of the request fills, so number 2 of a type can
        be made only once number 1 exists."""
        slots: dict[tuple[int, int], list[int]] = {}
        results: dict[tuple[int, int], tuple[int | None, bool]] = {}  # (assign, student) → mark
        for cm_id, view in views.items():
            for a in view.assignments:
                if isinstance(a, s.JournalAssignment | s.EditAssignment):
                    for r in a.results:
                        if isinstance(r, s.Result) and (r.mark is not None or r.duty):
                            results[(a.id, r.studentId)] = (r.mark, r.duty)
            for type_id in {a.typeId for a in view.slots_all()}:
                slots[(cm_id, type_id)] = [a.id for a in view.slots(type_id)]
        for ordinal in sorted({m.ordinal for *_, m in marks}):
            await self._fill_gaps(sg_id, ordinal, marks, slots, outcomes)
            rows: list[dict[str, Any]] = []
            owners: list[tuple[int, Change, tuple[int, int], bool]] = []
            for i, change, ref, mark in marks:
                if mark.ordinal != ordinal or i in outcomes:
                    continue
                try:
                    row = self._mark_row(change, ref, mark, slots, results)
                except _Refused as exc:
                    outcomes[i] = PushOutcome(change.key, ok=False, message=str(exc))
                    continue
                if isinstance(row, PushOutcome):
                    outcomes[i] = row
                    continue
                type_id = int(row["assignTypeId"])
                rows.append(row)
                owners.append((i, change, (ref.cm_id, type_id), row["assignId"] is None))
            if rows:
                await self._send_marks(sg_id, rows, owners, slots, results, outcomes)

    async def _fill_gaps(
        self,
        sg_id: int,
        ordinal: int,
        marks: list[tuple[int, Change, LessonRef, Mark]],
        slots: dict[tuple[int, int], list[int]],
        outcomes: dict[int, PushOutcome],
    ) -> None:
        """Mark number ``ordinal`` of a type on a lesson that has fewer than ``ordinal - 1``
        assignments of that type (the source journal's earlier ones hold no mark the target
        takes): the missing earlier assignments are made empty first (``journal/edit`` with
        ``RegimeAddAssign``, note §6.2 p. 4), so the mark lands in its own number."""
        wanted: dict[tuple[int, int], list[tuple[int, Change]]] = {}
        for i, change, ref, mark in marks:
            type_id = self.mapper.type_id_for(mark.work_type)
            if mark.ordinal != ordinal or type_id is None or change.op == "delete":
                continue
            if type_id == HOMEWORK_TYPE_ID:
                continue  # an empty homework assignment would read as homework: refused below
            key = (ref.cm_id, type_id)
            if len(slots.get(key, [])) < ordinal - 1:
                wanted.setdefault(key, []).append((i, change))
        for (cm_id, type_id), owners in wanted.items():
            try:
                while len(slots.setdefault((cm_id, type_id), [])) < ordinal - 1:
                    made = await self.client.add_assignment(
                        sg_id=sg_id, cm_id=cm_id, type_id=type_id, name=""
                    )
                    slots[(cm_id, type_id)].append(made)
            except AuthError:
                raise
            except JournalSyncError as exc:
                for i, change in owners:
                    outcomes[i] = _failed(change, exc)

    def _mark_row(
        self,
        change: Change,
        ref: LessonRef,
        mark: Mark,
        slots: Mapping[tuple[int, int], list[int]],
        results: Mapping[tuple[int, int], tuple[int | None, bool]],
    ) -> dict[str, Any] | PushOutcome:
        """The ``results[]`` row that makes the platform hold ``mark``, or the outcome when the
        platform already holds it."""
        student = _user_of(change, mark.student_id)
        type_id = self.mapper.type_id_for(mark.work_type)
        if type_id is None:
            raise _Refused(f"work type {mark.work_type!r} has no NetSchool assignment type")
        same = slots.get((ref.cm_id, type_id), [])
        slot = same[mark.ordinal - 1] if mark.ordinal <= len(same) else None
        current = results.get((slot, student)) if slot is not None else None
        if change.op == "delete":
            if slot is None or current is None:
                return PushOutcome(change.key, ok=True, message="already absent")
            return _quick(ref, slot, type_id, student, None, False)
        number, duty = _wire_mark(mark.value)
        if slot is None and mark.ordinal > len(same) + 1:
            raise _Refused(
                f"the lesson has {len(same)} {mark.work_type} assignment(s); "
                f"cannot create number {mark.ordinal} without the ones before it"
            )
        if current == (number, duty):
            return PushOutcome(
                change.key,
                ok=True,
                message="unchanged",
                external_id=str(slot) if slot is not None else None,
            )
        return _quick(ref, slot, type_id, student, number, duty)

    async def _send_marks(
        self,
        sg_id: int,
        rows: list[dict[str, Any]],
        owners: list[tuple[int, Change, tuple[int, int], bool]],
        slots: dict[tuple[int, int], list[int]],
        results: dict[tuple[int, int], tuple[int | None, bool]],
        outcomes: dict[int, PushOutcome],
    ) -> None:
        try:
            answer = await self.client.quickedit(sg_id, rows)
        except AuthError:
            raise
        except JournalSyncError as exc:
            if len(rows) > 1 and not isinstance(exc, Retriable):
                # The platform refused the request as a whole (it checks every row first and
                # changes nothing): each row again on its own, so one bad row fails alone.
                for n, (*_, slot_key, created) in enumerate(owners):
                    row = rows[n]
                    if created:
                        # A row sent before made this slot's assignment: this one fills it too
                        # (alone, a row without assignId would make another one).
                        mark = owners[n][1].record
                        ordinal = mark.ordinal if isinstance(mark, Mark) else 1
                        made = slots.get(slot_key, [])
                        if len(made) >= ordinal:
                            row = {**row, "assignId": made[ordinal - 1]}
                    await self._send_marks(sg_id, [row], [owners[n]], slots, results, outcomes)
                return
            for i, change, *_ in owners:
                outcomes[i] = _failed(change, exc)
            return
        used = _used_ids(rows, answer)
        for (i, change, slot_key, created), row, aid in zip(owners, rows, used, strict=True):
            if aid is not None:
                if created and aid not in slots.setdefault(slot_key, []):
                    slots[slot_key].append(aid)
                cell = (aid, int(row["studentId"]))
                if row["mark"] is None and not row.get("dutyMark"):
                    results.pop(cell, None)
                else:
                    results[cell] = (row["mark"], bool(row.get("dutyMark")))
            outcomes[i] = PushOutcome(
                change.key, ok=True, external_id=str(aid) if aid is not None else None
            )

    # --- attendance and topics (one form per lesson) ------------------------------------------

    async def _save(
        self,
        sg_id: int,
        cm_id: int,
        rows: list[_Item],
        view: _View,
        outcomes: dict[int, PushOutcome],
    ) -> None:
        reasons = {
            r.studentId: r.reason for r in view.attendance if isinstance(r, s.AttendanceMark)
        }
        changed = False
        plan_id = -2  # unchanged
        sending: list[tuple[int, Change, str | None]] = []
        for i, change, _ref in rows:
            record = change.record
            try:
                if isinstance(record, Attendance):
                    if self._attendance(change, record, reasons):
                        changed = True
                        sending.append((i, change, None))
                    else:
                        outcomes[i] = PushOutcome(change.key, ok=True, message="unchanged")
                elif isinstance(record, Lesson):
                    found = await self._topic_id(change, record, sg_id, view)
                    if found is None:
                        outcomes[i] = PushOutcome(change.key, ok=True, message="unchanged")
                    else:
                        plan_id = found
                        sending.append((i, change, str(found)))
            except _Refused as exc:
                outcomes[i] = PushOutcome(change.key, ok=False, message=str(exc))
            except AuthError:
                raise
            except JournalSyncError as exc:
                outcomes[i] = _failed(change, exc)
        if not sending:
            return
        try:
            # Every row known to the lesson is sent back, so a server that treats an unlisted
            # student as present cannot wipe other absences.
            await self.client.save_lesson(
                sg_id=sg_id,
                cm_id=cm_id,
                lesson_id=plan_id,
                attendance=sorted(reasons.items()) if changed else None,
            )
        except AuthError:
            raise
        except JournalSyncError as exc:
            for i, change, _ in sending:
                outcomes[i] = _failed(change, exc)
            return
        for i, change, external in sending:
            outcomes[i] = PushOutcome(change.key, ok=True, external_id=external)

    def _attendance(self, change: Change, row: Attendance, reasons: dict[int, str]) -> bool:
        """Put the wanted reason into ``reasons``; whether it differs from the platform's."""
        student = _user_of(change, row.student_id)
        have = reasons.get(student, "").strip()
        if change.op == "delete":
            want = ""
        elif have in self.mapper.attendance and self.mapper.attendance.lookup(have) == row.code:
            want = have  # ОТ and НП are both "absent": keep the platform's spelling
        else:
            want = _reason_for(self.mapper, row.code)
        if have == want:
            return False
        reasons[student] = want
        return True

    async def _topic_id(
        self, change: Change, lesson: Lesson, sg_id: int, view: _View
    ) -> int | None:
        """The КТП lesson id that binds the topic (``-1``: none), or None when it is bound."""
        if change.op == "delete":
            raise _Refused("lessons cannot be deleted through NetSchool's journal API")
        topic = lesson.topic.strip()
        if (view.lesson_name or "").strip() == topic:
            return None
        if not topic:
            return -1
        task = self._plans.get(sg_id)
        if task is None:
            task = self._plans[sg_id] = asyncio.ensure_future(self.client.subject_plan(sg_id))
        plan = await asyncio.shield(task)
        found = next(
            (
                p
                for p in plan.lessons
                if isinstance(p, s.PlanLesson) and p.lessonName.strip() == topic
            ),
            None,
        )
        if found is None:
            raise _Refused(
                "the topic is not a lesson of the group's КТП (thematic plan); "
                "add it to the plan on the platform first"
            )
        return found.id

    # --- read-back -------------------------------------------------------------------------------

    async def read_back(self, changes: Sequence[Change]) -> dict[str, Record | None]:
        found: dict[str, Record] = {}
        groups = _by_group(changes, None)
        async with asyncio.TaskGroup() as tg:
            for (sg_id, term_id), lessons in groups.items():
                tg.create_task(self._read_group(sg_id, term_id, lessons, found))
        return {c.record.id: found.get(c.record.id) for c in changes}

    async def _read_group(
        self,
        sg_id: int,
        term_id: int,
        lessons: dict[int, list[_Item]],
        found: dict[str, Record],
    ) -> None:
        views = await self._views(sg_id, term_id, lessons)
        for cm_id, rows in lessons.items():
            view = views[cm_id]
            lesson_id, ref = _lesson_of(rows[0][1])
            batch = Batch()
            self.mapper.lesson_content(cm_id, lesson_id, view.assignments, view.attendance, batch)
            found.update((r.id, r) for r in batch.records)
            lesson = next((c.record for _, c, _ in rows if isinstance(c.record, Lesson)), None)
            if lesson is None:
                continue
            if view.meeting is not None:
                ctx = LessonContext(lesson.group_id, sg_id, term_id, ref.class_id, ref.year_id)
                found[lesson.id] = self.mapper.lesson(view.meeting, ctx)
            else:
                # Without the class and year ids only the topic is read back, onto the record.
                found[lesson.id] = lesson.model_copy(
                    update={"topic": (view.lesson_name or "").strip()}
                )


def _failed(change: Change, exc: JournalSyncError) -> PushOutcome:
    return PushOutcome(
        change.key, ok=False, message=exc.message, retriable=isinstance(exc, Retriable)
    )


def _used_ids(rows: Sequence[Mapping[str, Any]], answer: s.QuickEditResponse) -> list[int | None]:
    """The assignment each row went to, from the answer's rows (by lesson and student)."""
    by_row: dict[tuple[int, int], list[int]] = {}
    for r in answer.results:
        by_row.setdefault((r.cmId, r.studentId), []).append(r.assignId)
    out: list[int | None] = []
    for row in rows:
        ids = by_row.get((int(row["cmId"]), int(row["studentId"])))
        out.append(ids.pop(0) if ids else None)
    return out


def _result(slot: s.EditAssignment | None, student: int) -> s.Result | None:
    if slot is None:
        return None
    for r in slot.results:
        if isinstance(r, s.Result) and r.studentId == student and (r.mark is not None or r.duty):
            return r
    return None


def _quick(
    ref: LessonRef, assign_id: int | None, type_id: int, student: int, mark: int | None, duty: bool
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "cmId": ref.cm_id,
        "assignId": assign_id,
        "assignTypeId": type_id,
        "studentId": student,
        "mark": mark,
    }
    if duty:
        item["dutyMark"] = True
    return item


def _reason_for(mapper: Mapper, code: AttendanceCode) -> str:
    reason = mapper.attendance.reverse().get(code)
    if reason is None:
        raise _Refused(f"attendance code {code.value!r} has no NetSchool reason")
    return reason
