"""The АВЕРС connector against a real server's captured answers (build 4.1, two accounts).

The HAR captures live outside the repository (``../shared/fixtures/avers/`` beside the clone;
they must never be copied in) and are read at run time. A stdlib HTTP server on a loopback
socket answers ``/login``, ``/auth`` and every captured ``/act/<NAME>`` with its captured body;
an action the captured client never called answers ``[]`` and ``/auth/logout`` answers 404 (as
the replay that found issue 11 did). The test counts the rows of the bodies with its own reader
(a regex for the ``new Date`` literals, then :mod:`json`; not the connector's parser) and checks
that every row is stored or quarantined, kind by kind, and that stored values, dates (the
month is zero-based on the wire) and subjects are the captured ones.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from connectors.avers import AversConnector
from core.connector import Credentials, SchoolTarget
from core.http import HttpSettings
from core.model import Attendance, FinalMark, Group, Lesson, Mark, Subject
from core.store import Store
from core.sync import pull
from tests.support import REPO_ROOT

REPO = REPO_ROOT


def _fixtures() -> Path | None:
    """``shared/fixtures/avers`` beside the clone (CI: X/../shared), or beside a parent of it
    (a worktree one level deeper, as on the development machine)."""
    for base in (REPO.parent, REPO.parent.parent):
        path = base / "shared" / "fixtures" / "avers"
        if (path / "account-A" / "grades.har").is_file():
            return path
    return None


FIXTURES = _fixtures()
pytestmark = pytest.mark.skipif(
    FIXTURES is None,
    reason="the АВЕРС HAR captures are not here (expected at ../shared/fixtures/avers beside "
    "the repository); they are never copied into it",
)
ACCOUNTS = ("account-A", "account-B")
PASSWORD = "replay-password"
TODAY = "2026-04-29"  # the capture's date
_FAST = HttpSettings(backoff_initial=0.0, backoff_max=0.0, max_retry_after=0.0)

# --- the test's own reader of the captured bodies ---------------------------------------------

_DATE = re.compile(r"new Date\((\d+),\s*(\d+),\s*(\d+)(?:,\s*\d+)*\)")


def read_rows(body: str) -> list[list[Any]]:
    """A JS array literal → rows; ``new Date(Y, M0, D, …)`` → ``"D:Y:M0:D"`` (month as sent)."""
    return list(json.loads(_DATE.sub(r'"D:\1:\2:\3"', body)))


def wire_date(text: str) -> date:
    _, y, m0, d = text.split(":")
    return date(int(y), int(m0) + 1, int(d))


MARK_TEXTS = {"1", "2", "3", "4", "5", "Н/З", "ОСВ", "ЗАЧТ"}
ATTENDANCE_TEXTS = {"Н", "Б", "У"}


@dataclass
class Capture:
    """One account's captured answers, by path."""

    name: str
    bodies: dict[str, str] = field(default_factory=dict)  # "/login", "/act/get_periods", …

    @classmethod
    def load(cls, name: str) -> Capture:
        assert FIXTURES is not None
        cap = cls(name)
        for har in sorted((FIXTURES / name).glob("*.har")):
            for entry in json.loads(har.read_text(encoding="utf-8"))["log"]["entries"]:
                path = urlsplit(entry["request"]["url"]).path
                text = entry["response"]["content"].get("text")
                if text is not None and path != "/":
                    cap.bodies[path.lower()] = text
        return cap

    def rows(self, action: str) -> list[list[Any]]:
        return read_rows(self.bodies[f"/act/{action.lower()}"])

    @property
    def user_id(self) -> int:
        return int(read_rows(self.bodies["/login"])[0][0])

    @property
    def pupil(self) -> int:
        return int(read_rows(self.bodies["/login"])[0][8])


# --- the replay server ---------------------------------------------------------------------------


