"""Teacher/administrator reads and writes (WIRE.md, "Teacher / administrator" sections).

The journal shapes below `classMeeting[]` are our [guess] (WIRE.md); the paths and the request
payloads follow IRTech's own web client (note §6.2). Writes mutate the shared World.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from connectors.netschool._emulator_codes import (
    ATTENDANCE_REASONS,
    ATTENDANCE_TO_WIRE,
    TYPE_ID_TO_CODE,
    WIRE_TO_ATTENDANCE,
    WORK_TYPE_IDS,
    wire_weight,
)
from connectors.netschool._emulator_state import (
    BadRequest,
    EmulatorState,
    Login,
    form_items,
    int_param,
    iso,
    parse_day,
    wire_group_name,
)
from connectors.sandbox.responses import JSONResponse
from connectors.sandbox.world import AssignmentInfo, GroupInfo, LessonInfo, PeriodInfo
from core.codes import AttendanceCode, MarkValue, numeric_mark


def _result(st: EmulatorState, a: AssignmentInfo, sid: int, v: MarkValue) -> dict[str, Any] | None:
    """One `results[]` item; None for values NetSchool's 5-point journal cannot show."""
    if v is MarkValue.DOT:
        r: dict[str, Any] = {"studentId": sid, "mark": None, "duty": True}
    elif (n := numeric_mark(v)) is not None:
        r = {"studentId": sid, "mark": n, "duty": False}
    else:
        return None
    # malformed fault: alternately an out-of-scale mark and a result without studentId
    if st.faults.malformed > 0:
        if len(st.faults.corrupted) % 2 == 0:
            if st.faults.take_malformed(f"journal: assignment {a.ext_id} student {sid}: mark 7"):
                r["mark"], r["duty"] = 7, False
        elif st.faults.take_malformed(
            f"journal: assignment {a.ext_id} student {sid}: no studentId"
        ):
            del r["studentId"]
    return r


def _results(st: EmulatorState, a: AssignmentInfo) -> list[dict[str, Any]]:
    return [r for sid, v in sorted(a.marks.items()) if (r := _result(st, a, sid, v)) is not None]


def _attendance(le: LessonInfo) -> list[dict[str, Any]]:
    return [
        {"studentId": s, "reason": ATTENDANCE_TO_WIRE[c]} for s, c in sorted(le.attendance.items())
    ]


def _ktp_id(group: GroupInfo, topic: str) -> int | None:
    return next((t.ext_id for t in group.ktp if t.name == topic), None)


def _term(st: EmulatorState, login: Login, term_id: int) -> PeriodInfo:
    p = next((p for p in login.school.periods if p.ext_id == term_id), None)
    if p is None:
        raise BadRequest(f"unknown term {term_id}")
    return p


