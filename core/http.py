"""The HTTP kit every connector's transport layer is built on (DESIGN.md §5, §8).

One :class:`HttpClient` per connector instance wraps the single ``httpx.AsyncClient`` that holds
the platform session (cookies, auth headers). It adds what every platform needs and none should
reimplement:

* a per-host limit on request rate and concurrency, shared by every client talking to that host,
  because regional platforms throttle (or ban) by host, not by connector instance;
* a status → :class:`Action` table, overridable per connector, that turns responses into the
  error tree of :mod:`core.errors`;
* retries of transient failures (exponential backoff with full jitter), honouring
  ``Retry-After``;
* one re-login and replay when the session expired;
* bounds: read/write/connect timeouts, a total deadline per call and per login (a server that
  trickles a byte a second never trips a read timeout), and a cap on the response size counted
  while the body streams in;
* JSON decoding that recognises the HTML pages platforms serve instead of JSON (firewalls,
  maintenance, login redirects);
* a DEBUG line per request with method, path, status and timing — never headers, bodies or query
  strings, which is where platforms put credentials.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Literal, Self

import httpx
import orjson

from core._httpx import AsyncClient, query_text
from core._limits import (
    DEFAULT_CONCURRENCY,
    START_CONCURRENCY,
    AdaptiveLimit,
    Clock,
    HostLimiter,
    Sleep,
    TokenBucket,
    host_limits,
    limiter_for,
)
from core._transport import Http1Transport, ProxyRouting
from core.errors import (
    AuthError,
    ConfigError,
    ContractError,
    NotFound,
    RateLimited,
    Retriable,
    ServerError,
    SessionExpired,
    TransportError,
)
from core.logging import get_logger, redact, register_secret

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_STATUS_ACTIONS",
    "START_CONCURRENCY",
    "Action",
    "AdaptiveLimit",
    "HttpClient",
    "HttpSettings",
    "TokenBucket",
    "host_limits",
    "make_transport",
]

Expect = Literal["json", "text", "bytes", "response"]
Params = Mapping[str, Any] | list[tuple[str, Any]]

_log = get_logger("journalsync.http")
#: The stdlib logger behind ``_log``: asked whether DEBUG is on before a request's line is built
#: (an unconfigured structlog call costs more than a request's own bookkeeping).
_std_log = logging.getLogger("journalsync.http")

_EXCERPT_CHARS = 200
#: The charset a Content-Type names (what ``Response.charset_encoding`` reads with the email
#: parser, for a fraction of its cost).
_CHARSET = re.compile(r'charset\s*=\s*"?([^";\s]+)')
# Redaction runs on a bounded prefix so a secret cut by the excerpt is still matched whole.
_REDACT_WINDOW = 4000
_RETRIABLE = (ServerError, RateLimited, TransportError)
# Set while a reauth callback runs, so its own login request cannot trigger another reauth.
_in_reauth: ContextVar[bool] = ContextVar("journalsync_http_in_reauth", default=False)


class _Budget:
    """A call's deadline that runs only while the call holds its host's limiter (or waits to
    retry): time queued behind the host's other requests is the rate limit's doing, not the
    platform's, and must not fail a call that a busy pull merely queued."""

    def __init__(self, timeout: asyncio.Timeout, seconds: float) -> None:
        self.timeout = timeout
        self.left = seconds
        self.running = False

    def resume(self) -> None:
        if not self.running and not self.timeout.expired():
            self.timeout.reschedule(asyncio.get_running_loop().time() + self.left)
            self.running = True

    def pause(self) -> None:
        when = self.timeout.when()
        if self.running and when is not None and not self.timeout.expired():
            self.left = max(when - asyncio.get_running_loop().time(), 0.0)
            self.timeout.reschedule(None)
            self.running = False


