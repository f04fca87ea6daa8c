"""Ruobr emulator: ``user/``, ``timetable2/``, ``controlmark/``, ``all_marks/…``,
``ba/new_mark/performance/`` (note §4.2–§4.5, §4.7).

Shapes the note leaves open, chosen as the majority client expects and marked [guess]:

* ``division_subject`` = the group's id; ``division_subject_str`` = the subject, or
  «<subject>, N подгруппа» for a subgroup;
* ``marks[].number`` = the ordinal of the mark's question among the lesson's questions of the
  same type (1 for the first «Ответ на уроке», 2 for the second …);
* ``all_marks`` ``marks[]``: one entry per mark of the pupil in the subject and period, plus one
  entry (``mark: ""``) per lesson with an attendance status and no mark; ``indx`` = the lesson's
  position (0-based) among the pupil's lessons of that subject in the period, by date and time;
  ``status_lesson`` = the lesson's attendance code («Н», «УП», «Б», «ОП», «ОСВ») or "";
* ``controlmark`` ``marks[].mark`` = the final mark of a closed period (``marks_future: 0``), or
  the pupil's current average in a running one (``marks_future: 1``), ``0.0`` when none;
  ``period`` = the period's ordinal; titles «1-я четверть».
"""

from __future__ import annotations

import html
from datetime import date, timedelta
from functools import cache, lru_cache
from hashlib import md5
from operator import attrgetter
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from connectors.sandbox.responses import JSONResponse
from connectors.sandbox.world import AssignmentInfo, LessonInfo, PersonInfo
from core.codes import WORK_TYPES, AttendanceCode, numeric_mark

from ._emulator_state import ATTENDANCE_CODES, MARK_TEXT, EmulatorState, NoSuccess

_ROMAN = ("I", "II", "III", "IV", "V", "VI")
USER_ID_OFFSET = 115_000_000  # pupils' account ids (`user_id`) differ from pupil ids (`id`)
_EXT_ID = attrgetter("ext_id")


def _day(text: str | None) -> date:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        raise NoSuccess("Неверный формат даты") from None


def _avatar(pid: int) -> str:
    return f"https://ruobr.ru/mediac/avatars/{md5(str(pid).encode()).hexdigest()}.JPEG"


def child_object(st: EmulatorState, pupil: PersonInfo) -> dict[str, Any]:
    school = st.school_of(pupil)
    name = f"{school.number}-{school.name}" if st.options.school_number_prefix else school.name
    cls = st.world.classes[pupil.class_id] if pupil.class_id is not None else None
    out: dict[str, Any] = {
        "id": pupil.ext_id,
        "user_id": USER_ID_OFFSET + pupil.ext_id,
        "first_name": pupil.first_name,
        "last_name": pupil.last_name,
        "middle_name": pupil.middle_name,
        "birth_date": pupil.birth_date.isoformat() if pupil.birth_date else None,
        "user_img": _avatar(pupil.ext_id),
        "school": name,
        "school_terrirtory_id": 1,  # sic (note §4.2)
        "school_is_tourniquet": 0,
        "school_is_food": 5,
        "group": cls.name if cls else "",
        "readonly": 0,
        "gender": 1 if pupil.gender == "m" else 2,
        "push_settings": {
            "school_news": 0,
            "attendance": 0,
            "homework": 0,
            "mau_balance": 0,
            "tourniquet": 1,
            "mark": 1,
        },
    }
    if not st.options.omit_optional_user_fields:
        out.update(balance=0, tourniquet=0, mau_balance=0)
    return out


#: ``day.isoformat()``, remembered: a world's few hundred school days come back in every lesson,
#: mark and deadline of every pupil.
_iso = cache(date.isoformat)


def _deadline(st: EmulatorState, day: date) -> str:
    fmt = st.options.deadline_format
    if fmt == "datetime":
        return f"{_iso(day)}T00:00:00"
    if fmt == "dmy":
        return day.strftime("%d.%m.%Y")
    return _iso(day)


