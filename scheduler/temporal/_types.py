"""What crosses Temporal: plain dataclasses (the workflow sandbox imports nothing else)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["SLOT_FORMAT", "RunRequest", "format_key"]

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


def format_key(school: str, platform: str, operation: str, slot: datetime) -> str:
    """The run key (the same as ``scheduler.run_key``: kept import-free for the sandbox)."""
    return f"{school}:{platform}:{operation}:{slot.astimezone(UTC).strftime(SLOT_FORMAT)}"
