"""Ruobr's options (a school's ``options`` table in the config)."""

from __future__ import annotations

from pydantic import field_validator

from core.connector import PlatformOptions

__all__ = ["RuobrOptions"]


class RuobrOptions(PlatformOptions):
    #: Read the attendance summaries (their meaning is a guess, WIRE.md); ``false`` skips them.
    attendance: bool = True
    #: The browser User-Agent sent, when the anti-bot layer starts refusing the default one.
    user_agent: str | None = None

    @field_validator("user_agent")
    @classmethod
    def _not_blank(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("an empty User-Agent; leave the key out for the default")
        return v