def routes(st: EmulatorState) -> list[BaseRoute]:
    w = st.world

    async def teacher_classes(request: Request) -> Response:
        lg = st.require(request)
        ids = {g.class_id for g in st.visible_groups(lg)}
        return JSONResponse(
            [{"id": c, "name": w.classes[c].name} for c in lg.school.class_ids if c in ids]
        )

    async def subjectgroups(request: Request) -> Response:
        lg = st.require(request)
        class_id = int_param(request, "classId", -1)
        out = []
        for g in st.visible_groups(lg):
            if class_id not in (-1, g.class_id):
                continue
            out.append(
                {
                    "id": g.ext_id,
                    "name": wire_group_name(w, g),
                    "subjectName": w.subjects[g.subject_id].name,
                    "subjectId": g.subject_id,
                    "classId": g.class_id,
                    "subgroup": g.subgroup,
                    "teachers": [{"id": t, "name": w.persons[t].full_name} for t in g.teacher_ids],
                }
            )
        return JSONResponse(out)

    async def student_list(request: Request) -> Response:
        lg = st.require(request)
        g = st.group(lg, int_param(request, "sgid"))
        return JSONResponse(
            [
                {
                    "id": s,
                    "fullName": w.persons[s].full_name,
                    "free": False,
                    "individualEduc": False,
                }
                for s in g.member_ids
            ]
        )

    async def reasons(request: Request) -> Response:
        st.require(request)
        return JSONResponse(ATTENDANCE_REASONS)

    async def years_current(request: Request) -> Response:
        lg = st.require(request)
        y = lg.school.year
        return JSONResponse(
            {"id": y.ext_id, "name": y.name, "startDate": iso(y.start), "endDate": iso(y.end)}
        )

    async def terms_search(request: Request) -> Response:
        lg = st.require(request)
        body = await _json(request)
        start = parse_day(
            body.get("startPeriod") or lg.school.year.start.isoformat(), "startPeriod"
        )
        end = parse_day(body.get("endPeriod") or lg.school.year.end.isoformat(), "endPeriod")
        return JSONResponse(
            [
                {"id": p.ext_id, "name": p.name, "startDate": iso(p.start), "endDate": iso(p.end)}
                for p in lg.school.periods
                if p.end >= start and p.start <= end
            ]
        )

    async def journal(request: Request) -> Response:
        lg = st.require(request)
        term = _term(st, lg, int_param(request, "termId"))
        class_id = int_param(request, "classId", -1)
        sg_id = int_param(request, "sgId", -1)
        if sg_id != -1:
            groups = [st.group(lg, sg_id)]
        else:
            groups = [g for g in st.visible_groups(lg) if g.class_id == class_id]
        journals = []
        for g in groups:
            lessons = [w.lessons[i] for i in g.lesson_ids]
            meetings = [_meeting(st, g, le) for le in lessons if term.start <= le.day <= term.end]
            teacher = w.persons[g.teacher_ids[0]]
            journals.append(
                {
                    "subjectGroupId": g.ext_id,
                    "students": [
                        {"id": s, "fullName": w.persons[s].full_name, "free": False}
                        for s in g.member_ids
                    ],
                    "classMeeting": meetings,
                    "lastAccess": {"date": iso(w.today), "nickName": teacher.short_name},
                }
            )
        return JSONResponse(
            {
                "journals": journals,
                "editLimit": {
                    "readOnly": False,
                    "limitPastEditHomeAssigns": False,
                    "attendanceReleasedMarkAllowed": False,
                },
                "markSettings": {"maxMark": 5, "minMark": 1},
                "lastEditCmId": None,
            }
        )

    async def journal_edit_get(request: Request) -> Response:
        lg = st.require(request)
        g = st.group(lg, int_param(request, "sgId"))
        le = st.lesson(lg, g, int_param(request, "cmid"))
        return JSONResponse(
            {
                "assignments": [
                    {
                        "id": a.ext_id,
                        "name": a.name,
                        "typeId": WORK_TYPE_IDS[a.work_type],
                        "weight": wire_weight(a.weight),
                        "results": _results(st, a),
                    }
                    for a in w.lesson_assignments(le)
                ],
                "attendance": _attendance(le),
                "lessonId": _ktp_id(g, le.topic),
                "lessonName": le.topic,
                "moduleQA": None,
            }
        )

    async def journal_edit_post(request: Request) -> Response:
        """Form: sgid, cmid, lessonId (-1 none, -2 unchanged), saveJournal, SID…, REASON…;
        RegimeAddAssign=1 with AType (type id) and AN (title) creates an assignment on the
        lesson → ``{assignmentId, assignmentName}`` (note §6.2 p. 4). [guess] An empty ``AN``
        is taken (the assignment is named after its type); the note gives no rule for it.

        [guess] The grouped arrays travel as repeated keys in row order; `G_<assignId>` (mark
        text per row: "" none, "1"–"5", "." точка) is honoured too. Validated before anything
        changes, so a bad request leaves the journal as it was.
        """
        lg = st.require(request)
        items = await form_items(request)
        form = dict(items)
        g = st.group(lg, _int(form.get("sgid"), "sgid"))
        le = st.lesson(lg, g, _int(form.get("cmid"), "cmid"))
        topic_id = _int(form.get("lessonid", "-2"), "lessonId")
        topic: str | None = None
        if topic_id == -1:
            topic = ""
        elif topic_id != -2:
            topic = next((t.name for t in g.ktp if t.ext_id == topic_id), None)
            if topic is None:
                raise BadRequest(
                    f"lesson {topic_id} is not in the subject plan of group {g.ext_id}"
                )
        new_type: str | None = None
        if form.get("regimeaddassign") == "1":
            new_type = TYPE_ID_TO_CODE.get(_int(form.get("atype"), "AType"))
            if new_type is None:
                raise BadRequest(f"unknown assignment type {form.get('atype')}")
            if len(form.get("an", "")) > 400:
                raise BadRequest("AN (the assignment's title) is longer than 400 characters")
        changes_att: list[tuple[int, AttendanceCode | None]] = []
        changes_marks: list[tuple[int, int, MarkValue | None]] = []
        if form.get("savejournal") == "1":
            sids = [_int(v, "SID") for k, v in items if k == "sid"]
            reasons_ = [v for k, v in items if k == "reason"]
            if len(reasons_) not in (0, len(sids)):
                raise BadRequest("SID and REASON must have the same number of rows")
            for sid in sids:
                if sid not in g.member_ids:
                    raise BadRequest(f"student {sid} is not in subject group {g.ext_id}")
            for sid, reason in zip(sids, reasons_, strict=False):
                if reason and reason not in WIRE_TO_ATTENDANCE:
                    raise BadRequest(f"unknown attendance reason {reason!r}")
                changes_att.append((sid, WIRE_TO_ATTENDANCE[reason] if reason else None))
            for key in {k for k, _ in items if k.startswith("g_")}:
                aid = _int(key[2:], key)
                if aid not in le.assignment_ids:
                    raise BadRequest(f"assignment {aid} is not on class meeting {le.ext_id}")
                texts = [v for k, v in items if k == key]
                if len(texts) != len(sids):
                    raise BadRequest(f"{key} must have one value per SID row")
                for sid, text in zip(sids, texts, strict=True):
                    changes_marks.append((aid, sid, _mark_text(text)))
        if topic is not None:
            w.set_topic(le.ext_id, topic)
        for sid, code in changes_att:
            if le.attendance.get(sid) != code:
                w.set_attendance(le.ext_id, sid, code)
                st.write_log.append(("attendance", le.ext_id, sid, "", code or ""))
        for aid, sid, value in changes_marks:
            a = w.assignments[aid]
            if value is None:
                if w.delete_mark(aid, sid):
                    st.write_log.append(("mark", le.ext_id, sid, a.work_type, ""))
            elif a.marks.get(sid) != value:
                w.set_mark(le.ext_id, sid, a.work_type, value, assignment=aid)
                st.write_log.append(("mark", le.ext_id, sid, a.work_type, value))
        if new_type is not None:
            made = w.create_assignment(le.ext_id, new_type, name=form.get("an") or None)
            return JSONResponse({"assignmentId": made.ext_id, "assignmentName": made.name})
        return JSONResponse({"success": True})

    async def quickedit(request: Request) -> Response:
        """Marks grid save. `assignId` null → create an assignment of `assignTypeId` (one per
        lesson × type within a request [guess]); `mark` null without `dutyMark` → delete.
        All rows are validated before any change."""
        lg = st.require(request)
        body = await _json(request)
        g = st.group(lg, _int(body.get("sgId"), "sgId"))
        plan: list[tuple[LessonInfo, int | None, str, int, MarkValue | None]] = []
        for row in body.get("results") or []:
            if not isinstance(row, dict):
                raise BadRequest("results[] must be objects")
            le = st.lesson(lg, g, _int(row.get("cmId"), "cmId"))
            sid = _int(row.get("studentId"), "studentId")
            if sid not in g.member_ids:
                raise BadRequest(f"student {sid} is not in subject group {g.ext_id}")
            aid = row.get("assignId")
            if aid is not None:
                aid = _int(aid, "assignId")
                if aid not in le.assignment_ids:
                    raise BadRequest(f"assignment {aid} is not on class meeting {le.ext_id}")
                wt = w.assignments[aid].work_type
            else:
                code = TYPE_ID_TO_CODE.get(_int(row.get("assignTypeId"), "assignTypeId"))
                if code is None:
                    raise BadRequest(f"unknown assignment type {row.get('assignTypeId')}")
                wt = code
            mark = row.get("mark")
            if mark is None:
                value = MarkValue.DOT if row.get("dutyMark") else None
            elif isinstance(mark, int) and not isinstance(mark, bool) and 1 <= mark <= 5:
                value = MarkValue(str(mark))
            else:
                raise BadRequest(f"mark must be 1..5 or null, got {mark!r}")
            plan.append((le, aid, wt, sid, value))
        att_plan: list[tuple[LessonInfo, int, AttendanceCode | None]] = []
        for row in body.get("attendance") or []:
            le = st.lesson(lg, g, _int(row.get("cmId"), "cmId"))
            sid = _int(row.get("studentId"), "studentId")
            reason = row.get("reason") or ""
            if sid not in g.member_ids or (reason and reason not in WIRE_TO_ATTENDANCE):
                raise BadRequest(f"bad attendance row {row!r}")
            att_plan.append((le, sid, WIRE_TO_ATTENDANCE[reason] if reason else None))
        created: dict[tuple[int, str], int] = {}
        out = []
        for le, aid, wt, sid, value in plan:
            if aid is None and value is not None:
                aid = created.get((le.ext_id, wt))
                if aid is None:
                    aid = w.create_assignment(le.ext_id, wt).ext_id
                    created[(le.ext_id, wt)] = aid
            if aid is not None:
                if value is None:
                    if w.delete_mark(aid, sid):
                        st.write_log.append(("mark", le.ext_id, sid, wt, ""))
                elif w.assignments[aid].marks.get(sid) != value:
                    w.set_mark(le.ext_id, sid, wt, value, assignment=aid)
                    st.write_log.append(("mark", le.ext_id, sid, wt, value))
            out.append({"cmId": le.ext_id, "assignId": aid, "studentId": sid})
        for le, sid, code in att_plan:
            if le.attendance.get(sid) != code:
                w.set_attendance(le.ext_id, sid, code)
                st.write_log.append(("attendance", le.ext_id, sid, "", code or ""))
        return JSONResponse({"results": out})

    async def subject_plan(request: Request) -> Response:
        lg = st.require(request)
        g = st.group(lg, int_param(request, "sgId"))
        studied: dict[str, list[date]] = {}
        for lid in g.lesson_ids:
            le = w.lessons[lid]
            studied.setdefault(le.topic, []).append(le.day)
        return JSONResponse(
            {
                "subjectPlanId": g.ext_id,  # [guess] the plan id is the group id
                "variantsExists": False,
                "lessons": [
                    {
                        "id": t.ext_id,
                        "lessonName": t.name,
                        "displayName": f"{i}. {t.name}",
                        "hours": 1,
                        "hoursStudied": len(studied.get(t.name, [])),
                        "lastStudyDay": iso(max(studied[t.name])) if t.name in studied else None,
                        "homeAssignment": None,
                    }
                    for i, t in enumerate(g.ktp, start=1)
                ],
            }
        )

    return [
        Route("/webapi/users/teacher/classes", teacher_classes, methods=["GET"]),
        Route("/webapi/subjectgroups", subjectgroups, methods=["GET"]),
        Route("/webapi/grade/studentlist", student_list, methods=["GET"]),
        Route("/webapi/grade/attendance/reasons", reasons, methods=["GET"]),
        Route("/webapi/years/current", years_current, methods=["GET"]),
        Route("/webapi/terms/search", terms_search, methods=["POST"]),
        Route("/webapi/grade/journal", journal, methods=["GET"]),
        Route("/webapi/grade/journal/edit", journal_edit_get, methods=["GET"]),
        Route("/webapi/grade/journal/edit", journal_edit_post, methods=["POST"]),
        Route("/webapi/grade/journal/quickedit", quickedit, methods=["POST"]),
        Route("/webapi/subjectplans/getforsubjectgroup", subject_plan, methods=["GET"]),
    ]


def _meeting(st: EmulatorState, g: GroupInfo, le: LessonInfo) -> dict[str, Any]:
    w = st.world
    return {
        "id": le.ext_id,
        "date": iso(le.day),
        "number": le.number,
        "relay": 1,
        "startTime": le.start_time,
        "endTime": le.end_time,
        "readOnly": False,
        "teacherId": le.teacher_id,
        "lessonId": _ktp_id(g, le.topic),
        "lessonName": le.topic,
        "assignments": [
            {
                "id": a.ext_id,
                "typeId": WORK_TYPE_IDS[a.work_type],
                "assignmentName": a.name,
                "weight": wire_weight(a.weight),
                "dueDate": iso(a.due_date),
                "results": _results(st, a),
            }
            for a in w.lesson_assignments(le)
        ],
        "attendance": _attendance(le),
    }


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise BadRequest(f"{name} must be an integer")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"{name} must be an integer") from None


def _mark_text(text: str) -> MarkValue | None:
    t = text.strip()
    if not t:
        return None
    if t in (".", "·"):
        return MarkValue.DOT
    if t in {"1", "2", "3", "4", "5"}:
        return MarkValue(t)
    raise BadRequest(f"bad mark {text!r}")


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise BadRequest("body must be JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    return body
