"""Behaviour of the HTTP kit against respx-mocked platforms (and one real refused socket).

The bounds (timeouts, deadlines, the size cap) are tested on real sockets in test_http_bounds.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx
from httpx import Request, Response

from core.errors import (
    AuthError,
    ConfigError,
    ContractError,
    NotFound,
    RateLimited,
    ServerError,
    SessionExpired,
    TransportError,
)
from core.http import DEFAULT_STATUS_ACTIONS, Action, HttpClient, HttpSettings, TokenBucket

Handler = Callable[[Request], Awaitable[Response]]
BASE = "http://testserver"


def mocked(handler: Handler) -> httpx.MockTransport:
    """A transport answering every request to BASE through ``handler`` (a respx side effect)."""
    router = respx.MockRouter(base_url=BASE, assert_all_called=False)
    router.route().mock(side_effect=handler)
    return httpx.MockTransport(router.async_handler)


class SleepRecorder:
    """Stands in for asyncio.sleep: records waits, optionally advancing a fake clock."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.waits: list[float] = []
        self.clock = clock

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.clock is not None:
            self.clock.now += seconds


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def client_for(
    handler: Handler,
    *,
    sleep: SleepRecorder | None = None,
    settings: HttpSettings | None = None,
    **kwargs,
) -> HttpClient:
    return HttpClient(
        BASE,
        platform="testplat",
        settings=settings or HttpSettings(),
        transport=mocked(handler),
        sleep=sleep or SleepRecorder(),
        **kwargs,
    )


# --- retries -------------------------------------------------------------------------------------


@pytest.mark.parametrize("failures", [0, 1, 3])
async def test_503_bursts_are_retried_with_full_jitter_backoff(failures):
    calls = 0

    async def handler(request: Request) -> Response:
        nonlocal calls
        calls += 1
        if calls <= failures:
            return Response(503, text="busy")
        return Response(200, json={"ok": True, "call": calls})

    sleep = SleepRecorder()
    settings = HttpSettings(max_attempts=4, backoff_initial=0.5, backoff_max=30.0)
    async with client_for(handler, sleep=sleep, settings=settings) as http:
        assert await http.get("/webapi/ping") == {"ok": True, "call": failures + 1}
    assert calls == failures + 1
    assert len(sleep.waits) == failures
    for n, wait in enumerate(sleep.waits, start=1):
        assert 0.0 <= wait <= 0.5 * 2 ** (n - 1)


async def test_backoff_is_capped_by_backoff_max():
    async def handler(request: Request) -> Response:
        return Response(502, text="down")

    sleep = SleepRecorder()
    settings = HttpSettings(max_attempts=6, backoff_initial=10.0, backoff_max=1.0)
    async with client_for(handler, sleep=sleep, settings=settings) as http:
        with pytest.raises(ServerError):
            await http.get("/x")
    assert len(sleep.waits) == 5
    assert all(0.0 <= w <= 1.0 for w in sleep.waits)


async def test_429_waits_the_servers_retry_after():
    calls = 0

    async def handler(request: Request) -> Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return Response(429, text="slow down", headers={"Retry-After": "7"})
        return Response(200, json=[1, 2])

    sleep = SleepRecorder()
    async with client_for(handler, sleep=sleep) as http:
        assert await http.get("/x") == [1, 2]
    assert sleep.waits == [7.0]


async def test_retry_after_as_http_date():
    calls = 0
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)

    async def handler(request: Request) -> Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return Response(503, text="", headers={"Retry-After": when})
        return Response(200, json={})

    sleep = SleepRecorder()
    async with client_for(handler, sleep=sleep) as http:
        assert await http.get("/x") == {}
    (wait,) = sleep.waits
    # The date has one-second resolution and a little time passes before it is parsed.
    assert 50.0 < wait <= 60.0


