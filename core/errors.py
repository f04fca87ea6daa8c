"""One exception tree, grouped by what the caller should do (DESIGN.md §8).

* :class:`Fatal` — stop this school's run: bad credentials, bad configuration, a broken contract.
* :class:`Retriable` — try again later, honouring ``retry_after`` when the server gave one.
* :class:`Skippable` — one bad record: quarantine it with the reason and go on.

Messages say what happened and what to do; they never carry secrets or personal data.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "ConfigError",
    "ContractError",
    "CredentialsExpired",
    "Fatal",
    "JournalSyncError",
    "MalformedRecord",
    "NotFound",
    "RateLimited",
    "Retriable",
    "ServerError",
    "SessionExpired",
    "Skippable",
    "TransportError",
    "UnknownCode",
    "UnsupportedOperation",
]


class JournalSyncError(Exception):
    """Base of every error journalsync raises on purpose."""

    #: What a person should do about it; shown after the message by the CLI.
    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else type(self).__name__


# --- Fatal: the run for this school stops -------------------------------------------------------


class Fatal(JournalSyncError):
    """The run cannot go on; retrying will not help until someone changes something."""


class AuthError(Fatal):
    """The platform rejected the credentials (or they are missing)."""

    hint = "check the login and password (or token) configured for this school"


class CredentialsExpired(AuthError):
    """The platform says the account's token or session has run out and cannot be renewed
    (a refresh refused as expired, a copied session token past its life): someone must sign
    in again. A family account so refused is reported ``expired``, not ``rejected``."""

    hint = "sign in to the platform again and configure the account's new token"


class ConfigError(Fatal):
    """The configuration is invalid."""


class ContractError(Fatal):
    """The platform answered in a shape the connector cannot understand at all."""

    hint = "the platform's API may have changed; report it with the run id"


class UnsupportedOperation(Fatal):
    """The connector does not offer this operation (e.g. no write API is known)."""


class NotFound(Fatal):
    """A thing the caller named (school, student, lesson) does not exist on the platform."""


# --- Retriable: try again later ------------------------------------------------------------------


class Retriable(JournalSyncError):
    """A transient failure: the same request may succeed later."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class TransportError(Retriable):
    """Connection refused, reset or timed out."""


class ServerError(Retriable):
    """The platform answered 5xx (or an HTML error page where JSON was expected)."""


class RateLimited(Retriable):
    """The platform answered 429 (or an anti-bot page): slow down."""


class SessionExpired(Retriable):
    """The session or token expired; the connector logs in again and replays once."""


# --- Skippable: one record is bad ---------------------------------------------------------------


class Skippable(JournalSyncError):
    """One record cannot be taken; it is quarantined with this reason and the rest go on."""

    def __init__(
        self,
        message: str,
        *,
        entity: str = "",
        record: str = "",
        field: str = "",
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.entity = entity
        self.record = record
        self.field = field


class MalformedRecord(Skippable):
    """A payload record is missing a field, or a field has the wrong type."""


class UnknownCode(Skippable):
    """A mark value, attendance code or work type has no mapping to the canonical code list."""
