"""What the scheduler runs: a municipality's schools, schedules, windows and limits.

These are plain frozen values. ``journalsync.config`` validates the TOML file into them, so the
scheduler never parses a file and tests can build a plan in a few lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from core.connector import Credentials, PlatformOptions, SchoolTarget
from core.errors import ConfigError
from core.http import DEFAULT_CONCURRENCY, HttpSettings
from core.sync import Limit
from scheduler._alert_settings import AlertSettings
from scheduler._secrets import SecretRef

__all__ = [
    "OPERATIONS",
    "AccountPlan",
    "Blackout",
    "EntityLimits",
    "HostLimits",
    "Limit",
    "Operation",
    "Plan",
    "RunnerSettings",
    "Schedule",
    "SchoolHours",
    "SchoolPlan",
    "SecretRef",
    "TemporalSettings",
    "Window",
    "cron_trigger",
    "host_of",
    "local_today",
]

Operation = Literal["pull", "push", "reconcile", "reports"]
OPERATIONS: tuple[Operation, ...] = ("pull", "push", "reconcile", "reports")
Window = Literal["any", "school_hours", "outside_school_hours"]


@dataclass(frozen=True, slots=True)
class EntityLimits:
    inserts: Limit | None = None
    updates: Limit | None = None
    deletes: Limit | None = None


@dataclass(frozen=True, slots=True)
class Schedule:
    operation: Operation
    cron: str
    window: Window = "any"


@dataclass(frozen=True, slots=True)
class SchoolHours:
    """Lessons happen on these ISO weekdays (1 = Monday) between ``start`` and ``end``."""

    days: frozenset[int] = frozenset({1, 2, 3, 4, 5, 6})
    start: time = time(8, 0)
    end: time = time(18, 0)

    def contains(self, local: datetime) -> bool:
        return local.isoweekday() in self.days and self.start <= local.time() < self.end


@dataclass(frozen=True, slots=True)
class Blackout:
    """No scheduled work in ``[start, end)`` (local time of each school)."""

    name: str
    start: datetime  # naive: the school's local time
    end: datetime
    reason: str = ""
    schools: frozenset[str] = frozenset()  # empty: every school
    platforms: frozenset[str] = frozenset()  # empty: every platform
    operations: frozenset[str] = frozenset()  # empty: every operation

    def covers(self, school: str, platform: str, operation: str, local: datetime) -> bool:
        return (
            (not self.schools or school in self.schools)
            and (not self.platforms or platform in self.platforms)
            and (not self.operations or operation in self.operations)
            and self.start <= local.replace(tzinfo=None) < self.end
        )


@dataclass(frozen=True, slots=True)
class HostLimits:
    """Per upstream host, shared by every school on it."""

    rate_per_second: float | None = None
    burst: int = 1
    concurrency: int = DEFAULT_CONCURRENCY
    #: Schools synced at once against this host.
    schools: int = 4
    #: Tries per request for transient failures, and the backoff between them (seconds).
    max_attempts: int = 4
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    #: HTTP bounds (see :class:`core.http.HttpSettings`): seconds, and bytes of one answer.
    timeout: float = 30.0
    connect_timeout: float = 10.0
    deadline: float = 120.0
    login_deadline: float = 120.0
    max_response_bytes: int = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class AccountPlan:
    """One login: a password, a token, or both, each a reference to where the secret lives."""

    login: str
    password: SecretRef | None = None
    token: SecretRef | None = None
    #: The pupil and class the account is for, as the accounts file named them (for people;
    #: coverage goes by the pupils the platform shows).
    pupil: str = ""
    class_name: str = ""

    def credentials(self) -> Credentials:
        return Credentials(
            login=self.login,
            password=self.password.resolve() if self.password else "",
            token=self.token.resolve() if self.token else "",
        )


@dataclass(frozen=True, slots=True)
class SchoolPlan:
    slug: str
    name: str
    platform: str
    base_url: str
    platform_school: str
    login: str
    password: SecretRef | None
    timezone: str
    schedules: tuple[Schedule, ...] = ()
    thresholds: Mapping[str, EntityLimits] = field(default_factory=dict)
    school_hours: SchoolHours = SchoolHours()
    compliance_profile: str = "default"
    #: The platform's typed options (validated with the config), or raw ones when the config
    #: was read without its platforms.
    options: PlatformOptions | Mapping[str, Any] = field(default_factory=dict)
    token: SecretRef | None = None
    #: More accounts, for platforms whose API shows one family per account.
    accounts: tuple[AccountPlan, ...] = ()
    #: A fixed local date the connector takes as today (sandboxes, replays); ``None``: the clock.
    today: date | None = None
    #: A family-account school's run reading fewer of its pupils than this fraction ends
    #: ``partial`` (``min_coverage`` in the config, a percentage).
    min_coverage: float = 1.0
    #: The binding's name within its school (a school may be bound to several platforms, e.g.
    #: the one it leaves and the one it moves to); empty: the platform's name.
    binding: str = ""
    #: The local date this binding takes effect (scheduled pushes go to the binding in effect);
    #: ``None``: in effect from the start.
    effective: date | None = None

    def __post_init__(self) -> None:
        if not self.binding:
            object.__setattr__(self, "binding", self.platform)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def host(self) -> str:
        return host_of(self.base_url)

    def schedule(self, operation: str) -> Schedule | None:
        return next((s for s in self.schedules if s.operation == operation), None)

    def target(self) -> SchoolTarget:
        """The connector's target, with the password read from where the config points."""
        return SchoolTarget(
            school=self.slug,
            platform=self.platform,
            base_url=self.base_url,
            credentials=AccountPlan(self.login, self.password, self.token).credentials(),
            platform_school=self.platform_school,
            timezone=self.timezone,
            options=self.options,
            accounts=tuple(a.credentials() for a in self.accounts),
        )


