"""``page`` / ``per_page`` pagination whose first page may be 0 or 1 (note §3: clients differ).

No client reads pagination headers, so the only end signal is a short page. The base is learned
once per connector (:class:`PageBase`): ask for page 0; if it is full, ask for page 1. A server
counting from 1 treats 0 as its first page, so page 1 repeats page 0 — then the base is 1 and
the walk goes on at page 2; otherwise page 1 was the second page and the base is 0. An empty
page 0 followed by a non-empty page 1 also means base 1.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["MAX_PAGES", "PageBase", "fetch_all"]

MAX_PAGES = 10_000

Fetch = Callable[[int], Awaitable[list[Any]]]


class PageBase:
    """The learned first page number (``None`` until a multi-page answer revealed it)."""

    def __init__(self, base: int | None = None) -> None:
        self.value = base


async def fetch_all(fetch: Fetch, per_page: int, base: PageBase) -> list[Any]:
    """Every item of a paged list; ``fetch(page)`` returns one page's raw items."""
    previous_head: Any = object()
    if base.value is None:
        first = await fetch(0)
        if first and len(first) < per_page:
            return first  # one short page: complete whatever the base is
        second = await fetch(1)
        if not first:
            if second:
                base.value = 1
            items, page, last = second, 2, second
        elif second and second[0] == first[0]:
            base.value = 1
            items, page, last = first, 2, second
        else:
            base.value = 0
            items, page, last = first + second, 2, second
        if len(last) < per_page:
            return items
        previous_head = last[0]
    else:
        items, page = [], base.value
    for _ in range(MAX_PAGES):
        chunk = await fetch(page)
        if not chunk or chunk[0] == previous_head:
            break  # empty, or a server that ignores `page` and repeats itself
        items.extend(chunk)
        if len(chunk) < per_page:
            break
        previous_head = chunk[0]
        page += 1
    return items
