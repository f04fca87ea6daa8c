"""The scope runner: a stream's pass over its scopes, page by page, for every connector.

A connector says what a stream's scopes are and how to read them (:class:`Scopes`); the runner
does the pass bookkeeping (:mod:`._cursor`): it resumes an incomplete pass by skipping the scopes
its cursor holds, passes what is left through the connector's sampling, reads it, yields one
:class:`~core.connector.Page` per scope with the cursor after that page (complete on the last),
closes a pass with nothing left by an empty page, and — for family-account platforms — gives
each page the groups and pupils the accounts see so far (:func:`._cursor.visible_members`).

Reading. Scopes that one request set answers together (all weeks of one class, read through
every account of the class) form a *unit* (:attr:`Scopes.unit`); the runner calls
:attr:`Scopes.read_unit` once per unit, or :attr:`Scopes.read` once per scope where each scope
is read alone. Pages come out in the scopes' order whatever the reading does, so a pull that
stops part-way leaves a cursor naming exactly the pages committed.

``read_ahead`` (default 1: one unit at a time) lets the runner read that many units at once as
asyncio tasks, yielding each unit's pages in order as soon as the units before it are yielded:
a reader that is safe to run concurrently (no shared session switched per account, no state
carried from one scope to the next) can opt in, bounded by the transport's per-host limit.

Accounts. Family-account platforms read the same thing through hundreds of accounts (a login,
a pupil's schedule); :func:`each_account` runs such reads ``limit`` at a time (the per-host
concurrency: more would only queue at the transport) and returns their results in the items'
order, so what a page holds does not depend on which answer came first.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from core.connector import Page

from ._batch import PageBatch
from ._cursor import closing_page, pass_cursor, start_pass, visible_members

__all__ = ["Sampler", "Scopes", "each_account", "one_page", "run_pass", "run_streams"]

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")


async def each_account(
    items: Sequence[T], read: Callable[[T], Awaitable[R]], *, limit: int
) -> list[R]:
    """``read(item)`` for every item, at most ``limit`` running at once; the results in the
    items' order. The first failure cancels the reads still running and is raised."""
    if limit <= 1 or len(items) <= 1:
        return [await read(item) for item in items]
    results: list[R | None] = [None] * len(items)
    queue = iter(enumerate(items))

    async def worker() -> None:
        for n, item in queue:  # one shared iterator: each item is taken by one worker
            results[n] = await read(item)

    tasks = [asyncio.ensure_future(worker()) for _ in range(min(limit, len(items)))]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return results  # type: ignore[return-value]  # every slot is set once gather returns


class Sampler(Protocol):
    """:meth:`core.connector.Connector.sampled`: all scopes, or a few while sampling."""

    def __call__(
        self, scopes: Sequence[T], prefer: Callable[[T], Any] | None = None, /
    ) -> Sequence[T]: ...


@dataclass(slots=True)
class Scopes(Generic[S]):
    """One stream of a pull: its scopes in reading order and how to read them.

    Give either ``read`` (one scope → its batch) or ``read_unit`` (the pending scopes of one
    unit, in order → one batch each, in the same order) with ``unit``.
    """

    stream: str
    #: Entities each page of the stream carries in full (:attr:`Page.complete_for`).
    complete_for: frozenset[str]
    #: This pass's scopes (the pull mode's window already applied), in reading order.
    scopes: Sequence[S]
    #: A scope's key: the page's scope and its entry in the cursor's ``done``.
    key: Callable[[S], str]
    read: Callable[[S], Awaitable[PageBatch]] | None = None
    read_unit: Callable[[Sequence[S]], Awaitable[Sequence[PageBatch]]] | None = None
    #: Scopes with the same unit are read by one :attr:`read_unit` call.
    unit: Callable[[S], Hashable] | None = None
    #: Sampling prefers the least by this (e.g. the weeks nearest today); see ``sampled``.
    prefer: Callable[[S], Any] | None = None
    #: Family-account platforms: group id → the pupils the accounts see (from the roster);
    #: each page gets it, grown by the groups the pages read so far. ``None``: the pages see
    #: their whole scope.
    visible: Mapping[str, frozenset[str]] | None = None
    #: Cursor keys kept beside the standard three on every page and on the closing page.
    extra: Mapping[str, Any] | None = None
    #: Units read at once (module doc); 1 reads one after another.
    read_ahead: int = 1

    def __post_init__(self) -> None:
        if (self.read is None) == (self.read_unit is None):
            raise TypeError(f"{self.stream}: give either read or read_unit")
        if self.read_unit is not None and self.unit is None:
            raise TypeError(f"{self.stream}: read_unit needs unit")
        if self.read_ahead < 1:
            raise ValueError(f"{self.stream}: read_ahead must be at least 1")