async def test_exhausted_rate_limit_raises_with_servers_retry_after_and_caps_the_wait():
    calls = 0

    async def handler(request: Request) -> Response:
        nonlocal calls
        calls += 1
        return Response(429, text="no", headers={"Retry-After": "1000"})

    sleep = SleepRecorder()
    settings = HttpSettings(max_attempts=3, max_retry_after=120.0)
    async with client_for(handler, sleep=sleep, settings=settings) as http:
        with pytest.raises(RateLimited) as caught:
            await http.get("/webapi/marks")
    assert calls == 3
    assert sleep.waits == [120.0, 120.0]
    assert caught.value.retry_after == 1000.0
    assert "gave up after 3 attempts" in caught.value.message


async def test_exhausted_server_error_keeps_retry_after():
    calls = 0

    async def handler(request: Request) -> Response:
        nonlocal calls
        calls += 1
        return Response(503, text="maintenance", headers={"Retry-After": "3"})

    sleep = SleepRecorder()
    async with client_for(handler, sleep=sleep, settings=HttpSettings(max_attempts=4)) as http:
        with pytest.raises(ServerError) as caught:
            await http.get("/x")
    assert calls == 4
    assert sleep.waits == [3.0, 3.0, 3.0]
    assert caught.value.retry_after == 3.0


async def test_retry_false_tries_once():
    calls = 0

    async def handler(request: Request) -> Response:
        nonlocal calls
        calls += 1
        return Response(500, text="x")

    sleep = SleepRecorder()
    async with client_for(handler, sleep=sleep) as http:
        with pytest.raises(ServerError) as caught:
            await http.post("/x", data={"a": "1"}, retry=False)
    assert calls == 1
    assert sleep.waits == []
    assert caught.value.retry_after is None


async def test_refused_connection_is_a_retried_transport_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Nothing listens on the port now: connecting is refused at once.
    sleep = SleepRecorder()
    async with HttpClient(
        f"http://127.0.0.1:{port}",
        platform="testplat",
        settings=HttpSettings(max_attempts=3),
        sleep=sleep,
    ) as http:
        with pytest.raises(TransportError) as caught:
            await http.get("/webapi/ping", params={"at": "0016863801542981"})
    assert len(sleep.waits) == 2
    assert "ConnectError" in caught.value.message
    assert "0016863801542981" not in caught.value.message


async def test_unsupported_scheme_is_a_config_error():
    async with HttpClient("ftp://example.invalid", platform="p", sleep=SleepRecorder()) as http:
        with pytest.raises(ConfigError):
            await http.get("/x")


# --- session expiry ------------------------------------------------------------------------------


class TokenApp:
    """A platform whose data calls need the current token in an ``at`` header."""

    def __init__(self, *, always_expired: bool = False) -> None:
        self.token = "fresh-token-1"
        self.always_expired = always_expired
        self.data_calls = 0
        self.logins = 0

    async def __call__(self, request: Request) -> Response:
        if request.url.path == "/login":
            self.logins += 1
            return Response(200, json={"at": self.token})
        self.data_calls += 1
        if self.always_expired or request.headers.get("at") != self.token:
            return Response(401, text="session expired")
        return Response(200, json={"ok": True})


async def test_401_triggers_one_reauth_and_a_replay():
    app = TokenApp()
    reauths = 0
    http: HttpClient

    async def reauth() -> None:
        nonlocal reauths
        reauths += 1
        body = await http.post("/login", reauth=False)
        http.client.headers["at"] = body["at"]

    async with client_for(app, reauth=reauth, headers={"at": "stale"}) as http:
        assert await http.get("/webapi/diary") == {"ok": True}
        assert await http.get("/webapi/diary") == {"ok": True}
    assert reauths == 1
    assert app.data_calls == 3  # stale, replay, second call


async def test_second_401_after_replay_raises_session_expired():
    app = TokenApp(always_expired=True)
    reauths = 0
    http: HttpClient

    async def reauth() -> None:
        nonlocal reauths
        reauths += 1
        body = await http.post("/login", reauth=False)
        http.client.headers["at"] = body["at"]

    async with client_for(app, reauth=reauth) as http:
        with pytest.raises(SessionExpired) as caught:
            await http.get("/webapi/diary")
    assert reauths == 1
    assert app.data_calls == 2
    assert "401" in caught.value.message


