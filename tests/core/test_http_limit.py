"""The per-host limit on requests in flight (:class:`core.http.AdaptiveLimit`) and how the HTTP
client feeds it: it starts at 8, grows while the host answers steadily and every slot is busy,
halves on push-back and gives up growth when answers slow down."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from httpx import Request, Response

from core.errors import RateLimited, ServerError, TransportError
from core.http import (
    DEFAULT_CONCURRENCY,
    START_CONCURRENCY,
    AdaptiveLimit,
    HttpClient,
    HttpSettings,
)

BASE = "http://limit.test"


async def fill(limit: AdaptiveLimit) -> None:
    """Take every slot the limit gives (the window is then busy)."""
    while limit.in_flight < limit.limit:
        await limit.acquire()


async def window(limit: AdaptiveLimit, seconds: float, *, busy: bool = True) -> None:
    """One window of answers that took ``seconds`` each, every slot taken if ``busy``."""
    for _ in range(max(limit.limit, AdaptiveLimit.MIN_WINDOW)):
        if busy:
            await fill(limit)
        elif limit.in_flight == 0:
            await limit.acquire()
        limit.release(seconds)


async def test_it_starts_at_eight_under_the_default_ceiling_of_sixteen():
    limit = AdaptiveLimit(DEFAULT_CONCURRENCY)
    assert (START_CONCURRENCY, DEFAULT_CONCURRENCY) == (8, 16)
    assert (limit.limit, limit.ceiling) == (8, 16)
    assert AdaptiveLimit(3).limit == 3  # a ceiling below the start is the start
    assert AdaptiveLimit(0).limit == 1


async def test_busy_steady_windows_grow_it_one_by_one_up_to_the_ceiling_only():
    limit = AdaptiveLimit(12)
    seen = []
    for _ in range(8):
        await window(limit, 0.030)
        seen.append(limit.limit)
    assert seen == [9, 10, 11, 12, 12, 12, 12, 12]
    assert limit.peak == 12


async def test_a_window_with_idle_slots_does_not_grow_it():
    limit = AdaptiveLimit(16)
    for _ in range(5):
        await window(limit, 0.030, busy=False)
    assert limit.limit == 8


async def test_push_back_halves_it_once_per_window_and_it_climbs_back_to_the_start():
    limit = AdaptiveLimit(16)
    await fill(limit)
    for _ in range(3):  # a burst of three failures is one signal
        limit.release(None, pushed_back=True)
    assert limit.limit == 4
    await window(limit, 0.030)  # the window that held the push-back: no change
    assert limit.limit == 4
    # Below the start, every window without push-back adds one, however slow its answers.
    seen = []
    for _ in range(4):
        await window(limit, 0.500)
        seen.append(limit.limit)
    assert seen == [5, 6, 7, 8]
    await window(limit, 0.500)  # from the start up, slow answers stop the growth
    assert limit.limit == 8
    limit.push_back()
    limit.push_back()
    assert limit.limit == 4  # two calls in one window are one halving
    assert limit.peak == 8


async def test_a_host_that_keeps_pushing_back_is_halved_every_window_down_to_one():
    limit = AdaptiveLimit(16)
    seen = []
    for _ in range(16):  # every answer a push-back: windows of four (MIN_WINDOW)
        await fill(limit)
        limit.release(None, pushed_back=True)
        seen.append(limit.limit)
    assert seen == [4] * 4 + [2] * 4 + [1] * 8


async def test_answers_twice_as_slow_as_the_quickest_take_it_back_towards_the_start_only():
    limit = AdaptiveLimit(16)
    for _ in range(4):
        await window(limit, 0.030)
    assert limit.limit == 12
    await window(limit, 0.059)  # under twice the quickest: it still grows
    assert limit.limit == 13
    seen = []
    for _ in range(7):
        await window(limit, 0.070)
        seen.append(limit.limit)
    assert seen == [12, 11, 10, 9, 8, 8, 8]


async def test_it_never_lets_more_than_the_limit_through_and_serves_waiters_in_order():
    limit = AdaptiveLimit(2, start=2)
    order: list[int] = []

    async def take(n: int) -> None:
        await limit.acquire()
        order.append(n)

    await fill(limit)
    tasks = [asyncio.create_task(take(n)) for n in range(3)]
    await asyncio.sleep(0)
    assert (limit.in_flight, order) == (2, [])
    limit.release(0.01)
    limit.release(0.01)
    await asyncio.sleep(0)
    assert (limit.in_flight, order) == (2, [0, 1])
    limit.release(0.01)
    await asyncio.sleep(0)
    assert order == [0, 1, 2]
    await asyncio.gather(*tasks)


async def test_a_waiter_cancelled_as_it_is_handed_a_slot_passes_the_slot_on():
    limit = AdaptiveLimit(1, start=1)
    await limit.acquire()
    first = asyncio.create_task(limit.acquire())
    second = asyncio.create_task(limit.acquire())
    await asyncio.sleep(0)
    limit.release(0.01)  # the slot goes to `first`, which is cancelled before it runs
    first.cancel()
    await asyncio.sleep(0)
    assert first.cancelled()
    await asyncio.wait_for(second, 1)
    assert limit.in_flight == 1
    third = asyncio.create_task(limit.acquire())
    await asyncio.sleep(0)
    third.cancel()  # a waiter cancelled while it waits leaves the queue
    await asyncio.sleep(0)
    limit.release(0.01)
    assert limit.in_flight == 0


# --- the HTTP client feeds it ---------------------------------------------------------------------


class Gate:
    """An app that holds every request until released, counting how many are in at once; an
    answer takes 100 ms more (so each window's answer times are alike: the ones let in after the
    release are not quicker than the held ones)."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.in_flight = 0
        self.most = 0
        self.release = asyncio.Event()

    async def __call__(self, request: Request) -> Response:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        await self.release.wait()
        await asyncio.sleep(0.1)
        self.in_flight -= 1
        return Response(self.status, json={"ok": True})


