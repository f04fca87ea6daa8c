"""What a connector reads from its :class:`core.connector.SchoolTarget` options."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from core.http import HttpSettings

__all__ = ["http_settings", "today"]


def today(options: Mapping[str, Any], timezone: str | tzinfo) -> date:
    """``options["today"]`` (a date, a datetime or an ISO string: tests, replays) or today's
    date in ``timezone`` — the school's, since platforms file lessons by local date."""
    raw = options.get("today")
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str) and raw:
        return date.fromisoformat(raw[:10])
    tz = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
    return datetime.now(UTC).astimezone(tz).date()


def http_settings(options: Mapping[str, Any], default: HttpSettings | None = None) -> HttpSettings:
    """``options["http_settings"]``: transport tuning arrives validated (from config or a test)
    as an :class:`HttpSettings`; anything else means the connector's default."""
    settings = options.get("http_settings")
    if isinstance(settings, HttpSettings):
        return settings
    return default if default is not None else HttpSettings()