@lru_cache(maxsize=8192)
def _homework_text(text: str) -> tuple[str, str]:
    """(``title``, ``text`` without file links) of a homework's text. A pure function of the
    text, cached: a homework is rendered again for every pupil of its group."""
    # Escaping the whole text and then breaking its lines is escaping each line and joining
    # them with <br>: the escapes hold no newline.
    body = html.escape(text).replace("\n", "<br>")
    return text.partition("\n")[0][:80], f"<p>{body}</p>"


def _task(st: EmulatorState, a: AssignmentInfo) -> dict[str, Any]:
    title, text = _homework_text(a.name)
    files = st.options.homework_files.get(a.ext_id)
    if files:
        text += "".join(
            f'<p><a href="{html.escape(url, quote=True)}">{html.escape(name)}</a></p>'
            for name, url in files
        )
    return {
        "id": a.ext_id,
        "title": title,
        "doc": bool(files),
        "requires_solutions": False,
        "deadline": _deadline(st, a.due_date),
        "test_id": None,
        "type": "group",
        "text": text,
    }


def _assignments(st: EmulatorState, lesson: LessonInfo) -> list[AssignmentInfo]:
    """The lesson's assignments in id order."""
    assignments = st.world.assignments
    items = [assignments[a] for a in lesson.assignment_ids]  # a new list: sorted in place
    if len(items) > 1:
        items.sort(key=_EXT_ID)
    return items


def _ordinals(st: EmulatorState, lesson: LessonInfo) -> list[tuple[AssignmentInfo, int]]:
    counters: dict[str, int] = {}
    out = []
    for a in _assignments(st, lesson):
        n = counters[a.work_type] = counters.get(a.work_type, 0) + 1
        out.append((a, n))
    return out


class _LessonObjects:
    """Renders ``timetable2`` lessons for one request.

    A request is answered without awaiting anything between its lessons, so the world cannot
    change while it renders: what a lesson's group and teacher give (subject, division, the
    teacher's name) is looked up once per request and reused for the group's other lessons.
    Nothing is kept between requests — tests and the sandbox edit entities in place, without
    a version bump to invalidate a longer-lived memo.
    """

    def __init__(self, st: EmulatorState) -> None:
        self.st = st
        self._groups: dict[int, tuple[str, int, str]] = {}
        self._staff: dict[int, str] = {}

    def _group(self, group_id: int) -> tuple[str, int, str]:
        """(subject, ``division_subject``, ``division_subject_str``) of a group."""
        found = self._groups.get(group_id)
        if found is None:
            st = self.st
            group = st.world.groups[group_id]
            found = (st.world.subjects[group.subject_id].name, group.ext_id, st.division_str(group))
            self._groups[group_id] = found
        return found

    def _teacher(self, teacher_id: int) -> str:
        found = self._staff.get(teacher_id)
        if found is None:
            teacher = self.st.world.persons.get(teacher_id)
            found = self._staff[teacher_id] = teacher.full_name if teacher else ""
        return found

    def __call__(self, lesson: LessonInfo, pupil: PersonInfo) -> dict[str, Any]:
        st = self.st
        teacher_id = lesson.teacher_id
        subject, division, division_str = self._group(lesson.group_id)
        staff = self._teacher(teacher_id)
        out: dict[str, Any] = {
            "id": lesson.ext_id,
            "date": _iso(lesson.day),
            "time_start": f"{lesson.start_time}:00",
            "time_end": f"{lesson.end_time}:00",
            "subject": subject,
            "division_subject": division,
            "division_subject_str": division_str,
            "staff": staff,
            "staff_id": teacher_id,
        }
        # Optional keys are absent, not null, when empty (note §4.3).
        if lesson.topic:
            out["topic"] = lesson.topic
        if not lesson.assignment_ids:
            return out
        me = pupil.ext_id
        tasks, marks = [], []
        for a, n in _ordinals(st, lesson):
            if a.work_type == "homework":
                tasks.append(_task(st, a))
            value = a.marks.get(me)
            if value is None:
                continue
            mark: dict[str, Any] = {
                "question_name": a.name,
                "question_id": a.ext_id,
                "number": n,
                "question_type": WORK_TYPES[a.work_type].name,
                "mark": MARK_TEXT[value],
            }
            if st.faults.take_malformed(f"timetable2 lesson {lesson.ext_id} question {a.ext_id}"):
                mark["question_id"] = "corrupted"
            marks.append(mark)
        if tasks:
            out["task"] = tasks
        if marks:
            out["marks"] = marks
        return out


