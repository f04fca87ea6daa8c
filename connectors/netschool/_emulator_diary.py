"""Student/parent reads, shaped exactly as the public clients parse them (note §4.1–4.9).

[guess] Which assignments a diary shows: homework always, any other assignment only when the
student has a mark on it (the public clients only ever saw marked or homework entries).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from connectors.netschool._emulator_codes import TYPE_CATALOGUE, WORK_TYPE_IDS, wire_weight
from connectors.netschool._emulator_files import (
    announcement_attachments,
    assignment_attachments,
)
from connectors.netschool._emulator_state import (
    BadRequest,
    EmulatorState,
    Login,
    int_param,
    iso,
    parse_day,
    str_param,
    wire_group_name,
)
from connectors.sandbox.responses import JSONResponse
from connectors.sandbox.world import AssignmentInfo, LessonInfo, PersonInfo
from core.codes import MarkValue, numeric_mark


def routes(st: EmulatorState) -> list[BaseRoute]:
    w = st.world

    def student_entry(s: PersonInfo) -> dict[str, Any]:
        return {
            "studentId": s.ext_id,
            "nickName": f"{s.last_name} {s.first_name}",
            "className": None,
            "classId": 0,
            "iupGrade": 0,
        }

    def mark_json(a: AssignmentInfo, sid: int) -> dict[str, Any] | None:
        v = a.marks.get(sid)
        if v is None:
            return None
        n = numeric_mark(v)
        if n is None and v is not MarkValue.DOT:
            return None
        m: dict[str, Any] = {
            "assignmentId": a.ext_id,
            "studentId": sid,
            "mark": n,
            "resultScore": None,
            "dutyMark": v is MarkValue.DOT,
        }
        if st.faults.malformed > 0 and st.faults.take_malformed(
            f"diary: assignment {a.ext_id} student {sid}: mark 7"
        ):
            m["mark"], m["dutyMark"] = 7, False
        return m

    def assignment_json(a: AssignmentInfo, sid: int) -> dict[str, Any] | None:
        mark = mark_json(a, sid)
        if mark is None and a.work_type != "homework":
            return None
        out: dict[str, Any] = {
            "id": a.ext_id,
            "typeId": WORK_TYPE_IDS[a.work_type],
            "assignmentName": a.name,
            "weight": wire_weight(a.weight),
            "dueDate": iso(a.due_date),
            "classMeetingId": a.lesson_id,
            "classAssignment": False,
            "existsTestPlan": False,
        }
        if mark is not None:
            out["mark"] = mark
        return out

    def lesson_json(le: LessonInfo, sid: int) -> dict[str, Any]:
        g = w.groups[le.group_id]
        out: dict[str, Any] = {
            "classmeetingId": le.ext_id,
            "day": iso(le.day),
            "number": le.number,
            "relay": 1,
            "room": None
            if w.subjects[g.subject_id].name == "Физическая культура"
            else str(100 + g.class_id % 40),
            "startTime": le.start_time,
            "endTime": le.end_time,
            "subjectName": w.subjects[g.subject_id].name,
            "isEaLesson": False,
            "isDistanceLesson": False,
        }
        assigns = [j for a in w.lesson_assignments(le) if (j := assignment_json(a, sid))]
        if assigns:
            out["assignments"] = assigns
        return out

    def lessons_of(s: PersonInfo, request: Request) -> list[LessonInfo]:
        start = parse_day(str_param(request, "weekStart"), "weekStart")
        end = (
            parse_day(str_param(request, "weekEnd"), "weekEnd")
            if str_param(request, "weekEnd")
            else start + timedelta(days=6)
        )
        out = [
            w.lessons[lid]
            for g in w.groups_of_student(s.ext_id)
            for lid in g.lesson_ids
            if start <= w.lessons[lid].day <= end
        ]
        return sorted(out, key=lambda le: (le.day, le.number, le.ext_id))

    async def diary_init(request: Request) -> Response:
        lg = st.require(request)
        monday = w.today - timedelta(days=w.today.weekday())
        return JSONResponse(
            {
                "students": [student_entry(s) for s in st.students_of(lg)],
                "currentStudentId": 0,
                "weekStart": iso(monday),
                "yaClass": False,
                "yaClassAuthUrl": "",
                "newDiskToken": "",
                "newDiskWasRequest": False,
                "ttsuRl": "http://NETCITY:80/",
                "externalUrl": "",
                "weight": True,
                "maxMark": 5,
                "withLaAssigns": True,
            }
        )

    async def diary(request: Request) -> Response:
        lg = st.require(request)
        s = st.student(lg, int_param(request, "studentId"))
        start = parse_day(str_param(request, "weekStart"), "weekStart")
        end_text = str_param(request, "weekEnd")
        end = parse_day(end_text, "weekEnd") if end_text else start + timedelta(days=6)
        days: dict[str, list[dict[str, Any]]] = {}
        for le in lessons_of(s, request):
            days.setdefault(iso(le.day), []).append(lesson_json(le, s.ext_id))
        period = w.period_of(s.school, start) or w.period_of(s.school, end)
        cls = w.classes[s.class_id] if s.class_id else None
        out: dict[str, Any] = {
            "weekStart": iso(start),
            "weekEnd": iso(end),
            "termName": period.name if period else None,
            "className": cls.name if cls else None,
            "laAssigns": [],
        }
        if days:  # absent when there are no lessons (note §4.4)
            out["weekDays"] = [{"date": d, "lessons": ls} for d, ls in days.items()]
        return JSONResponse(out)

    async def past_mandatory(request: Request) -> Response:
        """Overdue: assignments of the range carrying a «точка» for the student [guess]."""
        lg = st.require(request)
        sid = int_param(request, "studentId")
        s = st.student(lg, sid)
        out = []
        for le in lessons_of(s, request):
            for a in w.lesson_assignments(le):
                if a.marks.get(sid) is MarkValue.DOT and (j := assignment_json(a, sid)):
                    g = w.groups[le.group_id]
                    out.append({**j, "subjectName": w.subjects[g.subject_id].name})
        return JSONResponse(out)

    async def assign_details(request: Request) -> Response:
        lg = st.require(request)
        sid = int_param(request, "studentId")
        st.student(lg, sid)
        a = w.assignments.get(int(request.path_params["assign_id"]))
        if a is None or sid not in w.groups[w.lessons[a.lesson_id].group_id].member_ids:
            return JSONResponse({"message": "Задание не найдено"}, status_code=404)
        le = w.lessons[a.lesson_id]
        g = w.groups[le.group_id]
        teacher = {"id": le.teacher_id, "name": w.persons[le.teacher_id].full_name}
        out: dict[str, Any] = {
            "id": a.ext_id,
            "assignmentName": a.name,
            "activityName": None,
            "problemName": None,
            "subjectGroup": {"id": g.ext_id, "name": wire_group_name(w, g)},
            "productId": None,
            "isDeleted": False,
            "weight": wire_weight(a.weight),
            "date": iso(le.day),
            "description": None,
            "attachments": [f.json() for f in assignment_attachments(a)],
            "contentElements": None,
            "codeContentElements": None,
        }
        if st.options.teacher_singular:
            out["teacher"] = teacher
        else:
            out["teachers"] = [teacher]
        return JSONResponse(out)

    async def get_attachments(request: Request) -> Response:
        """Only assignments with files appear (note §4.7); ids the student can't see: skipped."""
        lg = st.require(request)
        sid = int_param(request, "studentId")
        st.student(lg, sid)
        try:
            ids = json.loads(await request.body() or b"{}").get("assignId") or []
        except (ValueError, AttributeError):
            raise BadRequest("expected {assignId: [ids]}") from None
        out = []
        for aid in ids if isinstance(ids, list) else []:
            a = w.assignments.get(aid) if isinstance(aid, int) else None
            if a is None or sid not in w.groups[w.lessons[a.lesson_id].group_id].member_ids:
                continue
            if files := assignment_attachments(a):
                out.append(
                    {
                        "assignmentId": a.ext_id,
                        "attachments": [f.json() for f in files],
                        "answerFiles": [],
                    }
                )
        return JSONResponse(out)

    async def assignment_types(request: Request) -> Response:
        st.require(request)
        all_ = (str_param(request, "all") or "false").lower() == "true"
        ids = sorted(TYPE_CATALOGUE) if all_ else sorted(set(WORK_TYPE_IDS.values()))
        return JSONResponse(
            [
                {"id": i, "name": TYPE_CATALOGUE[i][0], "abbr": TYPE_CATALOGUE[i][1], "order": n}
                for n, i in enumerate(ids)
            ]
        )

    async def context(request: Request) -> Response:
        lg = st.require(request)
        return JSONResponse(_context(st, lg))

    async def mysettings(request: Request) -> Response:
        lg = st.require(request)
        u = lg.user
        return JSONResponse(
            {
                "userId": u.ext_id,
                "firstName": u.first_name,
                "lastName": u.last_name,
                "middleName": u.middle_name,
                "loginName": u.login,
                "birthDate": iso(u.birth_date) if u.birth_date else None,
                "roles": [_ROLE_NAMES[u.role]],
                "schoolyearId": lg.school.year.ext_id,
                "windowsAccount": None,
                "mobilePhone": None,
                "preferedCom": "C",
                "email": None,
                "existsPhoto": False,
                "userSettings": {
                    "showMobilePhone": False,
                    "defaultDesktop": 0,
                    "language": "ru",
                    "favoriteReports": [],
                    "passwordExpired": 0,
                    "recoveryAnswer": None,
                    "recoveryQuestion": None,
                    "theme": 0,
                    "userId": u.ext_id,
                    "showNetSchoolApp": False,
                    "showSferumBanner": False,
                },
            }
        )

    async def announcements(request: Request) -> Response:
        lg = st.require(request)
        admin = w.persons[lg.school.admin_id]
        author = {"id": admin.ext_id, "fio": admin.full_name, "nickName": admin.full_name}
        y = lg.school.year
        items = [
            (1, "Начало учебного года", "<p>Линейка 1 сентября в 9:00.</p>", y.start),
            (
                2,
                "Родительское собрание",
                "<p>Собрание в актовом зале.</p>",
                y.start + timedelta(days=14),
            ),
        ]
        return JSONResponse(
            [
                {
                    "id": lg.school.ext_id * 10 + i,
                    "name": name,
                    "description": text,
                    "postDate": iso(d).replace("T00:00:00", "T09:00:00"),
                    "deleteDate": None,
                    "author": author,
                    "em": None,
                    "recipientInfo": None,
                    "attachments": [
                        f.json()
                        for f in announcement_attachments(lg.school.ext_id * 10 + i, i == 1)
                    ],
                }
                for i, name, text, d in items
            ]
        )

    async def school_card(request: Request) -> Response:
        st.require(request)
        s = w.school_by_id(int(request.path_params["school_id"]))
        if s is None:
            raise BadRequest("unknown school")
        director = w.persons[s.admin_id].full_name
        return JSONResponse(
            {
                "commonInfo": {
                    "schoolName": s.short_name,
                    "fullSchoolName": s.name,
                    "about": "",
                    "schoolNumber": str(s.number),
                    "status": "Действующее",
                    "legalFormName": "Муниципальное бюджетное учреждение",
                    "foundingDate": None,
                    "emId": None,
                },
                "managementInfo": {
                    "director": director,
                    "principalUVR": director,
                    "principalAHC": "",
                    "principalIT": "",
                    "collegiateManagement": "",
                },
                "contactInfo": {
                    "stateProvinceName": s.region,
                    "cityName": s.city,
                    "districtName": "",
                    "postAddress": s.address,
                    "phones": "",
                    "fax": "",
                    "email": f"{s.slug}@example.edu",
                    "web": "",
                    "addressesAdditionalBuildings": "",
                    "juridicalAddress": s.address,
                },
                "otherInfo": {"inn": s.inn, "kpp": "", "ogrn": s.ogrn},
            }
        )

    return [
        Route("/webapi/student/diary/init", diary_init, methods=["GET"]),
        Route("/webapi/student/diary", diary, methods=["GET"]),
        Route("/webapi/student/diary/pastmandatory", past_mandatory, methods=["GET"]),
        Route("/webapi/student/diary/assigns/{assign_id:int}", assign_details, methods=["GET"]),
        Route("/webapi/student/diary/get-attachments", get_attachments, methods=["POST"]),
        Route("/webapi/grade/assignment/types", assignment_types, methods=["GET"]),
        Route("/webapi/context", context, methods=["GET"]),
        Route("/webapi/mysettings", mysettings, methods=["GET"]),
        Route("/webapi/announcements", announcements, methods=["GET"]),
        Route("/webapi/schools/{school_id:int}/card", school_card, methods=["GET"]),
    ]


