"""The АВЕРС protocol: login, the ``ys-*`` cookies, broker calls, lost-auth recovery (WIRE.md).

Transport concerns (retries, rate limits, status → error) live in :class:`core.http.HttpClient`;
this layer knows what the platform does:

* ``POST /login`` (``l``, ``p`` = SHA-1 hex) answers a JS array; a bad login is ``[symbol]``
  (v4.1) or ``[]`` (older servers). No ``Set-Cookie`` ever: the client writes ``ys-user``,
  ``ys-password``, ``ys-userId`` itself, with JavaScript ``escape()``, then ``POST /auth``.
* ``/act/<ACTION>``: GET without parameters, POST form otherwise; the body is a JS array literal.
* Lost or rejected credentials are not an HTTP status: an action answers ``[]``. Because ``[]`` is
  also a genuine empty answer, the client asks ``get_user_data`` (never empty for a logged-in
  user): when that is ``[]`` too, it logs in again and replays the call once. A replay that
  loses the session again is :class:`SessionExpired`, never an empty answer.
* :meth:`AversClient.confirmed` runs one account's calls in a row and checks their ``[]``
  answers together: an answer with data that comes after an ``[]`` (same account, no login in
  between) shows the session was alive when the ``[]`` came, since a lost authentication stays
  lost until the client logs in again. Only ``[]`` answers that nothing vouched for cost one
  probe for the whole run; a probe answering ``[]`` logs in again and replays the run.

Accounts. The server keeps no session (note §2): the ``ys-*`` cookies carry the login and the
password hash and are checked on every request. So each account logs in once per pull and every
call sends *its* account's cookies in its own headers: calls of different accounts run at once
(within the per-host limit), and going back to an account logged in before costs no request.
A lost authentication or a 401 logs in again only the account that saw it, once for the calls
of that account that saw it together.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import httpx

from core.connector import Credentials
from core.errors import (
    AuthError,
    ContractError,
    JournalSyncError,
    ServerError,
    SessionExpired,
    TransportError,
)
from core.http import HttpClient, HttpSettings
from core.logging import get_logger, register_secret

from ._cookies import CookieEncoding, JsEscape, YsCookies, sha1_hex
from .jsarray import JsArrayError, JsValue, Recent, parse
from .schema import LoginRow, UserData, single_row

__all__ = ["SHARED_ROWS", "USER_TYPES", "Ask", "AversClient"]

R = TypeVar("R")


class Ask:
    """One broker call of a run of :meth:`AversClient.confirmed`: ``await ask(action, params)``.

    :attr:`unvouched` says whether some ``[]`` of the run so far awaits an answer with data to
    vouch for it (else the run ends with a probe): a run may then ask, instead of the probe, a
    call whose answer it needs anyway. Always ``False`` in the replay, whose calls are each
    checked on their own."""

    def __init__(self, call: Callable[[str, Mapping[str, str] | None], Awaitable[list[JsValue]]]):
        self._call = call
        self.pending: list[int] = []  # the login generation each unvouched [] was asked in

    async def __call__(self, action: str, params: Mapping[str, str] | None = None) -> list[JsValue]:
        return await self._call(action, params)

    @property
    def unvouched(self) -> bool:
        return bool(self.pending)


_log = get_logger(__name__)

#: Login row position 1 (note §5.2).
USER_TYPES = {0: "admin", 1: "manager", 2: "teacher", 3: "parent", 4: "student", 5: "auditor"}

_BARE_SYMBOL = re.compile(r"^\s*\[\s*[A-Za-z_$][\w$]*\s*\]\s*$")
_TITLE_BUILD = re.compile(r"<title>[^<]*?(\d+(?:\.\d+)+\s*\(\d+\))\s*</title>", re.IGNORECASE)
_PROBE = "get_user_data"


#: Actions whose answers repeat the rows of other pupils' answers (the class's lessons, WIRE.md):
#: their rows are looked up by their text first (:func:`connectors.avers.jsarray.parse`).
SHARED_ROWS = ("GET_STUDENT_DAIRY", "GET_STUDENT_LESSONS")
_SHARED_PATHS = tuple(f"/act/{action}" for action in SHARED_ROWS)


class _JsHttp(HttpClient):
    """``HttpClient`` whose ``expect="json"`` decodes JS array literals: the HTML check and the
    parse run inside the retry loop, so an HTML maintenance page is retried like a 5xx.

    The answers of :data:`SHARED_ROWS` share their row arrays with earlier answers of the same
    rows (``lines``: about the rows of the few classes being read at once)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines: Recent[bytes, list[JsValue]] = Recent(4096)

    def _decode(self, response: httpx.Response, method: str, path: Any, expect: Any) -> Any:
        # path: the request's path as HttpClient gives it, redacted when formatted into text
        if expect != "json":
            return super()._decode(response, method, path, expect)
        body = response.content
        ctype = response.headers.get("content-type", "").lower()
        if "text/html" in ctype or body.lstrip()[:1] == b"<":
            raise ServerError(
                f"avers: {method} {path} answered HTML instead of data "
                f"(status {response.status_code})",
                hint="the server may be down for maintenance",
            )
        try:
            request = response.request
        except RuntimeError:  # a response made by hand (tests): never a shared answer
            request = None
        shared = request is not None and request.url.path.endswith(_SHARED_PATHS)
        try:
            return parse(body, self.lines if shared else None)
        except JsArrayError as exc:
            raise ContractError(f"avers: {method} {path}: unreadable answer: {exc}") from None


