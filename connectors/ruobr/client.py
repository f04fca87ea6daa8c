"""The Ruobr api3d protocol: header credentials, the ``success`` envelope, typed endpoint calls.

Transport concerns (5xx/429 retries, rate limit, per-host concurrency) live in
:class:`core.http.HttpClient`. This layer knows what the platform does instead of HTTP statuses
(note §3, §7.1): errors travel as ``{"success": false, …}`` with **HTTP 200**, wrong credentials
as ``error_type: "auth"`` (or an empty ``user/``), and the QRATOR anti-bot layer answers 403 HTML.

====================================================  ==========================================
What came back                                         Raised
====================================================  ==========================================
``{"success": false, "error_type": "auth"}``, empty    :class:`~core.errors.AuthError`
``user/``, HTTP 401
``{"success": false, "error": …}`` / other             :class:`~core.errors.ServerError` after
``error_type`` / bare ``success: false``               retries (R3 retries these)
HTML or other non-JSON body                            :class:`~core.errors.ServerError` after
                                                       retries
HTTP 403 HTML (anti-bot)                               :class:`~core.errors.RateLimited` after
                                                       retries
a JSON shape the connector cannot read at all          :class:`~core.errors.ContractError`
====================================================  ==========================================

There is no session: nothing to log in to, refresh or log out from. One ``HttpClient`` serves
every account of a school pull; each request carries its account's headers.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import date
from typing import Any

import httpx
import orjson

from core.connector import Credentials
from core.errors import AuthError, RateLimited, ServerError
from core.http import Action, HttpClient, HttpSettings
from core.logging import redact

from . import schema as s
from ._auth import BrowserUserAgent, HeaderCredentials

__all__ = ["RuobrClient"]


_EXCERPT = 120


class _Transient(ServerError):
    """An answer worth repeating (envelope error, HTML page): retried by :meth:`_get`."""


class _AntiBot(RateLimited):
    """The anti-bot layer refused the request (403 HTML)."""


def _excerpt(text: str) -> str:
    flat = " ".join(redact(text[:2000]).split())
    return flat if len(flat) <= _EXCERPT else flat[: _EXCERPT - 1] + "…"


def _looks_like_html(response: httpx.Response) -> bool:
    if "html" in response.headers.get("content-type", "").lower():
        return True
    return response.content.lstrip()[:1] == b"<"


class RuobrClient:
    """Calls api3d on behalf of a school's accounts (index = position in ``accounts``)."""

    def __init__(
        self,
        base_url: str,
        accounts: Sequence[Credentials],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        settings: HttpSettings = HttpSettings(),  # noqa: B008 — frozen, so sharing is safe
        user_agent: BrowserUserAgent | None = None,
    ) -> None:
        if not accounts:
            raise AuthError("ruobr: no account configured")
        self.accounts = [HeaderCredentials.of(c, account=i) for i, c in enumerate(accounts)]
        for account in self.accounts:
            account.register_secrets()
        #: Each account's headers, encoded once (every request of the account sends them).
        self._headers = [account.headers() for account in self.accounts]
        self.settings = settings
        self.user_agent = user_agent or BrowserUserAgent()
        self.http = HttpClient(
            base_url.rstrip("/") + "/",
            platform="ruobr",
            settings=settings,
            transport=transport,
            # 401 = a variant of "wrong credentials"; 403 is read here: JSON auth envelope or
            # the anti-bot HTML page.
            status_actions={401: Action.AUTH_FAILED, 403: Action.OK},
            headers=self.user_agent.headers(),
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    # --- endpoints -------------------------------------------------------------------------------

    async def user(self, account: int) -> list[s.Child | s.Bad]:
        """``user/``: the account's pupils. Also the "login" check: bad credentials raise."""
        data = await self._get(account, "user/")
        if not data:
            raise self._auth_error(account)  # R1: a falsy user/ means wrong credentials
        return s.parse_user(data)

    async def timetable(self, account: int, child: int, start: date, end: date) -> s.Timetable:
        query = f"start={start.isoformat()}&end={end.isoformat()}&child={child}"
        data = await self._get(account, "timetable2/", query)
        return s.parse(s.Timetable, data, what="timetable2/")

    async def control_marks(self, account: int, child: int) -> list[s.ControlPeriod | s.Bad]:
        data = await self._get(account, "controlmark/", f"child={child}")
        return s.parse_list(s.ControlPeriod, data, what="controlmark/")

    async def all_marks(self, account: int, child: int, period: int, subject_id: int) -> s.AllMarks:
        data = await self._get(account, f"all_marks/{period}/{subject_id}/", f"child={child}")
        if not isinstance(data, dict):
            return s.parse(s.AllMarks, data, what="all_marks/")
        return s.parse(s.AllMarks, data.get("data") or {}, what="all_marks/")

    # --- the envelope ----------------------------------------------------------------------------

    def _auth_error(self, account: int) -> AuthError:
        return AuthError(
            f"ruobr rejected the credentials of account #{account + 1} of {len(self.accounts)}",
            hint="check that login and password of this parent/student account still work "
            "in the «Электронная школа 2.0» app",
        )

    async def _get(self, account: int, path: str, query: str = "") -> Any:
        """``GET path?query`` through the account's headers. ``query``: ids and ISO dates,
        which need no escaping (the text httpx would make of them as ``params``)."""
        url = f"{path}?{query}" if query else path
        headers = self._headers[account]
        attempts = max(self.settings.max_attempts, 1)
        try:
            # A plain loop (nearly every call succeeds at once): envelope errors and the anti-bot
            # page are tried again after exponential backoff with full jitter.
            number = 1
            while True:
                try:
                    response: httpx.Response = await self.http.get(
                        url, headers=headers, expect="response"
                    )
                    return self._interpret(account, path, response)
                except (_Transient, _AntiBot):
                    if number >= attempts:
                        raise
                growth = 2.0 ** min(number - 1, 64)
                high = min(self.settings.backoff_initial * growth, self.settings.backoff_max)
                await asyncio.sleep(random.uniform(0, max(high, 0.0)))
                number += 1
        except AuthError as exc:
            if exc.message.startswith("ruobr rejected"):
                raise
            raise self._auth_error(account) from None  # HTTP 401 variant
        except _AntiBot as exc:
            raise RateLimited(
                f"{exc.message} (gave up after {self.settings.max_attempts} attempts)",
                hint="the anti-bot layer refuses these requests: set options.user_agent to a "
                "current browser User-Agent, or pull less often",
            ) from None
        except _Transient as exc:
            raise ServerError(
                f"{exc.message} (gave up after {self.settings.max_attempts} attempts)",
                hint=exc.hint or "the platform reported an error; try again later",
            ) from None

    def _interpret(self, account: int, path: str, response: httpx.Response) -> Any:
        what = f"ruobr: GET /{path}"
        if response.status_code == 403:
            data = _json_or_none(response)
            if isinstance(data, dict) and data.get("error_type") == "auth":
                raise self._auth_error(account)
            # QRATOR is the de-facto limiter (note §7.1; no 429 or quota is known): its page
            # halves the requests in flight to this host, as a 429 would (core.http).
            self.http.push_back(path)
            raise _AntiBot(f"{what} answered 403 (anti-bot page): {_excerpt(response.text)}")
        if _looks_like_html(response):
            raise _Transient(
                f"{what} answered HTML instead of JSON (status {response.status_code}): "
                f"{_excerpt(response.text)}",
                hint="the platform may be down for maintenance or behind its anti-bot page",
            )
        data = _json_or_none(response)
        if data is None and response.content.strip() not in (b"", b"null"):
            raise _Transient(f"{what} answered a non-JSON body: {_excerpt(response.text)}")
        if isinstance(data, dict) and data.get("success") is False:
            if data.get("error_type") == "auth":
                raise self._auth_error(account)
            detail = data.get("error") or data.get("error_type") or "no reason given"
            raise _Transient(f"{what} answered success=false: {_excerpt(str(detail))}")
        return data


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