_budget: ContextVar[_Budget | None] = ContextVar("journalsync_http_budget", default=None)


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """Transport tuning for one platform; validated config turns into one of these."""

    #: Seconds a read (or a write) may wait for the next bytes; a silent server trips it.
    timeout: float = 30.0
    connect_timeout: float = 10.0
    #: Seconds one call may take in all, every attempt, backoff wait and body byte included:
    #: a server trickling a byte a second never trips the read timeout, this stops it.
    deadline: float = 120.0
    #: Seconds a login (or a re-login after an expired session) may take in all.
    login_deadline: float = 120.0
    #: Largest response body taken, counted while it streams in (decoded): beyond it the call
    #: fails before the rest is read into memory.
    max_response_bytes: int = 64 * 1024 * 1024
    #: Total tries for retriable failures (1 = no retry).
    max_attempts: int = 4
    #: Exponential backoff with full jitter: the n-th wait is uniform in
    #: ``[0, min(backoff_max, backoff_initial * 2**(n-1))]``.
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    #: Cap on a server's ``Retry-After``; a longer one is waited for this long.
    max_retry_after: float = 120.0
    #: Per-host requests per second (token bucket); ``None`` = unlimited.
    rate_per_second: float | None = None
    #: Requests the bucket lets through back to back before spacing them out.
    rate_burst: int = 1
    #: Per-host requests in flight at most (:data:`DEFAULT_CONCURRENCY`); the limit starts at
    #: :data:`START_CONCURRENCY` and moves under this by how the host answers
    #: (:class:`AdaptiveLimit`).
    max_concurrency: int = DEFAULT_CONCURRENCY
    user_agent: str = "journalsync/0.1"
    verify: bool = True


class Action(StrEnum):
    """What the client does with a response status."""

    OK = "ok"
    RETRY = "retry"
    RATE_LIMITED = "rate_limited"
    SESSION_EXPIRED = "session_expired"
    AUTH_FAILED = "auth_failed"
    NOT_FOUND = "not_found"
    CONTRACT = "contract"


#: Explicit entries; unlisted 1xx–3xx are OK, other 4xx CONTRACT, other 5xx RETRY.
DEFAULT_STATUS_ACTIONS: Mapping[int, Action] = MappingProxyType(
    {
        401: Action.SESSION_EXPIRED,
        403: Action.AUTH_FAILED,
        404: Action.NOT_FOUND,
        408: Action.RETRY,
        429: Action.RATE_LIMITED,
        500: Action.RETRY,
        502: Action.RETRY,
        503: Action.RETRY,
        504: Action.RETRY,
    }
)


#: Answers that tell the host's limiter to halve (:meth:`AdaptiveLimit.push_back`).
_PUSH_BACK = frozenset({Action.RETRY, Action.RATE_LIMITED})


def _fallback_action(status: int) -> Action:
    if status < 400:
        return Action.OK
    if 500 <= status < 600:
        return Action.RETRY
    return Action.CONTRACT


def _host_key(url: httpx.URL) -> str:
    port = url.port if url.port is not None else {"http": 80, "https": 443}.get(url.scheme, 0)
    return f"{url.host.lower()}:{port}"


def _parse_retry_after(value: str | None, now: Callable[[], datetime]) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date); None if unusable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now()).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(seconds, 0.0)


def _excerpt(text: str) -> str:
    flat = " ".join(redact(text[:_REDACT_WINDOW]).split())
    return flat if len(flat) <= _EXCERPT_CHARS else flat[: _EXCERPT_CHARS - 1] + "…"


def _looks_like_html(response: httpx.Response, content_type: str) -> bool:
    if "text/html" in content_type:
        return True
    return response.content.lstrip()[:1] == b"<"


def make_transport(*, verify: bool = True, max_connections: int = 100) -> httpx.AsyncBaseTransport:
    """The TCP transport an :class:`HttpClient` uses when given none: httpx's client over a
    keep-alive HTTP/1.1 pool with httptools' parser (:mod:`core._transport`);
    ``max_connections``: the pool's bound over all hosts (the per-host limit is
    :attr:`HttpSettings.max_concurrency`). Where the environment names a proxy
    (``HTTP(S)_PROXY``, ``ALL_PROXY``) requests go through it unless ``NO_PROXY`` exempts
    their host: a school network's proxy must be obeyed."""
    direct = Http1Transport(verify=verify, max_connections=max_connections)
    proxies = urllib.request.getproxies_environment()
    if any(scheme in proxies for scheme in ("http", "https", "all")):
        return ProxyRouting(direct, proxies, verify=verify)
    return direct


class _Path:
    """A request's path for error texts and log lines, redacted when first shown: most
    requests never show it, and redaction scans for every registered secret."""

    __slots__ = ("_text", "_url")

    def __init__(self, url: httpx.URL) -> None:
        self._url = url
        self._text: str | None = None

    def __str__(self) -> str:
        if self._text is None:
            self._text = str(redact(self._url.path))
        return self._text

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