def _numeric_marks(st: EmulatorState, pupil: PersonInfo) -> dict[int, list[tuple[date, int]]]:
    """Subject id → (lesson day, value) of each of the pupil's numeric marks: one pass over the
    pupil's lessons, which a period and subject then filter."""
    w = st.world
    me = pupil.ext_id
    out: dict[int, list[tuple[date, int]]] = {}
    for g in st.groups_of(pupil):
        for lid in g.lesson_ids:
            le = w.lessons[lid]
            for aid in le.assignment_ids:
                value = w.assignments[aid].marks.get(me)
                if value is not None and (n := numeric_mark(value)) is not None:
                    out.setdefault(g.subject_id, []).append((le.day, n))
    return out


def _average(values: list[int]) -> float:
    return round(sum(values) / len(values), 2) if values else 0.0


def _need(values: list[int], target: float) -> int:
    """How many more 5s lift the average to ``target`` (R7's formula)."""
    if not values:
        return 0
    total, count = sum(values), len(values)  # the same figures every step, summed once
    k = 0
    while total + 5 * k < target * (count + k):
        k += 1
    return k


def control_periods(st: EmulatorState, pupil: PersonInfo) -> list[dict[str, Any]]:
    w = st.world
    out = []
    subjects = st.subjects_of(pupil)
    marked = _numeric_marks(st, pupil)
    for p in st.school_of(pupil).periods:
        closed = p.end < w.today
        marks = []
        counted: dict[int, int] = {}
        for sid, name in subjects:
            numbers = [n for day, n in marked.get(sid, ()) if p.start <= day <= p.end]
            for n in numbers:
                counted[n] = counted.get(n, 0) + 1
            if closed:
                final = w.final_marks.get((pupil.ext_id, sid, p.ext_id))
                value = float(numeric_mark(final) or 0) if final is not None else 0.0
            else:
                value = _average(numbers)
            marks.append({"subject_id": sid, "subject_name": name, "mark": value, "sub_type": 0})
        out.append(
            {
                "period": p.ordinal,
                "rom": _ROMAN[p.ordinal - 1] if p.ordinal <= len(_ROMAN) else str(p.ordinal),
                "title": f"{p.ordinal}-я четверть",
                "date_start": p.start.isoformat(),
                "date_end": p.end.isoformat(),
                "marks_future": 0 if closed else 1,
                "marks": marks,
                "counted_marks": [
                    {"mark": float(k), "cnt": v} for k, v in sorted(counted.items(), reverse=True)
                ],
            }
        )
    return out


def all_marks(
    st: EmulatorState, pupil: PersonInfo, period_no: int, subject_id: int
) -> dict[str, Any]:
    w = st.world
    me = pupil.ext_id
    period = next((p for p in st.school_of(pupil).periods if p.ordinal == period_no), None)
    # the pupil's groups of the subject: the subject check and the lessons both need them
    groups = st.groups_of(pupil, subject_id)
    if period is None or not groups:
        return {}
    entries: list[dict[str, Any]] = []
    numbers: list[int] = []
    absences = 0
    assignments = w.assignments
    lessons = st.lessons_of(pupil, period.start, period.end, subject_id, groups=groups)
    for indx, le in enumerate(lessons):
        code = le.attendance.get(me)
        if code is None:
            status = ""
        else:
            status = ATTENDANCE_CODES[code]
            if code is not AttendanceCode.LATE:
                absences += 1
        # the pupil's marked assignments of the lesson, in id order (usually none or one)
        mine = [a for aid in le.assignment_ids if me in (a := assignments[aid]).marks]
        if not mine and not status:
            continue
        day = _iso(le.day)
        if len(mine) > 1:
            mine.sort(key=_EXT_ID)
        for a in mine:
            value = a.marks[me]
            n = numeric_mark(value)
            if n is not None:
                numbers.append(n)
            entries.append(
                {
                    "indx": indx,
                    "date": day,
                    "mark": MARK_TEXT[value],
                    "mark_int": n or 0,
                    "status_lesson": status,
                }
            )
        if not mine:
            entries.append(
                {"indx": indx, "date": day, "mark": "", "mark_int": 0, "status_lesson": status}
            )
    final = w.final_marks.get((pupil.ext_id, subject_id, period.ext_id))
    counts = {v: numbers.count(v) for v in sorted(set(numbers), reverse=True)}
    return {
        "subject": w.subjects[subject_id].name,
        "sub_id": subject_id,
        "title": f"{period.ordinal}-я четверть",
        "period": period.ordinal,
        "date_start": _iso(period.start),
        "date_end": _iso(period.end),
        "avg_mark": _average(numbers),
        # int or "" when absent (note §4.5)
        "control_mark": numeric_mark(final) if final is not None else "",
        "need_five": _need(numbers, 4.5),
        "need_four": _need(numbers, 3.5),
        "count_mark": len(numbers),
        "not_in_lesson": absences,
        "marks": entries,
        "all_state_marks": [
            {
                "indx": i,
                "state_mark": str(v),
                "state_count_mark": c,
                "percent": f"{100 * c / len(numbers):.1f}",  # a string since 2021-08
                "percent_int": round(100 * c / len(numbers)),
            }
            for i, (v, c) in enumerate(counts.items())
        ],
        "state_mark": [{"state_mark": v, "state_count_mark": c} for v, c in counts.items()],
    }


