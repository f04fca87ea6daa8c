"""What crosses Temporal: plain dataclasses (the workflow sandbox imports nothing else)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["SLOT_FORMAT", "MigrationRequest", "RunRequest", "format_key"]

SLOT_FORMAT = "%Y%m%dT%H%MZ"


@dataclass(frozen=True)
class RunRequest:
    school: str
    platform: str
    operation: str
    #: The activity task queue: one per upstream host.
    task_queue: str
    #: ISO slot; empty for schedule-started runs (the scheduled time is the slot).
    slot: str = ""
    #: Apply the schedule's school-hours window (scheduled runs only).
    scheduled: bool = True
    heartbeat_seconds: float = 10.0
    attempts: int = 3
    retry_initial_seconds: float = 1.0


@dataclass(frozen=True)
class MigrationRequest:
    """One school's migration step (``plan``, ``apply`` or ``verify``)."""

    school: str
    #: The target binding's platform (the activity runs on its host's task queue).
    platform: str
    step: str
    #: ``apply``, ``verify``: the plan; empty for ``plan``.
    plan_id: str
    task_queue: str
    #: ``plan``: the binding the school leaves and the one it moves to.
    source: str = ""
    target: str = ""
    #: The school's directory: ``plan``'s files; where ``verify`` writes the certificate
    #: (empty: the plan's own directory).
    out: str = ""
    no_pull: bool = False
    #: The config's path as the person gave it (named in hints).
    config: str = "journalsync.toml"
    heartbeat_seconds: float = 10.0
    attempts: int = 3
    retry_initial_seconds: float = 1.0


def format_key(school: str, platform: str, operation: str, slot: datetime) -> str:
    """The run key (the same as ``scheduler.run_key``: kept import-free for the sandbox)."""
    return f"{school}:{platform}:{operation}:{slot.astimezone(UTC).strftime(SLOT_FORMAT)}"
