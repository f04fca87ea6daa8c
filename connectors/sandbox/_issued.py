"""A test-only record of every credential that crossed an emulator: what it issued and what it
was sent.

Set ``$JOURNALSYNC_SANDBOX_SECRETS_LOG`` to a file path and every emulator served on loopback
(:func:`connectors.sandbox.server.serve_in_thread`, ``journalsync sandbox serve``) appends one
line per credential value to it: each ``Set-Cookie`` value, each value under a credential key
(``token``, ``accessToken``, ``at``, ``password``, ``pw2`` …) in a JSON or form body or a query
string either way, and each ``Authorization`` / ``Cookie`` / ``password`` request header value.
A test then searches everything journalsync wrote for these values (tests/e2e/test_no_secrets.py).

Off unless the variable is set; the emulators themselves never look at it.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ENV", "IssuedSecretsLog", "with_issued_log"]

ENV = "JOURNALSYNC_SANDBOX_SECRETS_LOG"

#: Shorter values are ids and flags (``at=1``), not credentials; searching for them would find
#: them everywhere.
_MIN_LEN = 6
_CREDENTIAL_WORDS = ("token", "password", "secret", "session", "cookie", "authorization")
_CREDENTIAL_KEYS = frozenset({"at", "pw", "pw2", "pass", "passwd", "jwt", "apikey", "xapikey"})
_lock = threading.Lock()


def _is_credential_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    k = key.lower().replace("-", "").replace("_", "")
    return k in _CREDENTIAL_KEYS or any(w in k for w in _CREDENTIAL_WORDS)


def _walk(data: Any) -> Iterator[str]:
    if isinstance(data, dict):
        for k, v in data.items():
            if _is_credential_key(k) and isinstance(v, str | int) and not isinstance(v, bool):
                yield str(v)
            else:
                yield from _walk(v)
    elif isinstance(data, list):
        for v in data:
            yield from _walk(v)


def _from_body(body: bytes, content_type: str) -> Iterator[str]:
    if not body:
        return
    if "json" in content_type:
        try:
            yield from _walk(json.loads(body))
        except ValueError:
            return
    elif "form-urlencoded" in content_type:
        text = body.decode("utf-8", "replace")
        yield from (v for k, v in parse_qsl(text) if _is_credential_key(k))


def _cookie_values(header: str) -> Iterator[str]:
    for part in header.split(";"):
        _name, sep, value = part.strip().partition("=")
        if sep:
            yield value.strip().strip('"')


class IssuedSecretsLog:
    """ASGI middleware appending every credential value of a request/response to ``path``."""

    def __init__(self, app: ASGIApp, path: str) -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found: list[str] = []
        req_type = ""
        for raw_name, raw_value in scope.get("headers", []):
            name = raw_name.decode("latin-1").lower()
            value = raw_value.decode("latin-1")
            if name == "content-type":
                req_type = value
            elif name == "cookie":
                found += _cookie_values(value)
            elif name == "authorization":
                found.append(value.split()[-1] if value.split() else value)
            elif _is_credential_key(name):
                found.append(value)
        query = scope.get("query_string", b"").decode("latin-1")
        found += [v for k, v in parse_qsl(query) if _is_credential_key(k)]
        request_body: list[bytes] = []
        response_body: list[bytes] = []
        resp_type = ""

        async def receive_logged() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                request_body.append(message.get("body", b""))
            return message

        async def send_logged(message: Message) -> None:
            nonlocal resp_type
            if message["type"] == "http.response.start":
                for raw_name, raw_value in message.get("headers", []):
                    name = raw_name.decode("latin-1").lower()
                    if name == "set-cookie":
                        found.extend(_cookie_values(raw_value.decode("latin-1").split(";")[0]))
                    elif name == "content-type":
                        resp_type = raw_value.decode("latin-1")
            elif message["type"] == "http.response.body" and "json" in resp_type:
                response_body.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive_logged, send_logged)
        finally:
            found += _from_body(b"".join(request_body), req_type)
            found += _from_body(b"".join(response_body), resp_type)
            self._write(found)

    def _write(self, values: list[str]) -> None:
        lines = [json.dumps(v, ensure_ascii=False) for v in values if len(v) >= _MIN_LEN]
        if not lines:
            return
        with _lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")


def with_issued_log(app: ASGIApp) -> ASGIApp:
    """``app`` wrapped in :class:`IssuedSecretsLog` when the variable names a file."""
    path = os.environ.get(ENV)
    return IssuedSecretsLog(app, path) if path else app