_ROLE_NAMES = {
    "student": "Student",
    "guardian": "Parent",
    "teacher": "Teacher",
    "admin": "Administrator",
}


def _context(st: EmulatorState, lg: Login) -> dict[str, Any]:
    s, y, u = lg.school, lg.school.year, lg.user
    year = {
        "id": y.ext_id,
        "name": y.name,
        "closed": False,
        "startDate": iso(y.start),
        "endDate": iso(y.end),
        "schoolId": s.ext_id,
        "globalYear": {
            "id": y.start_year,
            "name": y.name,
            "startDate": iso(y.start),
            "endDate": iso(y.end),
        },
    }
    return {
        "at": lg.at,
        "user": {"id": u.ext_id, "name": u.short_name},
        "userId": u.ext_id,
        "emId": None,
        "roles": [_ROLE_NAMES[u.role]],
        "rights": [],
        "version": st.options.version,
        "schoolId": s.ext_id,
        "funcType": 2,
        "dateFormat": "dd.MM.yyyy",
        "timeFormat": "HH:mm",
        "schoolyear": year,
        "schoolYearId": y.ext_id,
        "globalYearId": y.start_year,
        "productName": "Сетевой Город. Образование",
        "versionDate": None,
        "userLanguage": "ru",
        "organization": {"id": s.ext_id, "name": s.short_name},
        "organizationName": s.short_name,
    }
