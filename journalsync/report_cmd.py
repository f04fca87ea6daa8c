"""``journalsync report KIND``: compliance findings and the school reports (XLSX, PDF, HTML).

KIND is one of ``compliance`` (a school, or several schools = the municipality), ``summary``
(сводная ведомость итоговых оценок), ``results`` (успеваемость и качество знаний), ``tabel``
(a student's report card), ``attendance``, ``timeliness`` (teachers' journal filling) and
``forecast`` (period finals from current weighted marks). Data comes from the store: a
platform's snapshot with ``--platform``, else the school's local journal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from core.compliance import (
    PROFILES,
    ComplianceResult,
    JournalFrame,
    attendance_summary,
    check_frame,
    class_results,
    compliance_report,
    explain_rows,
    find_period,
    forecast,
    frame_from_store,
    get_profile,
    read_curriculum,
    report_card,
    summary_sheet,
    timeliness,
    write_report,
)
from core.documents import TableDocument
from core.errors import ConfigError
from core.platform import connector_class
from core.store import Store
from journalsync._common import console, open_store, reported_errors
from journalsync.config import load_config
from scheduler import Plan, SchoolPlan

__all__ = ["Kind", "report", "report_documents", "report_settings"]


class Kind(StrEnum):
    COMPLIANCE = "compliance"
    SUMMARY = "summary"
    RESULTS = "results"
    TABEL = "tabel"
    ATTENDANCE = "attendance"
    TIMELINESS = "timeliness"
    FORECAST = "forecast"


class Format(StrEnum):
    XLSX = "xlsx"
    PDF = "pdf"
    HTML = "html"


def _as_of(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _caps(platform: str | None):  # type: ignore[no-untyped-def]
    if platform is None:
        return None
    try:
        return connector_class(platform).capabilities
    except ConfigError:
        return None  # a snapshot of a platform whose connector is not installed here


def report(
    kind: Annotated[Kind, typer.Argument(help="What to produce.")],
    school: Annotated[
        list[str] | None,
        typer.Option("--school", help="School slug (repeat for a municipal report)."),
    ] = None,
    period: Annotated[
        str | None, typer.Option("--period", help="Period: «1», «1 четверть», «year» or id.")
    ] = None,
    platform: Annotated[
        list[str] | None,
        typer.Option(
            "--platform",
            help="Read this platform's snapshot: one for every school, one per --school in "
            "order, or SCHOOL=PLATFORM (default: the school's platform in --config, else the "
            "local journal).",
        ),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option("--profile", help="Compliance profile id (default: the config's, else all)."),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="xlsx, pdf or html.")] = Format.XLSX,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output file (exactly this one).")
    ] = None,
    db: Annotated[str | None, typer.Option("--db", help="Store URL.")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Check as of this moment (ISO; default now).")
    ] = None,
    class_name: Annotated[str | None, typer.Option("--class", help="Only this class.")] = None,
    student: Annotated[
        str | None, typer.Option("--student", help="Tabel: «Фамилия И. О.» or person id.")
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option("--timezone", help="Time zone (default: the school's in --config)."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Municipality config: time zone, platform, profile."),
    ] = None,
    binding: Annotated[
        list[str] | None,
        typer.Option(
            "--binding",
            help="A school on several platforms: read this binding's snapshot (NAME for every "
            "school, or SCHOOL=NAME; default: the binding in effect).",
        ),
    ] = None,
    curriculum: Annotated[
        Path | None,
        typer.Option(
            "--curriculum",
            help="Curriculum CSV/XLSX: grade, subject, hours a week (for the hours rules).",
        ),
    ] = None,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Print every rule × profile × parameter with its source, and stop.",
        ),
    ] = False,
) -> None:
    """Produce a compliance report or a school report in Russian."""
    with reported_errors():
        if explain:
            _explain(profile)
            return
        if not school:
            raise ConfigError("give at least one --school")
        plan = load_config(config, check_platforms=False) if config else None
        store = open_store(db or (plan.store_url if plan else None))
        settings = report_settings(
            plan, school, platform, profile, timezone, as_of, bindings=binding
        )
        hours = read_curriculum(curriculum) if curriculum is not None else None
        docs = report_documents(store, kind, school, period, settings, class_name, student, hours)
        target = out or Path(f"{kind.value}-{'-'.join(school)}.{fmt.value}")
        for path in write_report(docs, fmt.value, target):
            console.print(f"written {path}")


@dataclass(frozen=True)
class _Settings:
    """The report's parameters, each with where it came from (printed on the document)."""

    platforms: tuple[str | None, ...]  # per school; None = the local journal
    profile: str
    timezone: str
    moment: datetime
    sources: tuple[str, ...]


