"""Look-ups from what a journal keeper writes to canonical ids, built from the remote snapshot.

A pupil is looked up among the pupils of the row's class (and subgroup), never across the
school: a name alone names the wrong child whenever two pupils share it. A class's pupils are
its enrollments covering the lesson's date; a platform whose snapshot holds no enrollments at
all (NetSchool keeps none) gives, instead, the pupils the snapshot shows in that class: its
subgroups' members and the pupils of its lessons' marks and attendance. That second list may
miss a pupil with nothing recorded yet — such a row is quarantined, never put on someone else.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from core.errors import Skippable
from core.importer._read import parse_number
from core.model import (
    Attendance,
    ClassUnit,
    Enrollment,
    Group,
    Lesson,
    Mark,
    Person,
    Subject,
    normalise_class_name,
    normalise_subject_name,
)
from core.store import Store

__all__ = ["Roster", "fold"]

_ROSTER = ("person", "class_unit", "subject", "group", "enrollment", "lesson")


def fold(text: str) -> str:
    """Case, «ё»/«е» and spacing do not tell two names apart."""
    return " ".join(text.replace("ё", "е").replace("Ё", "Е").lower().split())


@dataclass(frozen=True, slots=True)
class _Member:
    student_id: str
    begin: date | None
    end: date | None

    def on(self, day: date) -> bool:
        return (self.begin is None or self.begin <= day) and (self.end is None or day <= self.end)


class Roster:
    def __init__(self, store: Store, school: str, platform: str) -> None:
        self.classes: dict[tuple[int, str], list[str]] = defaultdict(list)
        self.subjects: dict[str, list[str]] = defaultdict(list)
        self.groups: dict[tuple[str, str, int], Group] = {}
        self.lessons: dict[tuple[str, date, int], Lesson] = {}
        self.lesson_by_id: dict[str, Lesson] = {}
        self.group_by_id: dict[str, Group] = {}
        self.teachers: set[str] = set()
        names: dict[str, str] = {}
        enrollments: list[Enrollment] = []
        for rec in (
            r for entity in _ROSTER for r in store.remote_records(school, platform, entity)
        ):
            if isinstance(rec, Lesson):
                self.lessons[(rec.group_id, rec.date, rec.number)] = rec
                self.lesson_by_id[rec.id] = rec
            elif isinstance(rec, Person):
                if "teacher" in rec.roles:
                    self.teachers.add(rec.id)
                if "student" in rec.roles:
                    full = " ".join(x for x in (rec.last_name, rec.first_name, rec.middle_name))
                    names[rec.id] = fold(full)
            elif isinstance(rec, ClassUnit):
                self.classes[(rec.grade, rec.letter)].append(rec.id)
            elif isinstance(rec, Subject):
                self.subjects[fold(normalise_subject_name(rec.name))].append(rec.id)
            elif isinstance(rec, Group):
                self.groups[(rec.class_id, rec.subject_id, rec.subgroup)] = rec
                self.group_by_id[rec.id] = rec
            elif isinstance(rec, Enrollment):
                enrollments.append(rec)
        # class id → folded name → the pupils of that name in the class
        self._pupils: dict[str, dict[str, list[_Member]]] = defaultdict(lambda: defaultdict(list))
        self._seen: dict[tuple[str, str], list[_Member] | Skippable] = {}
        if enrollments:
            for e in enrollments:
                if e.student_id in names:
                    member = _Member(e.student_id, e.begin, e.end)
                    self._pupils[e.class_id][names[e.student_id]].append(member)
        else:
            self._pupils_from_journal(store, school, platform, names)

    def _pupils_from_journal(
        self, store: Store, school: str, platform: str, names: dict[str, str]
    ) -> None:
        seen: set[tuple[str, str]] = set()
        group_class = {g.id: g.class_id for g in self.groups.values()}
        for g in self.groups.values():
            seen.update((g.class_id, s) for s in g.member_ids)
        for entity in ("mark", "attendance"):
            for rec in store.remote_records(school, platform, entity):
                if isinstance(rec, Mark | Attendance):
                    lesson = self.lesson_by_id.get(rec.lesson_id)
                    if lesson is not None and lesson.group_id in group_class:
                        seen.add((group_class[lesson.group_id], rec.student_id))
        for class_id, student_id in seen:
            if student_id in names:
                self._pupils[class_id][names[student_id]].append(_Member(student_id, None, None))

    def lesson(
        self, cls: str, subject: str, subgroup: str, day: date, number: int | None
    ) -> Lesson:
        """The lesson a row names; :class:`Skippable` naming the field that does not match.
        ``number=None`` (a source that gives dates only, such as OneRoster): the group's only
        lesson that day."""
        try:
            key = normalise_class_name(cls)
        except ValueError:
            raise Skippable("not a class name", field="class") from None
        class_ids = self.classes.get(key)
        if not class_ids:
            raise Skippable("no such class on the platform", field="class")
        subject_ids = self.subjects.get(fold(normalise_subject_name(subject)))
        if not subject_ids:
            raise Skippable("no such subject on the platform", field="subject")
        if len(subject_ids) > 1:
            raise Skippable("more than one subject of that name on the platform", field="subject")
        try:
            subgroup_number = parse_number(subgroup or "0")
        except ValueError:
            raise Skippable("subgroup must be a number", field="subgroup") from None
        groups = [
            g
            for c in class_ids
            if (g := self.groups.get((c, subject_ids[0], subgroup_number))) is not None
        ]
        if not groups:
            raise Skippable("no such class/subject/subgroup group", field="subgroup")
        if number is None:
            if len(groups) != 1:
                raise Skippable("more than one group of that class and subject", field="class")
            return self.lesson_of_group(groups[0].id, day, "")
        lessons = [le for g in groups if (le := self.lessons.get((g.id, day, number))) is not None]
        if len(lessons) != 1:
            raise Skippable("no such lesson in the timetable", field="lesson")
        return lessons[0]

    def class_pupils(self, class_id: str, start: date, end: date) -> set[str]:
        """The ids of the pupils the importer would take in that class some day from ``start``
        to ``end`` (its enrollments; without any in the snapshot, whom the snapshot shows in it)."""
        return {
            m.student_id
            for members in self._pupils.get(class_id, {}).values()
            for m in members
            if (m.begin is None or m.begin <= end) and (m.end is None or start <= m.end)
        }

    def lesson_of_group(self, group_id: str, day: date, number: str) -> Lesson:
        """The group's lesson on ``day``: of that number, or without one the day's only lesson
        (a OneRoster line item carries a date, not a lesson number)."""
        if number:
            try:
                n = parse_number(number)
            except ValueError:
                raise Skippable("lesson number must be a number", field="lesson") from None
            found = self.lessons.get((group_id, day, n))
            if found is None:
                raise Skippable("no such lesson in the timetable", field="lesson")
            return found
        on_day = [le for (g, d, _), le in self.lessons.items() if g == group_id and d == day]
        if len(on_day) != 1:
            raise Skippable(
                "no lesson of the class on that date"
                if not on_day
                else "the class has several lessons that day and the row names none",
                field="lesson",
            )
        return on_day[0]

    def pupil(self, lesson: Lesson, name: str, student_id: str = "") -> str:
        """The pupil of the lesson's class (and subgroup) of that name on the lesson's day; a
        ``student_id`` the snapshot has in that class and subgroup (with that name) on that day
        settles namesakes."""
        found = self._seen.get((lesson.group_id, name))
        if found is None:
            try:
                found = self._candidates(lesson.group_id, name)
            except Skippable as exc:
                found = exc
            self._seen[(lesson.group_id, name)] = found
        if isinstance(found, Skippable):
            raise found
        on_day = {m.student_id for m in found if m.on(lesson.date)}
        if student_id in on_day:
            return student_id
        if not on_day:
            raise Skippable("the pupil was not in the class on that date", field="student")
        if len(on_day) > 1:
            raise Skippable("more than one pupil of that name in the class", field="student")
        return next(iter(on_day))

    def _candidates(self, group_id: str, name: str) -> list[_Member]:
        """The group's pupils of that name (a name is looked up once per group)."""
        folded = fold(name)
        if not folded:
            raise Skippable("student is empty", field="student")
        group = self.group_by_id.get(group_id)
        if group is None:
            raise Skippable("the lesson's group is not in the snapshot", field="lesson")
        found = self._pupils.get(group.class_id, {}).get(folded, [])
        if not found:
            raise Skippable("no pupil of that name in the class", field="student")
        if group.member_ids:
            members = set(group.member_ids)
            found = [m for m in found if m.student_id in members]
            if not found:
                raise Skippable("the pupil is not in that subgroup", field="student")
        return found
