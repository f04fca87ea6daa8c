"""How one ЭПОС account gets (and renews) its ``auth_token``: two small strategies.

* :class:`MobileTokenAuth` — the mobile-token flow (note §2.2, P4): ``GET /authenticate`` with a
  ``token`` header returns a **rotated** mobile token and the session cookies. The old mobile
  token is dead from then on, so the new one is handed to ``on_rotate`` (which persists the
  connector state) before anything else happens. Renewal = the same call with the saved token.
* :class:`StaticTokenAuth` — an ``auth_token`` + ``profile_id`` copied from the browser by a person
  (note §2.3, P5). It cannot be renewed: when it expires the account must be re-linked.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass

from core.errors import AuthError, CredentialsExpired, SessionExpired
from core.http import HttpClient
from core.logging import register_secret

from . import schema as s

__all__ = ["AccountAuth", "Grant", "MobileTokenAuth", "StaticTokenAuth"]


@dataclass(frozen=True, slots=True)
class Grant:
    """What a successful authentication gives: the session token and the default profile."""

    auth_token: str
    profile_id: int | None


class AccountAuth(abc.ABC):
    """A strategy that authenticates one account on one :class:`HttpClient`."""

    def __init__(self, label: str) -> None:
        self.label = label  # a non-secret name of the account, for messages

    @abc.abstractmethod
    async def grant(self, http: HttpClient, *, renewal: bool) -> Grant:
        """Authenticate (``renewal`` = the previous ``auth_token`` was rejected)."""


class MobileTokenAuth(AccountAuth):
    def __init__(
        self,
        label: str,
        mobile_token: str,
        on_rotate: Callable[[str], None],
        *,
        resumed: bool = False,
    ) -> None:
        """``resumed``: ``mobile_token`` is one the platform rotated to in an earlier run (it
        worked then); a refusal of it means the account's login ran out — ``expired``."""
        super().__init__(label)
        self._worked = resumed
        if not mobile_token:
            raise AuthError(f"perm: account {label!r} has no mobile token configured")
        register_secret(mobile_token)
        self.mobile_token = mobile_token
        self._on_rotate = on_rotate
        self.rotations = 0

    async def grant(self, http: HttpClient, *, renewal: bool) -> Grant:
        if not self.mobile_token.isascii():
            # ЭПОС links a family's account by its mobile token (ASCII); a password — say one
            # in Cyrillic — cannot go in the `token` header and no password login is supported.
            raise AuthError(
                f"perm: account {self.label!r}: its secret is not a mobile token (it has "
                "non-ASCII characters — a password?); ЭПОС accounts are linked by mobile token",
                hint="configure the account's mobile token (token = …), not its password",
            )
        try:
            body = await http.get(
                "/authenticate", headers={"token": self.mobile_token}, reauth=False
            )
        except (SessionExpired, AuthError):
            hint = (
                "the token was used elsewhere or revoked: sign in again in the app "
                "(authenticate/oauth?app=phone) and configure the new token"
            )
            if self._worked:
                # A token of the chain that worked before is refused now: the login ran out
                # (401/400, note §2.2 step 5: "log in again").
                raise CredentialsExpired(
                    f"perm: the login of account {self.label!r} has expired "
                    "(the platform refused its current mobile token)",
                    hint=hint,
                ) from None
            raise AuthError(
                f"perm: the platform rejected the mobile token of account {self.label!r}",
                hint=hint,
            ) from None
        data = s.parse(s.AuthenticateResponse, body, what="authenticate")
        register_secret(data.mobile_token)
        register_secret(data.cookies.auth_token)
        # The old token is dead now: save the new one before anything else can fail.
        self.mobile_token = data.mobile_token
        self.rotations += 1
        self._worked = True
        self._on_rotate(data.mobile_token)
        return Grant(data.cookies.auth_token, data.cookies.profile_id)


class StaticTokenAuth(AccountAuth):
    def __init__(self, label: str, auth_token: str, profile_id: int | None) -> None:
        super().__init__(label)
        if not auth_token:
            raise AuthError(f"perm: account {label!r} has no auth_token configured")
        register_secret(auth_token)
        self._grant = Grant(auth_token, profile_id)

    async def grant(self, http: HttpClient, *, renewal: bool) -> Grant:
        if renewal:
            # 401/400 on a copied session token: its hour is over (note §2.1, P7) or it was
            # ended; either way it cannot be renewed, only copied again.
            raise CredentialsExpired(
                f"perm: the auth_token of account {self.label!r} expired or was ended",
                hint=(
                    "copy a fresh auth_token from the browser, "
                    "or link the account by its mobile token"
                ),
            )
        return self._grant
