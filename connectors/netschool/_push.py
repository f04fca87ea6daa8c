"""Teacher journal writes (WIRE.md "Teacher writes") and their read-back.

Every write is **read first, then written only if needed**, which is what makes a repeated push
harmless: a mark goes to the assignment that already holds its (work type, ordinal) slot, so a
retry never creates a second assignment; attendance and topics that already have the wanted
value send nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.codes import AttendanceCode, MarkValue, numeric_mark
from core.connector import Change, PushOutcome
from core.errors import AuthError, JournalSyncError, Retriable
from core.model import Attendance, Lesson, Mark, Record

from . import schema as s
from .client import NetSchoolClient
from .mapping import Batch, LessonContext, Mapper

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


def _order(change: Change) -> tuple[int, int]:
    # Lower ordinals first, so two new marks of one type on a lesson create slots 1, 2 in order.
    record = change.record
    return (0, record.ordinal) if isinstance(record, Mark) else (1, 0)


class Pusher:
    def __init__(self, client: NetSchoolClient, mapper: Mapper) -> None:
        self.client = client
        self.mapper = mapper

    async def push(self, changes: Sequence[Change]) -> list[PushOutcome]:
        outcomes: dict[int, PushOutcome] = {}
        for i in sorted(range(len(changes)), key=lambda i: _order(changes[i])):
            outcomes[i] = await self._one(changes[i])
        return [outcomes[i] for i in range(len(changes))]

    async def _one(self, change: Change) -> PushOutcome:
        try:
            record = change.record
            if isinstance(record, Mark):
                return await self._mark(change, record)
            if isinstance(record, Attendance):
                return await self._attendance(change, record)
            if isinstance(record, Lesson):
                return await self._topic(change, record)
            raise _Refused(f"{record.ENTITY} records cannot be pushed to NetSchool")
        except _Refused as exc:
            return PushOutcome(change.key, ok=False, message=str(exc))
        except AuthError:
            raise  # bad credentials stop the run, not just this change
        except JournalSyncError as exc:
            return PushOutcome(
                change.key, ok=False, message=exc.message, retriable=isinstance(exc, Retriable)
            )

    # --- marks -----------------------------------------------------------------------------------

    async def _mark(self, change: Change, mark: Mark) -> PushOutcome:
        _, ref = _lesson_of(change)
        student = _user_of(change, mark.student_id)
        type_id = self.mapper.type_id_for(mark.work_type)
        if type_id is None:
            raise _Refused(f"work type {mark.work_type!r} has no NetSchool assignment type")
        edit = await self.client.journal_edit(cm_id=ref.cm_id, sg_id=ref.sg_id, term_id=ref.term_id)
        same = sorted(
            (
                a
                for a in edit.assignments
                if isinstance(a, s.EditAssignment) and a.typeId == type_id
            ),
            key=lambda a: a.id,
        )
        slot = same[mark.ordinal - 1] if mark.ordinal <= len(same) else None
        current = _result(slot, student)

        if change.op == "delete":
            if slot is None or current is None:
                return PushOutcome(change.key, ok=True, message="already absent")
            item = _quick(ref, slot.id, type_id, student, None, False)
        else:
            number, duty = _wire_mark(mark.value)
            if slot is None and mark.ordinal > len(same) + 1:
                raise _Refused(
                    f"the lesson has {len(same)} {mark.work_type} assignment(s); "
                    f"cannot create number {mark.ordinal} without the ones before it"
                )
            if current is not None and (current.mark, current.duty) == (number, duty):
                return PushOutcome(
                    change.key,
                    ok=True,
                    message="unchanged",
                    external_id=str(slot.id) if slot else None,
                )
            item = _quick(ref, slot.id if slot else None, type_id, student, number, duty)
        answer = await self.client.quickedit(ref.sg_id, [item])
        used = next((r.assignId for r in answer.results if r.studentId == student), None)
        return PushOutcome(change.key, ok=True, external_id=str(used) if used is not None else None)

    # --- attendance ------------------------------------------------------------------------------

    async def _attendance(self, change: Change, row: Attendance) -> PushOutcome:
        _, ref = _lesson_of(change)
        student = _user_of(change, row.student_id)
        edit = await self.client.journal_edit(cm_id=ref.cm_id, sg_id=ref.sg_id, term_id=ref.term_id)
        reasons = {
            r.studentId: r.reason for r in edit.attendance if isinstance(r, s.AttendanceMark)
        }
        have = reasons.get(student, "").strip()
        if change.op == "delete":
            want = ""
        elif have in self.mapper.attendance and self.mapper.attendance.lookup(have) == row.code:
            want = have  # ОТ and НП are both "absent": keep the platform's spelling
        else:
            want = _reason_for(self.mapper, row.code)
        if have == want:
            return PushOutcome(change.key, ok=True, message="unchanged")
        reasons[student] = want
        # Every row known to the lesson is sent back, so a server that treats an unlisted student
        # as present cannot wipe other absences.
        await self.client.save_lesson(
            sg_id=ref.sg_id, cm_id=ref.cm_id, attendance=sorted(reasons.items())
        )
        return PushOutcome(change.key, ok=True)

    # --- lesson topics ---------------------------------------------------------------------------

    async def _topic(self, change: Change, lesson: Lesson) -> PushOutcome:
        if change.op == "delete":
            raise _Refused("lessons cannot be deleted through NetSchool's journal API")
        _, ref = _lesson_of(change)
        edit = await self.client.journal_edit(cm_id=ref.cm_id, sg_id=ref.sg_id, term_id=ref.term_id)
        topic = lesson.topic.strip()
        if (edit.lessonName or "").strip() == topic:
            return PushOutcome(change.key, ok=True, message="unchanged")
        if not topic:
            plan_id = -1
        else:
            plan = await self.client.subject_plan(ref.sg_id)
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
            plan_id = found.id
        await self.client.save_lesson(sg_id=ref.sg_id, cm_id=ref.cm_id, lesson_id=plan_id)
        return PushOutcome(change.key, ok=True, external_id=str(plan_id))

    # --- read-back -------------------------------------------------------------------------------

    async def read_back(self, changes: Sequence[Change]) -> dict[str, Record | None]:
        refs: dict[str, LessonRef] = {}
        lesson_changes: dict[str, Lesson] = {}
        for change in changes:
            try:
                lesson_id, ref = _lesson_of(change)
            except _Refused:
                continue
            refs.setdefault(lesson_id, ref)
            if isinstance(change.record, Lesson):
                lesson_changes[lesson_id] = change.record
        found: dict[str, Record] = {}
        for lesson_id, ref in refs.items():
            edit = await self.client.journal_edit(
                cm_id=ref.cm_id, sg_id=ref.sg_id, term_id=ref.term_id
            )
            batch = Batch()
            self.mapper.lesson_content(
                ref.cm_id, lesson_id, edit.assignments, edit.attendance, batch
            )
            found.update((r.id, r) for r in batch.records)
            if lesson_id in lesson_changes:
                lesson = await self._read_lesson(ref, lesson_changes[lesson_id], edit)
                if lesson is not None:
                    found[lesson.id] = lesson
        return {c.record.id: found.get(c.record.id) for c in changes}

    async def _read_lesson(
        self, ref: LessonRef, record: Lesson, edit: s.JournalEdit
    ) -> Record | None:
        """The lesson as the journal shows it; needs the class and year ids of its provenance
        (without them, only the topic is read back, onto the pushed record)."""
        if ref.class_id is None or ref.year_id is None:
            return record.model_copy(update={"topic": (edit.lessonName or "").strip()})
        journal = await self.client.journal(
            year_id=ref.year_id, class_id=ref.class_id, sg_id=ref.sg_id, term_id=ref.term_id
        )
        ctx = LessonContext(record.group_id, ref.sg_id, ref.term_id, ref.class_id, ref.year_id)
        for j in journal.journals:
            for cm in j.classMeeting:
                if isinstance(cm, s.ClassMeeting) and cm.id == ref.cm_id:
                    return self.mapper.lesson(cm, ctx)
        return None


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
