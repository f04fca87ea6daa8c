"""Migration plans in the console over real HTTP: the list (paged, filtered, per role), a plan
with its counts and certificate, approving (refused while identities wait for review), the
documents, and the pages in Russian. Plans are made by the functions ``migrate plan`` and
``migrate verify`` use, on the console world's snapshots."""

from __future__ import annotations

import io
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest

from core.platform import platform_title
from core.store import Store
from tests.console.test_console_roles import _session
from tests.support.console_migration import world_plans
from tests.support.console_world import ConsoleWorld, console_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleWorld]:
    with console_world(tmp_path_factory.mktemp("migrations")) as w:
        yield w


@pytest.fixture(scope="module")
def plans(world: ConsoleWorld) -> dict[str, str]:
    own = (world.drift_school, world.plan.school(world.drift_school).platform)
    other = (world.held_school, world.plan.school(world.held_school).platform)
    return world_plans(world.store, own, other)


def _get(w: ConsoleWorld, role: str, path: str, method: str = "GET") -> httpx.Response:
    return httpx.request(
        method, w.base_url + path, headers={"Authorization": f"Bearer {w.tokens[role]}"}, timeout=60
    )


def _error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err: dict[str, Any] = r.json()["error"]
    assert set(err) == {"status", "code", "message", "hint"} and err["code"] == code, err
    return err


def test_list_pages_filters_and_scopes(world: ConsoleWorld, plans: dict[str, str]) -> None:
    everything = _get(world, "admin", "/api/migrations").json()
    assert {i["id"] for i in everything["items"]} == set(plans.values())
    assert everything["next_cursor"] is None
    # newest first, paged by the cursor without a gap or a repeat
    seen: list[str] = []
    cursor = None
    while True:
        q = "/api/migrations?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = _get(world, "admin", q).json()
        assert len(page["items"]) <= 2
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [i["id"] for i in everything["items"]]
    _error(_get(world, "admin", "/api/migrations?cursor=garbage"), 400, "bad_request")
    # filters
    planned = _get(world, "admin", "/api/migrations?state=planned").json()["items"]
    assert {i["id"] for i in planned} == {plans["pending"], plans["ready"], plans["other_pending"]}
    own = _get(world, "admin", f"/api/migrations?school={world.drift_school}").json()["items"]
    assert {i["id"] for i in own} == {plans["pending"], plans["ready"], plans["cert"]}
    # the school operator: their school's plans only; another school's filter is 404
    mine = _get(world, "school", "/api/migrations").json()["items"]
    assert {i["id"] for i in mine} == {plans["pending"], plans["ready"], plans["cert"]}
    _error(_get(world, "school", f"/api/migrations?school={world.held_school}"), 404, "not_found")
    _error(_get(world, "school", f"/api/migrations/{plans['other_cert']}"), 404, "not_found")
    _error(_get(world, "admin", "/api/migrations/no-such-plan"), 404, "not_found")


def test_a_plan_with_its_counts_review_and_certificate(
    world: ConsoleWorld, plans: dict[str, str]
) -> None:
    waiting = _get(world, "admin", f"/api/migrations/{plans['pending']}").json()
    assert waiting["state"] == "planned" and waiting["review_pending"] == 2
    assert waiting["counts"]["person"]["needed"] == 2
    assert waiting["counts"]["mark"]["add"] > 0
    assert waiting["certificate"] is None
    assert waiting["documents"] == {
        "plan_xlsx": True,
        "certificate_pdf": False,
        "certificate_json": False,
        "review": True,
    }
    done = _get(world, "admin", f"/api/migrations/{plans['cert']}").json()
    cert = done["certificate"]
    assert cert is not None and cert["complete"] is False
    assert cert["unexplained"] + cert["awaited"] >= 1
    assert cert["entities"]["mark"]["source"] > 0
    assert done["approved_by"] == "test"
    _error(
        _get(world, "admin", f"/api/migrations/{plans['pending']}/certificate.pdf"), 404, "nothing"
    )
    _error(_get(world, "admin", f"/api/migrations/{plans['ready']}/review.csv"), 404, "nothing")


def test_approve_refuses_pending_review_and_the_auditor(
    world: ConsoleWorld, plans: dict[str, str]
) -> None:
    err = _error(
        _get(world, "school", f"/api/migrations/{plans['pending']}/approve", "POST"),
        409,
        "review_pending",
    )
    assert "2 identities" in err["message"] and "--review" in (err["hint"] or "")
    _error(
        _get(world, "auditor", f"/api/migrations/{plans['ready']}/approve", "POST"),
        403,
        "read_only",
    )
    _error(
        _get(world, "school", f"/api/migrations/{plans['other_pending']}/approve", "POST"),
        404,
        "not_found",
    )
    assert world.store.plan(plans["ready"]).state == "planned"


