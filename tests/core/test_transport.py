"""core.http's default transport (httpx over core._transport's keep-alive pool and httptools'
parser) over real loopback sockets: keep-alive, TLS, a pooled connection the server closed (idle,
or as a request is sent on it), a server that resets, cuts a body short, stays silent or is not
HTTP; chunked, interim, bodyless, close-delimited, large and gzip bodies, request bodies and
cookies as httpx's own transport carries them; the pool's bound; one event loop after another."""

from __future__ import annotations

import asyncio
import gzip
import shutil
import ssl
import subprocess
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from core.errors import TransportError
from core.http import HttpClient, HttpSettings, make_transport

_BODY = b'{"ok": true, "text": "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82"}'
_ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
    len(_BODY),
    _BODY,
)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def _server(handler: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=tls)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def _answer_each(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers every request on the connection (keep-alive)."""
    try:
        while True:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(_ANSWER)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers one request, then closes the connection without saying so (no Connection:
    close): the client's pool must not reuse it."""
    try:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(_ANSWER)
        await writer.drain()
    finally:
        writer.close()


def _client(port: int, scheme: str = "http", verify: bool = True) -> HttpClient:
    settings = HttpSettings(
        timeout=5.0, deadline=10.0, max_attempts=1, backoff_initial=0.0, verify=verify
    )
    return HttpClient(f"{scheme}://127.0.0.1:{port}", platform="test", settings=settings)


async def test_keep_alive_answers_are_read_over_one_connection() -> None:
    connections = 0

    async def counting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await _answer_each(reader, writer)

    async with _server(counting) as port, _client(port) as http:
        for _ in range(5):
            assert await http.get("/x", params={"id": 1}) == {"ok": True, "text": "привет"}
    assert connections == 1


async def test_a_pooled_connection_the_server_closed_is_not_reused() -> None:
    async with _server(_answer_once) as port, _client(port) as http:
        assert (await http.get("/a"))["ok"] is True
        await asyncio.sleep(0.05)  # the server's close reaches the client
        assert (await http.get("/b"))["ok"] is True


async def test_a_connection_reset_before_the_answer_is_a_transport_error() -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.transport.abort()

    async with _server(reset) as port, _client(port) as http:
        with pytest.raises(TransportError, match="GET /x failed"):
            await http.get("/x")


async def test_a_refused_connection_is_a_transport_error() -> None:
    async with _server(_answer_each) as port:
        pass  # closed: nothing listens on the port now
    async with _client(port) as http:
        with pytest.raises(TransportError, match="ConnectError"):
            await http.get("/x")


@pytest.fixture(scope="module")
def tls_context(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder: Path = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def test_https_is_read_over_tls(tls_context: ssl.SSLContext) -> None:
    async with _server(_answer_each, tls_context) as port, _client(port, "https", False) as http:
        assert await http.get("/x") == {"ok": True, "text": "привет"}
        assert await http.get("/y") == {"ok": True, "text": "привет"}


async def test_an_untrusted_certificate_is_refused(tls_context: ssl.SSLContext) -> None:
    async with _server(_answer_each, tls_context) as port, _client(port, "https") as http:
        with pytest.raises(TransportError, match="ConnectError"):
            await http.get("/x")


def _proxy_recording(seen: list[bytes], monkeypatch: pytest.MonkeyPatch) -> Handler:
    """A forward proxy that records each request line and answers it; the environment's other
    proxy settings cleared (each test sets its own)."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head.split(b"\r\n", 1)[0])
        writer.write(_ANSWER)
        await writer.drain()
        writer.close()

    return proxy


async def test_a_proxy_named_by_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """A school network's proxy (``HTTP_PROXY``) carries the requests: httpx ignores the
    environment once given a transport, so the default transport routes by it itself."""
    seen: list[bytes] = []
    proxy = _proxy_recording(seen, monkeypatch)
    async with _server(proxy) as port:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        settings = HttpSettings(timeout=5.0, deadline=10.0, max_attempts=1, backoff_initial=0.0)
        async with HttpClient(
            "http://school.invalid:8081", platform="test", settings=settings
        ) as client:
            answer = await client.get("/api/ping")
    assert answer["ok"] is True
    assert seen == [b"GET http://school.invalid:8081/api/ping HTTP/1.1"]


async def _head_and_body(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return head, await reader.readexactly(length) if length else b""


async def test_a_body_cut_short_is_a_transport_error() -> None:
    async def short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"ok": tr')
        await writer.drain()
        writer.close()

    async with _server(short) as port, _client(port) as http:
        with pytest.raises(TransportError, match="GET /x failed: RemoteProtocolError"):
            await http.get("/x")


async def test_a_silent_server_is_a_read_timeout() -> None:
    gave_up = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await reader.read()  # no answer: until the client gives up and closes
        writer.close()
        gave_up.set()

    settings = HttpSettings(timeout=0.3, deadline=10.0, max_attempts=1, backoff_initial=0.0)
    async with (
        _server(silent) as port,
        HttpClient(f"http://127.0.0.1:{port}", platform="t", settings=settings) as http,
    ):
        with pytest.raises(TransportError, match="ReadTimeout"):
            await http.get("/x")
        await asyncio.wait_for(gave_up.wait(), 5)  # the client closed the connection


async def test_a_gzip_body_is_decoded_and_a_post_arrives_as_sent() -> None:
    seen: list[tuple[bytes, bytes]] = []
    packed = gzip.compress(_BODY)

    async def gzipped(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                seen.append(await _head_and_body(reader))
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-encoding: gzip\r\nset-cookie: sid=abc; Path=/\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(packed), packed)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async with _server(gzipped) as port, _client(port) as http:
        answer = await http.post("/login", data={"login": "Иванова", "pw": "пароль 1"})
        assert answer == {"ok": True, "text": "привет"}
        assert await http.get("/next") == {"ok": True, "text": "привет"}
    (login_head, login_body), (next_head, _) = seen
    assert login_head.startswith(b"POST /login HTTP/1.1\r\n")
    assert b"content-type: application/x-www-form-urlencoded" in login_head.lower()
    assert login_body == urlencode({"login": "Иванова", "pw": "пароль 1"}).encode()
    assert b"accept-encoding: gzip" in login_head.lower()
    # The cookie the first answer set is sent back by httpx's jar, once.
    assert next_head.lower().count(b"cookie: sid=abc") == 1


async def test_no_proxy_exempts_a_host_and_a_shared_transport_obeys_the_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``NO_PROXY`` hosts are reached directly; a transport made once and shared by many
    clients (as ЭПОС's accounts share one) routes by the environment too."""
    seen: list[bytes] = []
    proxy = _proxy_recording(seen, monkeypatch)
    settings = HttpSettings(timeout=5.0, deadline=10.0, max_attempts=1, backoff_initial=0.0)
    async with _server(proxy) as proxy_port, _server(_answer_each) as direct_port:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy_port}")
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        shared = make_transport()
        try:
            for base in (f"http://127.0.0.1:{direct_port}", "http://school.invalid"):
                async with HttpClient(
                    base, platform="test", settings=settings, transport=shared
                ) as client:
                    assert (await client.get("/p"))["ok"] is True
        finally:
            await shared.aclose()
    assert seen == [b"GET http://school.invalid/p HTTP/1.1"]


def _raw_client(**kwargs: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=make_transport(**kwargs), timeout=5.0)


async def test_a_reused_connection_closed_before_the_answer_is_tried_again_for_a_get() -> None:
    """The keep-alive race: the server closes an idle connection just as the client sends on
    it. A GET is sent once more on a new connection; a POST is not (it may have been acted
    on), and fails."""
    heads: list[bytes] = []

    async def close_second(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            heads.append(await reader.readuntil(b"\r\n\r\n"))
            writer.write(_ANSWER)
            await writer.drain()
            heads.append(await reader.readuntil(b"\r\n\r\n"))  # read, then closed unanswered
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async with _server(close_second) as port, _raw_client() as client:
        base = f"http://127.0.0.1:{port}"
        assert (await client.get(f"{base}/a")).json()["ok"] is True
        assert (await client.get(f"{base}/b")).json()["ok"] is True
        assert [h.split(b"\r\n")[0] for h in heads] == [
            b"GET /a HTTP/1.1",
            b"GET /b HTTP/1.1",  # closed unanswered
            b"GET /b HTTP/1.1",  # sent again on a new connection, answered
        ]
        heads.clear()
        assert (await client.get(f"{base}/c")).json()["ok"] is True
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post(f"{base}/d", content=b"x")
    assert [h.split(b"\r\n")[0] for h in heads].count(b"POST /d HTTP/1.1") == 1


async def test_chunked_interim_and_bodyless_answers_keep_the_connection() -> None:
    """A chunked body, a ``100 Continue`` before the answer, a 204 and an answer to HEAD (a
    length, no body) are each read whole, and the connection serves the next request."""
    connections = 0
    answers = {
        b"/chunked": b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
        b'5\r\n{"ok"\r\n8\r\n: true}\n\r\n0\r\n\r\n',
        b"/interim": b"HTTP/1.1 100 Continue\r\n\r\n" + _ANSWER,
        b"/empty": b"HTTP/1.1 204 No Content\r\n\r\n",
        b"/head": b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n",
    }

    async def by_path(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            while True:
                head, _ = await _head_and_body(reader)
                writer.write(answers[head.split(b" ")[1]])
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async with _server(by_path) as port, _raw_client() as client:
        base = f"http://127.0.0.1:{port}"
        for _ in range(2):
            assert (await client.get(f"{base}/chunked")).json() == {"ok": True}
            assert (await client.get(f"{base}/interim")).json()["text"] == "привет"
            assert (await client.get(f"{base}/empty")).content == b""
            head = await client.head(f"{base}/head")
            assert (head.status_code, head.content) == (200, b"")
            assert head.headers["content-length"] == "1000"
    # HEAD's connection is not reused (its length describes a body that never comes).
    assert connections == 2


async def test_a_body_told_by_the_close_and_a_large_body_arrive_whole() -> None:
    """An HTTP/1.0-style body that ends when the server closes; a 5 MiB body that streams
    (reading pauses above 1 MiB unread) and arrives byte for byte."""
    big = bytes(range(256)) * (5 * 4096)

    async def until_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if b" /big " in head:
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(big))
            for at in range(0, len(big), 65536):
                writer.write(big[at : at + 65536])
                await writer.drain()
        else:
            writer.write(b"HTTP/1.0 200 OK\r\n\r\n" + _BODY)
        await writer.drain()
        writer.close()

    async with _server(until_close) as port, _raw_client() as client:
        answer = await client.get(f"http://127.0.0.1:{port}/old")
        assert answer.json()["text"] == "привет"
        async with client.stream("GET", f"http://127.0.0.1:{port}/big") as stream:
            pieces = [piece async for piece in stream.aiter_raw()]
        assert b"".join(pieces) == big


async def test_an_oversized_head_or_a_non_http_answer_is_a_protocol_error() -> None:
    async def oversized(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if b" /big " in head:
            writer.write(b"HTTP/1.1 200 OK\r\nx-a: " + b"a" * 20000 + b"\r\n\r\n")
        else:
            writer.write(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
        await writer.drain()
        writer.close()

    async with _server(oversized) as port, _raw_client() as client:
        with pytest.raises(httpx.RemoteProtocolError, match="head is over 16384 bytes"):
            await client.get(f"http://127.0.0.1:{port}/big")
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(f"http://127.0.0.1:{port}/ssh")


async def test_the_pool_bound_holds_requests_until_a_connection_is_free() -> None:
    """With ``max_connections=2``, six requests at once use two connections, none more."""
    open_now = peak = 0

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal open_now, peak
        open_now += 1
        peak = max(peak, open_now)
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                await asyncio.sleep(0.02)
                writer.write(_ANSWER)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            open_now -= 1
            writer.close()

    async with _server(slow) as port:
        async with _raw_client(max_connections=2) as client:
            answers = await asyncio.gather(
                *(client.get(f"http://127.0.0.1:{port}/{n}") for n in range(6))
            )
        await _until(lambda: open_now == 0)  # the server's side of each connection ends
    assert [a.status_code for a in answers] == [200] * 6
    assert peak == 2


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not within 5 s")


async def test_an_answer_saying_connection_close_ends_the_connection() -> None:
    """An answer with ``Connection: close`` from a server slow to close: the next request
    (a POST, which is never sent twice) goes on a new connection."""
    connections = closed = 0

    async def lingering(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections, closed
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(_ANSWER.replace(b"\r\n\r\n", b"\r\nconnection: close\r\n\r\n", 1))
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.close()
        closed += 1

    async with _server(lingering) as port:
        async with _raw_client() as client:
            for path in ("/a", "/b"):
                answer = await client.post(f"http://127.0.0.1:{port}{path}")
                assert answer.json()["ok"] is True
        await _until(lambda: closed == 2)
    assert connections == 2


def test_a_transport_serves_one_event_loop_after_another() -> None:
    """A client and its transport made once and used from one event loop, then another, while
    the first is still open and the server keeps its connection: that connection cannot
    serve the second loop (it belongs to the first), which opens its own."""
    connections = 0

    async def counting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await _answer_each(reader, writer)

    server_loop = asyncio.new_event_loop()
    server = server_loop.run_until_complete(asyncio.start_server(counting, "127.0.0.1", 0))
    port = server.sockets[0].getsockname()[1]
    serving = threading.Thread(target=server_loop.run_forever)
    serving.start()
    client = httpx.AsyncClient(transport=make_transport(), timeout=5.0)

    async def twice() -> list[int]:
        return [(await client.get(f"http://127.0.0.1:{port}/x")).status_code for _ in "ab"]

    def two_loops() -> list[list[int]]:
        first, second = asyncio.new_event_loop(), asyncio.new_event_loop()
        try:
            codes = [first.run_until_complete(twice()), second.run_until_complete(twice())]
            second.run_until_complete(client.aclose())
            first.run_until_complete(asyncio.sleep(0))  # the first's closed connection ends
            return codes
        finally:
            first.close()
            second.close()

    try:
        # Off pytest's thread: event loops made on it upset pytest-asyncio's.
        with ThreadPoolExecutor(1) as thread:
            assert thread.submit(two_loops).result() == [[200, 200], [200, 200]]
    finally:

        async def stop() -> None:
            server.close()
            handlers = asyncio.all_tasks() - {asyncio.current_task()}
            for handler in handlers:
                handler.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)
            await asyncio.sleep(0)  # their connections' ends are handled

        asyncio.run_coroutine_threadsafe(stop(), server_loop).result(5)
        server_loop.call_soon_threadsafe(server_loop.stop)
        serving.join(5)
        server_loop.close()
    assert connections == 2