class Replay:
    """Both accounts on one loopback server: ``l`` (the login) picks the account at ``/login``,
    the ``ys-userId`` cookie picks it afterwards (no cookie: ``[]``, as the platform answers)."""

    def __init__(self, captures: list[Capture]) -> None:
        self.by_login = {c.name: c for c in captures}
        self.by_user = {c.user_id: c for c in captures}
        self.calls: Counter[str] = Counter()
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                replay.answer(self, {})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                form = dict(p.partition("=")[::2] for p in raw.split("&") if p)
                replay.answer(self, {k: unquote(v.replace("+", " ")) for k, v in form.items()})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, h: BaseHTTPRequestHandler, form: dict[str, str]) -> None:
        path = urlsplit(h.path).path.lower()
        self.calls[path] += 1
        cap = self._account(h)
        if path == "/login":
            known = self.by_login.get(form.get("l", ""))
            body = known.bodies["/login"] if known and form.get("p") else "[wrongLogin]"
        elif path == "/auth":
            body = "ok" if cap is not None and form.get("uId") == str(cap.user_id) else "[]"
        elif path == "/auth/logout":
            h.send_response(404)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        elif path.startswith("/act/"):
            body = cap.bodies.get(path, "[]") if cap is not None else "[]"
        else:
            body = "[]"
        data = body.encode()
        h.send_response(200)
        h.send_header("Content-Type", "text/plain; charset=UTF-8")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _account(self, h: BaseHTTPRequestHandler) -> Capture | None:
        cookies = dict(
            part.strip().partition("=")[::2] for part in (h.headers.get("Cookie") or "").split(";")
        )
        if not {"ys-user", "ys-password", "ys-userId"} <= cookies.keys():
            return None
        raw = unquote(cookies["ys-userId"])  # "n:3020", written with escape()
        return self.by_user.get(int(raw[2:])) if raw[2:].isdigit() else None

    def __enter__(self) -> Replay:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def captures() -> dict[str, Capture]:
    return {name: Capture.load(name) for name in ACCOUNTS}


@pytest.fixture
def replay(captures: dict[str, Capture]) -> Iterator[Replay]:
    with Replay(list(captures.values())) as r:
        yield r


# --- what the captures hold, and what the store holds ------------------------------------------


def expected_counts(cap: Capture) -> Counter[str]:
    """Rows per kind, counted from the bodies: marks, attendance, finals, lessons with topic."""
    out: Counter[str] = Counter()
    for row in cap.rows("GET_STUDENT_JOURNAL_DATA"):
        text = row[2].strip()
        assert text in MARK_TEXTS | ATTENDANCE_TEXTS, (
            f"a journal text the test does not know: {text!r}"
        )
        out["mark" if text in MARK_TEXTS else "attendance"] += 1
    out["final_mark"] = len(cap.rows("GET_STUDENT_DIRECTOR_DATA"))
    diary = cap.rows("GET_STUDENT_DAIRY")
    out["diary_lesson"] = sum(1 for r in diary if r[7] is None)
    out["homework"] = sum(1 for r in diary if (r[4] or "").strip())
    return out


def stored(store: Store, pupil: int) -> dict[str, list[Any]]:
    """The pupil's marks, attendance and finals (by provenance), and the lessons and subjects."""
    out: dict[str, list[Any]] = {}
    for entity in ("mark", "attendance", "final_mark", "lesson", "homework", "group", "subject"):
        recs = list(store.remote_records("replay", "avers", entity))
        if entity in ("mark", "attendance", "final_mark"):
            recs = [
                r
                for r in recs
                if r.provenance is not None
                and r.provenance.external_ids.get("student") == str(pupil)
            ]
        out[entity] = recs
    return out


def check_account(store: Store, cap: Capture) -> dict[str, Any]:
    """Every captured row of the account is stored or quarantined; values match the wire."""
    want = expected_counts(cap)
    got = stored(store, cap.pupil)
    quarantined = Counter(q.entity for q in store.quarantined("replay", "avers"))
    for kind in ("mark", "attendance", "final_mark"):
        assert len(got[kind]) + quarantined[kind] == want[kind], (kind, len(got[kind]), want[kind])

    subjects = {int(r[0]): r[1] for r in cap.rows("GET_DAIRY_CLASS_SUBJECTS")}
    lessons = {le.id: le for le in got["lesson"] if isinstance(le, Lesson)}
    groups = {g.id: g for g in got["group"] if isinstance(g, Group)}
    subject_names = {s.id: s.name for s in got["subject"] if isinstance(s, Subject)}
    by_column = {
        r.provenance.external_ids["column"]: r
        for r in got["mark"] + got["attendance"]
        if r.provenance is not None
    }
    checked = 0
    for row in cap.rows("GET_STUDENT_JOURNAL_DATA"):
        rec = by_column.get(str(row[0]))
        if rec is None:
            continue  # quarantined: counted above
        lesson = lessons[rec.lesson_id]
        assert lesson.date == wire_date(row[3]), row[0]  # month zero-based on the wire
        group = groups[lesson.group_id]
        assert subject_names[group.subject_id] == Subject(school="x", name=subjects[row[4]]).name
        text = row[2].strip()
        if isinstance(rec, Mark):
            label = {"pass": "ЗАЧТ", "fail": "Н/З", "osv": "ОСВ"}.get(rec.value, rec.value)
            assert label == text, row[0]
        else:
            assert isinstance(rec, Attendance)
            assert {"absent": "Н", "ill": "Б", "excused": "У"}[rec.code] == text, row[0]
        checked += 1
    finals = Counter((f.subject_id, f.value) for f in got["final_mark"] if isinstance(f, FinalMark))
    captured_finals: Counter[tuple[str, str]] = Counter()
    by_name = {v: k for k, v in subject_names.items()}
    for row in cap.rows("GET_STUDENT_DIRECTOR_DATA"):
        value = row[3].strip().lower()
        subject = by_name[Subject(school="x", name=subjects[row[4]]).name]
        captured_finals[(subject, {"н/а": "na"}.get(value, value))] += 1
    assert finals == captured_finals
    from_diary = [
        le
        for le in lessons.values()
        if le.provenance is not None and "source" not in le.provenance.external_ids
    ]
    diary_columns = {str(r[1]) for r in cap.rows("GET_STUDENT_DAIRY") if r[7] is None}
    mine = [
        le
        for le in from_diary
        if le.provenance and le.provenance.external_ids["column"] in diary_columns
    ]
    assert len(mine) == want["diary_lesson"]
    topics = {str(r[1]): (r[3] or "").strip() for r in cap.rows("GET_STUDENT_DAIRY")}
    for le in mine:
        assert le.provenance is not None
        assert le.topic == topics[le.provenance.external_ids["column"]]
    return {
        "rows": want,
        "stored": {k: len(v) for k, v in got.items()},
        "quarantined": quarantined,
        "checked": checked,
    }


