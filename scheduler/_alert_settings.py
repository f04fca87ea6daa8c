"""Where alerts go and when they fire (the config's ``[alerts]`` section, validated by
``journalsync.config``); plain frozen values like the rest of the plan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:
    from scheduler._secrets import SecretRef

__all__ = [
    "CONDITION_KINDS",
    "AlertSettings",
    "ConditionKind",
    "SmtpSettings",
    "WebhookSettings",
]

ConditionKind = Literal["failed_runs", "held_run", "schema_drift", "coverage", "outage_journal"]
#: Every alert condition ``scheduler.alerts`` knows, in the order they are checked.
CONDITION_KINDS: tuple[ConditionKind, ...] = get_args(ConditionKind)


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    url: str
    #: Sent as ``Authorization: Bearer …`` when given.
    token: SecretRef | None = None
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    username: str | None = None
    password: SecretRef | None = None
    #: "starttls" upgrades a plain connection, "ssl" connects over TLS, "none" neither.
    tls: Literal["none", "starttls", "ssl"] = "none"
    timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class AlertSettings:
    #: A school whose last this many runs all failed is alerted on.
    failed_runs: int = 3
    #: Minimum share of the roster a family-account school's pulls must cover (0–1), used
    #: when the store's coverage record carries no minimum of its own.
    coverage_minimum: float | None = None
    #: The conditions checked (a subset of :data:`CONDITION_KINDS`).
    conditions: tuple[ConditionKind, ...] = CONDITION_KINDS
    webhook: WebhookSettings | None = None
    smtp: SmtpSettings | None = None

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(
            name for name, s in (("webhook", self.webhook), ("email", self.smtp)) if s is not None
        )
