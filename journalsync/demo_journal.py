"""The demo's paper journal: a few marks, absences and a topic a teacher wrote by hand, as the
importer's CSV, made from what the last pull read (used by ``demo.py`` and ``demo_worklist.py``).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from core.files import write_private
from core.importer import COLUMNS
from core.model import Attendance, ClassUnit, Group, Lesson, Mark, Person, Record, Subject
from core.store import Store

__all__ = ["write_local_journal"]


def _full_name(p: Person) -> str:
    return " ".join(x for x in (p.last_name, p.first_name, p.middle_name) if x)


def write_local_journal(store: Store, school: str, platform: str, path: Path) -> int:
    """A small paper journal: new marks, absences and a topic on the last lessons of one class."""
    remote: dict[str, list[Record]] = {}
    for r in store.remote_records(school, platform):
        remote.setdefault(r.ENTITY, []).append(r)
    classes = {c.id: c for c in remote["class_unit"] if isinstance(c, ClassUnit)}
    subjects = {s.id: s for s in remote["subject"] if isinstance(s, Subject)}
    groups = {g.id: g for g in remote["group"] if isinstance(g, Group) and g.subgroup == 0}
    people = {p.id: p for p in remote["person"] if isinstance(p, Person)}
    marked = {(m.lesson_id, m.student_id) for m in remote["mark"] if isinstance(m, Mark)}
    absent = {
        (a.lesson_id, a.student_id) for a in remote["attendance"] if isinstance(a, Attendance)
    }
    cls = max(classes.values(), key=lambda c: c.grade)
    lessons = sorted(
        (
            le
            for le in remote["lesson"]
            if isinstance(le, Lesson)
            and le.group_id in groups
            and groups[le.group_id].class_id == cls.id
        ),
        key=lambda le: (le.date, le.number),
    )[-3:]
    class_lessons = {
        le.id
        for le in remote["lesson"]
        if isinstance(le, Lesson)
        and le.group_id in groups
        and groups[le.group_id].class_id == cls.id
    }
    students = sorted(  # the class's students: those marked in its whole-class lessons
        {
            m.student_id
            for m in remote["mark"]
            if isinstance(m, Mark) and m.lesson_id in class_lessons
        }
        & set(people),
        key=lambda pid: _full_name(people[pid]),
    )
    rows: list[dict[str, str]] = []
    for i, le in enumerate(lessons):
        g = groups[le.group_id]
        where = {
            "class": cls.name,
            "subject": subjects[g.subject_id].name,
            "subgroup": "",
            "date": le.date.isoformat(),
            "lesson": str(le.number),
        }
        free = [s for s in students if (le.id, s) not in marked and (le.id, s) not in absent]
        for s, value in zip(free[:2], ("5", "4"), strict=False):
            rows.append(
                {
                    **where,
                    "kind": "mark",
                    "student": _full_name(people[s]),
                    "work_type": "answer",
                    "value": value,
                }
            )
        if len(free) > 2:
            rows.append(
                {**where, "kind": "attendance", "student": _full_name(people[free[2]]), "code": "Б"}
            )
        if i == 0:  # the teacher wrote the next КТП topic on the paper page
            other = next(
                (
                    x.topic
                    for x in remote["lesson"]
                    if isinstance(x, Lesson)
                    and x.group_id == le.group_id
                    and x.topic
                    and x.topic != le.topic
                ),
                None,
            )
            if other:
                rows.append({**where, "kind": "topic", "topic": other})
    # One broken row, as happens in hand-kept files: a student who is not in the class.
    rows.append(
        {
            **where,
            "kind": "mark",
            "student": "Несуществующий Ученик Петрович",
            "work_type": "answer",
            "value": "5",
        }
    )
    fields = list(COLUMNS)
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    write_private(path, text.getvalue())
    return len(rows)
