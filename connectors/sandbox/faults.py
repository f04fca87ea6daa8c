"""Switchable faults common to every emulator, applied by an ASGI middleware before the app.

Counters ("the next N matching requests") are decremented as they fire, so a test sets e.g.
``server_errors=2`` and knows the third request gets through. ``malformed`` is only a flag here:
the emulator reads it (:meth:`Faults.take_malformed`) when it builds a payload and corrupts that
many records. ``rename_fields`` is a schema change: in every JSON response, each object key
named like a key of the mapping is renamed to its value (``{"mark": "markValue"}``), as a
platform release or a proxy renaming a field would do — JSON bodies only (АВЕРС's JS-array
bodies have no keys). ``GET|POST /_sandbox/faults`` reads/sets the switches over HTTP;
``/_sandbox`` paths themselves are never faulted.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field, fields
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["FIREWALL_PAGE", "HTML_PAGE", "Faults", "FaultsMiddleware"]

HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>\xd0\xa1\xd0\xb5\xd1\x80\xd0\xb2\xd0\xb8\xd1\x81</title>"
    b"</head><body><p>Service page</p></body></html>"
)
FIREWALL_PAGE = (
    b"<html><head><title>403 Forbidden</title></head><body><h1>Access denied</h1>"
    b"<p>Request blocked by the web application firewall. Support ID: 1234567890</p>"
    b"</body></html>"
)


@dataclass
class Faults:
    server_errors: int = 0  # next N matching requests → 503
    rate_limited: int = 0  # next N → 429 with Retry-After
    retry_after: int = 1  # seconds, for rate_limited
    slow_seconds: float = 0.0  # delay before every matching response
    html_instead_of_json: int = 0  # next N → 200 text/html
    firewall_403: int = 0  # next N → 403 HTML firewall page
    malformed: int = 0  # records the emulator corrupts in its next payloads
    path_prefix: str | None = None  # only paths starting with it (case-insensitive); None = all
    exclude_prefixes: list[str] = field(default_factory=list)  # never faulted (e.g. login)
    corrupted: list[str] = field(default_factory=list)  # what the emulator corrupted (read-only)
    rename_fields: dict[str, str] = field(default_factory=dict)  # JSON keys renamed: old → new

    def matches(self, path: str) -> bool:
        p = path.lower()
        if p.startswith("/_sandbox"):
            return False
        if any(p.startswith(x.lower()) for x in self.exclude_prefixes):
            return False
        return self.path_prefix is None or p.startswith(self.path_prefix.lower())

    def take_malformed(self, what: str) -> bool:
        """Called by an emulator per record it could corrupt: True = corrupt this one."""
        if self.malformed <= 0:
            return False
        self.malformed -= 1
        self.corrupted.append(what)
        return True

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def update(self, data: dict[str, Any]) -> None:
        names = {f.name for f in fields(self)} - {"corrupted"}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown fault switches: {sorted(unknown)}")
        renames = data.get("rename_fields", {})
        if not isinstance(renames, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in renames.items()
        ):
            raise ValueError("rename_fields: expected an object of old name → new name")
        for k, v in data.items():
            setattr(self, k, v)


class FaultsMiddleware:
    """Apply :class:`Faults` to HTTP requests, and serve ``/_sandbox/faults``."""

    def __init__(self, app: ASGIApp, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.rstrip("/") == "/_sandbox/faults":
            await self._control(scope, receive, send)
            return
        f = self.faults
        if not f.matches(path):
            await self.app(scope, receive, send)
            return
        if f.slow_seconds > 0:
            await asyncio.sleep(f.slow_seconds)
        if f.firewall_403 > 0:
            f.firewall_403 -= 1
            await _send(send, 403, FIREWALL_PAGE, "text/html; charset=utf-8")
        elif f.html_instead_of_json > 0:
            f.html_instead_of_json -= 1
            await _send(send, 200, HTML_PAGE, "text/html; charset=utf-8")
        elif f.server_errors > 0:
            f.server_errors -= 1
            await _send(send, 503, b"Service Unavailable", "text/plain")
        elif f.rate_limited > 0:
            f.rate_limited -= 1
            await _send(
                send,
                429,
                b"Too Many Requests",
                "text/plain",
                [(b"retry-after", str(f.retry_after).encode())],
            )
        elif f.rename_fields:
            await self.app(scope, receive, _renaming(send, dict(f.rename_fields)))
        else:
            await self.app(scope, receive, send)

    async def _control(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "POST":
            body = b""
            while True:
                msg = await receive()
                body += msg.get("body", b"")
                if not msg.get("more_body"):
                    break
            try:
                data = json.loads(body or b"{}")
                if not isinstance(data, dict):
                    raise ValueError("expected a JSON object")
                self.faults.update(data)
            except ValueError as e:
                await _send(send, 400, json.dumps({"error": str(e)}).encode(), "application/json")
                return
        out = json.dumps(self.faults.to_json(), ensure_ascii=False).encode()
        await _send(send, 200, out, "application/json")


def _renaming(send: Send, names: dict[str, str]) -> Send:
    """A ``send`` that holds a JSON response back until its body is whole, renames its keys and
    sends it with the new length; other responses pass through untouched."""
    start: Message | None = None
    body = bytearray()

    async def wrapped(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            ctype = dict(message.get("headers", [])).get(b"content-type", b"")
            if b"json" in ctype:
                start = message
                return
        elif message["type"] == "http.response.body" and start is not None:
            body.extend(message.get("body", b""))
            if message.get("more_body"):
                return
            out = _renamed_json(bytes(body), names)
            headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
            headers.append((b"content-length", str(len(out)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": out})
            return
        await send(message)

    return wrapped


def _renamed_json(body: bytes, names: dict[str, str]) -> bytes:
    try:
        data = json.loads(body)
    except ValueError:
        return body  # not JSON after all: left as it is

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {names.get(k, k): walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return json.dumps(walk(data), ensure_ascii=False).encode()


async def _send(
    send: Send, status: int, body: bytes, ctype: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [(b"content-type", ctype.encode()), (b"content-length", str(len(body)).encode())]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": body})
