"""Alerts: conditions over the store (a school failing N runs in a row, a held run, the
platform's schema drift, coverage below the minimum, an outage journal past its deadline), told
to a webhook and by e-mail once per condition, with a recovery message when it clears."""

from scheduler.alerts._alerter import Alerter, CheckReport, Delivery
from scheduler.alerts._channels import (
    Channel,
    ChannelError,
    EmailChannel,
    WebhookChannel,
    channels_for,
)
from scheduler.alerts._conditions import (
    Condition,
    CoverageFact,
    Evaluation,
    OutageJournal,
    coverage_below,
    evaluate,
    failed_in_a_row,
    held_runs,
    outage_overdue,
    schema_drift_now,
)
from scheduler.alerts._messages import Message, alert_message, recovery_message

__all__ = [
    "Alerter",
    "Channel",
    "ChannelError",
    "CheckReport",
    "Condition",
    "CoverageFact",
    "Delivery",
    "EmailChannel",
    "Evaluation",
    "Message",
    "OutageJournal",
    "WebhookChannel",
    "alert_message",
    "channels_for",
    "coverage_below",
    "evaluate",
    "failed_in_a_row",
    "held_runs",
    "outage_overdue",
    "recovery_message",
    "schema_drift_now",
]