def test_school_operator_approves_once_and_it_is_logged(
    world: ConsoleWorld, plans: dict[str, str]
) -> None:
    r = _get(world, "school", f"/api/migrations/{plans['ready']}/approve", "POST")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "approved"
    row = world.store.plan(plans["ready"])
    assert (row.state, row.approved_by) == ("approved", "Завуч (console)")
    _error(
        _get(world, "admin", f"/api/migrations/{plans['ready']}/approve", "POST"), 409, "conflict"
    )
    log = _get(world, "admin", "/api/audit?limit=500").json()["items"]
    done = [e for e in log if e["action"] == "migration.approve"]
    assert (
        len(done) == 1 and done[0]["actor"] == "Завуч" and done[0]["school"] == world.drift_school
    )


def _xlsx_text(body: bytes) -> str:
    wb = openpyxl.load_workbook(io.BytesIO(body))
    return "\n".join(
        str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row if v
    )


def _pdf_text(body: bytes, tmp: Path) -> str:
    pdf = tmp / "c.pdf"
    pdf.write_bytes(body)
    return subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_documents_for_each_role(
    world: ConsoleWorld, plans: dict[str, str], tmp_path: Path
) -> None:
    names = world.pupils()
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, sorted(names))) + r")\b")
    texts: dict[tuple[str, str], str] = {}
    for role in ("admin", "auditor"):
        plan = _get(world, role, f"/api/migrations/{plans['pending']}/plan.xlsx")
        assert plan.status_code == 200 and "attachment" in plan.headers["content-disposition"]
        texts[role, "plan"] = _xlsx_text(plan.content)
        cert_json = _get(world, role, f"/api/migrations/{plans['cert']}/certificate.json")
        assert cert_json.status_code == 200 and cert_json.json()["plan"] == plans["cert"]
        texts[role, "cert.json"] = cert_json.text
        pdf = _get(world, role, f"/api/migrations/{plans['cert']}/certificate.pdf")
        assert pdf.content.startswith(b"%PDF")
        texts[role, "cert.pdf"] = _pdf_text(pdf.content, tmp_path)
    assert "Акт проверки переноса журнала" in texts["admin", "cert.pdf"]
    assert "UTC" not in texts["admin", "cert.pdf"] and ".json" not in texts["admin", "cert.pdf"]
    for what in ("plan", "cert.json", "cert.pdf"):
        # the admin's documents name the missing pupils (the check below can fail) …
        assert pattern.search(texts["admin", what]), what
        # … the auditor's the same documents with initials only
        found = pattern.search(texts["auditor", what])
        assert found is None, f"auditor {what}: «{found.group(0) if found else ''}»"
    # the review file: the operator's (names and all); for the auditor it does not exist
    review = _get(world, "school", f"/api/migrations/{plans['pending']}/review.xlsx")
    assert review.status_code == 200 and pattern.search(_xlsx_text(review.content))
    csv = _get(world, "admin", f"/api/migrations/{plans['pending']}/review.csv")
    assert csv.status_code == 200 and csv.content.startswith("\ufeff".encode())
    _error(
        _get(world, "auditor", f"/api/migrations/{plans['pending']}/review.xlsx"), 404, "not_found"
    )
    log = _get(world, "admin", "/api/audit?limit=500").json()["items"]
    actions = {(e["action"], e["role"]) for e in log}
    assert {
        ("download.migration_plan", "auditor"),
        ("download.certificate", "auditor"),
        ("download.review", "school"),
    } <= actions
    assert ("download.review", "auditor") not in actions


def test_pages_in_russian(world: ConsoleWorld, plans: dict[str, str]) -> None:
    pupils = world.pupils()
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, sorted(pupils))) + r")\b")
    with _session(world, "admin") as c:
        school = c.get(f"/schools/{world.drift_school}")
        assert f'href="/migrations?school={world.drift_school}"' in school.text
        listed = c.get("/migrations")
        assert listed.status_code == 200
        source = platform_title(world.plan.school(world.drift_school).platform)
        assert source in listed.text and "ждёт утверждения" in listed.text
        assert listed.text.count('href="/migrations/') == len(plans)
        page = c.get(f"/migrations/{plans['pending']}")
        assert page.status_code == 200
        assert "Ждут решения оператора: 2" in page.text and "Утвердить план" not in page.text
        assert "Файл сопоставления (XLSX)" in page.text
        done = c.get(f"/migrations/{plans['cert']}")
        assert "перенос не завершён" in done.text and "Акт проверки (PDF)" in done.text
        for body in (listed.text, page.text, done.text):
            visible = re.sub(r"<[^>]+>", " ", body)
            assert "UTC" not in visible and ".xlsx" not in visible and ".json" not in visible
            assert world.drift_school not in visible  # the school by its name, never its slug
        # CSRF: the approve form without the session's token is refused
        r = c.post(f"/migrations/{plans['other_pending']}/approve", data={"csrf": "nope"})
        assert r.status_code == 403
    with _session(world, "auditor") as c:
        page = c.get(f"/migrations/{plans['cert']}")
        assert page.status_code == 200 and "Утвердить" not in page.text
        assert "Файл сопоставления" not in c.get(f"/migrations/{plans['pending']}").text
        for p in ("/migrations", f"/migrations/{plans['pending']}", f"/migrations/{plans['cert']}"):
            assert pattern.search(c.get(p).text) is None, p
    with _session(world, "school") as c:
        assert c.get(f"/migrations/{plans['other_cert']}").status_code == 404
        assert plans["other_cert"] not in c.get("/migrations").text


