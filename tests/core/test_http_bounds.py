"""The HTTP kit's bounds on real loopback sockets: a silent server, a trickling server, a body
larger than the cap. Each server is a few lines of asyncio; small limits keep it to seconds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from core.errors import ContractError, TransportError
from core.http import HttpClient, HttpSettings

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[str]:
    """A loopback server running ``handler`` after reading each request; yields its base URL."""
    tasks: set[asyncio.Task[None]] = set()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tasks.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            await reader.readuntil(b"\r\n\r\n")
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for task in tasks:
            task.cancel()
        server.close()
        await server.wait_closed()


def fast(**kwargs: float) -> HttpSettings:
    base: dict[str, float] = {"backoff_initial": 0.0, "backoff_max": 0.0, "max_attempts": 2}
    return HttpSettings(**{**base, **kwargs})  # type: ignore[arg-type]


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(3600)  # accepts, reads the request, never answers


async def test_a_silent_server_trips_the_read_timeout_and_fails_as_unavailable():
    async with (
        serving(silent) as base,
        HttpClient(base, platform="p", settings=fast(timeout=0.3, deadline=30.0)) as http,
    ):
        started = time.monotonic()
        with pytest.raises(TransportError) as caught:
            await http.get("/webapi/ping", params={"at": "secret-token-123"})
        elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 10.0  # two attempts of 0.3 s (generous: the machine is shared)
    assert "ReadTimeout" in caught.value.message
    assert "gave up after 2 attempts" in caught.value.message
    assert "secret-token-123" not in caught.value.message
    assert "retried later" not in caught.value.hint


async def test_a_silent_server_is_stopped_by_the_deadline_before_the_timeouts_add_up():
    async with (
        serving(silent) as base,
        HttpClient(
            base, platform="p", settings=fast(timeout=0.6, deadline=1.0, max_attempts=10)
        ) as http,
    ):
        started = time.monotonic()
        with pytest.raises(TransportError) as caught:
            await http.get("/x")
        elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 4.0  # ten attempts of 0.6 s would take 6 s
    assert "within the 1 s deadline" in caught.value.message


async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    # A byte every 0.1 s: each read gets data long before its timeout, so only a total
    # deadline ends the call (the same server at 1 byte/s needs just a longer test).
    writer.write(_HEAD + b"Content-Length: 100000\r\n\r\n")
    while True:
        writer.write(b" ")
        await writer.drain()
        await asyncio.sleep(0.1)


async def test_a_trickling_server_is_stopped_by_the_deadline():
    async with (
        serving(trickle) as base,
        HttpClient(base, platform="p", settings=fast(timeout=1.0, deadline=1.5)) as http,
    ):
        started = time.monotonic()
        with pytest.raises(TransportError) as caught:
            await http.get("/x")
        elapsed = time.monotonic() - started
    assert 1.4 <= elapsed < 10.0
    assert "no complete answer within the 1.5 s deadline" in caught.value.message
    assert "try again later" in caught.value.hint


async def test_without_a_deadline_the_trickle_would_not_trip_the_read_timeout():
    # The control for the test above: the trickle keeps the read timeout from firing, so it is
    # the deadline (not the timeout) that ends that call.
    async with (
        serving(trickle) as base,
        HttpClient(base, platform="p", settings=fast(timeout=1.0, deadline=60.0)) as http,
    ):
        task = asyncio.ensure_future(http.get("/x"))
        await asyncio.sleep(2.5)
        assert not task.done()
        task.cancel()


async def endless_chunks(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    # No Content-Length and no end: a client that reads the whole body before checking its
    # size never returns from this one.
    writer.write(_HEAD + b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"[" + b"0," * 32767 + b"0]"
    while True:
        writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        await writer.drain()


async def test_a_body_over_the_cap_is_refused_while_it_streams():
    async with (
        serving(endless_chunks) as base,
        HttpClient(
            base, platform="p", settings=fast(max_response_bytes=1024 * 1024, deadline=20.0)
        ) as http,
    ):
        started = time.monotonic()
        with pytest.raises(ContractError) as caught:
            await http.get("/x")
    assert time.monotonic() - started < 10.0
    assert "larger than the 1,048,576 byte limit" in caught.value.message
    assert "max_response_bytes" in caught.value.hint


async def test_a_declared_length_over_the_cap_is_refused_before_reading():
    async def huge(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(_HEAD + b"Content-Length: 300000000\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(3600)  # the body never comes: only the header can end the call

    async with (
        serving(huge) as base,
        HttpClient(base, platform="p", settings=fast(max_response_bytes=1000, timeout=5.0)) as http,
    ):
        with pytest.raises(ContractError, match="larger than the 1,000 byte limit"):
            await http.get("/x")


async def test_a_body_under_the_cap_is_read_whole():
    body = b'{"items": [' + b"1," * 5000 + b"1]}"

    async def ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(_HEAD + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()

    async with (
        serving(ok) as base,
        HttpClient(base, platform="p", settings=fast(max_response_bytes=len(body))) as http,
    ):
        assert len((await http.get("/x"))["items"]) == 5001


async def test_a_login_that_never_finishes_is_stopped_by_the_login_deadline():
    async with (
        serving(silent) as base,
        HttpClient(
            base, platform="p", settings=fast(timeout=30.0, deadline=30.0, login_deadline=0.5)
        ) as http,
    ):
        started = time.monotonic()
        with pytest.raises(TransportError, match=r"login did not finish within 0\.5 s"):
            async with http.login_bound():
                await http.post("/login", data={"l": "x"})
        assert time.monotonic() - started < 10.0
