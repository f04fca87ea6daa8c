"""``core.platform.each_account``: reads of many accounts at once, within a limit, in order."""

from __future__ import annotations

import asyncio

import pytest

from core.platform import each_account


async def test_results_come_in_the_items_order_whatever_finishes_first() -> None:
    async def read(n: int) -> int:
        for _ in range(10 - n):  # the later items finish first
            await asyncio.sleep(0)
        return n * n

    assert await each_account(list(range(10)), read, limit=4) == [n * n for n in range(10)]


@pytest.mark.parametrize("limit", [1, 2, 5])
async def test_never_more_than_the_limit_at_once_and_the_limit_is_reached(limit: int) -> None:
    running = most = 0

    async def read(n: int) -> int:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        running -= 1
        return n

    assert await each_account(list(range(12)), read, limit=limit) == list(range(12))
    assert most == limit


async def test_a_failure_stops_the_other_reads_and_is_raised() -> None:
    started: list[int] = []
    finished: list[int] = []

    async def read(n: int) -> int:
        started.append(n)
        if n == 1:
            raise ValueError("account 1 refused")
        await asyncio.sleep(0.05)
        finished.append(n)
        return n

    with pytest.raises(ValueError, match="account 1 refused"):
        await each_account(list(range(8)), read, limit=3)
    assert finished == []  # the reads under way were cancelled
    assert len(started) <= 4  # none started after the failure but the ones in the pool
