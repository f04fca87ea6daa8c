"""Token bookkeeping: the access JWT's ``exp`` and the rotating refresh token kept in state.

КИАСУО rotates the refresh token on every refresh (note §2.2): the old one is dead the moment
the server answers, so the new one is written to the connector state and persisted before
anything else happens. State layout (the store keeps it encrypted at rest)::

    {"refresh_tokens": {"<account login>": {"token": "<32 hex>", "configured": "<fingerprint>"}}}

``configured`` is a fingerprint (not the value) of the token configured when the chain began:
a token in state wins over the configured one, unless someone has since configured a *new*
token (a fresh Госуслуги login), which then starts a new chain.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["STATE_KEY", "AccountTokens", "fingerprint", "jwt_exp", "looks_like_refresh_token"]

STATE_KEY = "refresh_tokens"
_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")


def looks_like_refresh_token(value: str) -> bool:
    """K1 accepts only 32 hex characters (note §2.1)."""
    return bool(_HEX32.match(value))


def fingerprint(token: str) -> str:
    return hashlib.sha256(("kiasuo-refresh|" + token).encode()).hexdigest()[:16]


def jwt_exp(token: str) -> float | None:
    """``exp`` (unix seconds) from a JWT's payload, unverified — as K1 reads it; None if absent."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        raw = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    exp = payload.get("exp") if isinstance(payload, dict) else None
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


@dataclass(slots=True)
class AccountTokens:
    """One account's token pair; ``key`` is the account's login (its key in state)."""

    key: str
    configured: str = field(repr=False)
    refresh_token: str = field(default="", repr=False)
    access_token: str | None = field(default=None, repr=False)
    exp: float | None = None
    refreshes: int = 0

    @classmethod
    def from_state(
        cls, key: str, configured: str, state: MutableMapping[str, Any]
    ) -> AccountTokens:
        tokens = cls(key=key, configured=configured.strip())
        saved = state.get(STATE_KEY, {}).get(key)
        if (
            isinstance(saved, dict)
            and isinstance(saved.get("token"), str)
            and (not tokens.configured or saved.get("configured") == fingerprint(tokens.configured))
        ):
            tokens.refresh_token = saved["token"]
            access = saved.get("access")
            if isinstance(access, str) and access:
                # The access token of the last refresh: used while its exp is ahead (no refresh
                # while the session is valid); a 401 refreshes as usual.
                tokens.access_token, tokens.exp = access, jwt_exp(access)
        else:
            tokens.refresh_token = tokens.configured
        return tokens

    def rotated(
        self, access: str, refresh: str, state: MutableMapping[str, Any], now: float
    ) -> None:
        """Take a refreshed pair and write the new refresh token into ``state``."""
        self.access_token = access
        self.exp = jwt_exp(access)
        if self.exp is not None and self.expired(now):
            # A brand-new token that looks expired: our clock is off. Trust the server's 401s
            # instead of refreshing before every call.
            self.exp = None
        self.refresh_token = refresh
        self.refreshes += 1
        # A new dict, so a state the caller saved earlier (a shallow copy) is never changed.
        chains = dict(state.get(STATE_KEY) or {})
        chains[self.key] = {
            "token": refresh,
            "configured": fingerprint(self.configured),
            "access": access,
        }
        state[STATE_KEY] = chains

    def expired(self, now: float, skew: float = 30.0) -> bool:
        return self.access_token is None or (self.exp is not None and now >= self.exp - skew)
