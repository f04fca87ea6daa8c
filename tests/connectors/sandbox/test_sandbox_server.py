"""Fault switches (over ASGITransport) and the loopback server (a real socket)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from typer.testing import CliRunner

from connectors.netschool.emulator import create_app
from connectors.sandbox.faults import Faults, FaultsMiddleware
from connectors.sandbox.server import is_loopback, serve_in_thread
from connectors.sandbox.world import World, WorldSize
from core.errors import ConfigError
from journalsync.cli import app as cli_app


async def ok(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


@pytest.fixture
def faults() -> Faults:
    return Faults()


@pytest.fixture
async def client(faults: Faults) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=[Route("/webapi/x", ok), Route("/other", ok)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=FaultsMiddleware(app, faults)), base_url="http://t"
    ) as c:
        yield c


async def test_server_errors_burst_then_recovers(client: httpx.AsyncClient, faults: Faults) -> None:
    faults.server_errors = 2
    assert [(await client.get("/webapi/x")).status_code for _ in range(3)] == [503, 503, 200]


async def test_rate_limited_with_retry_after(client: httpx.AsyncClient, faults: Faults) -> None:
    faults.rate_limited, faults.retry_after = 1, 7
    r = await client.get("/webapi/x")
    assert r.status_code == 429 and r.headers["retry-after"] == "7"
    assert (await client.get("/webapi/x")).status_code == 200


async def test_html_instead_of_json(client: httpx.AsyncClient, faults: Faults) -> None:
    faults.html_instead_of_json = 1
    r = await client.get("/webapi/x")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.text.startswith("<!DOCTYPE html>")
    assert (await client.get("/webapi/x")).json() == {"ok": True}


async def test_firewall_403(client: httpx.AsyncClient, faults: Faults) -> None:
    faults.firewall_403 = 1
    r = await client.get("/webapi/x")
    assert r.status_code == 403 and "firewall" in r.text
    assert (await client.get("/webapi/x")).status_code == 200


async def test_path_prefix_and_exclusions(client: httpx.AsyncClient, faults: Faults) -> None:
    faults.server_errors, faults.path_prefix = 5, "/WEBAPI"
    assert (await client.get("/other")).status_code == 200
    assert (await client.get("/webapi/x")).status_code == 503
    faults.exclude_prefixes = ["/webapi/x"]
    assert (await client.get("/webapi/x")).status_code == 200
    assert faults.server_errors == 4


async def test_slow_responses_are_delayed_with_asyncio_sleep(
    client: httpx.AsyncClient, faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr("connectors.sandbox.faults.asyncio.sleep", fake_sleep)
    faults.slow_seconds = 6.5
    assert (await client.get("/webapi/x")).status_code == 200
    assert slept == [6.5]


async def test_faults_over_http(client: httpx.AsyncClient, faults: Faults) -> None:
    r = await client.post("/_sandbox/faults", json={"server_errors": 1, "malformed": 2})
    assert r.status_code == 200 and r.json()["malformed"] == 2
    assert faults.server_errors == 1
    assert (await client.get("/_sandbox/faults")).json()["server_errors"] == 1  # never faulted
    assert (await client.get("/webapi/x")).status_code == 503
    assert (await client.post("/_sandbox/faults", json={"nope": 1})).status_code == 400
    assert faults.take_malformed("a") and faults.take_malformed("b")
    assert not faults.take_malformed("c") and faults.corrupted == ["a", "b"]


def test_emulator_on_a_real_socket() -> None:
    world = World.generate(2, WorldSize(grades=(5,), letters=1, students_per_class=4, weeks=1))
    app = create_app(world)
    with serve_in_thread(app) as handle:
        assert handle.base_url.startswith("http://127.0.0.1:") and handle.port > 0
        with httpx.Client(base_url=handle.base_url) as c:
            assert c.get("/webapi/logindata").json()["version"] == "5.47.0"
            assert "NSSESSIONID" in c.cookies
            assert c.get("/webapi/schools/search").status_code == 403
            c.post("/_sandbox/faults", json={"server_errors": 1})
            assert c.get("/webapi/logindata").status_code == 503
            assert c.get("/webapi/logindata").status_code == 200
    with pytest.raises(httpx.ConnectError), httpx.Client() as c:
        c.get(f"{handle.base_url}/webapi/logindata")


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("127.0.0.1", True),
        ("127.3.2.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST.", True),
        ("127.example.com", False),
        ("127.0.0.1.nip.io", False),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.1", False),
        ("", False),
    ],
)
def test_loopback_is_parsed_not_prefix_matched(host: str, ok: bool) -> None:
    assert is_loopback(host) is ok


def test_the_server_and_the_cli_refuse_a_name_that_only_looks_like_loopback() -> None:
    with pytest.raises(ConfigError, match="loopback only"):
        serve_in_thread(Starlette(), "127.example.com")
    out = CliRunner().invoke(cli_app, ["sandbox", "serve", "--host", "127.example.com"])
    assert out.exit_code == 2
    assert "loopback only" in out.output and "Traceback" not in out.output