# --- the cases -----------------------------------------------------------------------------------


@pytest.mark.parametrize("account", ACCOUNTS)
def test_cli_pull_of_a_captured_account_stores_every_row(
    account: str, replay: Replay, captures: dict[str, Capture], tmp_path: Path
) -> None:
    """``journalsync pull --platform avers`` as a process: exit 0 although logout answers 404,
    each unanswered enrichment named in a warning, every row stored with its captured value."""
    db = f"sqlite:///{tmp_path}/replay.db"
    env = {**os.environ, "JOURNALSYNC_PASSWORD": PASSWORD, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "journalsync", "pull", "--school", "replay", "--platform", "avers",
         "--base-url", replay.url, "--platform-school", "school", "--login", account,
         "--db", db, "--today", TODAY],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "0 quarantined" in proc.stdout, proc.stdout
    for action in ("GET_JOURNAL_PERIODS_INFO", "GET_CLASS_PER_SP", "GET_STUDENT_GROUPS",
                   "GET_SUBS_PERSONS_STORE_DATA", "GET_STUDENT_LESSONS"):  # fmt: skip
        assert action in proc.stderr, f"no warning names {action}"
    assert "logout failed" in proc.stderr
    assert replay.calls["/auth/logout"] == 1
    assert PASSWORD not in proc.stdout + proc.stderr

    store = Store.open(db)
    try:
        seen = check_account(store, captures[account])
    finally:
        store.close()
    rows, got = seen["rows"], seen["stored"]
    assert got["mark"] == rows["mark"] and got["attendance"] == rows["attendance"]
    assert got["final_mark"] == rows["final_mark"]
    assert seen["checked"] == rows["mark"] + rows["attendance"]
    assert got["homework"] == rows["homework"]
    print(account, dict(rows), got)


async def test_both_accounts_in_one_school_pull_and_a_second_pull_changes_nothing(
    replay: Replay, captures: dict[str, Capture], tmp_path: Path
) -> None:
    """The connector, store and sync engine in process over the socket, both accounts at once;
    the lessons built from the journal are stable: pulling again changes nothing."""
    target = SchoolTarget(
        school="replay",
        platform="avers",
        base_url=replay.url,
        credentials=Credentials(login="account-A", password=PASSWORD),
        accounts=(Credentials(login="account-B", password=PASSWORD),),
    )
    store = Store.open(f"sqlite:///{tmp_path}/replay.db")
    try:
        async with AversConnector(target, today=date.fromisoformat(TODAY), http=_FAST) as c:
            first = await pull(store, c)
        for cap in captures.values():
            check_account(store, cap)
        assert first.quarantined == 0
        topics = {le.topic for le in store.remote_records("replay", "avers", "lesson")}
        diary_topics = {
            r[3].strip() for cap in captures.values() for r in cap.rows("GET_STUDENT_DAIRY") if r[3]
        }
        assert diary_topics <= topics
        async with AversConnector(target, today=date.fromisoformat(TODAY), http=_FAST) as c:
            second = await pull(store, c)
        assert (second.inserted, second.updated, second.deleted) == (0, 0, 0)
    finally:
        store.close()