def one_page(
    stream: str,
    batch: PageBatch,
    complete_for: frozenset[str],
    visible: Mapping[str, frozenset[str]] | None = None,
) -> Scopes[str]:
    """A one-scope stream (the roster): the scope is the stream's name, the page ``batch``."""

    async def read(_: str) -> PageBatch:
        return batch

    return Scopes(stream, complete_for, [stream], key=str, read=read, visible=visible)


async def run_streams(
    cursors: Mapping[str, Mapping[str, Any]],
    *streams: Scopes[Any],
    sample: Sampler | None = None,
) -> AsyncGenerator[Page, None]:
    """Each stream's pass (:func:`run_pass`) from its stored cursor, one stream after another."""
    for scopes in streams:
        async with aclosing(run_pass(scopes, cursors.get(scopes.stream), sample=sample)) as pages:
            async for page in pages:
                yield page


async def run_pass(
    scopes: Scopes[S],
    cursor: Mapping[str, Any] | None,
    *,
    sample: Sampler | None = None,
) -> AsyncGenerator[Page, None]:
    """The pages of ``scopes``' pass that ``cursor`` leads to (module doc)."""
    number, done, _ = start_pass(cursor)
    held = set(done)
    key = scopes.key
    todo: Sequence[S] = [sc for sc in scopes.scopes if key(sc) not in held]
    if sample is not None:
        todo = sample(todo, scopes.prefer)
    if not todo:
        yield closing_page(scopes.stream, number, done, scopes.extra)
        return
    seen = dict(scopes.visible) if scopes.visible is not None else None
    left = len(todo)
    # Closed with the pass: a pull abandoned part-way stops the reads it started (read_ahead).
    async with aclosing(_read_units(scopes, _units(scopes, todo))) as units:
        async for unit, batches in units:
            if len(batches) != len(unit):
                raise RuntimeError(
                    f"{scopes.stream}: read {len(batches)} batches for {len(unit)} scopes"
                )
            for scope, batch in zip(unit, batches, strict=True):
                name = key(scope)
                done = [*done, name]
                left -= 1
                yield Page(
                    stream=scopes.stream,
                    scope=name,
                    records=batch.records,
                    quarantine=batch.quarantine,
                    cursor=pass_cursor(number, done, complete=left == 0, extra=scopes.extra),
                    complete_for=scopes.complete_for,
                    visible_members=(
                        None if seen is None else visible_members(batch.records, seen)
                    ),
                )


def _units(scopes: Scopes[S], todo: Sequence[S]) -> list[list[S]]:
    """``todo`` cut into reading units: by :attr:`Scopes.unit` (units in the order first met,
    each unit's scopes in ``todo``'s order), else one scope each."""
    if scopes.unit is None:
        return [[sc] for sc in todo]
    units: dict[Hashable, list[S]] = {}
    for sc in todo:
        units.setdefault(scopes.unit(sc), []).append(sc)
    return list(units.values())


async def _read(scopes: Scopes[S], unit: Sequence[S]) -> Sequence[PageBatch]:
    if scopes.read_unit is not None:
        return await scopes.read_unit(unit)
    assert scopes.read is not None and len(unit) == 1
    return [await scopes.read(unit[0])]


async def _read_units(
    scopes: Scopes[S], units: list[list[S]]
) -> AsyncGenerator[tuple[list[S], Sequence[PageBatch]], None]:
    """Each unit with its batches, in order; up to :attr:`Scopes.read_ahead` read at once."""
    if scopes.read_ahead == 1:
        for unit in units:
            yield unit, await _read(scopes, unit)
        return
    pending: deque[tuple[list[S], asyncio.Task[Sequence[PageBatch]]]] = deque()
    try:
        for unit in units:
            pending.append((unit, asyncio.ensure_future(_read(scopes, unit))))
            if len(pending) >= scopes.read_ahead:
                first, task = pending.popleft()
                yield first, await task
        while pending:
            first, task = pending.popleft()
            yield first, await task
    finally:
        # A pull abandoned or failed part-way leaves no read running behind it.
        for _, task in pending:
            task.cancel()
        await asyncio.gather(*(task for _, task in pending), return_exceptions=True)
