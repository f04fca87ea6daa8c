"""``journalsync doctor``: the five emulators on loopback sockets, the command as the CLI runs
it (in-process, a 160-column terminal), a real SQLite store; then one emulator renames a field
and the doctor says so. ``sandbox serve --rename-field`` in a real process (slow)."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from connectors.conformance.harness import harnesses
from connectors.sandbox import World, WorldSize
from connectors.sandbox.faults import Faults, FaultsMiddleware
from connectors.sandbox.server import ServerHandle, serve_in_thread
from core.store import Store
from tests.support.doctor_config import write_config

SIZE = WorldSize(grades=(1, 5), letters=1, students_per_class=4, weeks=1)
PLATFORMS = ("netschool", "kiasuo", "ruobr", "perm", "avers")


def _journalsync(*args: str) -> subprocess.CompletedProcess[str]:
    """The command through the CLI's own app, its terminal 160 columns wide."""
    from typer.testing import CliRunner

    from journalsync import _common
    from journalsync.cli import app

    consoles = (_common.console, _common.err_console)
    widths = [c.width for c in consoles]
    for c in consoles:
        c.width = 160
    try:
        r = CliRunner().invoke(app, list(args))
    finally:
        for c, w in zip(consoles, widths, strict=True):
            c.width = w
    return subprocess.CompletedProcess(list(args), r.exit_code, r.stdout, r.stderr)


@pytest.fixture(scope="module")
def emulators() -> Iterator[tuple[World, dict[str, ServerHandle]]]:
    world = World.generate(7, SIZE)
    by_platform = {h.platform: h for h in harnesses()}
    servers: dict[str, ServerHandle] = {}
    try:
        for p in PLATFORMS:
            servers[p] = serve_in_thread(by_platform[p].app(world))
        yield world, servers
    finally:
        for s in servers.values():
            s.stop()


def _count(db: Path, table: str) -> int:
    con = sqlite3.connect(db)
    try:
        return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        con.close()


def test_doctor_on_the_five_emulators_then_a_renamed_field(
    emulators: tuple[World, dict[str, ServerHandle]], tmp_path: Path
) -> None:
    world, servers = emulators
    db = tmp_path / "doctor.db"
    cfg = tmp_path / "municipality.toml"
    slugs = write_config(
        cfg, world, {p: s.base_url for p, s in servers.items()}, store_url=f"sqlite:///{db}"
    )

    # All five read as expected: exit 0, every stream ok, nothing of the journal written.
    ok = _journalsync("doctor", "-c", str(cfg), "--json")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    checks: list[dict[str, Any]] = json.loads(ok.stdout)
    assert [c["school"] for c in checks] == slugs
    for c in checks:
        assert (c["platform"], c["auth"], c["ok"]) == (c["school"].rsplit("-", 1)[1], "ok", True)
        streams = {s["stream"]: s["status"] for s in c["streams"]}
        assert {"roster", "journal"} <= set(streams), c
        assert set(streams.values()) == {"ok"}, c
        assert c["history"] == []
    assert _count(db, "remote_records") == 0
    assert _count(db, "schema_drift") == 0

    # NetSchool's marks now come as ``markValue`` (the switch a test or a user flips over HTTP).
    netschool = next(s for s in slugs if s.endswith("netschool"))
    r = httpx.post(
        f"{servers['netschool'].base_url}/_sandbox/faults",
        json={"rename_fields": {"mark": "markValue"}},
    )
    assert r.status_code == 200
    try:
        drifted = _journalsync("doctor", "-c", str(cfg), "--school", netschool)
        again = _journalsync("doctor", "-c", str(cfg), "--school", netschool, "--json")
    finally:
        httpx.post(f"{servers['netschool'].base_url}/_sandbox/faults", json={"rename_fields": {}})
    assert drifted.returncode == 1, drifted.stdout + drifted.stderr
    table = drifted.stdout
    assert "drifted" in table and "Result.markValue" in table, table
    assert "Schema drift history" in table
    assert "Traceback" not in drifted.stderr

    (check,) = json.loads(again.stdout)
    assert again.returncode == 1 and check["ok"] is False
    journal = next(s for s in check["streams"] if s["stream"] == "journal")
    assert journal["status"] == "drifted"
    assert "unknown Result.markValue" in journal["fields"]
    roster = next(s for s in check["streams"] if s["stream"] == "roster")
    assert roster["status"] == "ok"
    (hist,) = [h for h in check["history"] if h["field"] == "markValue"]
    assert hist["model"] == "Result" and hist["kind"] == "unknown"

    # The history is in the store, summed over both runs; still no journal written.
    with Store.open(f"sqlite:///{db}") as store:
        (row,) = [r for r in store.schema_drift(school=netschool) if r.field == "markValue"]
        assert row.count == hist["count"] and row.count >= 2
    assert _count(db, "remote_records") == 0


