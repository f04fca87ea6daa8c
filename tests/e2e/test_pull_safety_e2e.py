"""Pull safety end to end: real `journalsync` processes, a loopback proxy in front of the NetSchool
emulator that renames a field for one pull, a real SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.netschool.emulator import create_app
from connectors.sandbox import World, WorldSize
from connectors.sandbox.server import serve_in_thread
from core.store import RunState, Store

pytestmark = pytest.mark.slow

P = "netschool"
SIZE = WorldSize(grades=(5, 6), letters=1, students_per_class=6, weeks=2)


def proxy(upstream: str, state: dict[str, bool]) -> Starlette:
    """Forwards everything; while ``state["rename"]`` journal answers say ``markValue``."""

    async def forward(request: Request) -> Response:
        # A client per request: the server's event loop lives in its own thread.
        async with httpx.AsyncClient(base_url=upstream) as client:
            answer = await client.request(
                request.method,
                request.url.path,
                params=request.query_params,
                content=await request.body(),
                headers=[(k, v) for k, v in request.headers.items() if k.lower() != "host"],
            )
        body = answer.content
        if state["rename"] and request.url.path == "/webapi/grade/journal":
            body = body.replace(b'"mark":', b'"markValue":')
        drop = {"content-length", "content-encoding", "transfer-encoding"}
        headers = [(k, v) for k, v in answer.headers.multi_items() if k.lower() not in drop]
        response = Response(body, status_code=answer.status_code)
        for k, v in headers:
            response.headers.append(k, v)
        return response

    methods = ["GET", "POST", "PUT", "DELETE"]
    return Starlette(routes=[Route("/{path:path}", forward, methods=methods)])


def test_a_renamed_field_is_held_by_the_cli_and_the_next_pull_goes_on(tmp_path: Path) -> None:
    world = World.generate(17, SIZE)
    school = next(iter(world.schools.values()))
    admin = world.accounts(school.slug, "admin")[0]
    db = tmp_path / "safety.db"
    state = {"rename": False}
    env = {**os.environ, "JS_TEST_PASSWORD": admin.password}
    with (
        serve_in_thread(create_app(world)) as emulator,
        serve_in_thread(proxy(emulator.base_url, state)) as front,
    ):
        cmd = [
            sys.executable, "-m", "journalsync", "pull",
            "--school", school.slug, "--platform", P, "--base-url", front.base_url,
            "--platform-school", school.short_name, "--login", admin.login,
            "--password-env", "JS_TEST_PASSWORD", "--db", f"sqlite:///{db}",
            "--today", world.today.isoformat(),
        ]  # fmt: skip

        def run(*extra: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*cmd, *extra], env=env, capture_output=True, text=True, timeout=120
            )

        first = run()
        assert first.returncode == 0, first.stderr[-2000:]
        with Store.open(f"sqlite:///{db}") as store:
            before = store.content_digest()
            n = store.remote_counts(school.slug, P)["mark"]

        state["rename"] = True
        renamed = run()
        assert renamed.returncode == 5, renamed.stderr[-2000:]
        assert "held for a person" in renamed.stderr
        assert f"mark: {n:,} no longer readable" in renamed.stderr
        assert "runs approve" in renamed.stderr
        with Store.open(f"sqlite:///{db}") as store:
            assert store.content_digest() == before
            held = [r for r in store.runs(school=school.slug) if r.state is RunState.HELD]
            assert len(held) == 1

        state["rename"] = False
        again = run()
        assert again.returncode == 0, again.stderr[-2000:]
        assert admin.password not in again.stdout + again.stderr
    with Store.open(f"sqlite:///{db}") as store:
        assert store.content_digest() == before
        assert store.get_run(held[0].id).state is RunState.DONE  # superseded
        assert store.stale_counts(school.slug, P) == {}
