"""The report queue hub: ASP.NET Core SignalR (JSON protocol) over one WebSocket (note §4.11).

A report is rendered by a server task: the client opens the hub, finishes the handshake, *then*
queues the report (a task that completed before anyone listened would be missed), invokes
``startTaskAsync [taskId, queueKey]`` (``startTask [taskId, "report-v2"]`` without a queue key)
and waits for ``complete {taskId, data: "<fileId>"}``. A failed invocation
(``{type: 3, result: {success: false}}``), an error frame, a closed socket or the deadline is a
:class:`core.errors.ServerError`: the report was not read, and the caller must not treat its
absence as "no finals".

The WebSocket is spoken with ``wsproto`` (already a dependency for the emulator's hub) over an
asyncio stream: the ``websockets`` package would also become uvicorn's WebSocket implementation
in every emulator, which is a change nobody asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

from core.errors import AuthError, ServerError, TransportError

__all__ = ["HUB_PATH", "run_report_task"]

HUB_PATH = "/webapi/signalr/queueHub"  # ≥ 5.32; the emulator also serves /webapi/queueHub
_RS = "\x1e"


class _Socket:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.texts: list[str] = []
        self._partial = ""

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def pump(self) -> list[Any]:
        """Read once from the socket; the events it completes (texts are buffered)."""
        data = await self.reader.read(65536)
        self.ws.receive_data(data or None)
        out: list[Any] = []
        for ev in self.ws.events():
            if isinstance(ev, TextMessage):
                self._partial += ev.data
                if ev.message_finished:
                    self.texts.append(self._partial)
                    self._partial = ""
            elif isinstance(ev, Ping):
                await self.send(self.ws.send(ev.response()))
            else:
                out.append(ev)
        if not data and not out:
            out.append(CloseConnection(code=1006))
        return out

    async def close(self) -> None:
        with contextlib.suppress(Exception):  # best effort on a socket being closed anyway
            await self.send(self.ws.send(CloseConnection(code=1000)))
        self.writer.close()


async def _open(url: str, headers: Mapping[str, str], timeout: float) -> _Socket:
    parts = urlsplit(url)
    secure = parts.scheme == "wss"
    host = parts.hostname or ""
    port = parts.port or (443 if secure else 80)
    context = ssl.create_default_context() if secure else None
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                host, port, ssl=context, server_hostname=host if secure else None
            ),
            timeout,
        )
    except (OSError, TimeoutError) as exc:
        raise TransportError(
            f"netschool report hub: cannot connect ({type(exc).__name__})"
        ) from None
    sock = _Socket(reader, writer)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    authority = parts.netloc
    await sock.send(
        sock.ws.send(
            Request(
                host=authority,
                target=target,
                extra_headers=[(k.encode(), v.encode()) for k, v in headers.items()],
            )
        )
    )
    while True:
        for ev in await sock.pump():
            if isinstance(ev, AcceptConnection):
                return sock
            if isinstance(ev, (RejectConnection, RejectData, CloseConnection)):
                writer.close()
                status = getattr(ev, "status_code", 0)
                if status in (401, 403):
                    raise AuthError(f"netschool report hub refused the session (HTTP {status})")
                raise ServerError(f"netschool report hub refused the connection (HTTP {status})")


async def _frame(sock: _Socket) -> dict[str, Any]:
    """The next hub message (frames end with ``\\x1e``; one WebSocket text may hold several)."""
    while True:
        while sock.texts:
            head, sep, rest = sock.texts[0].partition(_RS)
            if not sep:
                sock.texts.pop(0)
                head = head.strip()
                if head:
                    return _decode(head)
                continue
            if rest:
                sock.texts[0] = rest
            else:
                sock.texts.pop(0)
            if head.strip():
                return _decode(head)
        for ev in await sock.pump():
            if isinstance(ev, CloseConnection):
                raise ServerError("netschool report hub closed the connection before the report")


def _decode(text: str) -> dict[str, Any]:
    try:
        msg = json.loads(text)
    except ValueError:
        raise ServerError("netschool report hub sent a frame that is not JSON") from None
    return msg if isinstance(msg, dict) else {}


async def run_report_task(
    base_url: str,
    at: str,
    headers: Mapping[str, str],
    queue: Callable[[], Awaitable[tuple[int, str | None]]],
    *,
    timeout: float = 60.0,
) -> str:
    """Open the hub, queue the report (``queue`` → ``(taskId, queueKey)``), start it and wait for
    its file id."""
    ws_url = "ws" + base_url.rstrip("/")[4:] + f"{HUB_PATH}?at={at}"
    sock = await _open(ws_url, headers, timeout)
    try:
        async with asyncio.timeout(timeout):
            await sock.send(sock.ws.send(TextMessage(data='{"protocol":"json","version":1}' + _RS)))
            ack = await _frame(sock)
            if ack.get("error"):
                raise ServerError(f"netschool report hub refused the handshake: {ack['error']}")
            task_id, queue_key = await queue()
            invoke = {
                "arguments": [task_id, queue_key] if queue_key else [task_id, "report-v2"],
                "invocationId": "0",
                "target": "startTaskAsync" if queue_key else "startTask",
                "type": 1,
            }
            await sock.send(sock.ws.send(TextMessage(data=json.dumps(invoke) + _RS)))
            while True:
                msg = await _frame(sock)
                kind = msg.get("type")
                if kind == 3 and msg.get("invocationId") == "0":
                    result = msg.get("result") or {}
                    if msg.get("error") or not (isinstance(result, dict) and result.get("success")):
                        why = msg.get("error") or (
                            result.get("message") if isinstance(result, dict) else None
                        )
                        raise ServerError(
                            f"netschool report task failed: {why or 'no reason given'}"
                        )
                elif kind == 7 or ("error" in msg and kind is None):
                    raise ServerError(f"netschool report hub error: {msg.get('error') or 'closed'}")
                elif kind == 1 and msg.get("target") == "complete":
                    args = msg.get("arguments") or [{}]
                    done = args[0] if isinstance(args[0], dict) else {}
                    if done.get("taskId") in (None, task_id) and done.get("data"):
                        return str(done["data"])
    except TimeoutError:
        raise ServerError(f"netschool report task gave no answer within {timeout:g} s") from None
    finally:
        await sock.close()