def test_doctor_says_why_login_failed_and_never_shows_the_password(
    emulators: tuple[World, dict[str, ServerHandle]], tmp_path: Path
) -> None:
    world, servers = emulators
    school = next(iter(world.schools.values()))
    admin = world.accounts(school.slug, "admin")[0]
    wrong = admin.password + "-wrong"
    env_name = "JS_DOCTOR_TEST_PASSWORD"
    os.environ[env_name] = wrong
    try:
        out = _journalsync(
            "doctor",
            "--school",
            school.slug,
            "--platform",
            "netschool",
            "--base-url",
            servers["netschool"].base_url,
            "--platform-school",
            school.short_name,
            "--login",
            admin.login,
            "--password-env",
            env_name,
            "--db",
            f"sqlite:///{tmp_path}/a.db",
            "--json",
        )
    finally:
        del os.environ[env_name]
    assert out.returncode == 1, out.stdout + out.stderr
    (check,) = json.loads(out.stdout)
    assert check["auth"] != "ok" and check["streams"] == []
    assert wrong not in out.stdout + out.stderr

    usage = _journalsync("doctor", "--platform", "netschool")
    assert usage.returncode == 2
    assert "--config" in usage.stderr and "Traceback" not in usage.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow  # a real `journalsync sandbox serve` process
def test_sandbox_serve_takes_a_renamed_field() -> None:
    port = _free_port()
    cmd = [sys.executable, "-m", "journalsync", "sandbox", "serve", "--platform", "netschool"]
    cmd += ["--port", str(port), "--grades", "5", "--letters", "1", "--students", "3"]
    cmd += ["--weeks", "1", "--rename-field", "mark=markValue", "--rename-field", "id=ident"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/_sandbox/faults")
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "the sandbox did not start"
                time.sleep(0.1)
        assert r.json()["rename_fields"] == {"mark": "markValue", "id": "ident"}
    finally:
        proc.terminate()
        proc.communicate(timeout=30)

    bad = _journalsync("sandbox", "serve", "--rename-field", "mark", "--port", str(port))
    assert bad.returncode == 2
    assert "OLD=NEW" in bad.stderr


async def test_the_rename_fault_renames_json_keys_only() -> None:
    async def data(_: Any) -> JSONResponse:
        return JSONResponse({"mark": 5, "rows": [{"mark": 4, "id": 1}], "note": "mark"})

    async def text(_: Any) -> PlainTextResponse:
        return PlainTextResponse('{"mark": 5}')

    faults = Faults(rename_fields={"mark": "markValue"})
    app = FaultsMiddleware(Starlette(routes=[Route("/d", data), Route("/t", text)]), faults)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://e") as c:
        d = await c.get("/d")
        assert d.json() == {"markValue": 5, "rows": [{"markValue": 4, "id": 1}], "note": "mark"}
        assert int(d.headers["content-length"]) == len(d.content)
        assert (await c.get("/t")).text == '{"mark": 5}'
        bad = await c.post("/_sandbox/faults", json={"rename_fields": ["mark"]})
        assert bad.status_code == 400
