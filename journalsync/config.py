"""The municipality's TOML config, validated once at start-up into a :class:`scheduler.Plan`.

Every error names the file, the line and the key, and says what is wrong::

    journalsync.toml:41: schools[3].password: a password in the config file; write
    password = { env = "VAR" } or { file = "secrets.toml", key = "…" } instead

A school's ``options`` are checked against its platform's typed options model
(``PLATFORM.options``, unknown keys refused) and reported the same way. A school's time zone is
its own ``timezone``, else the municipality's when the file sets one, else the platform's default.

The commented example (``journalsync config example``) is ``config_example.toml`` beside this
module, and it is checked by the tests, so it always validates.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from core.connector import PlatformOptions
from core.errors import ConfigError
from core.http import DEFAULT_CONCURRENCY
from core.platform import Platform
from core.platform import platforms as _installed
from core.store import is_memory, parse_store_url
from journalsync._config_lines import line_for, loc_text, pydantic_errors
from journalsync._config_secrets import check_secrets
from scheduler import (
    CONDITION_KINDS,
    AccountPlan,
    AlertSettings,
    Blackout,
    ConditionKind,
    EntityLimits,
    HostLimits,
    Limit,
    Plan,
    RunnerSettings,
    Schedule,
    SchoolHours,
    SchoolPlan,
    SecretRef,
    SmtpSettings,
    TemporalSettings,
    WebhookSettings,
    cron_trigger,
)

__all__ = ["check_secrets", "example_text", "load_config", "parse_config"]

_SLUG = r"^[a-z0-9][a-z0-9_-]{0,62}$"
_Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WORKDAYS: list[_Day] = ["mon", "tue", "wed", "thu", "fri", "sat"]
_EMAIL = r"^[^@\s<>]+@[^@\s<>]+$"  # alerts (issue 16)
_DAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r} (use an IANA name like Asia/Barnaul)"
        ) from None
    return value


def _cron(value: str) -> str:
    try:
        cron_trigger(value, "UTC")
    except ValueError as exc:
        raise ValueError(f"bad cron expression {value!r}: {exc}") from None
    return value


class _SecretEnv(_Model):
    env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class _SecretFile(_Model):
    file: str
    key: str


class _ScheduleEntry(_Model):
    cron: str
    window: Literal["any", "school_hours", "outside_school_hours"] = "any"

    @field_validator("cron")
    @classmethod
    def _check(cls, v: str) -> str:
        return _cron(v)


_ScheduleValue = Annotated[str, Field()] | _ScheduleEntry


class _Schedules(_Model):
    pull: _ScheduleValue | None = None
    push: _ScheduleValue | None = None
    reconcile: _ScheduleValue | None = None
    reports: _ScheduleValue | None = None

    @field_validator("pull", "push", "reconcile", "reports", mode="after")
    @classmethod
    def _crons(cls, v: str | _ScheduleEntry | None) -> str | _ScheduleEntry | None:
        return _cron(v) if isinstance(v, str) else v

    def entries(self) -> dict[str, _ScheduleEntry]:
        out: dict[str, _ScheduleEntry] = {}
        for op in ("pull", "push", "reconcile", "reports"):
            v = getattr(self, op)
            if v is not None:
                out[op] = _ScheduleEntry(cron=v) if isinstance(v, str) else v
        return out


_LimitValue = Annotated[int, Field(ge=0)] | Annotated[str, Field(pattern=r"^\d+(\.\d+)?\s*%$")]


class _EntityLimits(_Model):
    inserts: _LimitValue | None = None
    updates: _LimitValue | None = None
    deletes: _LimitValue | None = None


class _SchoolHours(_Model):
    days: list[_Day] = Field(default_factory=lambda: list(_WORKDAYS))
    start: time = time(8, 0)
    end: time = time(18, 0)

    @model_validator(mode="after")
    def _order(self) -> _SchoolHours:
        if self.end <= self.start:
            raise ValueError("school hours end before they start")
        return self


class _Blackout(_Model):
    name: str
    start: datetime
    end: datetime
    reason: str = ""
    schools: list[str] = Field(default_factory=list)
    platforms: list[str] = Field(default_factory=list)
    operations: list[Literal["pull", "push", "reconcile", "reports"]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _order(self) -> _Blackout:
        if self.start.tzinfo or self.end.tzinfo:
            raise ValueError("write local date-times without an offset (the school's time zone)")
        if self.end <= self.start:
            raise ValueError("the blackout ends before it starts")
        return self


class _Host(_Model):
    rate: Annotated[float, Field(gt=0)] | None = None
    burst: Annotated[int, Field(ge=1)] = 1
    concurrency: Annotated[int, Field(ge=1)] = DEFAULT_CONCURRENCY
    schools: Annotated[int, Field(ge=1)] = 4
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 4
    backoff_initial: Annotated[float, Field(ge=0)] = 0.5
    backoff_max: Annotated[float, Field(ge=0)] = 30.0
    timeout: Annotated[float, Field(gt=0)] = 30.0
    connect_timeout: Annotated[float, Field(gt=0)] = 10.0
    deadline: Annotated[float, Field(gt=0)] = 120.0
    login_deadline: Annotated[float, Field(gt=0)] = 120.0
    max_response_bytes: Annotated[int, Field(ge=1024)] = 64 * 1024 * 1024


_Secret = _SecretEnv | _SecretFile


class _Account(_Model):
    login: str
    password: _Secret | None = None
    token: _Secret | None = None
    pupil: str = ""
    class_: Annotated[str, Field(alias="class")] = ""

    @field_validator("password", "token", mode="before")
    @classmethod
    def _no_secret(cls, v: Any) -> Any:
        return _refuse_plain(v)

    @model_validator(mode="after")
    def _some_secret(self) -> _Account:
        if self.password is None and self.token is None:
            raise ValueError("give a password or a token reference")
        return self


def _refuse_plain(v: Any) -> Any:
    if isinstance(v, str):
        raise ValueError(
            'a secret in the config file; write { env = "VAR" } '
            'or { file = "secrets.toml", key = "…" } instead'
        )
    return v


#: The keys of one platform binding; a school writes them flat (one binding) or per
#: ``[[schools.bindings]]`` entry (a school moving between platforms).
_BINDING_KEYS = (
    "platform",
    "base_url",
    "platform_school",
    "login",
    "password",
    "token",
    "accounts",
    "options",
    "timezone",
    "today",
)


class _Binding(_Model):
    """One platform a school is bound to, with its address, ids and accounts."""

    name: Annotated[str, Field(pattern=_SLUG)] | None = None
    platform: str
    base_url: Annotated[str, Field(pattern=r"^https?://[^/\s]+")]
    platform_school: str = ""
    login: str
    password: _Secret | None = None
    token: _Secret | None = None
    accounts: list[_Account] = Field(default_factory=list)
    timezone: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    #: A fixed date the connector takes as today (sandboxes on a generated world, replays).
    today: date | None = None
    #: The local date the school's move to this binding takes effect (pushes go to it from
    #: then on); ``None``: in effect from the start.
    effective: date | None = None

    @field_validator("password", "token", mode="before")
    @classmethod
    def _no_secret(cls, v: Any) -> Any:
        return _refuse_plain(v)

    @model_validator(mode="after")
    def _some_secret(self) -> _Binding:
        if self.password is None and self.token is None:
            raise ValueError("give a password or a token reference (password = { env = … })")
        return self

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        return v if v is None else _zone(v)

    @property
    def label(self) -> str:
        return self.name or self.platform


class _School(_Model):
    slug: Annotated[str, Field(pattern=_SLUG)]
    name: str
    # One binding written flat (the school's only platform) …
    platform: str | None = None
    base_url: Annotated[str, Field(pattern=r"^https?://[^/\s]+")] | None = None
    platform_school: str = ""
    login: str | None = None
    password: _Secret | None = None
    token: _Secret | None = None
    accounts: list[_Account] = Field(default_factory=list)
    timezone: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    #: A fixed date the connector takes as today (sandboxes on a generated world, replays).
    today: date | None = None
    # … or several (``[[schools.bindings]]``), e.g. the platform it leaves and the one it joins.
    bindings: list[_Binding] = Field(default_factory=list)
    #: Percent of the school's pupils a family-account pull must read to end "done".
    min_coverage: Annotated[float, Field(gt=0, le=100)] = 100.0
    schedules: _Schedules | None = None
    school_hours: _SchoolHours | None = None
    thresholds: dict[str, _EntityLimits] = Field(default_factory=dict)
    compliance_profile: str | None = None

    @field_validator("password", "token", mode="before")
    @classmethod
    def _no_secret(cls, v: Any) -> Any:
        return _refuse_plain(v)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        return v if v is None else _zone(v)

    def resolved(self) -> list[tuple[_Binding, tuple[str | int, ...]]]:
        """Each binding with where it is written (flat: the school itself, one implicit
        binding named after its platform). Call after :func:`_check_bindings` passed."""
        if self.bindings:
            return [(b, ("bindings", j)) for j, b in enumerate(self.bindings)]
        flat = {k: getattr(self, k) for k in _BINDING_KEYS if k in self.model_fields_set}
        return [(_Binding.model_validate(flat), ())]


class _Municipality(_Model):
    name: str
    timezone: str = "Europe/Moscow"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return _zone(v)


class _Store(_Model):
    url: str = "sqlite:///journalsync.db"

    @field_validator("url")
    @classmethod
    def _supported(cls, v: str) -> str:
        try:
            url = parse_store_url(v)
        except ConfigError as exc:
            raise ValueError(exc.message) from None
        if url.password:
            # Refused like a password written for a school: the config file is read by many.
            raise ValueError(
                "a password in the store URL; leave it out and put it in $PGPASSWORD or"
                " ~/.pgpass (the server's password file)"
            )
        if is_memory(url):
            raise ValueError("an in-memory store keeps nothing; give a file or a server")
        return v


class _Temporal(_Model):
    address: str = "127.0.0.1:7233"
    namespace: str = "default"
    task_queue_prefix: str = "journalsync"
    activities_per_second: Annotated[float, Field(gt=0)] | None = None
    heartbeat_seconds: Annotated[float, Field(ge=1)] = 10.0
    activity_attempts: Annotated[int, Field(ge=1, le=20)] = 3
    retry_initial_seconds: Annotated[float, Field(ge=0)] = 1.0


class _Scheduler(_Model):
    parallel_schools: Annotated[int, Field(ge=1, le=1000)] = 16
    grace_seconds: Annotated[float, Field(ge=0)] = 300.0
    misfire_grace_seconds: Annotated[int, Field(ge=1)] = 3600


class _Compliance(_Model):
    profile: str = "default"


# -- alerts (``[alerts]``: scheduler/alerts) ---------------------------------------------------


class _Alerts(_Model):
    failed_runs: Annotated[int, Field(ge=1, le=100)] = 3
    coverage_minimum: Annotated[float, Field(gt=0, le=1)] | None = None
    conditions: list[ConditionKind] = Field(default_factory=lambda: list(CONDITION_KINDS))
    webhook_url: Annotated[str, Field(pattern=r"^https?://[^/\s@]+(/\S*)?$")] | None = None
    webhook_token: _Secret | None = None
    webhook_timeout: Annotated[float, Field(gt=0, le=300)] = 10.0
    smtp_host: Annotated[str, Field(min_length=1)] | None = None
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 25
    smtp_from: Annotated[str, Field(pattern=_EMAIL)] | None = None
    smtp_to: list[Annotated[str, Field(pattern=_EMAIL)]] = Field(default_factory=list)
    smtp_user: str | None = None
    smtp_password: _Secret | None = None
    smtp_tls: Literal["none", "starttls", "ssl"] = "none"
    smtp_timeout: Annotated[float, Field(gt=0, le=300)] = 30.0

    @field_validator("webhook_token", "smtp_password", mode="before")
    @classmethod
    def _no_secret(cls, v: Any) -> Any:
        return _refuse_plain(v)

    @model_validator(mode="after")
    def _complete(self) -> _Alerts:
        if self.webhook_token is not None and self.webhook_url is None:
            raise ValueError("webhook_token without webhook_url")
        smtp = [self.smtp_from, self.smtp_to, self.smtp_user, self.smtp_password]
        if self.smtp_host is None:
            if any(smtp):
                raise ValueError("smtp_from / smtp_to / smtp_user / smtp_password need smtp_host")
        elif self.smtp_from is None or not self.smtp_to:
            raise ValueError("e-mail alerts need smtp_from and at least one address in smtp_to")
        if (self.smtp_user is None) != (self.smtp_password is None):
            raise ValueError("give smtp_user and smtp_password together (or neither)")
        if self.webhook_url is None and self.smtp_host is None:
            raise ValueError("no channel: give webhook_url, smtp_host, or both")
        return self


def _alert_settings(raw: _Alerts | None, path: Path) -> AlertSettings | None:
    if raw is None:
        return None
    webhook = smtp = None
    if raw.webhook_url is not None:
        webhook = WebhookSettings(
            url=raw.webhook_url, token=_ref(raw.webhook_token, path), timeout=raw.webhook_timeout
        )
    if raw.smtp_host is not None and raw.smtp_from is not None:
        smtp = SmtpSettings(
            host=raw.smtp_host,
            port=raw.smtp_port,
            sender=raw.smtp_from,
            recipients=tuple(raw.smtp_to),
            username=raw.smtp_user,
            password=_ref(raw.smtp_password, path),
            tls=raw.smtp_tls,
            timeout=raw.smtp_timeout,
        )
    return AlertSettings(
        failed_runs=raw.failed_runs,
        coverage_minimum=raw.coverage_minimum,
        conditions=tuple(dict.fromkeys(raw.conditions)),
        webhook=webhook,
        smtp=smtp,
    )


# -- end of alerts ------------------------------------------------------------------------------


class _Config(_Model):
    municipality: _Municipality
    store: _Store = _Store()
    schedules: _Schedules = _Schedules()
    school_hours: _SchoolHours = _SchoolHours()
    thresholds: dict[str, _EntityLimits] = Field(default_factory=dict)
    blackouts: list[_Blackout] = Field(default_factory=list)
    hosts: dict[str, _Host] = Field(default_factory=dict)
    compliance: _Compliance = _Compliance()
    temporal: _Temporal = _Temporal()
    scheduler: _Scheduler = _Scheduler()
    alerts: _Alerts | None = None  # alerts (issue 16)
    schools: Annotated[list[_School], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique(self) -> _Config:
        seen: set[str] = set()
        for s in self.schools:
            if s.slug in seen:
                raise ValueError(f"school slug {s.slug!r} appears twice")
            seen.add(s.slug)
        return self


# -- to the plan --------------------------------------------------------------------------------


def _limit(v: int | str | None) -> Limit | None:
    if v is None:
        return None
    if isinstance(v, str):
        return Limit(float(v.rstrip("% ")), percent=True)
    return Limit(float(v))


def _limits(raw: dict[str, _EntityLimits]) -> dict[str, EntityLimits]:
    return {
        entity: EntityLimits(_limit(e.inserts), _limit(e.updates), _limit(e.deletes))
        for entity, e in raw.items()
    }


def _hours(h: _SchoolHours) -> SchoolHours:
    return SchoolHours(days=frozenset(_DAYS[d] for d in h.days), start=h.start, end=h.end)


def _ref(secret: _SecretEnv | _SecretFile | None, path: Path) -> SecretRef | None:
    if secret is None:
        return None
    if isinstance(secret, _SecretEnv):
        return SecretRef(env=secret.env)
    file = Path(secret.file).expanduser()
    return SecretRef(file=file if file.is_absolute() else path.parent / file, key=secret.key)


def _plan(
    cfg: _Config,
    path: Path,
    options: Mapping[tuple[str, str], PlatformOptions],
    known: Mapping[str, Platform],
) -> Plan:
    schools: list[SchoolPlan] = []
    # The municipality's zone applies to its schools only when the file sets it.
    muni_tz = cfg.municipality.timezone if "timezone" in cfg.municipality.model_fields_set else None
    for s in cfg.schools:
        entries = cfg.schedules.entries()
        if s.schedules is not None:
            entries.update(s.schedules.entries())
        thresholds = _limits(cfg.thresholds)
        for entity, lim in _limits(s.thresholds).items():
            base = thresholds.get(entity, EntityLimits())
            thresholds[entity] = EntityLimits(
                lim.inserts or base.inserts,
                lim.updates or base.updates,
                lim.deletes or base.deletes,
            )
        for b, _where in s.resolved():
            platform = known.get(b.platform)
            default_tz = platform.timezone if platform is not None else cfg.municipality.timezone
            schools.append(
                SchoolPlan(
                    slug=s.slug,
                    name=s.name,
                    platform=b.platform,
                    base_url=b.base_url.rstrip("/"),
                    platform_school=b.platform_school,
                    login=b.login,
                    password=_ref(b.password, path),
                    token=_ref(b.token, path),
                    accounts=tuple(
                        AccountPlan(
                            a.login,
                            _ref(a.password, path),
                            _ref(a.token, path),
                            pupil=a.pupil,
                            class_name=a.class_,
                        )
                        for a in b.accounts
                    ),
                    min_coverage=s.min_coverage / 100,
                    timezone=b.timezone or muni_tz or default_tz,
                    schedules=tuple(
                        Schedule(op, e.cron, e.window)  # type: ignore[arg-type]
                        for op, e in entries.items()
                    ),
                    thresholds=thresholds,
                    school_hours=_hours(s.school_hours or cfg.school_hours),
                    compliance_profile=s.compliance_profile or cfg.compliance.profile,
                    options=options.get((s.slug, b.label), dict(b.options)),
                    today=b.today,
                    binding=b.label,
                    effective=b.effective,
                )
            )
    return Plan(
        municipality=cfg.municipality.name,
        timezone=cfg.municipality.timezone,
        store_url=cfg.store.url,
        schools=tuple(schools),
        blackouts=tuple(
            Blackout(
                name=b.name,
                start=b.start,
                end=b.end,
                reason=b.reason,
                schools=frozenset(b.schools),
                platforms=frozenset(b.platforms),
                operations=frozenset(b.operations),
            )
            for b in cfg.blackouts
        ),
        hosts={
            h: HostLimits(
                rate_per_second=v.rate,
                burst=v.burst,
                concurrency=v.concurrency,
                schools=v.schools,
                max_attempts=v.max_attempts,
                backoff_initial=v.backoff_initial,
                backoff_max=v.backoff_max,
                timeout=v.timeout,
                connect_timeout=v.connect_timeout,
                deadline=v.deadline,
                login_deadline=v.login_deadline,
                max_response_bytes=v.max_response_bytes,
            )
            for h, v in cfg.hosts.items()
        },
        temporal=TemporalSettings(
            address=cfg.temporal.address,
            namespace=cfg.temporal.namespace,
            task_queue_prefix=cfg.temporal.task_queue_prefix,
            activities_per_second=cfg.temporal.activities_per_second,
            heartbeat_seconds=cfg.temporal.heartbeat_seconds,
            activity_attempts=cfg.temporal.activity_attempts,
            retry_initial_seconds=cfg.temporal.retry_initial_seconds,
        ),
        runner=RunnerSettings(
            parallel_schools=cfg.scheduler.parallel_schools,
            grace_seconds=cfg.scheduler.grace_seconds,
            misfire_grace_seconds=cfg.scheduler.misfire_grace_seconds,
        ),
        source=str(path),
        alerts=_alert_settings(cfg.alerts, path),  # alerts (issue 16)
    )


def _check_bindings(cfg: _Config, path: str, text: str) -> list[str]:
    """A school's platform keys are flat or in ``bindings``, never both; bindings differ in
    name, platform (snapshots are per school and platform) and ``effective`` date."""
    errors: list[str] = []

    def err(loc: tuple[str | int, ...], msg: str) -> None:
        errors.append(f"{path}:{line_for(text, loc)}: {loc_text(loc)}: {msg}")

    for i, s in enumerate(cfg.schools):
        flat = [k for k in _BINDING_KEYS if k in s.model_fields_set]
        if s.bindings:
            for k in flat:
                err(
                    ("schools", i, k),
                    f"school {s.slug!r} has [[schools.bindings]]: write {k} in each binding,"
                    " not beside them",
                )
            names: dict[str, int] = {}
            platforms: dict[str, str] = {}
            starts: dict[date | None, str] = {}
            for j, b in enumerate(s.bindings):
                loc: tuple[str | int, ...] = ("schools", i, "bindings", j)
                if b.label in names:
                    err((*loc, "name"), f"binding {b.label!r} appears twice in school {s.slug!r}")
                names.setdefault(b.label, j)
                if b.platform in platforms:
                    err(
                        (*loc, "platform"),
                        f"school {s.slug!r} has two bindings on {b.platform}"
                        f" ({platforms[b.platform]!r} and {b.label!r}); one per platform"
                        " (its snapshots and state are kept per school and platform)",
                    )
                platforms.setdefault(b.platform, b.label)
                if b.effective in starts:
                    when = f"on {b.effective}" if b.effective else "from the start (no effective)"
                    err(
                        (*loc, "effective"),
                        f"bindings {starts[b.effective]!r} and {b.label!r} of school {s.slug!r}"
                        f" both take effect {when}; give each its own effective date",
                    )
                starts.setdefault(b.effective, b.label)
            continue
        for k in ("platform", "base_url", "login"):
            if getattr(s, k) is None:
                err(("schools", i, k), "required key is missing (or give [[schools.bindings]])")
        if s.password is None and s.token is None and s.platform is not None:
            err(
                ("schools", i),
                "give a password or a token reference (password = { env = … })",
            )
    return errors


def _check_options(
    cfg: _Config, path: str, text: str, known: Mapping[str, Platform]
) -> tuple[dict[tuple[str, str], PlatformOptions], list[str]]:
    """Each binding's options as its platform's typed model, and a line per bad key."""
    out: dict[tuple[str, str], PlatformOptions] = {}
    errors: list[str] = []
    for i, s in enumerate(cfg.schools):
        for b, where in s.resolved():
            platform = known.get(b.platform)
            if platform is None:
                continue
            try:
                out[(s.slug, b.label)] = platform.options.model_validate(b.options)
            except ValidationError as exc:
                for err in exc.errors():
                    loc = ("schools", i, *where, "options", *err["loc"])
                    msg = err["msg"].removeprefix("Value error, ")
                    if err["type"] == "extra_forbidden":
                        msg = f"unknown option (a typo, or a key {b.platform} does not take)"
                    errors.append(f"{path}:{line_for(text, loc)}: {loc_text(loc)}: {msg}")
    return out, errors


def _check_references(
    cfg: _Config, path: str, text: str, platforms: Sequence[str] | None
) -> list[str]:
    errors: list[str] = []
    slugs = {s.slug for s in cfg.schools}
    for i, s in enumerate(cfg.schools):
        for b, where in s.resolved():
            if platforms is not None and b.platform not in platforms:
                loc = ("schools", i, *where, "platform")
                errors.append(
                    f"{path}:{line_for(text, loc)}: {loc_text(loc)}: unknown platform "
                    f"{b.platform!r}; installed: {', '.join(sorted(platforms)) or 'none'}"
                )
    for i, bo in enumerate(cfg.blackouts):
        for slug in bo.schools:
            if slug not in slugs:
                loc = ("blackouts", i, "schools")
                errors.append(f"{path}:{line_for(text, loc)}: {loc_text(loc)}: no school {slug!r}")
    return errors


def parse_config(
    text: str,
    path: str | Path = "<string>",
    *,
    platforms: Sequence[str] | Mapping[str, Platform] | None = None,
) -> Plan:
    """Validate TOML text into a plan; ``ConfigError`` lists every problem with file:line: key.

    ``platforms``: the platforms to check schools against — descriptors, or names of installed
    ones (``None``: unchecked; options then stay as written).
    """
    where = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{where}: not valid TOML: {exc}", hint="fix the syntax at that line"
        ) from None
    except RecursionError:  # tomllib recurses per nested array or table (found by fuzzing)
        raise ConfigError(
            f"{where}: not valid TOML: arrays or tables nested too deeply",
            hint="no journalsync setting nests more than a few levels",
        ) from None
    try:
        cfg = _Config.model_validate(data)
    except ValidationError as exc:
        problems = pydantic_errors(where, text, exc)
        raise ConfigError(
            f"{where}: {len(problems)} problem(s):\n  " + "\n  ".join(problems),
            hint="`journalsync config example` prints a commented example",
        ) from None
    known = _descriptors(platforms)
    problems = _check_bindings(cfg, where, text)
    if problems:
        raise ConfigError(f"{where}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    problems = _check_references(cfg, where, text, None if platforms is None else sorted(platforms))
    options, bad_options = _check_options(cfg, where, text, known)
    problems += bad_options
    if problems:
        raise ConfigError(f"{where}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    return _plan(cfg, Path(path), options, known)


def _descriptors(platforms: Sequence[str] | Mapping[str, Platform] | None) -> dict[str, Platform]:
    if platforms is None:
        return {}
    if isinstance(platforms, Mapping):
        return dict(platforms)
    return {n: p for n, p in _installed().items() if n in platforms}


def load_config(path: str | Path, *, check_platforms: bool = True) -> Plan:
    """Read and validate a config file (platforms checked against the installed connectors)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {p} is not UTF-8 text (byte {exc.start} cannot be decoded)",
            hint="save the file as UTF-8",
        ) from None
    platforms: dict[str, Platform] | None = None
    if check_platforms:
        platforms = _installed()
    return parse_config(text, p, platforms=platforms)


def example_text() -> str:
    """The commented example config (validates as is)."""
    return files("journalsync").joinpath("config_example.toml").read_text(encoding="utf-8")
