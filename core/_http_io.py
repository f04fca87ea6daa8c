"""httpcore's network I/O straight on asyncio, for :func:`core.http.make_transport`.

httpcore reaches asyncio through anyio: every read and write opens an anyio cancel scope
(``fail_after``), asks sniffio which event loop runs, and maps exceptions through context
managers; and before every request the connection pool asks each pooled connection whether its
socket ``is_readable`` (the server dropped it), which anyio answers through a dictionary of typed
attributes built anew per question. On a family-account pull — a few records per request, some
ten thousand requests — that plumbing is a good part of the client's CPU.

:class:`Backend` does the same on an ``asyncio.Protocol``: the same timeouts (``asyncio.timeout``,
which, like anyio's scope, turns only its own expiry into a timeout and lets an outer
cancellation through), the same httpcore exceptions (``ConnectTimeout``/``ConnectError``,
``ReadTimeout``/``ReadError``, ``WriteTimeout``/``WriteError``), TLS by ``loop.start_tls``, and a
connection counted readable once the server has closed it or sent bytes nobody asked for.
Unix sockets stay with httpcore's own backend.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore

__all__ = ["Backend"]

#: Bytes buffered from the server before reading from the socket pauses (flow control).
_HIGH_WATER = 1 << 20
_LOW_WATER = 1 << 18


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.closed = False  # the server's end of file, or the connection lost
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.drained: asyncio.Future[None] | None = None
        self.paused_writing = False
        self.paused_reading = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _HIGH_WATER and not self.paused_reading and self.transport:
            self.transport.pause_reading()
            self.paused_reading = True
        self._wake()

    def eof_received(self) -> bool:
        self.closed = True
        self._wake()
        return False  # the transport closes itself: an HTTP client writes nothing after it

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if exc is not None and self.error is None:
            self.error = exc
        self._wake()
        self.paused_writing = False
        self._drained()

    def pause_writing(self) -> None:
        self.paused_writing = True

    def resume_writing(self) -> None:
        self.paused_writing = False
        self._drained()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def _drained(self) -> None:
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)


class _Stream(httpcore.AsyncNetworkStream):
    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        p = self._protocol
        if not p.buffer and not p.closed:
            p.waiter = asyncio.get_running_loop().create_future()
            try:
                if timeout is None:
                    await p.waiter
                else:
                    async with asyncio.timeout(timeout):
                        await p.waiter
            except TimeoutError as exc:
                raise httpcore.ReadTimeout(exc) from exc
            finally:
                p.waiter = None
        if p.buffer:
            data = bytes(p.buffer[:max_bytes])
            del p.buffer[:max_bytes]
            if p.paused_reading and len(p.buffer) < _LOW_WATER:
                p.paused_reading = False
                self._transport.resume_reading()
            return data
        if p.error is not None:
            raise httpcore.ReadError(p.error) from p.error
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        p = self._protocol
        if self._transport.is_closing():
            error = p.error or ConnectionError("the connection is closed")
            raise httpcore.WriteError(error) from p.error
        self._transport.write(buffer)
        if not p.paused_writing:
            return
        p.drained = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout):
                await p.drained
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(exc) from exc
        finally:
            p.drained = None
        if p.error is not None:
            raise httpcore.WriteError(p.error) from p.error

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(
                    self._transport, self._protocol, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError as exc:
            self._transport.abort()
            raise httpcore.ConnectTimeout(exc) from exc
        except (OSError, EOFError) as exc:  # ssl.SSLError is an OSError
            self._transport.abort()
            raise httpcore.ConnectError(exc) from exc
        if transport is None:  # the connection closed during the handshake
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        assert isinstance(transport, asyncio.Transport)
        return _Stream(transport, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # Bytes the pool never asked for, or the server's end: the connection is done.
            return self._protocol.closed or bool(self._protocol.buffer)
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        return None


class Backend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend on asyncio (module doc); ``unix``: the backend for Unix
    sockets (httpcore's own)."""

    def __init__(self, unix: httpcore.AsyncNetworkBackend) -> None:
        self._unix = unix

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_connection(
                    _Protocol,
                    host,
                    port,
                    local_addr=(local_address, 0) if local_address else None,
                    happy_eyeballs_delay=0.25,  # as anyio connects (RFC 8305)
                )
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(exc) from exc
        except OSError as exc:
            raise httpcore.ConnectError(exc) from exc
        sock: socket.socket | None = transport.get_extra_info("socket")
        if sock is not None:  # asyncio has set TCP_NODELAY already
            for option in socket_options or ():
                sock.setsockopt(*option)
        return _Stream(transport, protocol)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        return await self._unix.connect_unix_socket(path, timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
