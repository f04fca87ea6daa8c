"""The console's role matrix over real HTTP: every role × every endpoint. A school token sees
its own school only (another school's data is 404, the same answer as for no school at all),
the auditor reads everything and changes nothing, and sees no pupil's full name anywhere —
API, pages, downloads."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest

from console._data import initials
from tests.support.console_migration import world_plans
from tests.support.console_world import ConsoleWorld, console_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleWorld]:
    with console_world(tmp_path_factory.mktemp("roles")) as w:
        yield w


def test_initials_only() -> None:
    assert initials("Иванов И. И.") == "И. И. И."
    assert initials("Петрова Анна Сергеевна") == "П. А. С."
    assert initials("") == ""


@pytest.fixture(scope="module")
def plans(world: ConsoleWorld) -> dict[str, str]:
    """Migration plans at both schools (made as `migrate plan` and `verify` make them)."""
    own = (world.drift_school, world.plan.school(world.drift_school).platform)
    other = (world.held_school, world.plan.school(world.held_school).platform)
    return world_plans(world.store, own, other)


def _targets(w: ConsoleWorld, plans: dict[str, str]) -> dict[str, dict[str, str]]:
    """Per school: a finished run, an accepted finding and a migration plan waiting for review
    (acting on them is refused with 409 after the role check passed, so the matrix changes
    nothing), and a verified plan with its certificate."""
    out: dict[str, dict[str, str]] = {}
    for key, school in (("own", w.drift_school), ("other", w.held_school)):
        run = next(r for r in w.store.runs(school=school) if r.state.value == "done")
        platform = w.plan.school(school).platform
        finding = w.store.findings(school, platform, status="open")[0]
        w.store.set_finding_status(finding.id, "accepted", note="matrix")
        prefix = "" if key == "own" else "other_"
        out[key] = {
            "school": school,
            "run": run.id,
            "finding": finding.id,
            "plan": plans[prefix + "pending"],
            "cert": plans[prefix + "cert"],
        }
    return out


# (name, method, path, json body, kind): kind says who may: read (everyone), write (not the
# auditor), names (documents with full names: not the auditor), admin (administrators only),
# pupils (a list of pupils and nothing else: for the auditor it does not exist, 404).
ENDPOINTS: list[tuple[str, str, str, dict[str, Any] | None, str]] = [
    ("school", "GET", "/api/schools/{school}", None, "read"),
    ("runs of school", "GET", "/api/runs?school={school}", None, "read"),
    ("run", "GET", "/api/runs/{run}", None, "read"),
    ("drift of school", "GET", "/api/drift?school={school}&state=all", None, "read"),
    ("outbox", "GET", "/api/schools/{school}/outbox", None, "read"),
    ("drift xlsx", "GET", "/api/schools/{school}/drift.xlsx?state=all", None, "read"),
    ("drift csv", "GET", "/api/schools/{school}/drift.csv?state=all", None, "read"),
    ("drift json", "GET", "/api/schools/{school}/drift.json?state=all", None, "read"),
    ("compliance", "GET", "/api/schools/{school}/reports/compliance.xlsx", None, "names"),
    ("trigger", "POST", "/api/schools/{school}/runs", {"operation": "reports"}, "write"),
    ("approve", "POST", "/api/runs/{run}/approve", None, "write"),
    ("discard", "POST", "/api/runs/{run}/discard", None, "write"),
    (
        "resolve",
        "POST",
        "/api/drift/{finding}/resolve",
        {"action": "accept_difference", "comment": "проверено"},
        "write",
    ),
    ("worklists", "POST", "/api/schools/{school}/worklists", None, "write"),
    ("package", "POST", "/api/schools/{school}/package", None, "write"),
    ("migrations of school", "GET", "/api/migrations?school={school}", None, "read"),
    ("migration", "GET", "/api/migrations/{plan}", None, "read"),
    ("migration plan", "GET", "/api/migrations/{plan}/plan.xlsx", None, "read"),
    ("certificate pdf", "GET", "/api/migrations/{cert}/certificate.pdf", None, "read"),
    ("certificate json", "GET", "/api/migrations/{cert}/certificate.json", None, "read"),
    ("review xlsx", "GET", "/api/migrations/{plan}/review.xlsx", None, "pupils"),
    ("review csv", "GET", "/api/migrations/{plan}/review.csv", None, "pupils"),
    ("approve migration", "POST", "/api/migrations/{plan}/approve", None, "write"),
]
GLOBAL: list[tuple[str, str, str, str]] = [
    ("schools", "GET", "/api/schools", "read"),
    ("runs", "GET", "/api/runs", "read"),
    ("drift", "GET", "/api/drift?state=all", "read"),
    ("metrics", "GET", "/metrics", "read"),
    ("migrations", "GET", "/api/migrations", "read"),
    ("audit", "GET", "/api/audit", "admin"),
]


def _allowed(r: httpx.Response) -> bool:
    """Past the role check: done, or refused for what the target is (409: the run is not
    held, the finding is not open; 404 "nothing": nothing to issue)."""
    if r.status_code < 400 or r.status_code == 409:
        return True
    return r.status_code == 404 and r.json()["error"]["code"] == "nothing"


#: One client for the module's calls (a new one per request builds a TLS context each time:
#: seconds of CPU over the hundreds of calls here); each call sends its own headers only.
_CLIENTS: list[httpx.Client] = []


@pytest.fixture(scope="module", autouse=True)
def _one_client() -> Iterator[None]:
    with httpx.Client(timeout=60) as client:
        _CLIENTS.append(client)
        try:
            yield
        finally:
            _CLIENTS.remove(client)


def _call(w: ConsoleWorld, role: str | None, method: str, path: str, body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {w.tokens[role]}"} if role else {}
    client = _CLIENTS[-1]
    client.cookies.clear()  # no session carried from one call to the next
    return client.request(method, w.base_url + path, json=body, headers=headers)


def test_every_role_on_every_endpoint(world: ConsoleWorld, plans: dict[str, str]) -> None:
    targets = _targets(world, plans)
    seen = 0
    for name, method, template, body, kind in ENDPOINTS:
        for where, t in targets.items():
            path = template.format(**t)
            for role in (None, "admin", "school", "auditor"):
                r = _call(world, role, method, path, body)
                label = f"{role or 'anonymous'} {name} ({where}): {r.status_code} {r.text[:200]}"
                seen += 1
                assert "error" in r.json() if r.status_code >= 400 else True, label
                if role is None:
                    assert r.status_code == 401, label
                elif role == "school" and where == "other":
                    assert r.status_code == 404, label
                    assert r.json()["error"]["code"] == "not_found", label
                    assert world.held_school not in r.text, label  # no hint it exists
                elif role == "auditor" and kind in ("write", "names"):
                    assert r.status_code == 403, label
                elif role == "auditor" and kind == "pupils":
                    assert r.status_code == 404, label
                    assert r.json()["error"]["code"] == "not_found", label
                else:
                    assert _allowed(r), label
    for name, method, path, kind in GLOBAL:
        for role in (None, "admin", "school", "auditor"):
            r = _call(world, role, method, path, None)
            label = f"{role or 'anonymous'} {name}: {r.status_code} {r.text[:200]}"
            seen += 1
            if role is None:
                assert r.status_code == 401, label
            elif kind == "admin" and role != "admin":
                assert r.status_code == 403, label
            else:
                assert r.status_code == 200, label
                if role == "school":  # lists hold the school's own data only
                    assert world.held_school not in r.text, label
    assert seen == len(ENDPOINTS) * 2 * 4 + len(GLOBAL) * 4
    # The school's own actions were checked and logged: who, what, to which school.
    log = _call(world, "admin", "GET", "/api/audit?limit=500", None).json()["items"]
    assert {"Администратор УО", "Завуч"} <= {e["actor"] for e in log}
    assert any(e["action"] == "download.drift" and e["role"] == "auditor" for e in log)
    assert not any(e["role"] == "auditor" and e["action"].startswith("run.") for e in log)
    assert any(e["action"] == "download.certificate" and e["role"] == "auditor" for e in log)
    assert not any(e["action"] == "migration.approve" for e in log)  # all refused: 409 or 403
    assert {world.store.plan(p).state for p in (plans["pending"], plans["other_pending"])} == {
        "planned"
    }


@contextmanager
def _session(w: ConsoleWorld, role: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=w.base_url, timeout=60) as c:
        page = c.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        r = c.post("/login", data={"token": w.tokens[role], "csrf": csrf.group(1)})
        assert r.status_code == 303 and r.headers["location"] == "/", r.text
        yield c


def _text_of(r: httpx.Response) -> str:
    if r.headers.get("content-type", "").startswith("application/vnd.openxml"):
        wb = openpyxl.load_workbook(io.BytesIO(r.content))
        return "\n".join(
            str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row
        )
    return r.text


def test_auditor_sees_no_pupil_name_anywhere(world: ConsoleWorld, plans: dict[str, str]) -> None:
    names = world.pupils()
    assert len(names) > 20
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, sorted(names))) + r")\b")
    school, held = world.drift_school, world.held_school
    api = [
        "/api/schools",
        "/api/runs?limit=500",
        f"/api/runs/{world.held_run}",
        "/api/drift?state=all&limit=500",
        f"/api/schools/{school}/outbox?limit=500",
        f"/api/schools/{school}/drift.xlsx?state=all",
        f"/api/schools/{school}/drift.csv?state=all",
        f"/api/schools/{school}/drift.json?state=all",
        f"/api/schools/{held}/drift.json?state=all",
        "/metrics",
        "/api/migrations",
        f"/api/migrations/{plans['cert']}",
        f"/api/migrations/{plans['pending']}/plan.xlsx",
        f"/api/migrations/{plans['cert']}/certificate.json",
    ]
    bodies = {p: _text_of(_call(world, "auditor", "GET", p, None)) for p in api}
    # The same pages an admin sees with the names: the auditor's show initials.
    admin_drift = _call(world, "admin", "GET", f"/api/drift?school={school}&state=all", None)
    assert pattern.search(admin_drift.text), "the admin sees the names (the check can fail)"
    audited = _call(world, "auditor", "GET", f"/api/drift?school={school}&state=all", None)
    assert {i["student"] for i in audited.json()["items"]} <= {
        initials(i["student"]) for i in admin_drift.json()["items"]
    }
    with _session(world, "auditor") as c:
        for p in (
            "/",
            f"/schools/{school}?status=all",
            f"/schools/{held}?status=all",
            "/migrations",
            f"/migrations/{plans['pending']}",
            f"/migrations/{plans['cert']}",
        ):
            r = c.get(p)
            assert r.status_code == 200, p
            bodies[p] = r.text
        bodies["run page"] = c.get(f"/runs/{world.held_run}").text
        assert "Подтвердить" not in bodies["run page"]  # read-only: no action offered
    for where, text in bodies.items():
        found = pattern.search(text)
        assert found is None, f"{where}: shows «{found.group(0) if found else ''}»"


def test_school_pages_show_their_school_only(world: ConsoleWorld) -> None:
    with _session(world, "school") as c:
        overview = c.get("/")
        assert world.drift_school in overview.text and world.held_school not in overview.text
        assert c.get(f"/schools/{world.held_school}").status_code == 404
        assert c.get(f"/runs/{world.held_run}").status_code == 404
        assert c.get("/schools/no-such-school").status_code == 404
        assert c.get("/audit").status_code == 403


def test_tokens_are_stored_hashed(world: ConsoleWorld, tmp_path: Path) -> None:
    db = Path(world.store.engine.url.database or "")
    raw = b"".join(p.read_bytes() for p in (db, Path(f"{db}-wal")) if p.exists())
    assert b"web_tokens" in raw
    for token in world.tokens.values():
        assert token.encode() not in raw


def test_pages_by_role_and_csrf(world: ConsoleWorld) -> None:
    own, other = world.drift_school, world.held_school
    pages = ["/", f"/schools/{own}", f"/schools/{other}", f"/runs/{world.held_run}", "/audit"]
    expected = {
        "admin": [200, 200, 200, 200, 200],
        "school": [200, 200, 404, 404, 403],
        "auditor": [200, 200, 200, 200, 403],
    }
    still_open = len(world.store.findings(own, "kiasuo", status="open"))
    for role, codes in expected.items():
        with _session(world, role) as c:
            got = [c.get(p).status_code for p in pages]
            assert got == codes, role
            # Forms need the session's CSRF token; the API through a session needs its header.
            finding = world.store.findings(own, "kiasuo", status="open")[0].id
            form = {"action": "accept_difference", "comment": "x"}
            r = c.post(f"/schools/{own}/drift/{finding}", data={**form, "csrf": "forged"})
            assert r.status_code == 403 and "форма устарела" in r.text
            api = c.post(f"/api/drift/{finding}/resolve", json=form)
            assert api.status_code == 403 and api.json()["error"]["code"] == "csrf"
    assert httpx.get(world.base_url + "/").status_code == 303  # no session: to the login page
    assert len(world.store.findings(own, "kiasuo", status="open")) == still_open