def client(app: Gate, settings: HttpSettings | None = None) -> HttpClient:
    async def no_sleep(_: float) -> None:
        return None

    return HttpClient(
        BASE,
        platform="p",
        settings=settings or HttpSettings(),
        transport=httpx.MockTransport(app),
        sleep=no_sleep,
    )


async def in_flight_at_once(http: HttpClient, app: Gate, calls: int) -> int:
    """How many of ``calls`` concurrent GETs reach the app before any is answered."""
    app.release.clear()
    app.most = 0
    tasks = [asyncio.create_task(http.get(f"/r/{i}", retry=False)) for i in range(calls)]
    for _ in range(100):
        await asyncio.sleep(0)
    most = app.most
    app.release.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return most


async def test_a_client_starts_at_eight_of_the_default_sixteen():
    app = Gate()
    async with client(app) as http:
        assert await in_flight_at_once(http, app, 20) == 8


@pytest.mark.parametrize(("status", "error"), [(429, RateLimited), (503, ServerError)])
async def test_a_429_or_503_halves_the_hosts_limit(
    status: int, error: type[Exception], caplog: pytest.LogCaptureFixture
):
    caplog.set_level("INFO", logger="journalsync.http")
    app = Gate(status)
    async with client(app) as http:
        app.release.set()
        with pytest.raises(error):
            await http.get("/x", retry=False)
        app.status = 200
        assert await in_flight_at_once(http, app, 20) == 4
    assert "host pushed back" in caplog.text and "limit.test:80" in caplog.text


async def test_a_timeout_halves_it_and_a_404_does_not():
    async def timeout(request: Request) -> Response:
        raise httpx.ReadTimeout("slow", request=request)

    async with HttpClient(BASE, platform="p", transport=httpx.MockTransport(timeout)) as http:
        with pytest.raises(TransportError):
            await http.get("/x", retry=False)
    app = Gate(404)
    async with client(app) as http:
        assert await in_flight_at_once(http, app, 20) == 4  # the host's limit, shared
        # 404s are answers, not push-back: the limit climbs back towards the start.
        assert await in_flight_at_once(http, app, 20) > 4


async def test_push_back_from_a_connector_halves_its_hosts_limit_only():
    app = Gate()
    async with client(app) as http, client(app) as other:
        http.push_back("/anything")
        assert await in_flight_at_once(http, app, 20) == 4
        other.client.base_url = httpx.URL("http://other.test")
        assert await in_flight_at_once(other, app, 20) == 8


async def test_steady_answers_let_a_busy_client_grow_to_its_ceiling():
    app = Gate()
    async with client(app, HttpSettings(max_concurrency=10)) as http:
        for _ in range(6):
            await in_flight_at_once(http, app, 30)
        assert await in_flight_at_once(http, app, 30) == 10
