"""The КИАСУО protocol: token refresh with rotation, one account at a time, typed reads (WIRE.md).

Transport concerns (retries, rate limits, status → error) live in :class:`core.http.HttpClient`.
This layer knows the platform: ``Authorization: Bearer <JWT>`` on every ``/api/*`` call,
``?id=<child>`` on every call, a refresh *before* a call when the JWT's ``exp`` has passed (as K1
does), and on a 401 one refresh and one replay (``HttpClient``'s reauth hook).

A school pull uses several family accounts through one ``httpx.AsyncClient``: every call names
its account and carries that account's bearer token in its own headers, so calls of different
accounts run at once (within the per-host limit). A 401 refreshes *that* account once — calls
of the account that saw the same token wait for the one refresh — and replays the call once
with the new token; a second 401 is the account's session ending.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, MutableMapping, Sequence
from typing import Any

import httpx

from core.connector import Credentials
from core.errors import AuthError, ContractError, CredentialsExpired, SessionExpired
from core.http import HttpClient, HttpSettings
from core.logging import get_logger, register_secret

from . import schema as s
from ._tokens import AccountTokens, looks_like_refresh_token

__all__ = ["API", "REFRESH_PATH", "Account", "KiasuoClient"]

_log = get_logger(__name__)
REFRESH_PATH = "/diary/refresh"
API = "/diary/api"


class Account:
    """One family account: its tokens and, once read, its ``/api/user``."""

    def __init__(self, tokens: AccountTokens, label: str) -> None:
        self.tokens = tokens
        self.label = label  # the configured login: named in errors, never a secret
        self.user: s.User | None = None
        #: Held while the account's tokens are refreshed; created on first use (event loop).
        self.lock: asyncio.Lock | None = None

    @property
    def key(self) -> str:
        return self.tokens.key


class KiasuoClient:
    """Every configured account of one school over one :class:`HttpClient`."""

    def __init__(
        self,
        base_url: str,
        accounts: Sequence[Credentials],
        *,
        school: str,
        state: MutableMapping[str, Any],
        persist: Callable[[], None],
        transport: httpx.AsyncBaseTransport | None = None,
        settings: HttpSettings = HttpSettings(),  # noqa: B008 — frozen
        clock: Callable[[], float] = time.time,
    ) -> None:
        origin = base_url.rstrip("/")
        if origin.endswith("/diary"):  # the note's base; paths here carry /diary themselves
            origin = origin[: -len("/diary")]
        self._school = school
        self._state = state
        self._persist = persist
        self._clock = clock
        self.accounts: list[Account] = []
        seen: set[str] = set()
        for n, cred in enumerate(accounts, start=1):
            key = cred.login or f"account-{n}"
            if key in seen:
                continue
            seen.add(key)
            tokens = AccountTokens.from_state(key, cred.token, state)
            register_secret(tokens.configured)
            register_secret(tokens.refresh_token)
            if tokens.access_token:
                register_secret(tokens.access_token)
            self.accounts.append(Account(tokens, key))
        if not self.accounts:
            raise AuthError(f"kiasuo: no account is configured for school {school!r}")
        # No reauth hook: a 401 is the account's (see _get), not the client's.
        self.http = HttpClient(
            origin,
            platform="kiasuo",
            settings=settings,
            transport=transport,
            headers={"Accept": "application/json"},
        )

    # --- tokens ----------------------------------------------------------------------------------

    def _dead(self, account: Account, why: str, kind: type[AuthError] = AuthError) -> AuthError:
        return kind(
            f"kiasuo: the saved login of account {account.label!r} for school {self._school!r} "
            f"{why}; log in through Госуслуги again and set the new refresh token",
            hint="journalsync credentials set prints how to get a refresh token",
        )

    async def refresh(self, account: Account) -> None:
        """``POST /diary/refresh``; the rotated refresh token is persisted at once."""
        token = account.tokens.refresh_token
        if not token:
            raise self._dead(account, "has no refresh token configured")
        if not looks_like_refresh_token(token):
            raise self._dead(account, "is not a КИАСУО refresh token (32 hex characters)")
        try:
            data = await self.http.post(REFRESH_PATH, data={"refresh-token": token}, reauth=False)
        except SessionExpired:
            # 401 on /refresh: the refresh token is invalid or expired (note §2.2, K1).
            raise self._dead(account, "has expired or was revoked", CredentialsExpired) from None
        except AuthError:
            raise self._dead(account, "was refused by the platform") from None
        pair = s.parse(s.Token, data, what="refresh")
        if not (pair.accessToken and looks_like_refresh_token(pair.refreshToken)):
            raise ContractError("kiasuo refresh: the answer carries no usable token pair")
        register_secret(pair.accessToken)
        register_secret(pair.refreshToken)
        account.tokens.rotated(pair.accessToken, pair.refreshToken, self._state, self._clock())
        # The old refresh token is dead now: a crash before this line would lock the account out.
        self._persist()
        _log.info("kiasuo token refreshed", account=account.label)

    async def _refresh_once(self, account: Account, seen: str | None) -> None:
        """Refresh ``account`` unless another call did since it read token ``seen``: calls of
        one account that fail together refresh it once (a rotated refresh token is single-use)."""
        if account.lock is None:
            account.lock = asyncio.Lock()
        async with account.lock:
            if account.tokens.access_token != seen:
                return
            async with self.http.login_bound():
                await self.refresh(account)

    async def _get(
        self, account: Account, path: str, child: int, params: dict[str, Any] | None = None
    ) -> Any:
        if account.tokens.expired(self._clock()):
            # K1 refreshes before the call once exp has passed
            await self._refresh_once(account, account.tokens.access_token)
        query = {**(params or {}), "id": child}
        replayed = False
        while True:
            token = account.tokens.access_token
            try:
                return await self.http.get(
                    f"{API}/{path}", params=query, headers={"Authorization": f"Bearer {token}"}
                )
            except SessionExpired:
                if replayed:
                    raise
                replayed = True
                _log.info("kiasuo access token rejected; refreshing", account=account.label)
                await self._refresh_once(account, token)

    async def aclose(self) -> None:
        # No pwa_logout: it may end the token chain, and the next run needs it.
        await self.http.aclose()

    # --- reads -----------------------------------------------------------------------------------

    async def user(self, account: Account) -> s.User:
        user = s.parse(s.User, await self._get(account, "user", 0), what="user")
        account.user = user
        return user

    async def school_classes(self, account: Account, child: int) -> list[s.SchoolClass | s.Bad]:
        data = await self._get(account, "school_classes", child)
        return s.parse_list(s.SchoolClass, data, what="school_classes")

    async def study_periods(self, account: Account, child: int) -> list[s.StudyPeriod | s.Bad]:
        data = await self._get(account, "study_periods", child)
        return s.parse_list(s.StudyPeriod, data, what="study_periods")

    async def recipients(self, account: Account, child: int) -> s.Recipients:
        return s.parse_recipients(await self._get(account, "recipients", child), child)

    async def lesson_marks(self, account: Account, child: int, period_id: int) -> s.LessonMarks:
        data = await self._get(account, f"lesson_marks/{period_id}", child)
        return s.parse(s.LessonMarks, data, what="lesson_marks")

    async def schedule(self, account: Account, child: int, iso_year: int, week: int) -> s.Schedule:
        data = await self._get(account, "schedule", child, {"year": iso_year, "week": week})
        return s.parse(s.Schedule, data, what="schedule")

    async def student_marks(self, account: Account, child: int, class_id: str) -> s.StudentMarks:
        data = await self._get(account, f"student_marks/{class_id}", child)
        return s.parse(s.StudentMarks, data, what="student_marks")
