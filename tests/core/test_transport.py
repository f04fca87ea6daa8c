"""core.http's default transport (httpx over aiohttp's pool and parser, core._transport) over
real loopback sockets: keep-alive, TLS, a pooled connection the server closed, a server that
resets, cuts a body short or stays silent; gzip bodies, request bodies and cookies as httpx's
own transport carries them."""

from __future__ import annotations

import asyncio
import gzip
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlencode

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
