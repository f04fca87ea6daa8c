"""The console's API over real HTTP on a municipality of five platforms: schools, runs with
their transitions, cursor pages, drift filters and the three resolutions, approving a held run
(pushed once), starting a run, /metrics, /openapi.json, one error shape; `journalsync tokens`
and `journalsync web` as commands."""

from __future__ import annotations

import base64
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from core.store import Store
from core.sync import reconcile
from journalsync.cli import app
from tests.support.console_world import ConsoleWorld, console_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleWorld]:
    with console_world(tmp_path_factory.mktemp("api")) as w:
        yield w


def _get(w: ConsoleWorld, path: str, role: str = "admin", **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {w.tokens[role]}"}
    return httpx.get(w.base_url + path, headers=headers, timeout=60, **kw)


def _post(w: ConsoleWorld, path: str, body: Any = None, role: str = "admin") -> httpx.Response:
    headers = {"Authorization": f"Bearer {w.tokens[role]}"}
    return httpx.post(w.base_url + path, json=body, headers=headers, timeout=60)


def _all_pages(w: ConsoleWorld, path: str, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        sep = "&" if "?" in path else "?"
        url = f"{path}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        page = _get(w, url).json()
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pages never ended")


def test_schools_of_all_five_platforms_with_state_drift_and_compliance(world: ConsoleWorld) -> None:
    items = _get(world, "/api/schools").json()["items"]
    assert {i["platform"] for i in items} == {"avers", "kiasuo", "netschool", "perm", "ruobr"}
    by = {i["school"]: i for i in items}
    assert by[world.held_school]["state"] == "held"
    assert by[world.held_school]["holds"][0]["reason"] == "mark: 3 updates exceed 2"
    assert by[world.drift_school]["drift"]["open"] == 3
    assert by[world.drift_school]["drift_open_by_entity"] == {"mark": 3}
    for i in items:
        assert i["last_run"]["pulled"] > 0
        # Family-account platforms count the pupils their accounts read (all of them here);
        # NetSchool reads a school through one account: not measured, never guessed.
        assert i["coverage"] == (None if i["platform"] == "netschool" else 1.0)
        assert i["compliance_score"] is None or 0 <= i["compliance_score"] <= 100
    assert any(i["compliance_score"] is not None for i in items)
    # cursor pages: every school once, in order
    paged = _all_pages(world, "/api/schools", 2)
    assert [i["school"] for i in paged] == sorted(by)
    assert [i["school"] for i in _get(world, "/api/schools?platform=perm").json()["items"]] == [
        s for s in by if by[s]["platform"] == "perm"
    ]


def test_runs_paged_and_a_run_with_its_transitions(world: ConsoleWorld) -> None:
    every = _all_pages(world, "/api/runs", 2)
    assert len(every) == len({r["id"] for r in every}) >= 6
    assert every == sorted(every, key=lambda r: (r["created_at"], r["id"]), reverse=True)
    held = _get(world, f"/api/runs/{world.held_run}").json()
    assert held["state"] == "held" and held["hold_reason"] == "mark: 3 updates exceed 2"
    states = [t["to"] for t in held["transitions"]]
    assert states[0] == "planned" and states[-1] == "held" and "reconciling" in states
    assert re.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d", held["transitions"][0]["local_time"])
    only_held = _get(world, "/api/runs?state=held").json()["items"]
    assert [r["id"] for r in only_held] == [world.held_run]


def test_errors_have_one_shape(world: ConsoleWorld) -> None:
    cases = [
        (httpx.get(world.base_url + "/api/schools"), 401),
        (_get(world, "/api/schools/no-such-school"), 404),
        (_get(world, "/api/runs/no-such-run"), 404),
        (_get(world, "/api/nothing-here"), 404),
        (_get(world, "/api/runs?cursor=%%%bad"), 400),
        # a well-formed cursor of another shape: a number where the school's name goes
        (_get(world, "/api/schools?cursor=" + base64.urlsafe_b64encode(b"[1,2]").decode()), 400),
        (_get(world, "/api/runs?limit=0"), 422),
        (_post(world, "/api/drift/x/resolve", {"action": "delete_everything"}), 422),
        (_post(world, f"/api/runs/{world.held_run}/approve", role="auditor"), 403),
        (httpx.get(world.base_url + "/api/schools", headers={"Authorization": "Bearer x"}), 401),
    ]
    for r, status in cases:
        assert r.status_code == status, r.text
        body = r.json()
        assert set(body) == {"error"}, body
        assert set(body["error"]) == {"status", "code", "message", "hint"}
        assert body["error"]["status"] == status and body["error"]["message"]


def test_openapi_and_health(world: ConsoleWorld) -> None:
    spec = httpx.get(world.base_url + "/openapi.json").json()
    for path in ("/api/schools", "/api/runs/{run_id}", "/api/drift/{finding_id}/resolve"):
        assert path in spec["paths"]
    assert not any(p.startswith("/schools") for p in spec["paths"])  # pages are not API
    assert httpx.get(world.base_url + "/healthz").json() == {"status": "ok", "store": "sqlite"}


def _open(w: ConsoleWorld) -> list[dict[str, Any]]:
    url = f"/api/drift?school={w.drift_school}&state=open"
    return list(_get(w, url).json()["items"])


def test_drift_filters_and_the_three_resolutions(world: ConsoleWorld) -> None:
    school, store = world.drift_school, world.store
    found = _open(world)
    assert len(found) == 3 and all(f["entity"] == "mark" and f["student"] for f in found)
    first = found[0]
    for query, expect in (
        (f"&class={first['class']}", {f["id"] for f in found if f["class"] == first["class"]}),
        (
            f"&subject={first['subject']}",
            {f["id"] for f in found if f["subject"] == first["subject"]},
        ),
        ("&entity=attendance", set()),
    ):
        got = _get(world, f"/api/drift?school={school}{query}").json()["items"]
        assert {f["id"] for f in got} == expect, query

    a, b, c = found
    # accept the difference: a comment is required
    r = _post(world, f"/api/drift/{a['id']}/resolve", {"action": "accept_difference"})
    assert r.status_code == 422 and "comment" in r.json()["error"]["message"]
    r = _post(
        world,
        f"/api/drift/{a['id']}/resolve",
        {"action": "accept_difference", "comment": "исправлено в бумажном журнале"},
        role="school",
    )
    assert r.status_code == 200 and r.json()["status"] == "accepted", r.text
    # push local: the same outbox item the reconcile queued (keyed alike: never twice)
    before = len(store.outbox(school, "kiasuo"))
    r = _post(world, f"/api/drift/{b['id']}/resolve", {"action": "push_local"})
    assert r.status_code == 200 and r.json()["queued"] == 0 and r.json()["channel"] == "worklist"
    assert len(store.outbox(school, "kiasuo")) == before
    # accept the platform: the school's journal takes the platform's value
    r = _post(world, f"/api/drift/{c['id']}/resolve", {"action": "accept_platform"})
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    local = {x.id: x for x in store.local_records(school, "mark")}
    remote = {x.id: x for x in store.remote_records(school, "kiasuo", "mark")}
    assert local[c["record_id"]].content_hash == remote[c["record_id"]].content_hash
    # a second decision on the same finding is refused
    again = _post(world, f"/api/drift/{c['id']}/resolve", {"action": "push_local"})
    assert again.status_code == 409
    # the next reconcile keeps the decisions: one accepted, one open (its push is pending)
    reconcile(store, school, "kiasuo")
    status = {f.id: f.status for f in store.findings(school, "kiasuo")}
    assert (status[a["id"]], status[b["id"]], status[c["id"]]) == ("accepted", "open", "resolved")
    log = _get(world, "/api/audit").json()["items"]
    mine = [(e["actor"], e["action"]) for e in log if e["target"] in {a["id"], b["id"], c["id"]}]
    assert sorted(mine) == sorted(
        [
            ("Завуч", "drift.accept_difference"),
            ("Администратор УО", "drift.push_local"),
            ("Администратор УО", "drift.accept_platform"),
        ]
    )


def test_approve_a_held_run_pushes_once(world: ConsoleWorld) -> None:
    r = _post(world, f"/api/runs/{world.held_run}/approve")
    assert r.status_code == 200, r.text
    run = r.json()
    assert run["state"] == "done" and run["counts"]["pushed"] == 3
    again = _post(world, f"/api/runs/{world.held_run}/approve")
    assert again.status_code == 409 and "only a held run" in again.json()["error"]["message"]
    notes = [t["note"] for t in _get(world, f"/api/runs/{world.held_run}").json()["transitions"]]
    assert "approved by Администратор УО (console)" in notes


def test_trigger_a_run_and_read_the_metrics(world: ConsoleWorld) -> None:
    perm = next(s.slug for s in world.plan.schools if s.platform == "perm")
    r = _post(world, f"/api/schools/{perm}/runs", {"operation": "pull"})
    assert r.status_code == 202, r.text
    run_id = r.json()["run_id"]
    deadline = time.monotonic() + 60
    state = None
    while time.monotonic() < deadline:
        got = _get(world, f"/api/runs/{run_id}")
        state = got.json()["state"] if got.status_code == 200 else None
        if state in ("done", "failed"):
            break
        time.sleep(0.2)
    assert state == "done"
    text = _get(world, "/metrics").text
    assert f'journalsync_runs_total{{platform="perm",school="{perm}",state="done"}} 2.0' in text
    assert re.search(
        r'journalsync_records_pulled_total\{platform="ruobr",school="[^"]+"\} [1-9]', text
    )
    assert f'journalsync_drift_open{{platform="kiasuo",school="{world.drift_school}"}}' in text
    assert "journalsync_held_runs" in text and "journalsync_last_run_duration_seconds" in text
    # a school token's metrics are its school's only
    mine = _get(world, "/metrics", role="school").text
    assert world.drift_school in mine and perm not in mine


def test_tokens_command_prints_once_lists_and_revokes(world: ConsoleWorld) -> None:
    db = str(world.store.engine.url)
    runner = CliRunner()
    res = runner.invoke(app, ["tokens", "create", "--role", "auditor", "--name", "КРУ", "--db", db])
    assert res.exit_code == 0, res.output
    token = res.output.strip().splitlines()[-1]
    assert token.startswith("js_") and len(token) > 40
    assert (
        httpx.get(
            world.base_url + "/api/schools", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 200
    )
    listed = runner.invoke(app, ["tokens", "list", "--db", db], terminal_width=200)
    assert "КРУ" in listed.output and token not in listed.output
    bad = runner.invoke(app, ["tokens", "create", "--role", "school", "--name", "x", "--db", db])
    assert bad.exit_code == 2 and "--school" in bad.output
    res = runner.invoke(app, ["tokens", "revoke", "КРУ", "--db", db])
    assert res.exit_code == 0, res.output
    assert (
        httpx.get(
            world.base_url + "/api/schools", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 401
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow  # a real `journalsync web` process on a real port
def test_web_command_serves_and_a_taken_port_is_a_clear_error(
    world: ConsoleWorld, tmp_path: Path
) -> None:
    port = _free_port()
    env = {**os.environ, **world.env, "PYTHONPATH": os.getcwd()}
    cmd = [sys.executable, "-m", "journalsync", "web", "--http", f"127.0.0.1:{port}"]
    cmd += ["-c", str(world.config)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        assert r.json()["status"] == "ok"
        token = world.tokens["admin"]
        schools = httpx.get(
            f"http://127.0.0.1:{port}/api/schools", headers={"Authorization": f"Bearer {token}"}
        )
        assert len(schools.json()["items"]) == 5
        taken = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        assert taken.returncode == 2
        assert f"cannot listen on 127.0.0.1:{port}" in taken.stderr
        assert "Traceback" not in taken.stderr + taken.stdout
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err


@pytest.mark.slow  # a real `journalsync serve` process: console and scheduler
def test_serve_runs_the_console_beside_the_scheduler(world: ConsoleWorld) -> None:
    port = _free_port()
    env = {**os.environ, **world.env, "PYTHONPATH": os.getcwd()}
    cmd = [sys.executable, "-m", "journalsync", "serve", "-c", str(world.config)]
    cmd += ["--http", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        assert r.status_code == 200
        held = httpx.get(
            f"http://127.0.0.1:{port}/api/runs?school={world.drift_school}",
            headers={"Authorization": f"Bearer {world.tokens['school']}"},
        )
        assert held.status_code == 200 and held.json()["items"]
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert b"journalsync serve:" in out and b"web console: http://127.0.0.1:" in out
    bad = subprocess.run(
        [*cmd[:-2], "--http", "nowhere", "--once", "pull"], env=env, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "HOST:PORT" in bad.stderr


def test_store_keeps_the_console_tables_through_migrations(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 's.db'}")
    try:
        from console import create_token, list_tokens

        token, info = create_token(store, role="admin", name="a")
        assert [t.id for t in list_tokens(store)] == [info.id] and token.startswith("js_")
    finally:
        store.close()
