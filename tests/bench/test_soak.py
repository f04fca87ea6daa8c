"""The soak's machinery, briefly: the new fault switches over a real loopback socket, a few
fault × push cells on NetSchool's emulator, and a SIGKILLed push (``make soak`` runs
the full counts)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.soak._kills import run_kills
from bench.soak._matrix import CLASSES, _Env, run_platform
from connectors.netschool.harness import HARNESS
from connectors.sandbox.faults import Faults, FaultsMiddleware
from connectors.sandbox.server import serve_in_thread

ROWS = [{"id": i, "name": f"n{i}", "value": i * 10} for i in range(5)]
SORTED = sorted(ROWS, key=str)


def _app(faults: Faults, writes: list[int]) -> FaultsMiddleware:
    async def rows(request: Request) -> JSONResponse:
        return JSONResponse({"rows": ROWS})

    async def write(request: Request) -> JSONResponse:
        writes.append(1)
        return JSONResponse({"ok": True})

    routes = [Route("/rows", rows), Route("/write", write, methods=["POST"])]
    return FaultsMiddleware(Starlette(routes=routes), faults)


def test_connection_faults_over_a_real_socket() -> None:
    faults, writes = Faults(), []
    with serve_in_thread(_app(faults, writes)) as server, httpx.Client() as client:
        url = server.base_url
        faults.update({"dropped_connections": 1})
        with pytest.raises(httpx.TransportError):
            client.get(f"{url}/rows")
        assert client.get(f"{url}/rows").json() == {"rows": ROWS}
        faults.update({"lost_responses": 1})
        with pytest.raises(httpx.TransportError):
            client.post(f"{url}/write")
        assert writes == [1], "the write was applied, only its answer was lost"
        faults.update({"timeouts": 1, "timeout_seconds": 0.3})
        with pytest.raises(httpx.TimeoutException):
            client.get(f"{url}/rows", timeout=0.1)
        expired: list[int] = []
        faults.on_expire = lambda: expired.append(1)
        faults.update({"expire_sessions": 1})
        client.get(f"{url}/rows")
        assert expired == [1]
    assert faults.injected == {
        "dropped_connections": 1,
        "lost_responses": 1,
        "timeouts": 1,
        "expire_sessions": 1,
    }
    assert "on_expire" not in json.dumps(faults.to_json())


@pytest.mark.parametrize(
    ("switch", "check"),
    [
        ("duplicate_records", lambda rows: len(rows) == 6 and len({r["id"] for r in rows}) == 5),
        ("reorder_records", lambda rows: rows != ROWS and sorted(rows, key=str) == SORTED),
        ("unknown_fields", lambda rows: all(len(r) == 4 for r in rows)),
        ("missing_fields", lambda rows: sorted(len(r) for r in rows) == [2, 3, 3, 3, 3]),
    ],
)  # fmt: skip
def test_record_faults_change_one_json_answer(switch: str, check: object) -> None:
    faults = Faults(seed=3)
    with serve_in_thread(_app(faults, [])) as server, httpx.Client() as client:
        faults.update({switch: 1})
        changed = client.get(f"{server.base_url}/rows").json()["rows"]
        assert callable(check) and check(changed), changed
        assert client.get(f"{server.base_url}/rows").json()["rows"] == ROWS
    assert faults.injected == {switch: 1}


def test_fault_cells_recover_without_loss_or_double_writes() -> None:
    wanted = {"answer lost after the write", "duplicated records"}
    classes = tuple(c for c in CLASSES if c.name in wanted)
    cells = run_platform(HARNESS, rounds=1, classes=classes, operations=("push",))
    assert len(cells) == 2
    for c in cells:
        assert c.injected > 0, f"{c.fault}: nothing injected, the case tested nothing"
        assert (c.lost, c.duplicated, c.differing, c.applied_twice) == (0, 0, 0, 0), c
        assert c.recovered == c.rounds, c


@pytest.mark.slow  # real processes, SIGKILLed mid-push (`make soak` runs many)
def test_sigkilled_pushes_apply_every_change_once(tmp_path: Path) -> None:
    results = run_kills(tmp_path, kills=1, seeds=1, kinds=("push",), budget_seconds=60)
    r = results["push"]
    assert r.trials >= 1
    assert (r.lost, r.duplicated, r.applied_twice, r.write_log_differs) == (0, 0, 0, 0)
    assert r.recovered == r.trials


async def test_lost_answer_to_a_creating_write_is_not_applied_twice(tmp_path: Path) -> None:
    """Found by the soak: NetSchool's quickedit that creates an assignment was retried after
    its answer was lost, and the mark was created twice."""
    env = _Env(HARNESS, 7, tmp_path)
    p = env.platform("push")
    store = await env.prepared("push")
    try:
        p.faults.update({"lost_responses": 1, "path_prefix": "/webapi/grade/journal/quickedit"})
        await p.run(store, "push", "faulted")  # the run ends; the change is left to retry
        assert store.outbox(p.school, "netschool", status="pending"), "nothing left to retry"
        await p.run(store, "push", "recovery")
        assert p.faults.injected == {"lost_responses": 1}
        writes = p.writes()
        assert writes is not None and any(w[0] == "mark" for w in writes)
        assert len(writes) == len(set(writes)), writes
    finally:
        store.close()
        p.close()


def test_a_list_of_equal_items_is_not_reordered_and_does_not_hang() -> None:
    from connectors.sandbox.faults import _rewrite

    faults = Faults(reorder_records=1)
    body = json.dumps({"rows": [{"a": 1}, {"a": 1}]}).encode()
    assert _rewrite(body, faults) == body
    assert faults.injected == {} and faults.reorder_records == 1


JS_ROWS = [[1, "a", date(2026, 9, 1)], [2, "b", date(2026, 9, 2)], [3, "c", None]]
JS_SORTED = sorted(JS_ROWS, key=str)


@pytest.mark.parametrize(
    ("switch", "check"),
    [
        ("duplicate_records", lambda rows: len(rows) == 4 and {r[0] for r in rows} == {1, 2, 3}),
        ("reorder_records", lambda rows: rows != JS_ROWS and sorted(rows, key=str) == JS_SORTED),
        ("unknown_fields", lambda rows: all(len(r) == 4 and isinstance(r[3], list) for r in rows)),
        ("missing_fields", lambda rows: sorted(len(r) for r in rows) == [2, 3, 3]),
    ],
)  # fmt: skip
def test_record_faults_change_positional_rows_of_a_codec(switch: str, check: object) -> None:
    """АВЕРС answers JavaScript arrays of positional rows: its emulator gives the middleware a
    codec, and the body switches change rows (an extra column, a row cut short) as they change
    JSON objects."""
    from connectors.avers.jsarray import parse, render
    from connectors.sandbox.faults import BodyCodec, _rewrite

    codec = BodyCodec(parse, lambda v: render(v).encode(), rows=True)
    faults = Faults(seed=3, **{switch: 1})
    changed = parse(_rewrite(render(JS_ROWS).encode(), faults, codec))
    assert callable(check) and check(changed), changed
    assert faults.injected == {switch: 1}
    assert _rewrite(b"ok", Faults(**{switch: 1}), codec) == b"ok"  # not an array: untouched