def report_settings(
    plan: Plan | None,
    schools: list[str],
    platform: list[str] | None,
    profile: str | None,
    timezone: str | None,
    as_of: str | None,
    *,
    bindings: list[str] | None = None,
) -> _Settings:
    sources: list[str] = []
    configured: dict[str, SchoolPlan] = {}
    named_bindings = dict(b.split("=", 1) for b in bindings or () if "=" in b)
    plain_bindings = [b for b in bindings or () if "=" not in b]
    if len(plain_bindings) > 1:
        raise ConfigError("give one --binding NAME, or --binding SCHOOL=NAME per school")
    if bindings and plan is None:
        raise ConfigError("--binding needs -c CONFIG (bindings are named there)")
    if plan is not None:
        for slug in dict.fromkeys(s.slug for s in plan.schools):
            name = named_bindings.get(slug) or (plain_bindings[0] if plain_bindings else None)
            if name is not None and slug in schools:
                configured[slug] = plan.binding(slug, name)
            else:
                configured[slug] = plan.binding(slug)
    named = dict(p.split("=", 1) for p in platform or () if "=" in p)
    plain = [p for p in platform or () if "=" not in p]
    if len(plain) not in (0, 1, len(schools)):
        raise ConfigError(
            f"give one --platform, or one per --school ({len(schools)}), not {len(plain)}"
        )
    platforms: list[str | None] = []
    for i, slug in enumerate(schools):
        if slug in named:
            platforms.append(named[slug])
        elif plain:
            platforms.append(plain[0] if len(plain) == 1 else plain[i])
        elif slug in configured:
            platforms.append(configured[slug].platform)
        else:
            platforms.append(None)
    data_source = (
        "параметр --platform"
        if platform
        else "конфигурация (платформа школы)"
        if configured
        else "локальный журнал"
    )
    sources.append(f"данные — {data_source}")
    first = configured.get(schools[0]) if schools else None
    if profile:
        sources.append("профиль — параметр --profile")
    elif first is not None and first.compliance_profile in PROFILES:
        profile = first.compliance_profile
        sources.append(f"профиль — конфигурация школы {first.slug}")
    else:
        profile = "all"
        sources.append("профиль — по умолчанию (все правила)")
    if timezone:
        _zone(timezone)
        sources.append(f"часовой пояс {timezone} — параметр --timezone")
    elif first is not None and len(schools) == 1:
        timezone = first.timezone
        sources.append(f"часовой пояс {timezone} — конфигурация школы {first.slug}")
    elif plan is not None:
        timezone = plan.timezone
        sources.append(f"часовой пояс {timezone} — конфигурация муниципалитета")
    else:
        timezone = "Europe/Moscow"
        sources.append("часовой пояс Europe/Moscow — по умолчанию (конфигурация не указана)")
    if as_of:
        sources.append("момент проверки — параметр --as-of")
    else:
        sources.append("момент проверки — время формирования")
    return _Settings(tuple(platforms), profile, timezone, _as_of(as_of), tuple(sources))


def _zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {name!r} (use an IANA name: Asia/Barnaul)") from None


def _explain(profile_id: str | None) -> None:
    """The profiles table: rule × profile × parameter × value × source, one row a line (plain
    text: it is read, grepped and pasted into reviews)."""
    profiles = [get_profile(profile_id)] if profile_id is not None else None
    typer.echo("rule | profile | parameter | value | source")
    for row in explain_rows(profiles):
        typer.echo(" | ".join(row))


def report_documents(
    store: Store,
    kind: Kind,
    schools: list[str],
    period: str | None,
    settings: _Settings,
    class_name: str | None,
    student: str | None,
    curriculum: dict[tuple[int, str], float] | None = None,
) -> list[TableDocument]:
    profile = get_profile(settings.profile)
    weights = kind is Kind.FORECAST
    frames = [
        frame_from_store(store, s, p, weights=weights)
        for s, p in zip(schools, settings.platforms, strict=True)
    ]
    for f, p in zip(frames, settings.platforms, strict=True):
        if not f.class_ids and not f.l_day.size:
            where = f"the snapshot of platform {p!r}" if p else "the local journal"
            raise ConfigError(
                f"no journal data for school {f.school!r} in {where} of this store"
                " (give --platform SCHOOL=PLATFORM, or --config)"
            )

    def checked(i: int) -> ComplianceResult:
        return check_frame(
            frames[i],
            profile,
            as_of=settings.moment,
            platform=settings.platforms[i] or "local",
            capabilities=_caps(settings.platforms[i]),
            timezone=settings.timezone,
            curriculum=curriculum,
        )

    # the school's own date at the moment of the report (a tabel prints it)
    today = settings.moment.astimezone(ZoneInfo(settings.timezone)).date()
    docs = _build(kind, frames, period, class_name, student, checked, settings.timezone, today)
    line = "Параметры отчёта и их источники: " + "; ".join(settings.sources) + "."
    return [replace(d, meta=[*d.meta, line]) for d in docs]


def _build(
    kind: Kind,
    frames: list[JournalFrame],
    period: str | None,
    class_name: str | None,
    student: str | None,
    checked: Callable[[int], ComplianceResult],
    timezone: str,
    today: date,
) -> list[TableDocument]:
    if kind is Kind.COMPLIANCE:
        results = [checked(i) for i in range(len(frames))]
        return [compliance_report(results, frames, timezone=timezone)]
    if len(frames) > 1:
        raise ConfigError(f"report {kind.value} is per school: give one --school")
    frame = frames[0]
    if kind is Kind.SUMMARY:
        return summary_sheet(frame, class_name)
    if kind is Kind.TIMELINESS:
        return [timeliness(frame, checked(0), timezone=timezone)]
    if kind is Kind.TABEL:
        if not student:
            raise ConfigError("tabel needs --student")
        return [report_card(frame, student, today=today)]
    if period is None:
        raise ConfigError(f"report {kind.value} needs --period")
    p = find_period(frame, period)
    if kind is Kind.RESULTS:
        return [class_results(frame, p)]
    if kind is Kind.ATTENDANCE:
        return [attendance_summary(frame, p)]
    docs = forecast(frame, p)
    return [d for d in docs if class_name is None or f"Класс: {class_name}" in d.meta]