class _Expired(Exception):
    """Internal signal: the session expired; handled by :meth:`HttpClient.request`."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def _register_cookies(response: httpx.Response) -> None:
    """Every cookie value a platform sets is a session credential: mask it in every later log
    line and error text, whatever the cookie is called."""
    for header in response.headers.get_list("set-cookie"):
        _name, sep, rest = header.partition("=")
        if sep:
            register_secret(rest.split(";", 1)[0].strip().strip('"'))


class HttpClient:
    """The transport of one connector instance: one ``httpx.AsyncClient`` plus the policies.

    Credentials belong on :attr:`client` (default headers, cookies), not on single calls: a replay
    after ``reauth`` rebuilds the request from the client, so it picks up the fresh session. A
    connector that reads many accounts at once through one client puts each account's
    credentials on its calls instead, and replays a call after that account's re-login itself
    (``reauth=False``).
    """

    def __init__(
        self,
        base_url: str,
        *,
        platform: str,
        settings: HttpSettings = HttpSettings(),  # noqa: B008 — frozen, so sharing is safe
        transport: httpx.AsyncBaseTransport | None = None,
        status_actions: Mapping[int, Action] | None = None,
        headers: Mapping[str, str] | None = None,
        reauth: Callable[[], Awaitable[None]] | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        self.platform = platform
        self.settings = settings
        self.status_actions: Mapping[int, Action] = {
            **DEFAULT_STATUS_ACTIONS,
            **(status_actions or {}),
        }
        self._reauth = reauth
        self._sleep = sleep
        self._clock = clock
        self._session_generation = 0
        self._reauth_lock: asyncio.Lock | None = None
        #: The one AsyncClient of this connector instance; the session's cookies live here.
        self.client: httpx.AsyncClient = AsyncClient(
            base_url=base_url,
            transport=make_transport(verify=settings.verify) if transport is None else transport,
            headers={"User-Agent": settings.user_agent, **(headers or {})},
            timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout),
            verify=settings.verify,
            event_hooks={"response": [_register_cookies]},
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.client.aclose()

    async def get(
        self,
        url: str,
        *,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
        expect: Expect = "json",
        retry: bool = True,
        reauth: bool = True,
    ) -> Any:
        return await self.request(
            "GET", url, params=params, headers=headers, expect=expect, retry=retry, reauth=reauth
        )

    async def post(
        self,
        url: str,
        *,
        params: Params | None = None,
        data: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        expect: Expect = "json",
        retry: bool = True,
        reauth: bool = True,
    ) -> Any:
        return await self.request(
            "POST",
            url,
            params=params,
            data=data,
            json=json,
            content=content,
            headers=headers,
            expect=expect,
            retry=retry,
            reauth=reauth,
        )

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Params | None = None,
        data: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        expect: Expect = "json",
        retry: bool = True,
        reauth: bool = True,
    ) -> Any:
        """Send a request and return the decoded body (or the response, ``expect="response"``).

        Raises the :mod:`core.errors` tree: ``ServerError`` / ``RateLimited`` / ``TransportError``
        once retries are exhausted, ``SessionExpired`` when re-login did not help, ``AuthError``,
        ``NotFound`` or ``ContractError`` at once.
        """
        method = method.upper()

        async def attempt(number: int) -> Any:
            return await self._attempt(
                method, url, params, data, json, content, headers, expect, number
            )

        replayed = False
        while True:
            generation = self._session_generation
            try:
                return await self._bounded(self._with_retries(attempt, retry), method, url)
            except _Expired as expired:
                can_reauth = self._reauth is not None and reauth and not _in_reauth.get()
                if replayed or not can_reauth:
                    raise SessionExpired(
                        expired.message,
                        hint="log in again; if this repeats, the platform ends sessions early",
                    ) from None
                replayed = True
                await self._refresh_session(generation)

    async def _refresh_session(self, seen_generation: int) -> None:
        """Log in again once for all requests that saw the same expired session."""
        if self._reauth_lock is None:
            self._reauth_lock = asyncio.Lock()
        async with self._reauth_lock:
            if self._session_generation != seen_generation:
                return  # another request already logged in again while this one waited
            assert self._reauth is not None
            token = _in_reauth.set(True)
            try:
                async with self.login_bound():
                    await self._reauth()
            finally:
                _in_reauth.reset(token)
            self._session_generation += 1

    @asynccontextmanager
    async def login_bound(self) -> AsyncIterator[None]:
        """Bound a whole login (every request of it) by ``settings.login_deadline``; a login
        still unfinished then is a :class:`TransportError` (the platform is unavailable)."""
        limit = self.settings.login_deadline
        timeout = asyncio.timeout(limit)
        try:
            async with timeout:
                yield
        except TimeoutError:
            if not timeout.expired():
                raise
            raise TransportError(
                f"{self.platform}: the login did not finish within {limit:g} s",
                hint="the platform is slow or not answering; try again later",
            ) from None

    async def _bounded(self, call: Awaitable[Any], method: str, url: str) -> Any:
        """One call, all its attempts and waits, within ``settings.deadline`` (counted from
        when the first attempt gets its host's limiter, see :class:`_Budget`)."""
        limit = self.settings.deadline
        timeout = asyncio.timeout(None)
        token = None
        try:
            async with timeout:
                token = _budget.set(_Budget(timeout, limit))
                return await call
        except TimeoutError:
            if not timeout.expired():
                raise
            raise TransportError(
                f"{self.platform}: {method} {redact(httpx.URL(url).path)}: no complete answer"
                f" within the {limit:g} s deadline",
                hint="the platform is slow or not answering; try again later",
            ) from None
        finally:
            if token is not None:
                _budget.reset(token)

    async def _with_retries(self, attempt: Callable[[int], Awaitable[Any]], retry: bool) -> Any:
        # A plain loop: nearly every call succeeds at once, and a retry library's per-call
        # machinery (state objects, action chains) cost more CPU than the request's own work.
        attempts = max(self.settings.max_attempts, 1) if retry else 1
        number = 1
        while True:
            try:
                return await attempt(number)
            except _RETRIABLE as exc:
                if number >= attempts:
                    if attempts == 1:
                        raise
                    raise type(exc)(
                        f"{exc.message} (gave up after {attempts} attempts)",
                        retry_after=exc.retry_after,
                        # No promise of a retry here: a manual run is not retried by anyone.
                        hint=exc.hint or "the platform may be down or overloaded; try again later",
                    ) from exc
                wait = self._wait(exc, number)
            await self._sleep(wait)
            number += 1

    def _wait(self, exc: Retriable, number: int) -> float:
        """Seconds to wait after failed attempt ``number``: the server's ``Retry-After``
        (capped), else exponential backoff with full jitter (:class:`HttpSettings`)."""
        if exc.retry_after is not None:
            return min(exc.retry_after, self.settings.max_retry_after)
        growth = 2.0 ** min(number - 1, 64)
        high = min(self.settings.backoff_initial * growth, self.settings.backoff_max)
        return random.uniform(0, max(high, 0.0))

    async def _attempt(
        self,
        method: str,
        url: str,
        params: Params | None,
        data: Mapping[str, Any] | None,
        json: Any,
        content: bytes | str | None,
        headers: Mapping[str, str] | None,
        expect: Expect,
        number: int,
    ) -> Any:
        # Built per attempt so a replay carries the cookies and headers of the new session.
        if params is not None and "?" not in url:
            # The same URL as httpx's params= gives (tests/core/test_http.py), parsed once:
            # httpx parses the joined URL again to add params, a third of building a request.
            url, params = f"{url}?{query_text(params)}", None
        request = self.client.build_request(
            method, url, params=params, data=data, json=json, content=content, headers=headers
        )
        path = _Path(request.url)
        limiter = self._limiter(_host_key(request.url))
        budget = _budget.get()
        if budget is not None:
            budget.pause()
        slots = limiter.slots
        await slots.acquire()
        seconds: float | None = None
        pushed_back = False
        try:
            if limiter.bucket is not None:
                await limiter.bucket.acquire(self._sleep)
            if budget is not None:
                budget.resume()
            started = time.perf_counter()
            try:
                response = await self.client.send(request, stream=True)
                try:
                    await self._read_body(response, method, path)
                finally:
                    await response.aclose()
            except httpx.DecodingError as exc:
                raise ContractError(
                    f"{self.platform}: {method} {path}: the body could not be decoded"
                    f" ({type(exc).__name__})"
                ) from exc
            except httpx.UnsupportedProtocol as exc:
                raise ConfigError(
                    f"{self.platform}: {method} {path}: unsupported URL scheme"
                ) from exc
            except httpx.TransportError as exc:
                pushed_back = True  # a timeout or a lost connection: the host may be overloaded
                if _std_log.isEnabledFor(logging.DEBUG):
                    _log.debug(
                        "http.request",
                        platform=self.platform,
                        method=method,
                        path=str(path),
                        error=type(exc).__name__,
                        elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
                        attempt=number,
                    )
                raise TransportError(
                    f"{self.platform}: {method} {path} failed: {type(exc).__name__}"
                    f" {_excerpt(str(exc))}".rstrip(),
                    hint="check the network and the platform's base URL",
                ) from exc
            seconds = time.perf_counter() - started
            pushed_back = self._action(response.status_code) in _PUSH_BACK
        finally:
            slots.release(seconds, pushed_back=pushed_back)
        if _std_log.isEnabledFor(logging.DEBUG):
            _log.debug(
                "http.request",
                platform=self.platform,
                method=method,
                path=str(path),
                status=response.status_code,
                elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
                attempt=number,
            )
        self._check_status(response, method, path)
        return self._decode(response, method, path, expect)

    async def _read_body(self, response: httpx.Response, method: str, path: _Path) -> None:
        """Read the streamed body, refusing it as soon as it passes the size cap."""
        cap = self.settings.max_response_bytes
        declared = response.headers.get("content-length", "")
        size = int(declared) if declared.isdigit() else 0
        chunks: list[bytes] = []
        if size <= cap:
            size = 0
            # without a Content-Encoding, httpx's decoder passes the raw stream on as it is
            # (a body already read, as a test's Response(content=…) is, only aiter_bytes has)
            plain = "content-encoding" not in response.headers and not response.is_stream_consumed
            async for chunk in response.aiter_raw() if plain else response.aiter_bytes():
                size += len(chunk)
                if size > cap:
                    break
                chunks.append(chunk)
        if size > cap:
            raise ContractError(
                f"{self.platform}: {method} {path}: the answer is larger than the"
                f" {cap:,} byte limit; it was not read",
                hint="if the platform really sends this much, raise max_response_bytes"
                " for this host in the config",
            )
        # What Response.aread() would have set: .content and .text now work as usual.
        response._content = b"".join(chunks)

    def push_back(self, url: str) -> None:
        """The host of ``url`` (relative to the base URL) pushed back in a way only the
        connector can read (an anti-bot page under a status the table lets through): its
        limiter halves, as for a 429 (:class:`AdaptiveLimit`)."""
        self._limiter(_host_key(self.client.base_url.join(url))).slots.push_back()

    def _limiter(self, host: str) -> HostLimiter:
        settings = self.settings
        return limiter_for(
            host,
            concurrency=settings.max_concurrency,
            rate=settings.rate_per_second,
            burst=settings.rate_burst,
            clock=self._clock,
        )

    def _action(self, status: int) -> Action:
        return self.status_actions.get(status) or _fallback_action(status)

    def _check_status(self, response: httpx.Response, method: str, path: _Path) -> None:
        status = response.status_code
        action = self._action(status)
        if action is Action.OK:
            return
        what = f"{self.platform}: {method} {path} answered {status}"
        body = _excerpt(response.text)
        detail = f"{what}: {body}" if body else what
        if action is Action.RETRY or action is Action.RATE_LIMITED:
            retry_after = _parse_retry_after(
                response.headers.get("retry-after"), lambda: datetime.now(UTC)
            )
            cls = RateLimited if action is Action.RATE_LIMITED else ServerError
            raise cls(detail, retry_after=retry_after)
        if action is Action.SESSION_EXPIRED:
            raise _Expired(detail)
        if action is Action.AUTH_FAILED:
            raise AuthError(detail)
        if action is Action.NOT_FOUND:
            raise NotFound(detail)
        raise ContractError(detail)

    def _decode(self, response: httpx.Response, method: str, path: _Path, expect: Expect) -> Any:
        if expect == "response":
            return response
        if expect == "bytes":
            return response.content
        if expect == "text":
            return response.text
        if response.status_code in (204, 205):
            return None
        content_type = response.headers.get("content-type", "").lower()
        if _looks_like_html(response, content_type):
            raise ServerError(
                f"{self.platform}: {method} {path} answered HTML instead of JSON"
                f" (status {response.status_code}): {_excerpt(response.text)}",
                hint="the platform may be down for maintenance or showing a login page",
            )
        body = response.content
        if body.startswith(b"\xef\xbb\xbf"):  # .NET platforms sometimes prepend a UTF-8 BOM
            body = body[3:]
        # No charset named (the usual JSON answer): UTF-8, without httpx parsing the header.
        found = _CHARSET.search(content_type) if "charset" in content_type else None
        charset = found.group(1) if found else None
        encoding = (charset or "utf-8").lower().replace("_", "-")
        try:
            if encoding in ("utf-8", "utf8", "ascii", "us-ascii"):
                return orjson.loads(body)
            return orjson.loads(response.text)
        except orjson.JSONDecodeError as exc:
            raise ContractError(
                f"{self.platform}: {method} {path} answered invalid JSON"
                f" (status {response.status_code}):"
                f" {_excerpt(response.text)}"
            ) from exc
