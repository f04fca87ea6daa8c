"""Switchable faults common to every emulator, applied by an ASGI middleware before the app.

Counters ("the next N matching requests") are decremented as they fire, so a test sets e.g.
``server_errors=2`` and knows the third request gets through. ``malformed`` is only a flag here:
the emulator reads it (:meth:`Faults.take_malformed`) when it builds a payload and corrupts that
many records. ``rename_fields`` is a schema change: in every JSON response, each object key
named like a key of the mapping is renamed to its value (``{"mark": "markValue"}``), as a
platform release or a proxy renaming a field would do — JSON bodies only (АВЕРС's JS-array
bodies have no keys). ``GET|POST /_sandbox/faults`` reads/sets the switches over HTTP;
``/_sandbox`` paths themselves are never faulted.

The soak (``python -m bench.soak``) adds the classes a real network and a drifting platform
produce: ``dropped_connections`` (the socket closed before any answer), ``lost_responses`` (the
request reaches the app — a write is applied — then the socket is closed before the answer),
``timeouts`` (no answer for ``timeout_seconds``, then the socket closed), ``expire_sessions``
(``on_expire`` is called before the request: the platform forgot every session), and changes to
JSON answers: ``duplicate_records`` / ``reorder_records`` (one list of objects gets an item twice
/ shuffled), ``unknown_fields`` (a key no client knows on every object of a list),
``missing_fields`` (a key dropped from one object of a list). An emulator whose answers are not
JSON gives the middleware a :class:`BodyCodec` for their content type (АВЕРС: JavaScript array
literals of positional rows); for rows, an unknown field is an extra trailing column and a
missing one a row cut short by its last column, as an older or newer server build would send.
With ``probability`` < 1 a switch fires on that share of matching requests only (drawn from
``seed``), so a burst spreads over a pull instead of hitting its first calls back to back.
``injected`` counts what fired, per switch.
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["FIREWALL_PAGE", "HTML_PAGE", "JSON_CODEC", "BodyCodec", "Faults", "FaultsMiddleware"]

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
    dropped_connections: int = 0  # next N → socket closed, no answer, the app never called
    lost_responses: int = 0  # next N → the app answers (writes apply), the socket is closed
    timeouts: int = 0  # next N → no answer for timeout_seconds, then the socket is closed
    timeout_seconds: float = 1.0
    expire_sessions: int = 0  # next N → on_expire() is called before the request
    duplicate_records: int = 0  # next N JSON answers with a list of objects → one item twice
    reorder_records: int = 0  # next N JSON answers with a list of ≥ 2 objects → shuffled
    unknown_fields: int = 0  # next N JSON answers → an unknown key on a list's objects
    missing_fields: int = 0  # next N JSON answers → one key dropped from one object
    probability: float = 1.0  # share of matching requests a switch may fire on
    seed: int = 0
    injected: dict[str, int] = field(default_factory=dict)  # what fired, per switch (read-only)
    #: Called by ``expire_sessions``: the emulator's own "forget every session" (set in code).
    on_expire: Callable[[], object] | None = field(default=None, repr=False, compare=False)
    _rng: random.Random | None = field(default=None, repr=False, compare=False)

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

    def rng(self) -> random.Random:
        if self._rng is None:
            self._rng = random.Random(self.seed)
        return self._rng

    def take(self, switch: str) -> bool:
        """Whether counter ``switch`` fires on this request (and count it if so)."""
        if getattr(self, switch) <= 0:
            return False
        if self.probability < 1.0 and self.rng().random() >= self.probability:
            return False
        setattr(self, switch, getattr(self, switch) - 1)
        self.injected[switch] = self.injected.get(switch, 0) + 1
        return True

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _CODE_ONLY}

    def update(self, data: dict[str, Any]) -> None:
        names = {f.name for f in fields(self)} - {"corrupted", "injected"} - _CODE_ONLY
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
        if "seed" in data:
            self._rng = None


_CODE_ONLY = frozenset({"on_expire", "_rng"})


@dataclass(frozen=True)
class BodyCodec:
    """How the body switches read and write one content type's answers."""

    decode: Callable[[bytes], Any]  # raises ValueError for a body it cannot read
    encode: Callable[[Any], bytes]
    #: Records are positional rows (lists of values), not only objects.
    rows: bool = False


JSON_CODEC = BodyCodec(json.loads, lambda v: json.dumps(v, ensure_ascii=False).encode())
#: Switches that change a JSON answer after the app made it.
_BODY_SWITCHES = ("duplicate_records", "reorder_records", "unknown_fields", "missing_fields")