@dataclass(frozen=True, slots=True)
class TemporalSettings:
    address: str = "127.0.0.1:7233"
    namespace: str = "default"
    task_queue_prefix: str = "journalsync"
    #: Activities per second per task queue (per upstream host), enforced by the server.
    activities_per_second: float | None = None
    #: A worker that stops heartbeating this long is presumed dead: another takes the run.
    heartbeat_seconds: float = 10.0
    #: Tries of a school's run on a failure the platform may get over (5xx, 429).
    activity_attempts: int = 3
    retry_initial_seconds: float = 1.0


@dataclass(frozen=True, slots=True)
class RunnerSettings:
    #: Schools in flight at once in one process (besides each host's own limit).
    parallel_schools: int = 16
    #: Seconds running slots get to finish when the scheduler stops.
    grace_seconds: float = 300.0
    #: A slot fired this late (after downtime) still runs; older ones are skipped.
    misfire_grace_seconds: int = 3600


@dataclass(frozen=True, slots=True)
class Plan:
    municipality: str
    timezone: str
    store_url: str
    schools: tuple[SchoolPlan, ...]
    blackouts: tuple[Blackout, ...] = ()
    hosts: Mapping[str, HostLimits] = field(default_factory=dict)
    temporal: TemporalSettings = TemporalSettings()
    runner: RunnerSettings = RunnerSettings()
    source: str = "<memory>"
    #: The ``[alerts]`` section; ``None``: no alerts are sent.
    alerts: AlertSettings | None = None
    #: slug → the school's bindings, built once: the scheduler and status ask per school, and a
    #: scan of a thousand schools each time made their loops quadratic.
    _by_slug: Mapping[str, tuple[SchoolPlan, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        index: dict[str, list[SchoolPlan]] = {}
        for s in self.schools:
            index.setdefault(s.slug, []).append(s)
        object.__setattr__(self, "_by_slug", {k: tuple(v) for k, v in index.items()})

    def school(self, slug: str, on: date | None = None) -> SchoolPlan:
        """The school's binding in effect on ``on`` (default: its local today)."""
        return self.in_effect(slug, on)

    def knows(self, slug: str) -> bool:
        """Whether the config names the school."""
        return slug in self._by_slug

    def bindings(self, slug: str) -> tuple[SchoolPlan, ...]:
        """Every platform binding of the school, in the config's order."""
        found = self._by_slug.get(slug, ())
        if not found:
            raise ConfigError(f"no school {slug!r} in {self.source}")
        return found

    def binding(self, slug: str, name: str | None = None) -> SchoolPlan:
        """The school's binding ``name`` (``None``: the one in effect today)."""
        if name is None:
            return self.in_effect(slug)
        found = self.bindings(slug)
        for s in found:
            if s.binding == name:
                return s
        known = ", ".join(s.binding for s in found)
        raise ConfigError(
            f"school {slug!r} has no binding {name!r} in {self.source}; its bindings: {known}"
        )

    def on_platform(self, slug: str, platform: str) -> SchoolPlan:
        """The school's binding on ``platform`` (one per platform: snapshots are per pair)."""
        found = self.bindings(slug)
        for s in found:
            if s.platform == platform:
                return s
        known = ", ".join(f"{s.binding} ({s.platform})" for s in found)
        raise ConfigError(
            f"school {slug!r} has no binding on platform {platform!r} in {self.source};"
            f" its bindings: {known}"
        )

    def in_effect(self, slug: str, on: date | None = None) -> SchoolPlan:
        """The binding in effect on the school's local date ``on``: the latest ``effective`` not
        after it (a binding without ``effective`` is in effect from the start)."""
        found = self.bindings(slug)
        if len(found) == 1:
            return found[0]
        day = on or local_today(found[0])
        started = [s for s in found if s.effective is None or s.effective <= day]
        if not started:  # every binding starts later: the earliest one is the school's
            return min(found, key=lambda s: s.effective or date.min)
        return max(started, key=lambda s: s.effective or date.min)

    def is_in_effect(self, school: SchoolPlan, on: date | None = None) -> bool:
        return self.in_effect(school.slug, on) is school

    def host_limits(self, host: str) -> HostLimits:
        return self.hosts.get(host) or self.hosts.get(host.partition(":")[0]) or HostLimits()

    def http_settings(self, school: SchoolPlan) -> HttpSettings:
        limits = self.host_limits(school.host)
        return HttpSettings(
            rate_per_second=limits.rate_per_second,
            rate_burst=limits.burst,
            max_concurrency=limits.concurrency,
            max_attempts=limits.max_attempts,
            backoff_initial=limits.backoff_initial,
            backoff_max=limits.backoff_max,
            timeout=limits.timeout,
            connect_timeout=limits.connect_timeout,
            deadline=limits.deadline,
            login_deadline=limits.login_deadline,
            max_response_bytes=limits.max_response_bytes,
        )

    def blackout(self, school: SchoolPlan, operation: str, now: datetime) -> Blackout | None:
        local = now.astimezone(school.tz)
        return next(
            (b for b in self.blackouts if b.covers(school.slug, school.platform, operation, local)),
            None,
        )


def local_today(school: SchoolPlan, now: datetime | None = None) -> date:
    """The school's date: its fixed ``today`` when set, else the clock's date in its zone."""
    if school.today is not None:
        return school.today
    return (now or datetime.now(UTC)).astimezone(school.tz).date()


def host_of(base_url: str) -> str:
    """``host:port`` of a base URL (the unit of rate limits and Temporal task queues)."""
    parts = urlsplit(base_url)
    host = parts.hostname or base_url
    return f"{host}:{parts.port}" if parts.port else host


_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _weekday_field(text: str) -> str:
    """Standard cron weekday numbers (0 or 7 = Sunday) as names: APScheduler 3 reads numbers
    with 0 = Monday, a known trap (its issue 286), names mean the same to both."""
    out: list[str] = []
    for item in text.split(","):
        body, _, step = item.partition("/")
        lo, dash, hi = body.partition("-")
        if not (lo.isdigit() and (not dash or hi.isdigit())):
            out.append(item)  # "*", "*/2", names: the same in both readings
            continue
        first, last = int(lo), int(hi) if dash else int(lo)
        if first > 7 or last > 7:
            raise ValueError(f"weekday out of range in {text!r} (0-7, 0 and 7 = Sunday)")
        if not dash and step:
            last = 7  # "1/2" = from Monday on, every second day
        days = range(first, last + 1, int(step) if step else 1)
        out.extend(_WEEKDAYS[d % 7] for d in days)
    return ",".join(dict.fromkeys(out))


def cron_trigger(expr: str, timezone: str | ZoneInfo) -> CronTrigger:
    """A standard 5-field cron expression in ``timezone`` (raises ``ValueError`` when bad)."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields (min hour day month weekday), got {len(fields)}")
    minute, hour, day, month, weekday = fields
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=_weekday_field(weekday),
        timezone=timezone,
    )