def test_the_list_reads_no_plan_items_but_stays_right_without_them(
    world: ConsoleWorld, plans: dict[str, str]
) -> None:
    """A listing reads the head of each plan's JSON only; a plan whose ``pending_review`` is not
    there (written by hand, items first) is read whole and shown the same."""
    items = [{"entity": "mark", "op": "add", "source_id": f"m{n}"} for n in range(200)]
    world.store.save_plan(
        "hand-made",
        school=world.held_school,
        source=("a", world.plan.school(world.held_school).platform),
        target=("b", "perm"),
        counts={"mark": {"source": 200, "add": 200}},
        data={"school": world.held_school, "items": items, "pending_review": 3},
    )
    listed = _get(world, "admin", f"/api/migrations?school={world.held_school}").json()["items"]
    by_id = {i["id"]: i for i in listed}
    assert by_id["hand-made"]["review_pending"] == 3
    assert by_id[plans["other_pending"]]["review_pending"] == 2
    assert by_id[plans["other_cert"]]["has_certificate"] is True
    one = _get(world, "admin", "/api/migrations/hand-made").json()
    assert one["review_pending"] == 3 and one["documents"]["review"] is True


def test_the_auditors_certificate_and_plan_name_people_by_initials() -> None:
    import re as _re

    from console._migrations import masked_certificate, masked_plan

    names = _re.compile("Иванова Анна Петровна|Иванова А. П.")
    cert = {
        "complete": False,
        "entities": {"mark": {"source": 1}},
        "unexplained": [
            {"entity": "person", "what": "Сидоров Пётр", "why": "нет в новой системе"},
            {"entity": "mark", "what": "отметка «5» · 5А, Математика · Иванова А. П.", "why": ""},
        ],
        "awaited": [{"entity": "attendance", "what": "Н · Иванова Анна Петровна", "channel": "x"}],
    }
    masked = masked_certificate(cert, names)
    assert [u["what"] for u in masked["unexplained"]] == [
        "С. П.",
        "отметка «5» · 5А, Математика · И. А. П.",
    ]
    assert masked["awaited"][0]["what"] == "Н · И. А. П."
    assert (
        masked["entities"] == cert["entities"] and cert["unexplained"][0]["what"] == "Сидоров Пётр"
    )
    plan = masked_plan({"roster": [{"entity": "person", "label": "Сидоров П."}], "items": []}, None)
    assert plan["roster"][0]["label"] == "С. П."


def test_the_list_on_each_database(store: Store) -> None:
    """The listing's SQL (the head of each plan's JSON, a certificate or not) on SQLite and,
    with ``JOURNALSYNC_TEST_PG``, PostgreSQL."""
    from connectors.sandbox.server import serve_in_thread
    from console import create_app, create_token

    for n in range(3):
        store.save_plan(
            f"p-{n}",
            school="s-1" if n else "s-2",
            source=("a", "x"),
            target=("b", "y"),
            counts={"mark": {"source": n, "add": n}},
            data={"plan": f"p-{n}", "school": "s", "pending_review": n, "items": []},
        )
    store.set_plan_state("p-2", "verified", certificate={"complete": True, "entities": {}})
    token = create_token(store, role="school", name="Завуч", schools=["s-1"])[0]
    with serve_in_thread(create_app(None, store)) as server:
        headers = {"Authorization": f"Bearer {token}"}
        first = httpx.get(f"{server.base_url}/api/migrations?limit=1", headers=headers).json()
        rest = httpx.get(
            f"{server.base_url}/api/migrations?limit=5&cursor={first['next_cursor']}",
            headers=headers,
        ).json()
        items = first["items"] + rest["items"]
        assert [i["id"] for i in items] == ["p-2", "p-1"]  # newest first; s-2's is not shown
        assert [(i["review_pending"], i["has_certificate"], i["verified"]) for i in items] == [
            (2, True, True),
            (1, False, False),
        ]
        verified = httpx.get(
            f"{server.base_url}/api/migrations?state=verified", headers=headers
        ).json()["items"]
        assert [i["id"] for i in verified] == ["p-2"]