async def test_no_reauth_without_callback_or_when_disabled():
    app = TokenApp()
    reauths = 0

    async def reauth() -> None:
        nonlocal reauths
        reauths += 1

    async with client_for(app) as http:
        with pytest.raises(SessionExpired):
            await http.get("/webapi/diary")
    async with client_for(app, reauth=reauth) as http:
        with pytest.raises(SessionExpired):
            await http.get("/webapi/diary", reauth=False)
    assert reauths == 0
    assert app.data_calls == 2


async def test_concurrent_expiries_log_in_once():
    app = TokenApp()
    reauths = 0
    http: HttpClient

    async def reauth() -> None:
        nonlocal reauths
        reauths += 1
        body = await http.post("/login", reauth=False)
        http.client.headers["at"] = body["at"]

    async with client_for(app, reauth=reauth, headers={"at": "stale"}) as http:
        results = await asyncio.gather(*(http.get(f"/webapi/d/{i}") for i in range(4)))
    assert results == [{"ok": True}] * 4
    assert reauths == 1


async def test_reauth_whose_login_expires_does_not_recurse():
    app = TokenApp(always_expired=True)
    http: HttpClient
    reauths = 0

    async def reauth() -> None:
        nonlocal reauths
        reauths += 1
        await http.get("/webapi/whoami")  # a login flow that itself gets 401

    async with client_for(app, reauth=reauth) as http:
        with pytest.raises(SessionExpired):
            await http.get("/webapi/diary")
    assert reauths == 1


# --- status table --------------------------------------------------------------------------------


def status_handler(status: int, body: str = "nope") -> Handler:
    async def handler(request: Request) -> Response:
        return Response(status, text=body)

    return handler


@pytest.mark.parametrize(
    ("status", "error"),
    [(403, AuthError), (404, NotFound), (418, ContractError), (409, ContractError)],
)
async def test_status_table(status, error):
    sleep = SleepRecorder()
    async with client_for(status_handler(status), sleep=sleep) as http:
        with pytest.raises(error) as caught:
            await http.get("/webapi/x")
    assert sleep.waits == []  # fatal statuses are not retried
    assert f"GET /webapi/x answered {status}" in caught.value.message
    assert "testplat" in caught.value.message


async def test_unlisted_5xx_is_retried_and_3xx_is_ok():
    sleep = SleepRecorder()
    async with client_for(status_handler(599), sleep=sleep) as http:
        with pytest.raises(ServerError):
            await http.get("/x")
    assert len(sleep.waits) == 3
    async with client_for(status_handler(302)) as http:
        response = await http.get("/x", expect="response")
    assert response.status_code == 302


async def test_status_table_override_merges_over_default():
    assert DEFAULT_STATUS_ACTIONS[404] is Action.NOT_FOUND
    overrides = {409: Action.AUTH_FAILED}
    async with client_for(status_handler(409), status_actions=overrides) as http:
        with pytest.raises(AuthError):
            await http.get("/x")
    async with client_for(status_handler(404), status_actions=overrides) as http:
        with pytest.raises(NotFound):
            await http.get("/x")
    async with client_for(status_handler(200, "[]"), status_actions={200: Action.RETRY}) as http:
        with pytest.raises(ServerError):
            await http.get("/x")


async def test_error_message_has_no_query_and_a_short_redacted_excerpt():
    body = '{"error": "denied", "password": "hunter2-secret", "lastName": "Иванова"}' + "x" * 1000
    async with client_for(status_handler(418, body)) as http:
        with pytest.raises(ContractError) as caught:
            await http.get("/webapi/x", params={"at": "00168638015429814024329375"})
    message = caught.value.message
    assert "/webapi/x" in message
    assert "?" not in message
    assert "00168638015429814024329375" not in message
    assert "hunter2-secret" not in message
    assert "Иванова" not in message
    assert '"error": "denied"' in message
    excerpt = message.split(": ", 2)[2]
    assert len(excerpt) <= 200


