"""World → ЭПОС payloads (note §4; shapes a public client shows, the rest [guess] in WIRE.md).

Ids: a profile id is the world person's ``ext_id`` (students, parents and teachers alike); a user
id is ``USER_BASE + ext_id``; a schedule item is a world lesson; a homework is a world assignment
of type ``homework``. Derived ids keep the order of what they derive from:
``mark id = assignment id × ID_STRIDE + student id`` (so a student's marks on a lesson sort like
the assignments), ``attendance id = lesson id × ID_STRIDE + student id``,
``student_homework id = homework id × ID_STRIDE + student id``, ``homework_entry id =
ENTRY_BASE + homework id``.

Guesses this module makes (the note is silent): a mark's creation date is its lesson's day;
the world's «точка» (no value) is sent as ``is_point: true`` with the value «2» and the lesson
day as ``point_date``; world weights (1.0, 1.5, 2.0, 3.0) become the platform's integers
(:func:`wire_weight`, half up); a late arrival is not an absence, so it has no attendance row.

Student profile (note §4.3): the fields P4 reads, plus the rest the note lists from the full МЭШ
``StudentProfile`` [MES: OctoDiary ``types/web/student_profile.py``] — ``curricula`` (one object
``{id, name, class_level_id}``; its id and name are [guess]), ``marks``, ``final_marks``,
``subjects``, ``parents``, ``ec_attendances``, ``ae_attendances``. Which lists a request gets
follows the МЭШ ``with_*`` options [MES: DnevnikApi ``ProfileOptions``] (:data:`PROFILE_LISTS`):
``groups`` and ``attendances`` always (P4 reads them; P1 sends no options), every other list only
when its option is ``true`` [guess: the default]. Shapes [guess]: a ``marks`` item is the
``/core/api/marks`` item; a ``final_marks`` item is ``{id, student_profile_id, subject_id,
subject_name, group_id, period_id, period_name, value, is_year_mark}`` with the value spelled as
the progress report's ``final_mark``; a ``parents`` item has the МЭШ ``Parent`` fields (``id``
= the guardian's profile id, ``type: "parent"``, ``name`` …, contacts ``null``).

Homework files (note §4.6): every fifth homework (``ext_id % 5 == 0``) carries one text file
[guess: which ones and what; the world has no files, so the emulator derives them, as the
NetSchool emulator does], in the note's shape ``{id, file_file_name, path, file_file_size}``;
``path`` is ``/system/attachments/<homework id>/<file name>`` and downloads the bytes
(:func:`homework_files`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from connectors.sandbox.world import (
    AssignmentInfo,
    GroupInfo,
    LessonInfo,
    PersonInfo,
    SchoolInfo,
    World,
)
from core.codes import WORK_TYPES, AttendanceCode, MarkValue, numeric_mark

__all__ = [
    "ATTACHMENT_BASE",
    "CONTROL_FORMS",
    "ENTRY_BASE",
    "ID_STRIDE",
    "PROFILE_LISTS",
    "USER_BASE",
    "academic_years",
    "group_name",
    "homework_file_body",
    "homework_files",
    "homework_payload",
    "mark_payload",
    "progress",
    "schedule_item",
    "session_payload",
    "student_groups",
    "student_profile",
    "teacher_profile",
    "wire_weight",
]

USER_BASE = 50_000_000
ENTRY_BASE = 700_000_000
ATTACHMENT_BASE = 800_000_000
CURRICULUM_BASE = 600_000_000
ID_STRIDE = 1_000_000
_PREVIOUS_YEAR_BASE = 900_000_000

#: Profile list → the МЭШ option that asks for it (``with_marks=true`` …) [MES]; ``None`` = always.
PROFILE_LISTS: dict[str, str | None] = {
    "groups": None,
    "attendances": None,
    "marks": "with_marks",
    "final_marks": "with_final_marks",
    "subjects": "with_subjects",
    "parents": "with_parents",
    "ec_attendances": "with_ec_attendances",
    "ae_attendances": "with_ae_attendances",
}

#: Work type → (control_form_id, control_form_name): the МЭШ-style catalogue the emulator uses.
CONTROL_FORMS: dict[str, tuple[int, str]] = {
    code: (n, w.name) for n, (code, w) in enumerate(WORK_TYPES.items(), start=1)
}


def wire_weight(weight: float) -> int:
    """The platform's integer weight for a world weight (half up: 1.5 → 2)."""
    return int(weight + 0.5)


