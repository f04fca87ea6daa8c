"""The accounts of a school pull: one :class:`PermSession` each, over one shared transport.

ЭПОС is a student/parent API: each account sees one family. A school pull visits every account
in ``target.all_accounts`` (students and parents) and merges what they see.

Credentials of one account (``core.connector.Credentials``):

* **mobile-token flow** — the mobile token in ``token`` (or ``password``, for configurations that
  keep every secret there); ``login`` is a non-secret label. The platform rotates the token at
  every use, so the current one lives in the connector state (``state["mobile_tokens"][label]``,
  kept encrypted by the store) and is persisted at once after each rotation. The state records a
  hash of the configured token, so configuring a *new* token (after signing in again) wins over
  a stale saved one.
* **user-supplied session** — ``token`` = an ``auth_token`` copied from the browser and
  ``extra["profile_id"]`` its profile (note §2.3); it cannot be renewed.
"""

from __future__ import annotations

from collections.abc import Callable
from hashlib import sha256
from typing import Any

import httpx

from core.connector import Credentials
from core.errors import ConfigError

from ._auth import AccountAuth, MobileTokenAuth, StaticTokenAuth

__all__ = ["SharedTransport", "account_auth"]

STATE_KEY = "mobile_tokens"


class SharedTransport(httpx.AsyncBaseTransport):
    """Lets many clients use one transport; only its owner closes the real one."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        """Closed by the connector, not by each client."""


def _seed(token: str) -> str:
    return sha256(token.encode()).hexdigest()[:16]


def account_auth(
    index: int,
    cred: Credentials,
    state: dict[str, Any],
    persist: Callable[[], None],
) -> AccountAuth:
    """The auth strategy of the ``index``-th account, resuming a rotated token from ``state``."""
    profile = cred.extra.get("profile_id")
    if profile:
        try:
            profile_id = int(profile)
        except ValueError:
            raise ConfigError("perm: extra.profile_id must be an integer profile id") from None
        return StaticTokenAuth(cred.login or f"account-{index + 1}", cred.token, profile_id)
    configured = cred.token or cred.password
    seed = _seed(configured) if configured else ""
    label = cred.login or f"token-{seed}"
    saved = state.get(STATE_KEY, {}).get(label)
    current = configured
    if isinstance(saved, dict) and saved.get("seed") == seed and saved.get("token"):
        current = str(saved["token"])

    def rotated(new_token: str) -> None:
        tokens = dict(state.get(STATE_KEY, {}))
        tokens[label] = {"seed": seed, "token": new_token}
        state[STATE_KEY] = tokens
        persist()

    return MobileTokenAuth(label, current, rotated, resumed=current != configured)
