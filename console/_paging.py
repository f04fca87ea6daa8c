"""Cursor pages of the console's lists: a cursor carries the sort key of a page's last row."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from core.errors import ConfigError

__all__ = ["DAMAGED", "Page", "decode_cursor", "encode_cursor", "keyset"]

DAMAGED = "the cursor is damaged: use the next_cursor of the last page"


def encode_cursor(key: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list[Any] | None:
    """The key a cursor carries; a damaged cursor is the caller's error (400)."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise ConfigError(DAMAGED) from None
    if not isinstance(key, list) or not all(isinstance(k, str | int) for k in key):
        raise ConfigError(DAMAGED)
    return key


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Any]
    next_cursor: str | None


def keyset(items: list[Any], key: Any, cursor: str | None, limit: int) -> Page:
    """Items (already sorted by ``key``) after the cursor's key, ``limit`` of them."""
    after = decode_cursor(cursor)
    if after is not None:
        try:
            items = [i for i in items if list(key(i)) > after]
        except TypeError:  # a cursor of another list's shape (a number where a name goes)
            raise ConfigError(DAMAGED) from None
    shown = items[:limit]
    nxt = encode_cursor(key(shown[-1])) if len(items) > limit and shown else None
    return Page(shown, nxt)
