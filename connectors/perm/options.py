"""ЭПОС's options (a school's ``options`` table in the config)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from core.connector import PlatformOptions

__all__ = ["PermOptions"]


class PermOptions(PlatformOptions):
    #: ``"current"`` (``edu-epos.permkrai.ru``) or ``"legacy"`` (``school.permkrai.ru``): the base
    #: URL when the config gives none, and what the web client sends along.
    host: Literal["current", "legacy"] = "current"
    #: One page size for every list (default: the public clients' sizes, note §3).
    per_page: Annotated[int, Field(ge=1, le=10_000)] | None = None
