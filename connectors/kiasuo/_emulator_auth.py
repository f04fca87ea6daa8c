"""The emulator's token authority: HS256 access JWTs with ``exp`` and rotating refresh tokens.

Choices where the note is silent (documented in WIRE.md):

* each family account starts with one deterministic refresh token
  (:func:`initial_refresh_token`), as if its owner had just logged in through Госуслуги;
* ``POST /diary/refresh`` consumes the presented refresh token and returns a new pair; the old
  token is dead from then on, and presenting it again answers **401** (the note: 401 for unknown
  refresh tokens) — the successor stays valid (no reuse detection is known);
* a refresh token chain is one "login": ``pwa_logout`` ends the chain of the access token used;
* access tokens are verified (signature, ``exp`` against the emulator's clock, not revoked);
  ``expire_access_tokens`` revokes every access token issued so far ("force expiry now").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from connectors.sandbox.world import Account, World

__all__ = ["Grant", "TokenAuthority", "initial_refresh_token"]


def initial_refresh_token(world: World, account: Account) -> str:
    """The deterministic first refresh token of a family account (32 hex, like the platform's)."""
    key = hashlib.sha256(f"kiasuo-sandbox|{world.seed}".encode()).digest()
    msg = f"{account.login}|{account.person_id}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()[:32]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Grant:
    """Who a token belongs to: the account's person id and its login chain."""

    person_id: int
    chain: str


class TokenAuthority:
    def __init__(self, world: World, *, life: float, clock: Callable[[], float]) -> None:
        self._secret = hashlib.sha256(f"kiasuo-jwt|{world.seed}".encode()).digest()
        self._life = life
        self._clock = clock
        self._refresh: dict[str, Grant] = {}
        self._access: dict[str, Grant] = {}  # live access tokens by jti
        #: (jti, exp) of tokens whose signature and payload were checked: both follow from the
        #: token's text, so a token seen again skips the HMAC and JSON (expiry and revocation
        #: are still checked on every call)
        self._checked: dict[str, tuple[str, int]] = {}
        self.refreshes = 0
        for role in ("guardian", "student"):
            for acc in world.accounts(role=role):
                token = initial_refresh_token(world, acc)
                self._refresh[token] = Grant(acc.person_id, f"{acc.person_id}:0")

    @property
    def life(self) -> float:
        return self._life

    @life.setter
    def life(self, seconds: float) -> None:
        self._life = seconds

    def rotate(self, refresh_token: str) -> tuple[str, str] | None:
        """(access JWT, new refresh token) for a live refresh token; None if dead/unknown."""
        grant = self._refresh.pop(refresh_token, None)
        if grant is None:
            return None
        new = secrets.token_hex(16)
        self._refresh[new] = grant
        self.refreshes += 1
        return self._issue(grant), new

    def _issue(self, grant: Grant) -> str:
        now = self._clock()
        jti = secrets.token_hex(8)
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = _b64(
            json.dumps(
                {
                    "sub": str(grant.person_id),
                    "iat": int(now),
                    "exp": int(now + self._life),
                    "jti": jti,
                }
            ).encode()
        )
        signing = f"{header}.{payload}".encode()
        sig = _b64(hmac.new(self._secret, signing, hashlib.sha256).digest())
        self._access[jti] = grant
        return f"{header}.{payload}.{sig}"

    def verify(self, token: str) -> tuple[Grant, str] | None:
        """(grant, jti) of a valid, unexpired, unrevoked access token; else None."""
        checked = self._checked.get(token)
        if checked is None:
            checked = self._check(token)
            if checked is None:
                return None
            self._checked[token] = checked
        jti, exp = checked
        grant = self._access.get(jti)
        if grant is None or exp <= self._clock():
            return None
        return grant, jti

    def _check(self, token: str) -> tuple[str, int] | None:
        """(jti, exp) of a token signed here whose payload carries both; else None."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        signing = f"{parts[0]}.{parts[1]}".encode()
        want = _b64(hmac.new(self._secret, signing, hashlib.sha256).digest())
        if not hmac.compare_digest(want, parts[2]):
            return None
        try:
            payload = json.loads(_unb64(parts[1]))
        except ValueError:
            return None
        if not isinstance(payload, dict):
            return None
        jti, exp = payload.get("jti"), payload.get("exp")
        if not isinstance(jti, str) or not isinstance(exp, int):
            return None
        return jti, exp

    def expire_access_tokens(self) -> int:
        """Revoke every access token issued so far; the next API call with one answers 401."""
        n = len(self._access)
        self._access.clear()
        self._checked.clear()
        return n

    def logout(self, grant: Grant) -> None:
        """End one login: its access tokens and its refresh token."""
        self._access = {k: g for k, g in self._access.items() if g.chain != grant.chain}
        self._refresh = {k: g for k, g in self._refresh.items() if g.chain != grant.chain}

    def refresh_token_of(self, person_id: int) -> list[str]:
        """Live refresh tokens of a person (sandbox tooling and tests)."""
        return [t for t, g in self._refresh.items() if g.person_id == person_id]
