"""Ruobr request quirks as small strategy objects: header credentials and a browser User-Agent.

* :class:`HeaderCredentials` — api3d has no login call, no token and no cookie: every request
  carries ``username`` = base64(UTF-8 of the upper-cased login) and ``password`` =
  base64(UTF-8 of the password) as plain HTTP headers (note §2.1).
* :class:`BrowserUserAgent` — QRATOR in front of ``api3d.ruobr.ru`` answers 403 to non-browser
  User-Agents such as httpx's default (note §2.1, R3 2026); a desktop browser string passes.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from core.connector import Credentials
from core.errors import AuthError
from core.logging import register_secret

__all__ = ["DEFAULT_BROWSER_UA", "BrowserUserAgent", "HeaderCredentials", "b64"]

DEFAULT_BROWSER_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)


def b64(text: str) -> str:
    """Base64 of the UTF-8 bytes (Cyrillic logins and passwords are UTF-8, never cp1251)."""
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


@dataclass(frozen=True, slots=True)
class HeaderCredentials:
    """One account's ``username``/``password`` headers. ``repr`` shows neither."""

    login: str
    password: str = field(repr=False)

    @classmethod
    def of(cls, credentials: Credentials, *, account: int = 0) -> HeaderCredentials:
        if not credentials.login or not credentials.password:
            raise AuthError(f"ruobr: account #{account + 1} needs a login and a password")
        return cls(credentials.login, credentials.password)

    @property
    def username_header(self) -> str:
        # The login is upper-cased *before* encoding (R1 `username.upper()`); str.upper also
        # upper-cases Cyrillic («ё» → «Ё»).
        return b64(self.login.strip().upper())

    @property
    def password_header(self) -> str:
        return b64(self.password)

    def headers(self) -> dict[str, str]:
        return {"username": self.username_header, "password": self.password_header}

    def register_secrets(self) -> None:
        """Mask the password and both encoded header values in every log line from now on."""
        for value in (self.password, self.password_header, self.username_header):
            register_secret(value)


@dataclass(frozen=True, slots=True)
class BrowserUserAgent:
    """The User-Agent policy: a browser string, so the anti-bot layer lets requests through."""

    value: str = DEFAULT_BROWSER_UA

    @classmethod
    def of(cls, user_agent: str | None) -> BrowserUserAgent:
        """The ``user_agent`` option overrides the default (when QRATOR starts blocking it)."""
        return cls(user_agent) if user_agent and user_agent.strip() else cls()

    def headers(self) -> dict[str, str]:
        return {"User-Agent": self.value}
