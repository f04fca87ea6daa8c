"""NetSchool files and small reference reads: attachments, user photos, years, bell times.

Attachments (note §4.5, §4.7, §4.8): every fifth homework assignment (``ext_id % 5 == 0``) and the
first announcement of a school carry one text file [guess: which ones; the world has no files, so
the emulator derives them]. Attachment ids are ``assignment id × 10 + 1`` and ``announcement id ×
10 + 2``. ``get-attachments`` lists only assignments with files; ``GET /webapi/attachments/{id}``
answers the bytes with ``Content-Type``, a URL-encoded ``filename`` header, ``Content-Disposition``
and ``Expires: -1`` (S8).

``GET /webapi/users/photo?userId=`` (``at`` as header or query, note §3.1): nobody in the world has
a photo (``mysettings.existsPhoto = false``), so it redirects to ``/images/common/photono.jpg``
(S12's static path; S1 follows the redirect) [guess: that the server redirects rather than
answering 404].

``GET /webapi/years`` → ``[{id, name, startDate, endDate, globalYear{…}}]``: the note knows
``[{id,name}]`` (S3) [I]; dates as netschoolpy 9.6.3 ``SchoolYear`` reads them [guess].
``GET /webapi/mysettings/yearlist`` → ``[{id, name:"(*) 2025/2026"}]`` (S4).
``GET /webapi/schedule/times`` (bells, S12 path only): the shape is what netschoolpy 9.6.3
``BellTime`` reads — ``weekDay`` counted from Sunday = 1, ``relay``, ``number``, ``startTime`` /
``endTime`` as ISO datetimes on 0001-01-01, ``id``, ``variantId``, ``used`` [guess].
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from connectors.netschool._emulator_state import (
    EmulatorState,
    Login,
    int_param,
    iso,
)
from connectors.sandbox import BELLS
from connectors.sandbox.responses import JSONResponse
from connectors.sandbox.world import AssignmentInfo, SchoolInfo, World

__all__ = ["Attachment", "announcement_attachments", "assignment_attachments", "routes"]

# An 8×8 grey JPEG: the "no photo" picture.
PHOTONO_JPG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4"
    "UG1RV19iZ2hnPk1xeXBkeFxlZ2P/2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2Nj"
    "Y2NjY2NjY2NjY2NjY2NjY2NjY2P/wAARCAAIAAgDASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcI"
    "CQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRol"
    "JicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ip"
    "qrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAA"
    "AAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLR"
    "ChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaX"
    "mJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEA"
    "PwDpKKKKAP/Z"
)


@dataclass(frozen=True)
class Attachment:
    id: int
    name: str
    original: str
    body: bytes

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "originalFileName": self.original,
            "description": None,
        }


def assignment_attachments(a: AssignmentInfo) -> list[Attachment]:
    if a.work_type != "homework" or a.ext_id % 5:
        return []
    body = f"Задание к уроку: {a.name}\n".encode()
    return [Attachment(a.ext_id * 10 + 1, f"zadanie_{a.ext_id}.txt", "Задание.txt", body)]


def announcement_attachments(announcement_id: int, first: bool) -> list[Attachment]:
    if not first:
        return []
    body = "График мероприятий на год\n".encode()
    return [Attachment(announcement_id * 10 + 2, "grafik.txt", "График.txt", body)]


def _find(w: World, lg: Login, st: EmulatorState, att_id: int) -> Attachment | None:
    owner, kind = divmod(att_id, 10)
    if kind == 1:
        a = w.assignments.get(owner)
        if a is None:
            return None
        group = w.groups[w.lessons[a.lesson_id].group_id]
        kids = {s.ext_id for s in st.students_of(lg)}
        staff = lg.user.role in ("teacher", "admin") and group.school == lg.school.slug
        if not staff and not kids & set(group.member_ids):
            return None
        return next(iter(assignment_attachments(a)), None)
    if kind == 2 and owner == _first_announcement(lg.school):
        return next(iter(announcement_attachments(owner, True)), None)
    return None


def _first_announcement(s: SchoolInfo) -> int:
    return s.ext_id * 10 + 1  # ids as `announcements` numbers them


def routes(st: EmulatorState) -> list[BaseRoute]:
    w = st.world

    async def attachment(request: Request) -> Response:
        lg = st.require(request)
        att = _find(w, lg, st, int(request.path_params["att_id"]))
        if att is None:
            return JSONResponse({"message": "Файл не найден"}, status_code=404)
        quoted = quote(att.original)
        return Response(
            att.body,
            media_type="text/plain; charset=utf-8",
            headers={
                "filename": quoted,
                "Content-Disposition": f"attachment; filename*=UTF-8''{quoted}",
                "Expires": "-1",
            },
        )

    async def photo(request: Request) -> Response:
        st.require(request, check_warning=False)
        int_param(request, "userId")
        return RedirectResponse("/images/common/photono.jpg", status_code=302)

    async def photono(request: Request) -> Response:
        return Response(PHOTONO_JPG, media_type="image/jpeg")

    def year_json(lg: Login) -> dict[str, Any]:
        y = lg.school.year
        glob = {
            "id": y.start_year,
            "name": y.name,
            "startDate": iso(y.start),
            "endDate": iso(y.end),
        }
        return {
            "id": y.ext_id,
            "name": y.name,
            "startDate": iso(y.start),
            "endDate": iso(y.end),
            "globalYear": glob,
        }

    async def years(request: Request) -> Response:
        return JSONResponse([year_json(st.require(request))])

    async def yearlist(request: Request) -> Response:
        lg = st.require(request)
        return JSONResponse([{"id": lg.school.year.ext_id, "name": f"(*) {lg.school.year.name}"}])

    async def bells(request: Request) -> Response:
        st.require(request)
        slots = dict(enumerate(BELLS, 1))  # the world's bell table, one shift
        out = []
        for weekday in range(1, 7):  # Monday..Saturday, ISO
            for number, (start, end) in sorted(slots.items()):
                out.append(
                    {
                        "id": weekday * 100 + number,
                        "variantId": 1,
                        "weekDay": weekday % 7 + 1,  # the server counts from Sunday = 1
                        "relay": 1,
                        "number": number,
                        "startTime": f"0001-01-01T{start}:00",
                        "endTime": f"0001-01-01T{end}:00",
                        "used": True,
                    }
                )
        return JSONResponse(out)

    return [
        Route("/webapi/attachments/{att_id:int}", attachment, methods=["GET"]),
        Route("/webapi/users/photo", photo, methods=["GET"]),
        Route("/images/common/photono.jpg", photono, methods=["GET"]),
        Route("/webapi/years", years, methods=["GET"]),
        Route("/webapi/mysettings/yearlist", yearlist, methods=["GET"]),
        Route("/webapi/schedule/times", bells, methods=["GET"]),
    ]