# --- JSON decoding -------------------------------------------------------------------------------


async def test_html_instead_of_json_is_retried_then_a_server_error():
    calls = 0

    async def handler(request: Request) -> Response:
        nonlocal calls
        calls += 1
        return Response(
            200, content="<html><title>Login</title></html>", headers={"content-type": "text/html"}
        )

    sleep = SleepRecorder()
    async with client_for(handler, sleep=sleep) as http:
        with pytest.raises(ServerError) as caught:
            await http.get("/webapi/x")
        assert await http.get("/webapi/x", expect="text") == "<html><title>Login</title></html>"
    assert calls == 5  # 4 tries, then one text fetch
    assert "HTML instead of JSON" in caught.value.message


async def test_markup_body_labelled_json_counts_as_html_and_recovers():
    calls = 0

    async def handler(request: Request) -> Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return Response(
                200,
                content="  <!DOCTYPE html><p>firewall</p>",
                headers={"content-type": "application/json"},
            )
        return Response(200, json={"fine": 1})

    async with client_for(handler) as http:
        assert await http.get("/x") == {"fine": 1}
    assert calls == 2


async def test_broken_json_is_a_contract_error_without_retry():
    calls = 0

    async def handler(request: Request) -> Response:
        nonlocal calls
        calls += 1
        return Response(200, content=b'{"a": 1,', headers={"content-type": "application/json"})

    sleep = SleepRecorder()
    async with client_for(handler, sleep=sleep) as http:
        with pytest.raises(ContractError) as caught:
            await http.get("/x")
    assert calls == 1
    assert "invalid JSON" in caught.value.message


async def test_json_with_bom_or_cp1251_and_other_expectations():
    async def handler(request: Request) -> Response:
        if request.url.path == "/bom":
            return Response(
                200, content=b'\xef\xbb\xbf{"a": 1}', headers={"content-type": "application/json"}
            )
        if request.url.path == "/cp1251":
            return Response(
                200,
                content='{"name": "Математика"}'.encode("cp1251"),
                headers={"content-type": "application/json; charset=windows-1251"},
            )
        if request.url.path == "/empty":
            return Response(204)
        return Response(
            200, content=b"\x00\x01", headers={"content-type": "application/octet-stream"}
        )

    async with client_for(handler) as http:
        assert await http.get("/bom") == {"a": 1}
        assert await http.get("/cp1251") == {"name": "Математика"}
        assert await http.post("/empty", json={"x": 1}) is None
        assert await http.get("/blob", expect="bytes") == b"\x00\x01"


# --- limits --------------------------------------------------------------------------------------


class Gate:
    """An app that holds every request until released, counting those in flight."""

    def __init__(self, wanted: int) -> None:
        self.in_flight = 0
        self.max_in_flight = 0
        self.release = asyncio.Event()
        self.reached = asyncio.Event()
        self.wanted = wanted

    async def __call__(self, request: Request) -> Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if self.in_flight >= self.wanted:
            self.reached.set()
        await self.release.wait()
        self.in_flight -= 1
        return Response(200, json={"ok": True})


async def run_gated(gate: Gate, clients: list[HttpClient], per_client: int) -> list[object]:
    tasks = [
        asyncio.ensure_future(http.get(f"/r/{i}")) for http in clients for i in range(per_client)
    ]
    await gate.reached.wait()
    # Give any request the limiter wrongly let through every chance to reach the app.
    for _ in range(50):
        await asyncio.sleep(0)
    seen = gate.in_flight
    gate.release.set()
    results = await asyncio.gather(*tasks)
    assert seen == gate.max_in_flight
    return results