class FaultsMiddleware:
    """Apply :class:`Faults` to HTTP requests, and serve ``/_sandbox/faults``."""

    def __init__(
        self, app: ASGIApp, faults: Faults, codecs: dict[str, BodyCodec] | None = None
    ) -> None:
        self.app = app
        self.faults = faults
        #: Content type (a substring, lower case) → codec of the answers the body switches
        #: change; JSON by default.
        self.codecs = {"json": JSON_CODEC, **(codecs or {})}

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
        if f.firewall_403 > 0 and f.take("firewall_403"):
            await _send(send, 403, FIREWALL_PAGE, "text/html; charset=utf-8")
        elif f.html_instead_of_json > 0 and f.take("html_instead_of_json"):
            await _send(send, 200, HTML_PAGE, "text/html; charset=utf-8")
        elif f.server_errors > 0 and f.take("server_errors"):
            await _send(send, 503, b"Service Unavailable", "text/plain")
        elif f.dropped_connections > 0 and f.take("dropped_connections"):
            await _drop(scope, receive, send)
        elif f.timeouts > 0 and f.take("timeouts"):
            await asyncio.sleep(f.timeout_seconds)
            await _drop(scope, receive, send)
        elif f.lost_responses > 0 and f.take("lost_responses"):
            await self.app(scope, receive, _Discard())
            await _drop(scope, receive, send)
        elif f.rate_limited > 0 and f.take("rate_limited"):
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
            if f.expire_sessions > 0 and f.on_expire is not None and f.take("expire_sessions"):
                f.on_expire()
            if any(getattr(f, k) > 0 for k in _BODY_SWITCHES):
                await self.app(scope, receive, _Rewriter(send, f, self.codecs))
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


class _Discard:
    """A ``send`` that throws the app's answer away (the answer the network lost)."""

    async def __call__(self, message: Message) -> None:
        return None


async def _drop(scope: Scope, receive: Receive, send: Send) -> None:
    """Close the client's socket without a byte of answer.

    uvicorn's ``receive`` is a bound method of the request cycle, which holds the transport:
    closing it and marking the cycle disconnected is what a crashed worker or a proxy reset
    looks like from the client. Elsewhere (an in-process ASGI transport) there is no socket: a
    502 with an empty body stands in for it.
    """
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is not None and hasattr(cycle, "disconnected"):
        transport.close()
        cycle.disconnected = True  # type: ignore[union-attr]
        return
    await _send(send, 502, b"", "text/plain")


class _Rewriter:
    """Hold a JSON answer back, change its records as the body switches say, then send it."""

    def __init__(self, send: Send, faults: Faults, codecs: dict[str, BodyCodec]) -> None:
        self.send = send
        self.faults = faults
        self.codecs = codecs
        self.start: Message | None = None
        self.body = b""

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
            return
        if message["type"] != "http.response.body" or self.start is None:
            await self.send(message)
            return
        self.body += message.get("body", b"")
        if message.get("more_body"):
            return
        start, body = self.start, self.body
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"").decode("latin-1")
        codec = next((c for t, c in self.codecs.items() if t in ctype.lower()), None)
        if codec is not None and 200 <= start["status"] < 300:
            body = _rewrite(body, self.faults, codec)
        headers.append((b"content-length", str(len(body)).encode()))
        await self.send({**start, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})


def _lists(value: Any, out: list[list[Any]], rows: bool = False) -> list[list[Any]]:
    """Every non-empty list of records in a decoded answer, outermost first: lists of objects,
    and with ``rows`` lists of positional rows (lists whose items are all lists)."""
    if isinstance(value, dict):
        for v in value.values():
            _lists(v, out, rows)
    elif isinstance(value, list):
        if value and (
            all(isinstance(x, dict) for x in value)
            or (rows and all(isinstance(x, list) for x in value))
        ):
            out.append(value)
        for v in value:
            _lists(v, out, rows)
    return out


def _rewrite(body: bytes, f: Faults, codec: BodyCodec = JSON_CODEC) -> bytes:
    try:
        data = codec.decode(body)
    except ValueError:
        return body
    lists = _lists(data, [], codec.rows)
    if not lists:
        return body
    rng = f.rng()
    changed = False
    if f.duplicate_records > 0 and f.take("duplicate_records"):
        items = rng.choice(lists)
        i = rng.randrange(len(items))
        items.insert(rng.randrange(len(items) + 1), copy.deepcopy(items[i]))
        changed = True
    # Lists whose items are not all equal: only those can come in another order.
    longer = [x for x in lists if any(i != x[0] for i in x)]
    if longer and f.reorder_records > 0 and f.take("reorder_records"):
        items = rng.choice(longer)
        items.append(items.pop(0))  # a rotation by one always changes such a list
        changed = True
    if f.unknown_fields > 0 and f.take("unknown_fields"):
        for item in rng.choice(lists):
            if isinstance(item, dict):
                item[f"soakUnknown{rng.randrange(1000)}"] = {"added": [1, "x", None]}
            else:
                item.append([rng.randrange(1000), "x", None])  # a column no client knows
        changed = True
    keyed = [x for x in lists if any(x)]
    if keyed and f.missing_fields > 0 and f.take("missing_fields"):
        item = rng.choice([i for i in rng.choice(keyed) if i] or [{}])
        if isinstance(item, dict) and item:
            del item[rng.choice(sorted(item))]
        elif isinstance(item, list) and item:
            item.pop()  # the row cut short: its last column missing
        changed = True
    if not changed:
        return body
    return codec.encode(data)