def _dmy(d: date) -> str:
    return f"{d.day:02d}.{d.month:02d}.{d.year}"


def _names(p: PersonInfo) -> dict[str, Any]:
    return {"last_name": p.last_name, "first_name": p.first_name, "middle_name": p.middle_name}


def group_name(world: World, g: GroupInfo) -> str:
    """«7А Алгебра», «7А Английский язык (1 подгр.)» [guess for subgroups]."""
    base = f"{world.classes[g.class_id].name} {world.subjects[g.subject_id].name}"
    return f"{base} ({g.subgroup} подгр.)" if g.subgroup else base


def student_groups(world: World, student: PersonInfo) -> list[GroupInfo]:
    return world.groups_of_student(student.ext_id)


# --- sessions and years ---------------------------------------------------------------------------


def session_payload(world: World, person: PersonInfo, auth_token: str) -> dict[str, Any]:
    school = world.schools[person.school]
    ptype = {"student": "student", "guardian": "parent"}.get(person.role, "teacher")
    profile: dict[str, Any] = {
        "id": person.ext_id,
        "type": ptype,
        "roles": [],
        "subject_ids": [],
        "user_id": USER_BASE + person.ext_id,
        "school_id": school.ext_id,
        "school_shortname": school.short_name,
        "agree_pers_data": True,
        "org_type_id": 1,
        "is_default": True,
    }
    if person.role == "guardian":
        profile["children"] = [
            {**_names(c), "id": c.ext_id, "class_name": _class_name(world, c)}
            for c in (world.persons[i] for i in person.children)
        ]
    return {
        "id": USER_BASE + person.ext_id,
        "authentication_token": auth_token,
        **_names(person),
        "email": None,
        "snils": None,
        "guid": f"00000000-0000-4000-8000-{person.ext_id:012d}",
        "date_of_birth": person.birth_date.isoformat() if person.birth_date else None,
        "sex": "male" if person.gender == "m" else "female",
        "password_change_required": False,
        "profiles": [profile],
    }


def _class_name(world: World, student: PersonInfo) -> str:
    return world.classes[student.class_id].name if student.class_id is not None else ""


def academic_years(school: SchoolInfo) -> list[dict[str, Any]]:
    """The previous year first: clients take the last element (P1, P3) or ``current_year``."""
    y = school.year
    return [
        {
            "id": _PREVIOUS_YEAR_BASE + y.ext_id,
            "name": f"{y.start_year - 1}-{y.start_year}",
            "begin_date": date(y.start_year - 1, 9, 1).isoformat(),
            "end_date": date(y.start_year, 5, 31).isoformat(),
            "calendar_id": 1,
            "current_year": False,
        },
        {
            "id": y.ext_id,
            "name": f"{y.start_year}-{y.start_year + 1}",
            "begin_date": y.start.isoformat(),
            "end_date": y.end.isoformat(),
            "calendar_id": 1,
            "current_year": True,
        },
    ]


# --- profiles -------------------------------------------------------------------------------------