async def test_concurrency_cap_is_per_host_and_shared_between_clients():
    gate = Gate(wanted=2)
    settings = HttpSettings(max_concurrency=2)
    clients = [
        HttpClient(
            BASE,
            platform="p",
            settings=settings,
            transport=mocked(gate),
            sleep=SleepRecorder(),
        )
        for _ in range(2)
    ]
    results = await run_gated(gate, clients, per_client=3)
    for http in clients:
        await http.aclose()
    assert results == [{"ok": True}] * 6
    assert gate.max_in_flight == 2


async def test_without_a_tight_cap_all_requests_are_in_flight():
    # The control for the test above: the gate does see parallel requests when allowed.
    gate = Gate(wanted=5)
    async with client_for(gate, settings=HttpSettings(max_concurrency=10)) as http:
        await run_gated(gate, [http], per_client=5)
    assert gate.max_in_flight == 5


def test_token_bucket_spacing_and_burst():
    clock = FakeClock()
    bucket = TokenBucket(2.0, clock=clock)
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.5, 1.0]
    clock.now = 10.0  # idle long enough: no debt, but no saved-up burst either
    assert [bucket.reserve() for _ in range(2)] == [0.0, 0.5]

    clock.now = 0.0
    bursty = TokenBucket(2.0, burst=3, clock=clock)
    assert [bursty.reserve() for _ in range(5)] == [0.0, 0.0, 0.0, 0.5, 1.0]

    clock.now = 0.0
    refilled = TokenBucket(2.0, burst=3, clock=clock)
    assert [refilled.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    clock.now = 1.0  # two tokens came back
    assert [refilled.reserve() for _ in range(3)] == [0.0, 0.0, 0.5]


def test_token_bucket_rejects_non_positive_rate():
    with pytest.raises(ConfigError):
        TokenBucket(0)


async def test_rate_limit_sleeps_between_requests():
    calls = 0

    async def handler(request: Request) -> Response:
        nonlocal calls
        calls += 1
        return Response(200, json=calls)

    clock = FakeClock()
    sleep = SleepRecorder(clock)
    settings = HttpSettings(rate_per_second=4.0)
    async with client_for(handler, sleep=sleep, settings=settings, clock=clock) as http:
        assert [await http.get("/x") for _ in range(5)] == [1, 2, 3, 4, 5]
    assert sleep.waits == [0.25, 0.25, 0.25, 0.25]


async def test_rate_limit_is_shared_and_reserves_slots_for_concurrent_requests():
    async def handler(request: Request) -> Response:
        return Response(200, json=True)

    clock = FakeClock()  # frozen: every reservation queues behind the previous one
    sleep = SleepRecorder()
    settings = HttpSettings(rate_per_second=4.0)
    first = client_for(handler, sleep=sleep, settings=settings, clock=clock)
    second = client_for(handler, sleep=sleep, settings=settings, clock=clock)
    async with first, second:
        results = await asyncio.gather(*(c.get("/x") for c in (first, second, first, second)))
    assert results == [True] * 4
    assert sorted(sleep.waits) == [0.25, 0.5, 0.75]


# --- bounds that need no socket --------------------------------------------------------------


def routed(router: respx.MockRouter, **kwargs) -> HttpClient:
    return HttpClient(
        BASE, platform="testplat", transport=httpx.MockTransport(router.async_handler), **kwargs
    )


async def test_retry_waits_count_against_the_deadline():
    router = respx.MockRouter(base_url=BASE)
    route = router.get("/x").respond(503, text="later", headers={"Retry-After": "30"})
    settings = HttpSettings(deadline=0.3, max_attempts=4)
    async with routed(router, settings=settings) as http:  # the real asyncio.sleep
        started = asyncio.get_running_loop().time()
        with pytest.raises(TransportError) as caught:
            await http.get("/x", params={"at": "token-in-query-123"})
    assert asyncio.get_running_loop().time() - started < 10.0
    assert route.call_count == 1  # the 30 s wait did not end before the deadline
    assert "GET /x: no complete answer within the 0.3 s deadline" in caught.value.message
    assert "token-in-query-123" not in caught.value.message


async def test_a_re_login_that_hangs_is_stopped_by_the_login_deadline():
    router = respx.MockRouter(base_url=BASE)
    router.get("/data").respond(401, text="expired")

    async def hanging_login() -> None:
        await asyncio.sleep(3600)

    settings = HttpSettings(login_deadline=0.2)
    async with routed(router, settings=settings, reauth=hanging_login) as http:
        with pytest.raises(TransportError, match=r"the login did not finish within 0\.2 s"):
            await http.get("/data")


async def test_the_size_cap_counts_decoded_bytes_so_a_small_gzip_body_cannot_blow_up():
    bomb = gzip.compress(b"0" * (4 * 1024 * 1024))
    assert len(bomb) < 64 * 1024
    router = respx.MockRouter(base_url=BASE)
    router.get("/bomb").respond(
        200, content=bomb, headers={"content-encoding": "gzip", "content-type": "text/plain"}
    )
    settings = HttpSettings(max_response_bytes=1024 * 1024)
    async with routed(router, settings=settings) as http:
        with pytest.raises(ContractError, match="larger than the 1,048,576 byte limit"):
            await http.get("/bomb", expect="bytes")
    async with routed(router, settings=HttpSettings(max_response_bytes=8 * 1024 * 1024)) as http:
        assert len(await http.get("/bomb", expect="bytes")) == 4 * 1024 * 1024


async def test_a_body_that_cannot_be_decoded_is_a_contract_error():
    router = respx.MockRouter(base_url=BASE)
    # A raw stream: respx's own respond() would decode (and fail on) the body while mocking.
    broken = Response(200, headers={"content-encoding": "gzip"}, stream=httpx.ByteStream(b"no"))
    router.get("/x").mock(return_value=broken)
    async with routed(router) as http:
        with pytest.raises(ContractError, match="could not be decoded"):
            await http.get("/x")


async def test_time_queued_behind_the_hosts_other_requests_does_not_count_against_the_deadline():
    async def slow(request: Request) -> Response:
        await asyncio.sleep(0.3)
        return Response(200, json={"ok": True})

    router = respx.MockRouter(base_url="http://queued.test")
    router.get("/x").mock(side_effect=slow)
    settings = HttpSettings(deadline=0.6, max_concurrency=1)
    async with HttpClient(
        "http://queued.test",
        platform="p",
        settings=settings,
        transport=httpx.MockTransport(router.async_handler),
    ) as http:
        started = asyncio.get_running_loop().time()
        results = await asyncio.gather(*(http.get("/x") for _ in range(4)))
    # One at a time: the last waited ~0.9 s in the queue, more than its 0.6 s deadline.
    assert asyncio.get_running_loop().time() - started >= 1.1
    assert results == [{"ok": True}] * 4


@pytest.mark.parametrize(
    "params",
    [
        {"id": 1, "year": 2025},
        {"q": "Иванов Пётр", "x": "a&b=c", "y": "/?#%"},
        {"l": [1, 2, "три"]},
        {"b": True, "n": None, "f": 1.5},
        [("s", "a+b c~d*e'(f)!"), ("s", "2")],
    ],
)
async def test_params_make_the_url_httpx_makes(params: dict[str, object]) -> None:
    """The client joins params into the URL itself (one parse, not two): the URL must be
    exactly the one httpx's own ``params=`` builds, also under a base path and beside a query
    the path already has."""
    seen: list[httpx.URL] = []

    async def handler(request: Request) -> Response:
        seen.append(request.url)
        return Response(200, json={})

    paths = ["api/x", "/api/x?fixed=1", "api/Дневник ученика/7 А", f"{BASE}/other?a=1", "//h/x"]
    for base in (f"{BASE}/diary/", BASE, f"{BASE}:8080"):
        seen.clear()
        async with HttpClient(base, platform="t", transport=mocked(handler)) as http:
            for path in paths:
                await http.get(path, params=params)
        reference = httpx.AsyncClient(base_url=base)
        assert seen == [reference.build_request("GET", p, params=params).url for p in paths]
