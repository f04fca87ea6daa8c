"""The TCP transport under :class:`core.http.HttpClient`: httpx's client API over a small
HTTP/1.1 keep-alive pool on asyncio protocols, with httptools' C parser (llhttp, as uvicorn
and aiohttp use) reading the answers.

httpx stays the client (cookies, URL joining, redirects, decoding, the transports tests inject);
only the wire is this module's. A family-account pull is thousands of small requests to one
host, and on that path a general client's per-request work is most of the HTTP cost: httpx's
own transport (httpcore + h11, pure Python) spent about three times the CPU per request of
aiohttp's, and aiohttp's session (its request and response objects, stream reader, timers,
traces, cookie and proxy handling, each of which httpx does again above it) still about twice
what a connection that writes one request and parses one answer needs (``make bench``,
py-spy of ``pull:ruobr@0``).

Behaviour kept from httpx's transport: its TLS context (:func:`httpx.create_ssl_context`), its
per-request timeouts (connect; read, for the head and for each piece of the body), its pool
limit and keep-alive expiry, the body left encoded for httpx to decode, no cookies or redirects
handled here (httpx does both), a large body streamed (reading pauses while it is not read),
and its exception types, so :class:`core.http.HttpClient` maps failures as before. A pooled
connection the server closed while idle is not reused; if the server closes a reused one
before answering (the keep-alive race), an idempotent request is sent once more on a new
connection, as aiohttp and browsers do.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
import urllib.request
from collections import deque
from collections.abc import AsyncIterator
from typing import cast

import httptools
import httpx

__all__ = ["Http1Transport", "ProxyRouting"]

#: A response head larger than this is refused (h11's whole-head limit is 16 KiB; aiohttp's
#: per-line limit was set to the same).
_MAX_HEAD = 16 * 1024
#: Body bytes held unread before reading from the socket pauses.
_HIGH_WATER = 1 << 20
#: Methods sent again when a reused connection closes before any answer (RFC 9110 §9.2.2).
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})

_Key = tuple[str, str, int]


@functools.cache
def _tls(verify: bool) -> ssl.SSLContext:
    """httpx's TLS context, made once per process: loading the CA bundle costs about 0.1 s,
    and a family-account school may open a client per account."""
    return httpx.create_ssl_context(verify=verify)


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class _Closed(Exception):
    """The server closed a reused connection before any byte of its answer."""


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: a request written, its answer parsed as it
    arrives. The parser's callbacks fill the answer; the request's task waits on ``_waiter``
    for the head, then for each further piece of the body."""

    def __init__(self, pool: Http1Transport, key: _Key) -> None:
        self._pool = pool
        self.key = key
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._error: Exception | None = None
        self.lost = False
        self.used = False  # has carried a request before the current one
        self.idle_since = 0.0
        self._paused = False
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self._head_size = 0
        self._head_done = False
        self._delimited = False  # the body's end is told by a length or chunking
        self.body: list[bytes] = []
        self._buffered = 0
        self.complete = False
        self._keep_alive = False
        self.received = False
        self._head_only = False

    # --- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # a stream's: reads and writes

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError("the server switched protocols"))
        except httptools.HttpParserError as exc:
            cause = exc.__context__ if isinstance(exc.__context__, httpx.HTTPError) else exc
            self._fail(httpx.RemoteProtocolError(str(cause) or type(cause).__name__))

    def eof_received(self) -> bool:
        return False  # close the transport: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self._head_done and not self.complete and not self._delimited and exc is None:
            self.complete = True  # a body told only by the connection's end (HTTP/1.0 style)
        elif not self.complete and self._error is None:  # a parse error stays the error
            if not self.received and self.used:
                self._error = _Closed()
            elif exc is not None:
                self._error = httpx.ReadError(str(exc) or type(exc).__name__)
            else:
                self._error = httpx.RemoteProtocolError(
                    "Server disconnected without sending a complete response."
                )
        self._wake()
        self._pool._forget(self)

    # --- httptools callbacks --------------------------------------------------------------

    def on_status(self, status: bytes) -> None:
        self.reason += status
        self._count(len(status))

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))
        self._count(len(name) + len(value) + 4)

    def _count(self, size: int) -> None:
        self._head_size += size
        if self._head_size > _MAX_HEAD:
            raise httpx.RemoteProtocolError(f"the answer's head is over {_MAX_HEAD} bytes")

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200 and status != 101:  # an interim answer: the real one follows
            self.reason, self.headers, self._head_size = b"", [], 0
            return
        self.status = status
        self._head_done = True
        self._keep_alive = self._parser.should_keep_alive()  # known only until the end
        for name, value in self.headers:
            lower = name.lower()
            if lower == b"content-length" or (
                lower == b"transfer-encoding" and b"chunked" in value.lower()
            ):
                self._delimited = True
        if status in (204, 304) or self._head_only:
            self._delimited = True
            self.complete = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)
        self._buffered += len(body)
        if self._buffered > _HIGH_WATER and not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._head_done:
            self.complete = True
            self._wake()

    # --- the request's side ---------------------------------------------------------------

    def _fail(self, error: Exception) -> None:
        if self._error is None:
            self._error = error
        self._wake()
        self.close()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def send(self, data: bytes, head_only: bool) -> None:
        self._reset()
        self._head_only = head_only
        assert self._transport is not None
        self._transport.write(data)

    async def wait(self, timeout: float | None) -> None:
        """Until more of the answer arrives, the read timeout passes (``httpx.ReadTimeout``)
        or the connection fails (its error)."""
        if self._error is None:
            loop = asyncio.get_running_loop()
            self._waiter = waiter = loop.create_future()
            timer = None if timeout is None else loop.call_later(timeout, _expire, waiter)
            try:
                await waiter
            except TimeoutError:
                self.close()
                raise httpx.ReadTimeout("timed out waiting for the answer") from None
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
        if self._error is not None:
            raise self._error

    async def head(self, timeout: float | None) -> None:
        while not self._head_done:
            await self.wait(timeout)

    @property
    def version(self) -> bytes:
        return b"HTTP/" + self._parser.get_http_version().encode()

    def take(self) -> bytes:
        """The body received and not yet taken."""
        chunks, self.body, self._buffered = self.body, [], 0
        if self._paused and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    @property
    def reusable(self) -> bool:
        return (
            self.complete
            and not self.lost
            and not self._head_only
            and self._error is None
            and self._keep_alive
        )

    def close(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()


class _Body(httpx.AsyncByteStream):
    """The answer's body as it arrives; read to its end, the connection returns to the pool;
    closed before, the connection is closed."""

    def __init__(
        self, pool: Http1Transport, conn: _Connection, request: httpx.Request, timeout: float | None
    ) -> None:
        self._pool = pool
        self._conn: _Connection | None = conn
        self._request = request
        self._timeout = timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            return
        try:
            while True:
                if conn.body:
                    yield conn.take()
                elif conn.complete:
                    break
                else:
                    await conn.wait(self._timeout)
        except httpx.TransportError as exc:
            exc.request = self._request
            raise
        self._conn = None
        self._pool._release(conn)

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            if not conn.complete:
                conn.close()
            self._pool._release(conn)


class Http1Transport(httpx.AsyncBaseTransport):
    """An httpx transport over pooled HTTP/1.1 keep-alive connections (module doc). The pool
    belongs to the event loop it was first used in; a request from another loop starts a new
    one (the old loop's connections cannot be used from it)."""

    def __init__(
        self,
        *,
        verify: bool = True,
        max_connections: int = 100,
        keepalive_expiry: float = 5.0,
    ) -> None:
        self._ssl = _tls(verify)
        self._max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle: dict[_Key, list[_Connection]] = {}
        self._open: set[_Connection] = set()
        self._connecting = 0
        self._queue: deque[asyncio.Future[None]] = deque()

    # --- the pool ---------------------------------------------------------------------------

    def _here(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._loop is not None and not self._loop.is_closed():
                for conn in self._open:
                    conn.close()
            self._loop = loop
            self._idle, self._open, self._connecting = {}, set(), 0
            self._queue = deque()

    async def _acquire(self, key: _Key, connect_timeout: float | None) -> _Connection:
        while True:
            idle = self._idle.get(key)
            now = time.monotonic()
            while idle:
                conn = idle.pop()
                if not conn.lost and now - conn.idle_since < self._keepalive_expiry:
                    return conn
                self._discard(conn)
            if len(self._open) + self._connecting < self._max_connections or self._drop_idle():
                return await self._connect(key, connect_timeout)
            waiter = asyncio.get_running_loop().create_future()
            self._queue.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._queue:
                    self._queue.remove(waiter)

    def _drop_idle(self) -> bool:
        """Closes the longest-idle connection to any host, to make room; False if none."""
        oldest: _Connection | None = None
        for idle in self._idle.values():
            if idle and (oldest is None or idle[0].idle_since < oldest.idle_since):
                oldest = idle[0]
        if oldest is None:
            return False
        self._idle[oldest.key].remove(oldest)
        self._discard(oldest)
        return True

    def _discard(self, conn: _Connection) -> None:
        """Closes ``conn`` and frees its place in the pool now (its close is seen later)."""
        self._open.discard(conn)
        conn.close()

    async def _connect(self, key: _Key, timeout: float | None) -> _Connection:
        scheme, host, port = key
        tls = scheme == "https"
        conn = _Connection(self, key)
        self._connecting += 1
        try:
            async with asyncio.timeout(timeout):
                transport, _ = await asyncio.get_running_loop().create_connection(
                    lambda: conn,
                    host,
                    port,
                    ssl=self._ssl if tls else None,
                    server_hostname=host if tls else None,
                )
        except TimeoutError:
            raise httpx.ConnectTimeout("connect timed out") from None
        except OSError as exc:  # refused, unreachable, unknown host, TLS refused
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        else:
            # connection_made may come later than this (uvloop calls it from its loop): the
            # request is written now.
            conn.connection_made(transport)
            self._open.add(conn)
        finally:
            self._connecting -= 1
            if conn not in self._open:
                self._wake_one()  # its place is free
        return conn

    def _release(self, conn: _Connection) -> None:
        if conn.reusable and conn in self._open:
            conn.used = True
            conn.idle_since = time.monotonic()
            self._idle.setdefault(conn.key, []).append(conn)
        else:
            self._discard(conn)
        self._wake_one()

    def _forget(self, conn: _Connection) -> None:
        """A connection closed (by either side): it leaves the pool."""
        if conn in self._open:
            self._open.discard(conn)
            idle = self._idle.get(conn.key)
            if idle and conn in idle:
                idle.remove(conn)
            self._wake_one()

    def _wake_one(self) -> None:
        while self._queue:
            waiter = self._queue.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    # --- a request ----------------------------------------------------------------------------

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.scheme
        if scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{scheme}://'.", request=request
            )
        self._here()
        timeouts = request.extensions.get("timeout", {})
        read = timeouts.get("read")
        key = (scheme, url.host, url.port or (443 if scheme == "https" else 80))
        message = _message(request, await request.aread())
        head_only = request.method == "HEAD"
        try:
            for _ in range(2):
                conn = await self._acquire(key, timeouts.get("connect"))
                conn.send(message, head_only)
                try:
                    await conn.head(read)
                except _Closed:
                    self._release(conn)
                    if request.method in _IDEMPOTENT:
                        continue
                    raise httpx.RemoteProtocolError(
                        "Server disconnected without sending a response."
                    ) from None
                except BaseException:
                    conn.close()
                    self._release(conn)
                    raise
                break
            else:
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        except httpx.TransportError as exc:
            exc.request = request
            raise
        return httpx.Response(
            status_code=conn.status,
            headers=conn.headers,
            stream=_Body(self, conn, request, read),
            extensions={
                "http_version": conn.version,
                "reason_phrase": conn.reason,
            },
        )

    async def aclose(self) -> None:
        for conn in list(self._open):
            conn.close()
        self._idle, self._open = {}, set()


def _message(request: httpx.Request, body: bytes) -> bytes:
    """The request as it goes on the wire: its line, its headers (httpx has put in ``Host``
    and the body's length or chunking), and its body."""
    lines = [request.method.encode(), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
    chunked = False
    for name, value in request.headers.raw:
        lines += (name, b": ", value, b"\r\n")
        if name.lower() == b"transfer-encoding" and value.lower() == b"chunked":
            chunked = True
    lines.append(b"\r\n")
    if chunked:  # a streamed body, read whole above: sent as one chunk and the last
        lines += (b"%x\r\n" % len(body), body, b"\r\n0\r\n\r\n") if body else (b"0\r\n\r\n",)
    else:
        lines.append(body)
    return b"".join(lines)


class ProxyRouting(httpx.AsyncBaseTransport):
    """Each request through the proxy the environment names for its scheme (``HTTP_PROXY``,
    ``HTTPS_PROXY``, ``ALL_PROXY``) by httpx's own proxy transport, or by ``direct`` where
    ``NO_PROXY`` exempts its host — as httpx routes by the environment when it makes its own
    transports (it ignores the environment once it is given one)."""

    def __init__(
        self, direct: httpx.AsyncBaseTransport, proxies: dict[str, str], *, verify: bool
    ) -> None:
        self._direct = direct
        self._proxies = proxies
        self._verify = verify
        self._via: dict[str, httpx.AsyncHTTPTransport] = {}

    def _route(self, url: httpx.URL) -> httpx.AsyncBaseTransport:
        proxy = self._proxies.get(url.scheme) or self._proxies.get("all")
        if not proxy or urllib.request.proxy_bypass(url.host):  # NO_PROXY
            return self._direct
        via = self._via.get(proxy)
        if via is None:
            via = self._via[proxy] = httpx.AsyncHTTPTransport(
                verify=_tls(self._verify), proxy=proxy
            )
        return via

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._route(request.url).handle_async_request(request)

    async def aclose(self) -> None:
        await self._direct.aclose()
        for via in self._via.values():
            await via.aclose()