def routes(st: EmulatorState) -> list[BaseRoute]:
    async def user(request: Request) -> Response:
        account = st.account(request)
        if account.role == "student":
            return JSONResponse(
                {
                    "success": True,
                    "status": "child",
                    "gps_tracker": False,
                    **child_object(st, account),
                }
            )
        return JSONResponse(
            {
                "success": True,
                "status": "applicant",
                "gps_tracker": False,
                "childs": [child_object(st, p) for p in st.pupils(account)],
            }
        )

    async def timetable(request: Request) -> Response:
        pupil = st.child(request)
        start = _day(request.query_params.get("start"))
        end = _day(request.query_params.get("end"))
        if end < start or end - start > timedelta(days=400):
            raise NoSuccess("Неверный период")
        render = _LessonObjects(st)
        lessons = [render(le, pupil) for le in st.lessons_of(pupil, start, end)]
        return JSONResponse({"lessons": lessons})

    async def controlmark(request: Request) -> Response:
        return JSONResponse(control_periods(st, st.child(request)))

    async def all_marks_view(request: Request) -> Response:
        pupil = st.child(request)
        try:
            period = int(request.path_params["period"])
            subject = int(request.path_params["subject"])
        except ValueError:
            raise NoSuccess("Неверный запрос") from None
        return JSONResponse({"data": all_marks(st, pupil, period, subject)})

    async def performance(request: Request) -> Response:
        """``ba/new_mark/performance/`` [V R7 shape; query parameters a guess: ``child``]."""
        pupil = st.child(request)
        year = st.school_of(pupil).year
        subs: list[dict[str, Any]] = []
        all_numbers: list[int] = []
        for sid, name in st.subjects_of(pupil):
            qs: list[dict[str, Any]] = []
            values: list[int] = []
            for le in st.lessons_of(pupil, year.start, year.end, sid):
                for a, _ in _ordinals(st, le):
                    n = numeric_mark(a.marks[pupil.ext_id]) if pupil.ext_id in a.marks else None
                    if n is not None:
                        values.append(n)
                        qs.append(
                            {
                                "mark_id": a.ext_id * 1000 + pupil.ext_id % 1000,
                                "date": le.day.isoformat(),
                                "mark": n,
                                "question__subject": WORK_TYPES[a.work_type].name,
                            }
                        )
            all_numbers += values
            subs.append(
                {
                    "name": name,
                    "avg": _average(values),
                    "need_five": _need(values, 4.5),
                    "need_four": _need(values, 3.5),
                    "qs_mark": qs,
                }
            )
        return JSONResponse(
            {"data": {"now_year": [{"qs_sub": subs}], "avg_all_sub": _average(all_numbers)}}
        )

    return [
        Route("/user/", user),
        Route("/timetable2/", timetable),
        Route("/controlmark/", controlmark),
        Route("/all_marks/{period}/{subject}/", all_marks_view),
        Route("/ba/new_mark/performance/", performance),
    ]
