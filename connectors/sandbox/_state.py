"""The world's data and its queries and changes; built by ``World.generate`` (``world.py``).

Kept apart from ``world.py`` so the generator, the mutator and the canonical view can name the
world's type without importing the module that imports them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from connectors.sandbox._entities import (
    Account,
    AssignmentInfo,
    ClassInfo,
    GroupInfo,
    LessonInfo,
    PeriodInfo,
    PersonInfo,
    SchoolInfo,
    SubjectInfo,
    TimetableSlot,
)
from core.codes import WORK_TYPES, AttendanceCode, MarkValue

__all__ = ["WorldSize", "WorldState"]


@dataclass(frozen=True)
class WorldSize:
    schools: int = 1
    grades: tuple[int, ...] = tuple(range(1, 12))
    letters: int = 2  # classes per grade: А, Б, …
    students_per_class: int = 25
    weeks: int = 4  # calendar weeks from the week of the first school day (1 September)
    start_year: int = 2026


@dataclass
class WorldState:
    """The whole state, entities keyed by ``ext_id`` (build a :class:`World` with ``generate``)."""

    seed: int
    size: WorldSize
    today: date = date(1970, 1, 1)
    version: int = 0
    schools: dict[str, SchoolInfo] = field(default_factory=dict)
    persons: dict[int, PersonInfo] = field(default_factory=dict)
    classes: dict[int, ClassInfo] = field(default_factory=dict)
    subjects: dict[int, SubjectInfo] = field(default_factory=dict)
    groups: dict[int, GroupInfo] = field(default_factory=dict)
    timetable: dict[int, list[TimetableSlot]] = field(default_factory=dict)  # by class id
    lessons: dict[int, LessonInfo] = field(default_factory=dict)
    assignments: dict[int, AssignmentInfo] = field(default_factory=dict)
    final_marks: dict[tuple[int, int, int], MarkValue] = field(default_factory=dict)
    _next_id: int = 1000

    def next_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # -- queries -----------------------------------------------------------------------------

    def school(self, slug: str) -> SchoolInfo:
        return self.schools[slug]

    def school_by_id(self, ext_id: int) -> SchoolInfo | None:
        return next((s for s in self.schools.values() if s.ext_id == ext_id), None)

    def accounts(self, school: str | None = None, role: str | None = None) -> list[Account]:
        """Every account (ordered by person id), optionally of one school and/or role."""
        return [
            Account(p.role, p.login, p.password, p.ext_id, p.school)
            for p in self.persons.values()
            if (school is None or p.school == school) and (role is None or p.role == role)
        ]

    def account(self, login: str) -> PersonInfo | None:
        return next((p for p in self.persons.values() if p.login == login), None)

    def group_name(self, group: GroupInfo) -> str:
        """«7А/Алгебра», «7А/Английский язык/1» — as teachers see it."""
        base = f"{self.classes[group.class_id].name}/{self.subjects[group.subject_id].name}"
        return f"{base}/{group.subgroup}" if group.subgroup else base

    def groups_of_student(self, student_id: int, subject_id: int | None = None) -> list[GroupInfo]:
        """The student's groups (of one subject: checked before the scan of the members)."""
        cid = self.persons[student_id].class_id
        if cid is None:
            return []
        groups = (self.groups[gid] for gid in self.classes[cid].group_ids)
        return [
            g
            for g in groups
            if (subject_id is None or g.subject_id == subject_id) and student_id in g.member_ids
        ]

    def groups_of_teacher(self, teacher_id: int) -> list[GroupInfo]:
        return [g for g in self.groups.values() if teacher_id in g.teacher_ids]

    def lesson_assignments(self, lesson: LessonInfo) -> list[AssignmentInfo]:
        return [self.assignments[a] for a in lesson.assignment_ids]

    def period_of(self, school: str, day: date) -> PeriodInfo | None:
        return next((p for p in self.schools[school].periods if p.start <= day <= p.end), None)

    def changed_lessons(self, since_version: int) -> Iterator[LessonInfo]:
        return (le for le in self.lessons.values() if le.updated > since_version)

    # -- mutations ---------------------------------------------------------------------------

    def _touch(self, lesson: LessonInfo) -> None:
        self.version += 1
        lesson.updated = self.version

    def create_assignment(
        self,
        lesson_id: int,
        work_type: str,
        name: str | None = None,
        weight: float | None = None,
        due_date: date | None = None,
    ) -> AssignmentInfo:
        """A new assignment on a lesson (default name/weight of the work type)."""
        lesson = self.lessons[lesson_id]
        wt = WORK_TYPES[work_type]
        a = AssignmentInfo(
            ext_id=self.next_id(),
            lesson_id=lesson_id,
            work_type=work_type,
            name=name if name is not None else wt.name,
            weight=weight if weight is not None else wt.default_weight,
            due_date=due_date or lesson.day,
        )
        self.assignments[a.ext_id] = a
        lesson.assignment_ids.append(a.ext_id)
        self._touch(lesson)
        return a

    def delete_assignment(self, assignment_id: int) -> None:
        a = self.assignments.pop(assignment_id)
        lesson = self.lessons[a.lesson_id]
        lesson.assignment_ids.remove(assignment_id)
        self._touch(lesson)

    def set_mark(
        self,
        lesson_id: int,
        student_id: int,
        work_type: str,
        value: MarkValue,
        assignment: int | None = None,
    ) -> int:
        """Set a mark; returns the assignment id used.

        Without ``assignment`` the first assignment of ``work_type`` on the lesson is used, and
        one is created when there is none.
        """
        lesson = self.lessons[lesson_id]
        if assignment is None:
            found = [a for a in self.lesson_assignments(lesson) if a.work_type == work_type]
            a = found[0] if found else self.create_assignment(lesson_id, work_type)
        else:
            a = self.assignments[assignment]
            if a.lesson_id != lesson_id:
                raise KeyError(f"assignment {assignment} is not on lesson {lesson_id}")
        a.marks[student_id] = value
        self._touch(lesson)
        return a.ext_id

    def delete_mark(self, assignment_id: int, student_id: int) -> bool:
        a = self.assignments[assignment_id]
        if a.marks.pop(student_id, None) is None:
            return False
        self._touch(self.lessons[a.lesson_id])
        return True

    def set_attendance(self, lesson_id: int, student_id: int, code: AttendanceCode | None) -> None:
        """``None`` = present (removes the entry)."""
        lesson = self.lessons[lesson_id]
        if code is None:
            lesson.attendance.pop(student_id, None)
        else:
            lesson.attendance[student_id] = code
        self._touch(lesson)

    def set_topic(self, lesson_id: int, topic: str) -> None:
        lesson = self.lessons[lesson_id]
        lesson.topic = topic
        self._touch(lesson)

    def set_homework(self, lesson_id: int, text: str, due_date: date | None = None) -> int:
        """Set (or replace the text of) the lesson's first homework; returns its assignment id."""
        lesson = self.lessons[lesson_id]
        hw = [a for a in self.lesson_assignments(lesson) if a.work_type == "homework"]
        if hw:
            hw[0].name = text
            if due_date is not None:
                hw[0].due_date = due_date
            self._touch(lesson)
            return hw[0].ext_id
        return self.create_assignment(lesson_id, "homework", text, due_date=due_date).ext_id

    def move_student(self, student_id: int, group_id: int) -> int:
        """Move a pupil into subgroup ``group_id`` of the pupil's class, out of the other
        subgroups of that subject (as a school does at a term's end, or any day). The pupil's
        marks and absences in the old subgroup's lessons stay where they were entered: the
        platform keeps history. Returns the old subgroup's id. Every lesson of both subgroups
        counts as changed (its visible pupils did)."""
        new = self.groups[group_id]
        if not new.subgroup or self.persons[student_id].class_id != new.class_id:
            raise ValueError("a pupil moves between subgroups of the pupil's own class")
        old = next(
            g
            for gid in self.classes[new.class_id].group_ids
            if (g := self.groups[gid]).subject_id == new.subject_id
            and g.subgroup
            and student_id in g.member_ids
        )
        if old is new:
            return old.ext_id
        old.member_ids.remove(student_id)
        new.member_ids.append(student_id)
        for lid in (*old.lesson_ids, *new.lesson_ids):
            self._touch(self.lessons[lid])
        return old.ext_id

    def move_student_to_class(self, student_id: int, class_id: int) -> int:
        """Move a pupil to another class (its whole-class groups and, per subject with
        subgroups, its first subgroup). History stays where it was entered. Returns the old
        class's id."""
        person = self.persons[student_id]
        old, new = self.classes[person.class_id or 0], self.classes[class_id]
        if old is new:
            return old.ext_id
        old.student_ids.remove(student_id)
        new.student_ids.append(student_id)
        person.class_id = class_id
        touched: list[int] = []
        for gid in old.group_ids:
            g = self.groups[gid]
            if student_id in g.member_ids:
                g.member_ids.remove(student_id)
                touched += g.lesson_ids
        joined: set[int] = set()
        for gid in new.group_ids:
            g = self.groups[gid]
            if g.subgroup == 0 or (g.subgroup == 1 and g.subject_id not in joined):
                g.member_ids.append(student_id)
                if g.subgroup:
                    joined.add(g.subject_id)
                touched += g.lesson_ids
        for lid in touched:
            self._touch(self.lessons[lid])
        return old.ext_id