class _Login:
    """One account logged in on this server: its login row and the cookies it sends."""

    def __init__(self, credentials: Credentials, row: LoginRow, cookie: str) -> None:
        self.credentials = credentials
        self.row = row
        self.cookie = cookie
        self.generation = 0  # logins of this account: a re-login waits on the one under way
        self.lock: asyncio.Lock | None = None


class AversClient:
    """One АВЕРС server (one school); each account logged in once, its cookies per call."""

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        settings: HttpSettings = HttpSettings(),  # noqa: B008 — frozen
        cookie_encoding: CookieEncoding | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.cookie_encoding: CookieEncoding = cookie_encoding or JsEscape()
        self.account: Credentials | None = None
        self.session: LoginRow | None = None
        self.logins = 0  # successful logins, for tests and the run summary
        self.relogins = 0  # re-logins after lost authentication
        #: Some call was answered with data: the session cookies work on this server, so an
        #: ``[]`` right after a re-login is a lost session, not refused cookies.
        self._answered = False
        self._logins: dict[str, _Login] = {}  # by login: the accounts logged in so far
        # No reauth hook: a 401 re-logs the account of the call that saw it (act, as A1 does).
        self.http = _JsHttp(self.base_url, platform="avers", settings=settings, transport=transport)

    # --- session ---------------------------------------------------------------------------------

    async def login(self, credentials: Credentials) -> LoginRow:
        """``/login`` then ``/auth`` as ``credentials``; raises :class:`AuthError` when refused."""
        if not credentials.login or not credentials.password:
            raise AuthError("avers: a login and a password are required")
        register_secret(credentials.password)
        digest = sha1_hex(credentials.password)
        register_secret(digest)
        text = await self.http.post(
            "login", data={"l": credentials.login, "p": digest}, expect="text", reauth=False
        )
        if text.lstrip()[:1] == "<":
            raise ServerError("avers: POST /login answered HTML instead of data")
        if _BARE_SYMBOL.match(text):
            raise AuthError("avers rejected the login or password")
        try:
            data = parse(text)
        except JsArrayError as exc:
            raise ContractError(f"avers: POST /login: unreadable answer: {exc}") from None
        if data == [] or data == [[]]:
            raise AuthError("avers rejected the login or password (empty answer)")
        row = single_row(LoginRow, data, "login")
        cookies = YsCookies(credentials.login, digest, row.user_id)
        header = cookies.header(self.cookie_encoding)
        register_secret(self.cookie_encoding.encode(f"s:{digest}"))
        ok = await self.http.post(
            "auth",
            data={"uId": str(row.user_id), "act": "1"},
            headers={"Cookie": header},
            expect="text",
            reauth=False,
        )
        if ok.strip() != "ok":
            raise AuthError(
                "avers did not accept the session cookies (/auth)",
                hint="the ys-* cookies must be written with JavaScript escape() (%uXXXX)",
            )
        known = self._logins.get(credentials.login)
        if known is None:
            self._logins[credentials.login] = _Login(credentials, row, header)
        else:
            known.row, known.cookie = row, header
            known.generation += 1
        self.account, self.session = credentials, row
        self.logins += 1
        return row

    async def login_quietly(self, credentials: Credentials) -> LoginRow:
        """:meth:`login`, leaving the current account current (when there is one)."""
        account, session = self.account, self.session
        row = await self.login(credentials)
        if account is not None:
            self.account, self.session = account, session
        return row

    def logged_in(self, credentials: Credentials) -> LoginRow | None:
        """The login row of ``credentials`` if it logged in on this server, else ``None``."""
        known = self._logins.get(credentials.login)
        return None if known is None else known.row

    def use(self, credentials: Credentials) -> LoginRow:
        """Make an account logged in before the one calls without ``account=`` go as."""
        known = self._logins[credentials.login]
        self.account, self.session = credentials, known.row
        return known.row

    def _login_of(self, account: Credentials | None) -> _Login | None:
        """``account``'s login (default: the current one); ``None`` before any login."""
        account = account or self.account
        if account is None:
            return None
        if account.login not in self._logins:
            raise SessionExpired(f"avers: account {account.login!r} is not logged in")
        return self._logins[account.login]

    async def _relogin(self, login: _Login, seen: int) -> None:
        """Log ``login``'s account in again unless a call did since generation ``seen``."""
        if login.lock is None:
            login.lock = asyncio.Lock()
        async with login.lock:
            if login.generation != seen:
                return
            _log.info("avers authentication lost; logging in again")
            self.relogins += 1
            current = (self.account, self.session)
            async with self.http.login_bound():
                await self.login(login.credentials)
            self.account, self.session = current  # a re-login switches no one

    async def logout(self) -> None:
        if self.session is None or self.account is None:
            return
        login = self._login_of(self.account)
        try:
            await self.http.get(
                "auth/logout",
                headers={"Cookie": login.cookie} if login else None,
                expect="response",
                retry=False,
                reauth=False,
            )
        except JournalSyncError as exc:
            # The data is committed by now (or the run already failed for a reason of its own):
            # a logout the server refuses (a 404 on some builds) is worth a line, not a failure.
            _log.warning("avers logout failed; closing anyway", error=type(exc).__name__)
        self.session = None

    async def aclose(self) -> None:
        try:
            await self.logout()
        finally:
            await self.http.aclose()  # even when cancelled mid-logout

    # --- broker ----------------------------------------------------------------------------------

    async def _act_once(
        self, action: str, params: Mapping[str, str] | None, login: _Login | None
    ) -> Any:
        """One call with ``login``'s cookies; a 401 logs that account in again and replays the
        call once (A1 re-runs ``/login`` + ``/auth`` on a 401)."""
        replayed = False
        while True:
            seen = login.generation if login else 0
            headers = {"Cookie": login.cookie} if login else None
            try:
                if params:
                    return await self.http.post(
                        f"act/{action}", data=dict(params), headers=headers, reauth=False
                    )
                return await self.http.get(f"act/{action}", headers=headers, reauth=False)
            except SessionExpired:
                if replayed or login is None:
                    raise
                replayed = True
                await self._relogin(login, seen)

    async def act(
        self,
        action: str,
        params: Mapping[str, str] | None = None,
        *,
        account: Credentials | None = None,
    ) -> list[JsValue]:
        """Call ``/act/<action>`` as ``account`` (default: the one :meth:`use`/:meth:`login`
        made current); ``[]`` is checked against lost authentication (module doc).

        One re-login and one replay per call, as :class:`core.http.HttpClient` does for a 401:
        when the replay answers ``[]`` and the probe says the session is gone again, that is
        :class:`SessionExpired` (retry the run later), never an empty answer taken as data —
        unless no call has ever been answered on this server, when the cookies themselves are
        refused (:class:`AuthError`).
        """
        login = self._login_of(account)
        seen = login.generation if login else 0
        value = await self._act_once(action, params, login)
        if value == [] and login is not None and await self._lost(action, login):
            await self._relogin(login, seen)
            value = await self._act_once(action, params, login)
            if value == [] and await self._lost(action, login):
                if not self._answered:
                    raise AuthError(
                        "avers answers [] to a fresh login: the session cookies are rejected",
                        hint="the ys-* cookies must be written with JavaScript escape() (%uXXXX)",
                    )
                raise SessionExpired(
                    f"avers: /act/{action}: the session was lost again right after "
                    "logging in again",
                    hint="try again later; if this repeats, the server ends sessions early",
                )
        if not isinstance(value, list):
            raise ContractError(f"avers: /act/{action}: the answer is not an array")
        if value:
            self._answered = True
        return value

    async def confirmed(self, account: Credentials, body: Callable[[Ask], Awaitable[R]]) -> R:
        """``body(ask)``: one account's calls in a row, their ``[]`` answers checked together.

        ``ask(action, params)`` is :meth:`act` as ``account`` without the probe after each
        ``[]``. An answer with data, asked after an ``[]`` with no login of the account in
        between, vouches for it: the server checks the ``ys-*`` cookies on every call and a lost
        authentication stays lost until ``/auth`` (WIRE.md; the sandbox's epochs work so). When
        ``body`` ends (or raises: a lost session can break it, e.g. no class row) with ``[]``
        answers nothing vouched for, one probe decides for all of them; when it answers ``[]``
        too, the account logs in again and ``body`` runs once more with :meth:`act` itself
        (each ``[]`` probed, a session lost again is :class:`SessionExpired`). ``body`` must
        read nothing but through ``ask`` and may run twice.
        """
        login = self._login_of(account)
        assert login is not None  # an account is given

        async def call(action: str, params: Mapping[str, str] | None) -> list[JsValue]:
            seen = login.generation
            value = await self._act_once(action, params, login)
            if not isinstance(value, list):
                raise ContractError(f"avers: /act/{action}: the answer is not an array")
            if not value:
                ask.pending.append(seen)
            else:
                self._answered = True
                if login.generation == seen:  # no login since: every earlier [] was genuine
                    ask.pending[:] = [g for g in ask.pending if g != seen]
            return value

        ask = Ask(call)
        pending = ask.pending
        try:
            result = await body(ask)
        except Exception:
            if not pending or not await self._unvouched(login, pending):
                raise
        else:
            if not pending or not await self._unvouched(login, pending):
                return result

        async def plain(action: str, params: Mapping[str, str] | None) -> list[JsValue]:
            return await self.act(action, params, account=account)

        return await body(Ask(plain))

    async def _unvouched(self, login: _Login, pending: list[int]) -> bool:
        """Whether a run's unvouched ``[]`` answers may be lost authentication: one was asked
        before a login of the account since (replay), or the probe answers ``[]`` (log in
        again, then replay)."""
        if any(g != login.generation for g in pending):
            return True  # asked with cookies since replaced: replay with the current ones
        seen = login.generation
        if await self._lost("", login):
            await self._relogin(login, seen)
            return True
        return False

    async def _lost(self, action: str, login: _Login) -> bool:
        """Whether an ``[]`` answer means lost authentication: the probe answers ``[]`` too."""
        if action == _PROBE:
            return True
        probe = await self._act_once(_PROBE, None, login)
        if probe != []:
            self._answered = True
            return False
        return True

    async def user_data(self) -> UserData:
        return single_row(UserData, await self.act(_PROBE), _PROBE)

    # --- the SPA shell ---------------------------------------------------------------------------

    async def server_build(self) -> str | None:
        """The build in the root page's title («4.1 (23813)»), or ``None``.

        The shell is labelled ``windows-1251`` but its bytes are UTF-8, and it announces a
        ``Content-Length`` larger than the body (note §3): read what arrives, decode as UTF-8
        first, and do not treat the short body as a failure.
        """
        chunks: list[bytes] = []
        settings = self.http.settings
        size = 0
        try:
            # Read by hand (the short body is no failure), so the kit's bounds are applied here:
            # the call's deadline, and no more than the size cap kept.
            async with (
                asyncio.timeout(settings.deadline),
                self.http.client.stream("GET", "") as response,
            ):
                try:
                    async for chunk in response.aiter_raw():
                        size += len(chunk)
                        if size > settings.max_response_bytes:
                            break
                        chunks.append(chunk)
                except httpx.RemoteProtocolError:
                    _log.info("avers root page shorter than its Content-Length")
        except TimeoutError:
            raise TransportError(
                f"avers: GET / gave no complete answer within the {settings.deadline:g} s deadline",
                hint="the server is slow or not answering; try again later",
            ) from None
        except httpx.TransportError as exc:
            raise TransportError(f"avers: GET / failed: {type(exc).__name__}") from exc
        body = b"".join(chunks)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = body.decode("cp1251", errors="replace")
        m = _TITLE_BUILD.search(text)
        return m.group(1) if m else None