def student_profile(
    world: World, st: PersonInfo, wanted: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The profile; ``wanted`` = the optional lists asked for (:data:`PROFILE_LISTS` keys)."""
    school = world.schools[st.school]
    groups = student_groups(world, st)
    cls = world.classes[st.class_id] if st.class_id is not None else None
    attendances = [
        {
            "id": lid * ID_STRIDE + st.ext_id,
            "schedule_lesson_id": lid,
            "student_profile_id": st.ext_id,
        }
        for g in groups
        for lid in g.lesson_ids
        if world.lessons[lid].attendance.get(st.ext_id) not in (None, AttendanceCode.LATE)
    ]
    subjects = {g.subject_id: world.subjects[g.subject_id].name for g in groups}
    lists: dict[str, Any] = {
        "marks": lambda: _profile_marks(world, st, groups),
        "final_marks": lambda: _profile_finals(world, st, groups),
        "subjects": lambda: [{"id": k, "name": v} for k, v in subjects.items()],
        "parents": lambda: [_parent(world.persons[g]) for g in st.guardian_ids],
        "ec_attendances": list,
        "ae_attendances": list,
    }
    return {
        "id": st.ext_id,
        "user_id": USER_BASE + st.ext_id,
        "user_name": st.full_name,
        "short_name": st.short_name,
        **_names(st),
        "birth_date": st.birth_date.isoformat() if st.birth_date else None,
        "sex": "male" if st.gender == "m" else "female",
        "school_id": school.ext_id,
        "class_unit": (
            {"id": cls.ext_id, "name": cls.name, "class_level_id": cls.grade} if cls else None
        ),
        "class_unit_id": cls.ext_id if cls else None,
        "class_level": cls.grade if cls else None,
        "curricula": (
            {
                "id": CURRICULUM_BASE + school.ext_id * 100 + cls.grade,
                "name": f"Учебный план {cls.grade} класса {school.year.start_year}/"
                f"{school.year.start_year + 1}",
                "class_level_id": cls.grade,
            }
            if cls
            else None
        ),
        "enlisted_on": school.year.start.isoformat(),
        "left_on": None,
        "groups": [
            {
                "id": g.ext_id,
                "name": group_name(world, g),
                "subject_id": g.subject_id,
                "subject_name": world.subjects[g.subject_id].name,
                "class_unit_id": g.class_id,
                "is_fake": False,
            }
            for g in groups
        ],
        "attendances": attendances,
        **{key: (make() if key in wanted else []) for key, make in lists.items()},
    }


def _profile_marks(world: World, st: PersonInfo, groups: list[GroupInfo]) -> list[dict[str, Any]]:
    out = []
    for g in groups:
        for lid in g.lesson_ids:
            le = world.lessons[lid]
            for a in world.lesson_assignments(le):
                value = a.marks.get(st.ext_id)
                if value is not None:
                    out.append(mark_payload(world, le, a, st.ext_id, value))
    return sorted(out, key=lambda m: m["id"])


def _profile_finals(world: World, st: PersonInfo, groups: list[GroupInfo]) -> list[dict[str, Any]]:
    out = []
    for g in groups:
        for per in world.schools[st.school].periods:
            final = world.final_marks.get((st.ext_id, g.subject_id, per.ext_id))
            if final is None:
                continue
            out.append(
                {
                    "id": (g.ext_id * 10 + per.ordinal) * ID_STRIDE + st.ext_id,
                    "student_profile_id": st.ext_id,
                    "subject_id": g.subject_id,
                    "subject_name": world.subjects[g.subject_id].name,
                    "group_id": g.ext_id,
                    "period_id": per.ext_id,
                    "period_name": per.name,
                    "value": str(numeric_mark(final) or final.value),
                    "is_year_mark": False,
                }
            )
    return out


def _parent(p: PersonInfo) -> dict[str, Any]:
    return {
        "id": p.ext_id,
        "user_id": USER_BASE + p.ext_id,
        "type": "parent",
        "name": p.full_name,
        "gusoev_login": None,
        "phone_number": None,
        "email": None,
        "snils": None,
        "hidden": False,
    }


def teacher_profile(world: World, t: PersonInfo) -> dict[str, Any]:
    groups = sorted(g.ext_id for g in world.groups_of_teacher(t.ext_id))
    subjects = sorted({world.groups[g].subject_id for g in groups})
    kind = "staff" if t.role == "admin" else "teacher"
    return {
        "id": t.ext_id,
        "user_id": USER_BASE + t.ext_id,
        "name": t.full_name,
        "type": kind,
        "roles": [kind],
        "school_id": world.schools[t.school].ext_id,
        "subject_ids": subjects,
        "user": _names(t),
        "group_ids": groups,
        "assigned_group_ids": groups,
    }


# --- schedule, marks, homework --------------------------------------------------------------------


def _homework_of(world: World, lesson: LessonInfo) -> list[AssignmentInfo]:
    return [a for a in world.lesson_assignments(lesson) if a.work_type == "homework"]


def schedule_item(world: World, le: LessonInfo, due: dict[date, list[int]]) -> dict[str, Any]:
    g = world.groups[le.group_id]
    start = datetime.combine(le.day, datetime.strptime(le.start_time, "%H:%M").time())
    finish = datetime.combine(le.day, datetime.strptime(le.end_time, "%H:%M").time())
    return {
        "id": le.ext_id,
        "group_id": g.ext_id,
        "teacher_id": le.teacher_id,
        "subject_id": g.subject_id,
        "subject_name": world.subjects[g.subject_id].name,
        "lesson_name": le.topic,
        "duration": int((finish - start).total_seconds() // 60),
        "date": [le.day.year, le.day.month, le.day.day],
        "time": [start.hour, start.minute, 0],
        "iso_date_time": start.isoformat(),
        "day_number": le.day.isoweekday(),
        "study_ordinal": le.number,
        "room_name": "",
        "cancelled": False,
        "homeworks_to_give": [{"id": a.ext_id} for a in _homework_of(world, le)],
        "homeworks_to_verify": [{"id": h} for h in due.get(le.day, [])],
    }


def homework_due(world: World, g: GroupInfo) -> dict[date, list[int]]:
    """Homework due per day of a group (for ``homeworks_to_verify``)."""
    out: dict[date, list[int]] = {}
    for lid in g.lesson_ids:
        for a in _homework_of(world, world.lessons[lid]):
            out.setdefault(a.due_date, []).append(a.ext_id)
    return out


def _mark_values(text: str) -> list[dict[str, Any]]:
    n = int(text)
    return [
        {
            "name": text,
            "nmax": 5.0,
            "grade_system_type": "five",
            "grade": {"origin": text, "five": float(n), "hundred": n * 20.0},
        }
    ]


def _mark_text(value: MarkValue) -> tuple[str, bool]:
    """A mark's ``name`` on the wire and whether it is a point (a dot is sent as "2")."""
    point = value is MarkValue.DOT
    number = numeric_mark(value)
    return ("2" if point or number is None else str(number)), point


def mark_payload(
    world: World, le: LessonInfo, a: AssignmentInfo, st: int, value: MarkValue
) -> dict[str, Any]:
    text, point = _mark_text(value)
    form_id, form_name = CONTROL_FORMS[a.work_type]
    g = world.groups[le.group_id]
    stamp = f"{le.day.isoformat()}T{le.start_time}:00"
    return {
        "id": a.ext_id * ID_STRIDE + st,
        "student_profile_id": st,
        "created_at": stamp,
        "updated_at": stamp,
        "teacher_id": le.teacher_id,
        "name": text,
        "values": _mark_values(text),
        "weight": wire_weight(a.weight),
        "comment": None,
        "is_point": point,
        "point_date": le.day.isoformat() if point else None,
        "schedule_lesson_id": le.ext_id,
        "group_id": g.ext_id,
        "subject_id": g.subject_id,
        "control_form_id": form_id,
        "control_form_name": form_name,
        "is_exam": False,
        "date": le.day.isoformat(),
        "grade_system_type": "five",
    }


def homework_file_body(a: AssignmentInfo) -> bytes:
    """The bytes of a derived homework file (its text names the homework)."""
    return f"Задание к уроку: {a.name}\n".encode()


def homework_files(a: AssignmentInfo) -> list[dict[str, Any]]:
    """The derived files of a homework: one for every fifth (``ext_id % 5 == 0``) [guess]."""
    if a.work_type != "homework" or a.ext_id % 5:
        return []
    name = f"Задание {a.ext_id}.txt"
    return [
        {
            "id": ATTACHMENT_BASE + a.ext_id,
            "file_file_name": name,
            "path": f"/system/attachments/{a.ext_id}/{name}",
            "file_file_size": len(homework_file_body(a)),
        }
    ]


def homework_payload(
    world: World,
    le: LessonInfo,
    a: AssignmentInfo,
    st: PersonInfo,
    attachments: list[dict[str, Any]],
) -> dict[str, Any]:
    g = world.groups[le.group_id]
    entry_id = ENTRY_BASE + a.ext_id
    return {
        "id": a.ext_id * ID_STRIDE + st.ext_id,
        "created_at": f"{le.day.isoformat()}T{le.start_time}:00",
        "student_id": st.ext_id,
        "student_name": st.full_name,
        "homework_entry_id": entry_id,
        "is_ready": False,
        "comment": None,
        "attachments": [],
        "homework_entry": {
            "id": entry_id,
            "homework_id": a.ext_id,
            "description": a.name,
            "duration": 20,
            "attachments": attachments,
            "student_ids": [],
            "eom_urls": [],
            "homework": {
                "id": a.ext_id,
                "teacher_id": le.teacher_id,
                "subject_id": g.subject_id,
                "group_id": g.ext_id,
                "is_class_room_job": False,
                "date_prepared_for": _dmy(a.due_date),
                "date_assigned_on": _dmy(le.day),
                "subject": {"id": g.subject_id, "name": world.subjects[g.subject_id].name},
            },
        },
    }


# --- progress report ------------------------------------------------------------------------------


def progress(world: World, st: PersonInfo) -> list[dict[str, Any]]:
    school = world.schools[st.school]
    out: list[dict[str, Any]] = []
    for g in student_groups(world, st):
        periods = []
        total: list[tuple[int, int]] = []
        # The pupil's marked lessons once; each period takes those on its days.
        marked = []
        for lid in g.lesson_ids:
            le = world.lessons[lid]
            mine = [
                (a, value)
                for a in world.lesson_assignments(le)
                if (value := a.marks.get(st.ext_id)) is not None
            ]
            if mine:
                marked.append((le, mine))
        for per in school.periods:
            marks: list[dict[str, Any]] = []
            for le, mine in marked:
                if not per.start <= le.day <= per.end:
                    continue
                for a, value in mine:
                    text, point = _mark_text(value)  # the fields mark_payload gives them
                    form_id, form_name = CONTROL_FORMS[a.work_type]
                    marks.append(
                        {
                            "values": [{"original": text, "five": float(text), "nmax": 5.0}],
                            "weight": wire_weight(a.weight),
                            "control_form_id": form_id,
                            "control_form_name": form_name,
                            "topic_name": le.topic,
                            "date": _dmy(le.day),
                            "grade_system_type": "five",
                            "is_exam": False,
                            "is_point": point,
                        }
                    )
            numeric = [(int(m["values"][0]["original"]), m["weight"]) for m in marks]
            numeric = [nw for nw, mk in zip(numeric, marks, strict=True) if not mk["is_point"]]
            total += numeric
            final = world.final_marks.get((st.ext_id, g.subject_id, per.ext_id))
            periods.append(
                {
                    "name": per.name,
                    "start": _dmy(per.start),
                    "end": _dmy(per.end),
                    "start_iso": per.start.isoformat(),
                    "end_iso": per.end.isoformat(),
                    **_averages(numeric),
                    "final_mark": str(numeric_mark(final) or final.value) if final else None,
                    "is_year_mark": False,
                    "marks": marks,
                }
            )
        out.append(
            {
                "subject_name": world.subjects[g.subject_id].name,
                "subject_id": g.subject_id,
                **_averages(total),
                "periods": periods,
            }
        )
    return out


def _averages(marks: list[tuple[int, int]]) -> dict[str, str | None]:
    weight = sum(w for _, w in marks)
    if not weight:
        return {"avg_five": None, "avg_hundred": None, "avg_original": None}
    avg = sum(v * w for v, w in marks) / weight
    return {
        "avg_five": f"{avg:.2f}",
        "avg_hundred": f"{avg * 20:.2f}",
        "avg_original": f"{avg:.2f}",
    }
