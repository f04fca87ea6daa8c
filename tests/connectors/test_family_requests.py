"""Requests of a family-account school pull, on every platform that reads per family (issue 13
item 6): each account logs in once per pull (no repeated login while its session is valid),
and the accounts are read at once but never more than the per-host limit allows.

Counts, not timings: a transport between the connector and the emulator counts the requests
per path and the most in flight at once. The emulator waits a moment before each answer
(``Faults.slow_seconds``) so that reads started together are in flight together.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace

import httpx
import pytest

from connectors.conformance.harness import BASE_URL, Harness, harnesses
from connectors.sandbox import World, WorldSize
from connectors.sandbox.faults import Faults
from core.platform import platforms
from core.store import Store
from core.sync import pull

SIZE = WorldSize(grades=(5, 7), letters=1, students_per_class=5, weeks=2)
LIMIT = 3


def _family() -> list[Harness]:
    per_family = {name for name, p in platforms().items() if p.per_family}
    return [h for h in harnesses() if h.platform in per_family]


class _Watch(httpx.AsyncBaseTransport):
    """Counts requests per path and the most in flight at once."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.paths: Counter[str] = Counter()
        self.now = self.most = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths[request.url.path] += 1
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            return await self.inner.handle_async_request(request)
        finally:
            self.now -= 1


async def _pull(harness: Harness, tmp: str, *, limit: int, accounts: int | None = None) -> _Watch:
    world = World.generate(harness.seed, SIZE)
    school = next(iter(world.schools))
    app = harness.app(world, Faults(slow_seconds=0.002))
    target = harness.target(world, BASE_URL, school, True)
    if accounts is not None:
        target = replace(target, accounts=target.accounts[: accounts - 1])
    watch = _Watch(httpx.ASGITransport(app=app))
    store = Store.open(f"sqlite:///{tmp}/{harness.platform}-{limit}.db")
    try:
        connector = harness.connect(
            world, target, transport=watch, http=replace(harness.http, max_concurrency=limit)
        )
        async with connector:
            result = await pull(store, connector)
        assert result.records > 0
    finally:
        store.close()
    watch.accounts = len(target.all_accounts)  # type: ignore[attr-defined]
    return watch


@pytest.mark.parametrize("harness", _family(), ids=lambda h: h.platform)
def test_each_account_logs_in_once_per_pull(harness: Harness, tmp_path: object) -> None:
    watch = asyncio.run(_pull(harness, str(tmp_path), limit=LIMIT))
    accounts = watch.accounts  # type: ignore[attr-defined]
    assert accounts > LIMIT
    for path in harness.login_paths:
        assert watch.paths[path] == accounts, (path, watch.paths[path], accounts)


@pytest.mark.parametrize("harness", _family(), ids=lambda h: h.platform)
def test_accounts_are_read_at_once_within_the_per_host_limit(
    harness: Harness, tmp_path: object
) -> None:
    watch = asyncio.run(_pull(harness, str(tmp_path), limit=LIMIT))
    assert watch.most == LIMIT  # at once, and never more than the limit
    one = asyncio.run(_pull(harness, str(tmp_path), limit=1))
    assert one.most == 1
    assert one.paths == watch.paths  # the same requests whatever the limit
