"""HTTP handlers of the ЭПОС emulator (paths and parameters exactly as the public clients call
them, note §4). Payloads come from :mod:`._emulator_render`; checks from :mod:`._emulator_state`.

Choices where the note is silent (also in WIRE.md): lists are paged by ``page`` / ``per_page``
(marks, homework, schedule items); ``begin_date`` / ``end_date`` of homework filter on the day
it was assigned and ``begin_prepared_date`` / ``end_prepared_date`` on its due day; a wrongly
spelled date is a 400; ``teacher_profiles`` (an [S] route) lists the school's teachers and staff;
a student profile carries its optional lists when asked by their МЭШ ``with_*`` option
(``_emulator_render.PROFILE_LISTS``); homework carries the derived files
(``_emulator_render.homework_files``, option ``homework_files``) and any a test added.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.sandbox.responses import JSONResponse

from . import _emulator_render as r
from ._emulator_state import BadRequest, EmulatorState, Unauthorized, parse_dmy, parse_iso

__all__ = ["routes"]


def _within(day: date, low: date | None, high: date | None) -> bool:
    return (low is None or low <= day) and (high is None or day <= high)


def _ids(text: str | None) -> set[int] | None:
    if not text:
        return None
    try:
        return {int(x) for x in text.split(",") if x.strip()}
    except ValueError:
        raise BadRequest("ids must be comma-separated integers") from None


def routes(st: EmulatorState) -> list[Route]:
    w = st.world

    async def authenticate(request: Request) -> Response:
        token = request.headers.get("token")
        if not token:
            raise Unauthorized("token header required")
        new, session = st.rotate(token)
        person = w.persons[session.person_id]
        return JSONResponse(
            {
                "mobile_token": new,
                "cookies": {
                    "long_token": f"long-{new[:12]}",
                    "auth_token": session.token,
                    "aid": 13,
                    "profile_id": person.ext_id,
                    "is_auth": True,
                    "from_sudir": False,
                },
            }
        )

    async def sessions_post(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            raise BadRequest("body must be JSON") from None
        token = (body.get("auth_token") if isinstance(body, dict) else None) or request.headers.get(
            "auth-token"
        )
        session = st.lookup(token)
        if session is None:
            raise Unauthorized("authentication required")
        person = w.persons[session.person_id]
        return JSONResponse(r.session_payload(w, person, session.token))

    async def sessions_delete(request: Request) -> Response:
        session = st.lookup(request.query_params.get("authentication_token"))
        if session is not None:
            session.alive = False
        return JSONResponse([])

    async def academic_years(request: Request) -> Response:
        person = st.require(request)
        return JSONResponse(r.academic_years(st.school_of(person)))

    async def student_profile(request: Request) -> Response:
        person = st.require(request)
        student = st.student(request, person, request.path_params["pid"])
        q = request.query_params
        wanted = frozenset(
            key
            for key, option in r.PROFILE_LISTS.items()
            if option is not None and q.get(option, "").lower() in ("true", "1")
        )
        return JSONResponse(r.student_profile(w, student, wanted))

    async def teacher_profiles(request: Request) -> Response:
        person = st.require(request)
        school = st.school_of(person)
        wanted = _ids(request.query_params.get("ids"))
        out = [
            r.teacher_profile(w, w.persons[pid])
            for pid in school.person_ids
            if w.persons[pid].role in ("teacher", "admin") and (wanted is None or pid in wanted)
        ]
        return JSONResponse(out)

    async def users(request: Request) -> Response:
        st.require(request)
        wanted = _ids(request.query_params.get("ids")) or set()
        out = [
            {"id": r.USER_BASE + p.ext_id, **_fio(p)}
            for p in w.persons.values()
            if r.USER_BASE + p.ext_id in wanted
        ]
        return JSONResponse(out)

    async def schedule_items(request: Request) -> Response:
        person = st.require(request)
        student = st.student(request, person)
        q = request.query_params
        low, high = parse_iso(q.get("from"), "from"), parse_iso(q.get("to"), "to")
        groups = r.student_groups(w, student)
        wanted = _ids(q.get("group_id"))
        items: list[dict[str, Any]] = []
        for g in groups:
            if wanted is not None and g.ext_id not in wanted:
                continue
            due = r.homework_due(w, g)
            for lid in g.lesson_ids:
                le = w.lessons[lid]
                if _within(le.day, low, high):
                    items.append(r.schedule_item(w, le, due))
        items.sort(key=lambda i: (i["iso_date_time"], i["id"]))
        return JSONResponse(st.page(request, items))

    async def marks(request: Request) -> Response:
        person = st.require(request)
        student = st.student(request, person)
        q = request.query_params
        low = parse_dmy(q.get("created_at_from"), "created_at_from")
        high = parse_dmy(q.get("created_at_to"), "created_at_to")
        items = []
        for g in r.student_groups(w, student):
            for lid in g.lesson_ids:
                le = w.lessons[lid]
                if not _within(le.day, low, high):
                    continue
                for a in w.lesson_assignments(le):
                    value = a.marks.get(student.ext_id)
                    if value is not None:
                        items.append(r.mark_payload(w, le, a, student.ext_id, value))
        items.sort(key=lambda m: m["id"])
        page = st.page(request, items)
        for item in page:
            if st.faults.take_malformed(f"mark {item['id']}"):
                item["name"] = {"broken": True}
        return JSONResponse(page)

    async def homeworks(request: Request) -> Response:
        person = st.require(request)
        student = st.student(request, person)
        q = request.query_params
        low, high = (
            parse_dmy(q.get("begin_date"), "begin_date"),
            parse_dmy(q.get("end_date"), "end_date"),
        )
        due_low = parse_dmy(q.get("begin_prepared_date"), "begin_prepared_date")
        due_high = parse_dmy(q.get("end_prepared_date"), "end_prepared_date")
        items = []
        for g in r.student_groups(w, student):
            for lid in g.lesson_ids:
                le = w.lessons[lid]
                if not _within(le.day, low, high):
                    continue
                for a in w.lesson_assignments(le):
                    if a.work_type == "homework" and _within(a.due_date, due_low, due_high):
                        files = st.files_of(a)
                        items.append(r.homework_payload(w, le, a, student, files))
        items.sort(key=lambda h: h["id"])
        return JSONResponse(st.page(request, items))

    async def progress(request: Request) -> Response:
        person = st.require(request)
        student = st.student(request, person)
        return JSONResponse(r.progress(w, student))

    async def attachment_file(request: Request) -> Response:
        """``<host>`` + ``path`` downloads the file (note §4.6, P4/P5 quote the path). Served
        without a login: the clients fetch it as a plain URL [guess: no auth on /system]."""
        hw = int(request.path_params["hw"])
        name = request.path_params["name"]
        a = w.assignments.get(hw)
        files = st.files_of(a) if a is not None else []
        item = next((f for f in files if f["file_file_name"] == name), None)
        if a is None or item is None:
            return Response("Not Found", status_code=404, media_type="text/plain")
        if item in r.homework_files(a):
            body = r.homework_file_body(a)
        else:  # a file a test added: filler of its declared size
            size = int(item["file_file_size"])
            body = (f"{name}\n".encode() * (size // max(1, len(name)) + 1))[:size]
        return Response(body, media_type="application/octet-stream")

    return [
        Route("/system/attachments/{hw:int}/{name}", attachment_file, methods=["GET"]),
        Route("/authenticate", authenticate, methods=["GET"]),
        Route("/lms/api/sessions", sessions_post, methods=["POST"]),
        Route("/lms/api/sessions", sessions_delete, methods=["DELETE"]),
        Route("/core/api/academic_years", academic_years, methods=["GET"]),
        Route("/core/api/student_profiles/{pid}", student_profile, methods=["GET"]),
        Route("/core/api/teacher_profiles", teacher_profiles, methods=["GET"]),
        Route("/acl/api/users", users, methods=["GET"]),
        Route("/jersey/api/schedule_items", schedule_items, methods=["GET"]),
        Route("/core/api/marks", marks, methods=["GET"]),
        Route("/core/api/student_homeworks", homeworks, methods=["GET"]),
        Route("/reports/api/progress/json", progress, methods=["GET"]),
    ]


def _fio(p: Any) -> dict[str, Any]:
    return {"last_name": p.last_name, "first_name": p.first_name, "middle_name": p.middle_name}
