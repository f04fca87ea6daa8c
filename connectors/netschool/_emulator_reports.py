"""NetSchool reports: the only student-side source of terms and final marks (note §4.11, §5.1).

* ``GET /webapi/reports`` → catalogue ``[{id, title, notices, reports:[{id, path, title}]}]`` (S5).
* ``GET /webapi/reports/{name}`` for ``studentgrades``, ``studenttotal``, ``studenttotalmarks`` →
  ``{report:{…filterPanel…}, filterSources:[…]}``; values are strings; terms = ``TERMID.items``,
  current term = ``TERMID.defaultValue``; ``period.range`` = the current term's dates (note §4.11).
  ``studenttotalmarks`` has ``SID`` and ``PCLID`` (netschoolpy 9.6.3 ``total_marks`` requires both;
  note §5.5 lists ``PCLID``); the others carry ``PCLID_IUP`` (``"<classId>_0"``).
* ``POST /webapi/v2/reports/{name}/initfilters`` with ``selectedData`` ``TERMID`` → filterSources
  whose ``period.range`` is that term's dates (S2).
* ``POST /webapi/[v2/]reports/{name}/queue`` → ``{taskId, queueKey}``; the report is rendered at
  once. Core SignalR hub at ``/webapi/signalr/queueHub?at=`` (≥ 5.32) and ``/webapi/queueHub``
  (< 5.32): handshake ``{"protocol":"json","version":1}\\x1e`` → ``{}\\x1e``; invocation
  ``startTask [taskId, "report-v2"]`` (S2) or ``startTaskAsync [taskId, queueKey]`` (S3) →
  ``progress``, the invocation result ``{type:3, result:{success:true}}`` and ``complete``
  ``{taskId, data:"<fileId>"}``. ``GET /webapi/files/{fileId}`` → the HTML report.

HTML, as the clients parse it (note §4.11): ``studentgrades`` rows ``[type, theme, lessonDate,
markDate, mark]`` with ``d.m.yy`` dates and a ``tr.totals`` row «Средний балл … 4,50»;
``studenttotalmarks`` rows ``[order, subject, period marks…, year, exam, final]``.

[guess] The report headers, titles and CSS beyond what the note names; the mark date in
``studentgrades`` (the lesson date: the world keeps no mark timestamps); year/exam/final columns
left empty (the world has quarter finals only); a report other than the two above cannot be queued
(400); ``earlyaccess`` answers ``{}``; no legacy SignalR 1.5 hub.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from connectors.netschool._emulator_codes import TYPE_CATALOGUE, WORK_TYPE_IDS
from connectors.netschool._emulator_state import EmulatorState, Forbidden, Login, iso
from connectors.sandbox.responses import JSONResponse
from connectors.sandbox.world import PeriodInfo, PersonInfo
from core.codes import MarkValue, numeric_mark

__all__ = ["REPORTS", "routes"]

# name (lower-case, as routed) → (catalogue id, title)
REPORTS: dict[str, tuple[str, str]] = {
    "studenttotal": ("StudentTotal", "Отчет об успеваемости и посещаемости ученика"),
    "studentgrades": ("StudentGrades", "Отчет об успеваемости ученика"),
    "studenttotalmarks": ("StudentTotalMarks", "Итоговые отметки"),
}
_QUEUEABLE = ("studentgrades", "studenttotalmarks")
_RS = "\x1e"  # SignalR record separator


@dataclass
class _Task:
    at: str
    file_id: int
    queue_key: str


def _dmy(d: date) -> str:
    return f"{d.day}.{d.month}.{d:%y}"  # d.m.yy (note §3.2)


def routes(st: EmulatorState) -> list[BaseRoute]:
    w = st.world
    tasks: dict[int, _Task] = {}
    files: dict[int, tuple[str, str]] = {}  # file id → (owner's at, html)
    ids = itertools.count(13_600_184)  # task and file ids: the emulator's own, not the world's

    def students(lg: Login) -> list[PersonInfo]:
        out = st.students_of(lg)
        if not out:
            raise Forbidden("reports are for students and parents")
        return out

    def current_term(lg: Login) -> PeriodInfo:
        periods = lg.school.periods
        now = w.period_of(lg.school.slug, w.today)
        if now is not None:
            return now
        past = [p for p in periods if p.end < w.today]
        return past[-1] if past else periods[0]

    def pick(selected: dict[str, str], key: str, default: str) -> str:
        return selected.get(key) or default

    def sources(lg: Login, name: str, selected: dict[str, str]) -> list[dict[str, Any]]:
        kids = students(lg)
        sid = int(pick(selected, "SID", str(kids[0].ext_id)))
        s = st.student(lg, sid)
        cls = w.classes[s.class_id] if s.class_id else None
        out: list[dict[str, Any]] = [
            {
                "filterId": "SID",
                "items": [
                    {"title": f"{k.last_name} {k.first_name}", "value": str(k.ext_id)} for k in kids
                ],
                "defaultValue": str(sid),
            }
        ]
        if cls is not None:
            key, value = ("PCLID", str(cls.ext_id))
            if name != "studenttotalmarks":
                key, value = ("PCLID_IUP", f"{cls.ext_id}_0")
            out.append(
                {
                    "filterId": key,
                    "items": [{"title": cls.name, "value": value}],
                    "defaultValue": value,
                }
            )
        if name == "studenttotalmarks":
            return out
        if name == "studentgrades":
            groups = w.groups_of_student(sid)
            items = [
                {"title": w.subjects[g.subject_id].name, "value": str(g.ext_id)} for g in groups
            ]
            default = items[0]["value"] if items else ""
            out.append(
                {
                    "filterId": "SGID",
                    "items": items,
                    "defaultValue": pick(selected, "SGID", default),
                }
            )
        term_id = pick(selected, "TERMID", str(current_term(lg).ext_id))
        term = next((p for p in lg.school.periods if str(p.ext_id) == term_id), current_term(lg))
        out.append(
            {
                "filterId": "TERMID",
                "items": [{"title": p.name, "value": str(p.ext_id)} for p in lg.school.periods],
                "defaultValue": str(term.ext_id),
            }
        )
        rng = {"start": iso(term.start), "end": iso(term.end)}
        out.append(
            {
                "filterId": "period",
                "range": rng,
                "defaultRange": rng,
                "minValue": iso(lg.school.year.start),
                "maxValue": iso(lg.school.year.end),
                "nullText": None,
            }
        )
        return out

    def form(name: str, lg: Login, selected: dict[str, str]) -> dict[str, Any]:
        srcs = sources(lg, name, selected)
        rid, title = REPORTS[name]
        filters = [
            {
                "id": s["filterId"],
                "title": s["filterId"],
                "order": n,
                "filterType": "DateRange" if s["filterId"] == "period" else "SingleSelect",
                "optionalFlag": False,
                "hideSingleOption": False,
                "hasSureCheckedFlag": False,
                "hideTitleFlag": False,
                "existStateProvider": False,
                "emptyText": "",
                "dependencies": [],
            }
            for n, s in enumerate(srcs)
        ]
        return {
            "report": {
                "id": rid,
                "name": title,
                "group": "Успеваемость и посещаемость",
                "level": "Student",
                "order": 0,
                "filterPanel": {"filters": filters},
                "presentTypes": [],
            },
            "filterSources": srcs,
        }

    def selected_of(body: Any) -> dict[str, str]:
        out: dict[str, str] = {}
        if isinstance(body, dict):
            for item in body.get("selectedData") or []:
                if isinstance(item, dict) and item.get("filterId"):
                    out[str(item["filterId"])] = str(item.get("filterValue") or "")
        return out

    def render_totalmarks(lg: Login, selected: dict[str, str]) -> str:
        srcs = {s["filterId"]: s for s in sources(lg, "studenttotalmarks", selected)}
        sid = int(srcs["SID"]["defaultValue"])
        periods = lg.school.periods
        head = "".join(f"<th>{escape(p.name)}</th>" for p in periods)
        rows = []
        subjects = sorted(
            {g.subject_id for g in w.groups_of_student(sid)}, key=lambda i: w.subjects[i].name
        )
        for n, subj in enumerate(subjects, 1):
            marks = [w.final_marks.get((sid, subj, p.ext_id)) for p in periods]
            cells = "".join(f"<td>{escape(v.value) if v else ''}</td>" for v in marks)
            rows.append(
                f"<tr><td>{n}</td><td>{escape(w.subjects[subj].name)}</td>{cells}"
                "<td></td><td></td><td></td></tr>"
            )
        return _page(
            "Итоговые отметки",
            f"<tr><th>№</th><th>Предмет</th>{head}<th>Годовая</th><th>Экзамен</th>"
            f"<th>Итоговая</th></tr>{''.join(rows)}",
        )

    def render_grades(lg: Login, selected: dict[str, str]) -> str:
        srcs = {s["filterId"]: s for s in sources(lg, "studentgrades", selected)}
        sid = int(srcs["SID"]["defaultValue"])
        gid = srcs["SGID"]["defaultValue"]
        term = next(p for p in lg.school.periods if str(p.ext_id) == srcs["TERMID"]["defaultValue"])
        group = w.groups.get(int(gid)) if gid.isdigit() else None
        rows, nums = [], []
        if group is not None and sid in group.member_ids:
            for lid in group.lesson_ids:
                le = w.lessons[lid]
                if not term.start <= le.day <= term.end:
                    continue
                for a in w.lesson_assignments(le):
                    v = a.marks.get(sid)
                    n = numeric_mark(v) if v is not None else None
                    if n is None and v is not MarkValue.DOT:
                        continue
                    if n is not None:
                        nums.append(n)
                    kind = TYPE_CATALOGUE[WORK_TYPE_IDS[a.work_type]][0]
                    rows.append(
                        f"<tr><td>{escape(kind)}</td><td>{escape(a.name)}</td>"
                        f"<td>{_dmy(le.day)}</td><td>{_dmy(le.day)}</td>"
                        f"<td>{n if n is not None else '.'}</td></tr>"
                    )
        avg = f"{sum(nums) / len(nums):.2f}".replace(".", ",") if nums else ""
        subject = w.subjects[group.subject_id].name if group else ""
        return _page(
            f"Отчет об успеваемости ученика: {escape(subject)}",
            "<tr><th>Тип задания</th><th>Тема задания</th><th>Дата урока</th>"
            f"<th>Дата выставления оценки</th><th>Оценка</th></tr>{''.join(rows)}"
            f'<tr class="totals"><td colspan="5">Средний балл: {avg}</td></tr>',
        )

    async def catalogue(request: Request) -> Response:
        students(st.require(request))
        return JSONResponse(
            [
                {
                    "id": "progress",
                    "title": "Успеваемость и посещаемость",
                    "notices": [],
                    "reports": [
                        {"id": rid, "path": f"/angular/school/reports/{name}", "title": title}
                        for name, (rid, title) in REPORTS.items()
                    ],
                }
            ]
        )

    def known(request: Request) -> str | None:
        name = str(request.path_params["name"]).lower()
        return name if name in REPORTS else None

    async def report_form(request: Request) -> Response:
        lg = st.require(request)
        name = known(request)
        if name is None:
            return JSONResponse({"message": "Отчёт не найден"}, status_code=404)
        return JSONResponse(form(name, lg, {}))

    async def initfilters(request: Request) -> Response:
        lg = st.require(request)
        name = known(request)
        if name is None:
            return JSONResponse({"message": "Отчёт не найден"}, status_code=404)
        body = await _json(request)
        return JSONResponse(sources(lg, name, selected_of(body)))

    async def queue(request: Request) -> Response:
        lg = st.require(request)
        name = known(request)
        if name not in _QUEUEABLE:
            return JSONResponse({"message": "Отчёт недоступен"}, status_code=400)
        selected = selected_of(await _json(request))
        html = (
            render_grades(lg, selected)
            if name == "studentgrades"
            else render_totalmarks(lg, selected)
        )
        file_id = next(ids)
        files[file_id] = (lg.at, html)
        task = _Task(lg.at, file_id, secrets.token_hex(16))
        task_id = next(ids)
        tasks[task_id] = task
        return JSONResponse({"taskId": task_id, "queueKey": task.queue_key})

    async def file(request: Request) -> Response:
        lg = st.require(request)
        entry = files.get(int(request.path_params["file_id"]))
        if entry is None or entry[0] != lg.at:
            return JSONResponse({"message": "Файл не найден"}, status_code=404)
        return Response(entry[1], media_type="text/html; charset=utf-8")

    async def early(request: Request) -> Response:
        st.require(request)
        return JSONResponse({})

    async def hub(ws: WebSocket) -> None:
        lg = st.lookup(ws.query_params.get("at") or ws.headers.get("at"))
        if lg is None:
            await ws.close(code=1008)  # before accept → HTTP 403, as without a login
            return
        await ws.accept()
        buffer = ""
        try:
            while True:
                buffer += await ws.receive_text()
                *frames, buffer = buffer.split(_RS)
                for raw in frames:
                    for reply in _hub_replies(raw, tasks, lg.at):
                        await ws.send_text(json.dumps(reply, ensure_ascii=False) + _RS)
                        await asyncio.sleep(0)
        except WebSocketDisconnect:
            return

    return [
        Route("/webapi/reports", catalogue, methods=["GET"]),
        Route("/webapi/reports/{name}", report_form, methods=["GET"]),
        Route("/webapi/v2/reports/{name}/initfilters", initfilters, methods=["POST"]),
        Route("/webapi/reports/{name}/queue", queue, methods=["POST"]),
        Route("/webapi/v2/reports/{name}/queue", queue, methods=["POST"]),
        Route("/webapi/files/{file_id:int}", file, methods=["GET"]),
        Route("/webapi/earlyaccess", early, methods=["GET"]),
        WebSocketRoute("/webapi/signalr/queuehub", hub),
        WebSocketRoute("/webapi/queuehub", hub),
    ]


def _hub_replies(raw: str, tasks: dict[int, _Task], at: str) -> list[dict[str, Any]]:
    """Answers to one client frame: the handshake, a ping, or a start-task invocation."""
    try:
        msg = json.loads(raw)
    except ValueError:
        return [{"type": 7, "error": "bad frame"}]
    if not isinstance(msg, dict):
        return [{"type": 7, "error": "bad frame"}]
    if "protocol" in msg:
        return [{}]  # handshake ack
    if msg.get("type") != 1 or msg.get("target") not in ("startTask", "startTaskAsync"):
        return []
    inv = msg.get("invocationId")
    args = msg.get("arguments") or [None]
    task = tasks.get(args[0]) if isinstance(args[0], int) else None
    if task is None or task.at != at:
        result = {"success": False, "message": "Ошибка запуска задачи"}
        return [{"type": 3, "invocationId": inv, "result": result}]
    tid = args[0]
    return [
        {"type": 1, "target": "progress", "arguments": [{"taskId": tid, "status": "В процессе"}]},
        {"type": 3, "invocationId": inv, "result": {"success": True, "message": None}},
        {
            "type": 1,
            "target": "complete",
            "arguments": [{"taskId": tid, "data": str(task.file_id), "componentId": None}],
        },
    ]


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except ValueError:
        return None


def _page(title: str, rows: str) -> str:
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>'
        f"{title}</title></head><body><h2>{title}</h2>"
        f'<table class="table-print">{rows}</table></body></html>'
    )
