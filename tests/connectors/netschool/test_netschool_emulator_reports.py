"""NetSchool emulator: reports (terms, finals, the SignalR hub), files, photo, years, bells and
subject group names — the reads public clients make beyond the diary (note §4.2, §4.7, §4.11)."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from hashlib import md5
from typing import Any

import httpx
import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    RejectConnection,
    Request,
    TextMessage,
)

from connectors.netschool.emulator import create_app
from connectors.sandbox.server import serve_in_thread
from connectors.sandbox.world import World, WorldSize

SIZE = WorldSize(grades=(5,), letters=2, students_per_class=4, weeks=10)


@pytest.fixture(scope="module")
def world() -> World:
    return World.generate(11, SIZE)


@contextmanager
def _serve(app: Any) -> Iterator[httpx.Client]:
    """The emulator on a loopback socket and an HTTP client for it (real sockets, as house rule)."""
    with serve_in_thread(app) as server, httpx.Client(base_url=server.base_url) as c:
        c.ws_base = f"{server.host}:{server.port}"  # type: ignore[attr-defined]
        yield c


class _WS:
    """A minimal WebSocket client over wsproto (the shared venv has no WebSocket client)."""

    def __init__(self, hostport: str, target: str) -> None:
        host, port = hostport.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.sock.sendall(self.ws.send(Request(host=hostport, target=target)))
        self.pending: list[str] = []
        self.accepted = self._pump_until_handshake()

    def _events(self) -> list[Any]:
        data = self.sock.recv(65536)
        self.ws.receive_data(data or None)
        return list(self.ws.events())

    def _pump_until_handshake(self) -> bool:
        while True:
            for ev in self._events():
                if isinstance(ev, AcceptConnection):
                    return True
                if isinstance(ev, RejectConnection):
                    return False

    def send_text(self, text: str) -> None:
        self.sock.sendall(self.ws.send(TextMessage(data=text)))

    def receive_text(self) -> str:
        buf = ""
        while not self.pending:
            for ev in self._events():
                if isinstance(ev, TextMessage):
                    buf += ev.data
                    if ev.message_finished:
                        self.pending.append(buf)
                        buf = ""
                elif isinstance(ev, CloseConnection):
                    raise ConnectionError("closed")
        return self.pending.pop(0)

    def close(self) -> None:
        self.sock.sendall(self.ws.send(CloseConnection(code=1000)))
        self.sock.close()


@contextmanager
def _ws(c: httpx.Client, target: str) -> Iterator[_WS]:
    ws = _WS(c.ws_base, target)  # type: ignore[attr-defined]
    try:
        yield ws
    finally:
        ws.sock.close()


def _login(c: httpx.Client, world: World, role: str = "student") -> tuple[Any, str]:
    school = next(iter(world.schools.values()))
    acc = world.accounts(school.slug, role)[0]
    c.get("/webapi/logindata")
    meta = c.post("/webapi/auth/getdata").json()
    salt = meta.pop("salt")
    pw2 = md5((salt + md5(acc.password.encode("cp1251")).hexdigest()).encode()).hexdigest()
    form = {"LoginType": "1", "scid": str(school.ext_id), "UN": acc.login, "pw2": pw2, **meta}
    r = c.post("/webapi/login", data=form)
    assert r.status_code == 200, r.text
    at = r.json()["at"]
    c.headers["at"] = at
    return acc, at


def _sources(body: Any) -> dict[str, Any]:
    return {s["filterId"]: s for s in body["filterSources"]}


def test_report_forms_carry_terms_and_the_current_terms_dates(world: World) -> None:
    school = next(iter(world.schools.values()))
    current = world.period_of(school.slug, world.today)
    assert current is not None
    with _serve(create_app(world)) as c:
        acc, _ = _login(c, world)
        ids = [r["id"] for g in c.get("/webapi/reports").json() for r in g["reports"]]
        assert {"StudentGrades", "StudentTotal", "StudentTotalMarks"} <= set(ids)
        grades = _sources(c.get("/webapi/reports/StudentGrades").json())
        assert [i["title"] for i in grades["TERMID"]["items"]] == [p.name for p in school.periods]
        assert grades["TERMID"]["defaultValue"] == str(current.ext_id)
        assert grades["period"]["range"]["start"].startswith(current.start.isoformat())
        assert grades["SID"]["defaultValue"] == str(acc.person_id)
        assert grades["PCLID_IUP"]["defaultValue"].endswith("_0")
        assert len(grades["SGID"]["items"]) == len(world.groups_of_student(acc.person_id))
        totals = _sources(c.get("/webapi/reports/studenttotalmarks").json())
        assert set(totals) == {"SID", "PCLID"}
        first = school.periods[0]
        chosen = [{"filterId": "TERMID", "filterValue": str(first.ext_id)}]
        r = c.post(
            "/webapi/v2/reports/studentgrades/initfilters",
            json={"params": None, "selectedData": chosen},
        )
        srcs = {s["filterId"]: s for s in r.json()}
        assert srcs["period"]["range"]["end"].startswith(first.end.isoformat())
        assert c.get("/webapi/reports/nosuch").status_code == 404


def test_finals_come_through_queue_hub_and_files(world: World) -> None:
    with _serve(create_app(world)) as c:
        acc, at = _login(c, world)
        finals = {
            (subj, p): v.value
            for (s, subj, p), v in world.final_marks.items()
            if s == acc.person_id
        }
        assert finals
        with _ws(c, f"/webapi/signalr/queueHub?at={at}") as ws:
            assert ws.accepted
            ws.send_text('{"protocol":"json","version":1}\x1e')
            assert ws.receive_text() == "{}\x1e"
            queued = c.post("/webapi/reports/studenttotalmarks/queue", json={"selectedData": []})
            task = queued.json()
            invoke = {"arguments": [task["taskId"], task["queueKey"]], "invocationId": "0",
                      "target": "startTaskAsync", "type": 1}  # fmt: skip
            ws.send_text(json.dumps(invoke) + "\x1e")
            frames = [json.loads(ws.receive_text().rstrip("\x1e")) for _ in range(3)]
        assert frames[1]["type"] == 3 and frames[1]["result"]["success"] is True
        assert frames[2]["target"] == "complete"
        file_id = frames[2]["arguments"][0]["data"]
        html = c.get(f"/webapi/files/{file_id}").text
        rows = [re.findall(r"<td>(.*?)</td>", tr) for tr in re.findall(r"<tr>(.*?)</tr>", html)]
        school = next(iter(world.schools.values()))
        n = len(school.periods)
        got = sorted(m for cells in rows if cells for m in cells[2 : 2 + n] if m)
        assert got == sorted(finals.values())
        assert all(len(cells) == 2 + n + 3 for cells in rows if cells)  # + year, exam, final
        # another login can neither start the task nor read the file
        c.headers.pop("at")
        _login(c, world, "guardian")
        assert c.get(f"/webapi/files/{file_id}").status_code == 404


def test_hub_refuses_without_a_login(world: World) -> None:
    with _serve(create_app(world)) as c, _ws(c, "/webapi/signalr/queueHub?at=123") as ws:
        assert not ws.accepted  # refused at the handshake (HTTP 403)


def test_staff_cannot_read_student_reports(world: World) -> None:
    with _serve(create_app(world)) as c:
        _login(c, world, "teacher")
        assert c.get("/webapi/reports/studentgrades").status_code == 403


def test_attachments_listed_and_downloaded_only_for_members(world: World) -> None:
    with _serve(create_app(world)) as c:
        acc, _ = _login(c, world)
        groups = {g.ext_id for g in world.groups_of_student(acc.person_id)}
        mine = [
            a for a in world.assignments.values()
            if a.work_type == "homework" and world.lessons[a.lesson_id].group_id in groups
        ]  # fmt: skip
        with_file = [a.ext_id for a in mine if a.ext_id % 5 == 0][:3]
        without = [a.ext_id for a in mine if a.ext_id % 5][:3]
        assert with_file and without
        r = c.post(
            "/webapi/student/diary/get-attachments",
            params={"studentId": acc.person_id},
            json={"assignId": with_file + without},
        )
        listed = r.json()
        assert [x["assignmentId"] for x in listed] == with_file
        att = listed[0]["attachments"][0]
        got = c.get(f"/webapi/attachments/{att['id']}")
        assert got.status_code == 200 and got.headers["expires"] == "-1"
        assert got.headers["filename"] == "%D0%97%D0%B0%D0%B4%D0%B0%D0%BD%D0%B8%D0%B5.txt"
        details = c.get(
            f"/webapi/student/diary/assigns/{with_file[0]}", params={"studentId": acc.person_id}
        ).json()
        assert details["attachments"] == listed[0]["attachments"]
        assert details["subjectGroup"]["name"].count("/") == 1
        anns = c.get("/webapi/announcements", params={"take": -1}).json()
        assert sum(len(a["attachments"]) for a in anns) == 1
        # a homework of another class is not downloadable
        other = next(
            a for a in world.assignments.values()
            if a.work_type == "homework" and a.ext_id % 5 == 0
            and world.lessons[a.lesson_id].group_id not in groups
        )  # fmt: skip
        assert c.get(f"/webapi/attachments/{other.ext_id * 10 + 1}").status_code == 404


def test_photo_years_bells_and_settings(world: World) -> None:
    school = next(iter(world.schools.values()))
    with _serve(create_app(world)) as c:
        acc, at = _login(c, world)
        r = c.get(
            "/webapi/users/photo",
            params={"userId": acc.person_id, "at": at},
            follow_redirects=True,
        )
        assert r.status_code == 200 and r.content[:2] == b"\xff\xd8"
        assert r.headers["content-type"] == "image/jpeg"
        years = c.get("/webapi/years").json()
        assert [(y["id"], y["name"]) for y in years] == [(school.year.ext_id, school.year.name)]
        bells = c.get("/webapi/schedule/times").json()
        monday = [b for b in bells if b["weekDay"] == 2]  # the server counts from Sunday = 1
        lessons = [le for le in world.lessons.values() if le.day.weekday() == 0]
        assert {(b["number"], b["startTime"][-8:-3]) for b in monday} >= {
            (le.number, le.start_time) for le in lessons
        }
        assert c.get("/webapi/mysettings").json()["roles"] == ["Student"]
        c.headers.pop("at")
        assert c.get("/webapi/users/photo", params={"userId": 1}).status_code == 401


def test_subgroup_names_keep_the_subject_last(world: World) -> None:
    with _serve(create_app(world)) as c:
        _login(c, world, "admin")
        groups = c.get("/webapi/subjectgroups").json()
    subs = [g for g in groups if g["subgroup"]]
    assert subs, "the world should have subgroups (languages, labour)"
    for g in groups:
        _cls, subject = g["name"].split("/")
        assert subject.startswith(g["subjectName"])
    assert all(g["name"].endswith(f"({g['subgroup']} гр.)") for g in subs)


def test_lessons_of_the_week_have_bells(world: World) -> None:
    """Every lesson time is a bell of `schedule/times` (one shift)."""
    with _serve(create_app(world)) as c:
        _login(c, world)
        bells = {
            (b["number"], b["startTime"][-8:-3]) for b in c.get("/webapi/schedule/times").json()
        }
    week = world.today - timedelta(days=world.today.weekday())
    assert {(le.number, le.start_time) for le in world.lessons.values() if le.day >= week} <= bells
