"""Per-host limits shared by every HTTP client of a process (:mod:`core.http`): requests in
flight (:class:`AdaptiveLimit`) and requests per second (:class:`TokenBucket`), one pair per
upstream host and event loop."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable

from core.errors import ConfigError
from core.logging import get_logger

__all__ = [
    "DEFAULT_CONCURRENCY",
    "START_CONCURRENCY",
    "AdaptiveLimit",
    "Clock",
    "HostLimiter",
    "Sleep",
    "TokenBucket",
    "host_limits",
    "limiter_for",
]

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]

_log = get_logger("journalsync.http")

#: Requests in flight per upstream host at most (the ceiling of :class:`AdaptiveLimit`) unless
#: the config's ``[hosts."…"] concurrency`` says otherwise, shared by every school and account on
#: that host. No platform documents a limit (the notes: no 429 or quota seen anywhere; Ruobr's
#: anti-DDoS layer refuses non-browser clients, not volume); a browser opens six connections per
#: host for one user, and a school's families reach the same server by the hundred each evening.
#: A pull starts at :data:`START_CONCURRENCY` and goes up to this only while the host answers
#: without push-back and about as fast as its quickest: a 1,000-pupil Ruobr pull 30 ms from the
#: server is 14,800 requests, so requests × 30 ms ÷ 8 alone is nearly a minute (``make bench``).
DEFAULT_CONCURRENCY = 16

#: Requests in flight per host a client starts with (or the ceiling, if that is lower).
START_CONCURRENCY = 8


class TokenBucket:
    """A token bucket (as GCRA): ``rate`` requests per second, ``burst`` of them back to back.

    Each caller reserves the next slot synchronously and then sleeps until it, so concurrent
    callers get distinct slots without a lock, and the arithmetic depends only on the injected
    clock — tests drive it with a fake clock and a fake sleep.
    """

    def __init__(self, rate: float, *, burst: int = 1, clock: Clock = time.monotonic) -> None:
        if rate <= 0:
            raise ConfigError(f"rate limit must be positive, got {rate}")
        self._interval = 1.0 / rate
        self._tolerance = max(burst - 1, 0) * self._interval
        self._clock = clock
        self._tat: float | None = None  # theoretical arrival time of the next request

    def reserve(self) -> float:
        """Take the next slot; return how long the caller must wait before using it."""
        now = self._clock()
        tat = now if self._tat is None else max(self._tat, now)
        wait = max(tat - self._tolerance - now, 0.0)
        self._tat = tat + self._interval
        return wait

    async def acquire(self, sleep: Sleep = asyncio.sleep) -> None:
        wait = self.reserve()
        if wait > 0:
            await sleep(wait)


class AdaptiveLimit:
    """How many requests may be in flight to one host: a semaphore whose size is found while
    talking to the host, as TCP finds its window (additive increase, halving on push-back).

    It starts at ``start`` (at most ``ceiling``) and, after each *window* (as many answers as the
    limit), moves by what the window showed:

    * a push-back — a 429, a 5xx, a timeout or a lost connection, an anti-bot page (the caller
      says so, :meth:`push_back`) — halves it, once per window (one burst is one signal), down
      to one;
    * below ``start``, a window without push-back adds one: back to where the pull began;
    * from ``start`` up, a window that kept every slot busy adds one, up to ``ceiling``, while
      its median answer time stays within twice the quickest window's median. Above that the
      host is slowing down under the load (or our own process is saturated): it takes one
      away, never below ``start``.

    So a host that never pushes back is read at ``ceiling`` after a few windows, and one that
    does is read at what it takes; the answer times alone never take it below ``start`` (a
    host slower for a reason of its own is read as it was before this class existed). State is
    per host and event loop (:func:`limiter_for`), shared by every school on that host.
    """

    #: Answers in a window at least (small limits still average over a few answers).
    MIN_WINDOW = 4
    #: Growth above ``start`` stops where a window's median answer time passes this many times
    #: the quickest window's.
    SLOWDOWN = 2.0

    def __init__(self, ceiling: int, start: int = START_CONCURRENCY, *, host: str = "") -> None:
        self.host = host
        self.ceiling = max(ceiling, 1)
        self.start = min(max(start, 1), self.ceiling)
        self.limit = self.start
        #: The highest the limit has been (the bench prints it).
        self.peak = self.limit
        self.in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._times: list[float] = []  # this window's answer times
        self._answers = 0  # this window's answers, push-backs included
        self._busy = False  # every slot taken at some point of this window
        self._pushed = False  # a push-back in this window
        self._quickest = math.inf  # the quickest window's median answer time

    async def acquire(self) -> None:
        """Wait for a slot; first come, first served."""
        if self.in_flight < self.limit and not self._waiters:
            self.in_flight += 1
            if self.in_flight >= self.limit:
                self._busy = True
            return
        self._busy = True
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.in_flight -= 1  # the slot was handed over as the caller was cancelled
                self._wake()
            else:
                self._waiters.remove(waiter)
            raise

    def release(self, seconds: float | None, *, pushed_back: bool = False) -> None:
        """Give the slot back; ``seconds`` the request took (``None``: no answer to time)."""
        self.in_flight -= 1
        if pushed_back:
            self.push_back()
        elif seconds is not None:
            self._times.append(seconds)
        if pushed_back or seconds is not None:
            self._answers += 1
            if self._answers >= max(self.limit, self.MIN_WINDOW):
                self._end_window()
        self._wake()

    def push_back(self) -> None:
        """The host said it is overloaded: halve the limit (once per window)."""
        if not self._pushed:
            self._pushed = True
            self.limit = max(self.limit // 2, 1)
            # INFO: what a person acts on is the call's own error, if it comes to one
            _log.info("host pushed back: fewer requests at once", host=self.host, limit=self.limit)

    def _end_window(self) -> None:
        times = sorted(self._times)
        self._times.clear()
        self._answers = 0
        if self._pushed:  # the halving was this window's move (it may hold no answer time)
            self._pushed = False
        else:
            median = times[len(times) // 2]
            if self.limit < self.start:
                self.limit += 1
            elif median > self._quickest * self.SLOWDOWN:
                self.limit = max(self.limit - 1, self.start)
            elif self._busy and self.limit < self.ceiling:
                self.limit += 1
                self.peak = max(self.peak, self.limit)
            self._quickest = min(self._quickest, median)
        self._busy = self.in_flight >= self.limit or bool(self._waiters)

    def _wake(self) -> None:
        while self._waiters and self.in_flight < self.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)


class HostLimiter:
    """One host's limits on one event loop: requests in flight, and requests per second."""

    def __init__(
        self, host: str, concurrency: int, rate: float | None, burst: int, clock: Clock
    ) -> None:
        self.slots = AdaptiveLimit(concurrency, host=host)
        self.bucket = TokenBucket(rate, burst=burst, clock=clock) if rate is not None else None


# Keyed by event loop too: asyncio primitives belong to one loop, and tests run many loops.
# A plain dict pruned of closed loops rather than a WeakKeyDictionary: a waiting semaphore holds
# its loop, which would keep a weak key alive forever. The first client for a host on a loop
# decides that host's limits.
_limiters: dict[asyncio.AbstractEventLoop, dict[str, HostLimiter]] = {}


def limiter_for(
    host: str, *, concurrency: int, rate: float | None, burst: int, clock: Clock
) -> HostLimiter:
    """``host``'s limiter on the running loop; the first caller's limits make it."""
    loop = asyncio.get_running_loop()
    per_loop = _limiters.get(loop)
    if per_loop is None:
        for old in [other for other in _limiters if other.is_closed()]:
            del _limiters[old]
        per_loop = _limiters[loop] = {}
    limiter = per_loop.get(host)
    if limiter is None:
        limiter = per_loop[host] = HostLimiter(host, concurrency, rate, burst, clock)
    return limiter


def host_limits() -> dict[str, AdaptiveLimit]:
    """The limits of requests in flight this event loop keeps, by ``host:port``."""
    per_loop = _limiters.get(asyncio.get_running_loop(), {})
    return {host: limiter.slots for host, limiter in per_loop.items()}
