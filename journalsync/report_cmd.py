"""``journalsync report KIND``: compliance findings and the school reports (XLSX, PDF, HTML).

KIND is one of ``compliance`` (a school, or several schools = the municipality), ``summary``
(сводная ведомость итоговых оценок), ``results`` (успеваемость и качество знаний), ``tabel``
(a student's report card), ``attendance``, ``timeliness`` (teachers' journal filling) and
``forecast`` (period finals from current weighted marks). Data comes from the store: a
platform's snapshot with ``--platform``, else the school's local journal.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from core.compliance import (
    check_frame,
    explain_rows,
    frame_from_store,
    get_profile,
    read_curriculum,
)
from core.compliance._render import write_report
from core.compliance._reports import (
    attendance_summary,
    class_results,
    compliance_report,
    find_period,
    forecast,
    report_card,
    summary_sheet,
    timeliness,
)
from core.connector import connector_class
from core.errors import ConfigError
from core.store import Store
from journalsync._common import console, open_store, reported_errors

__all__ = ["report"]


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
        str | None, typer.Option("--platform", help="Read this platform's snapshot.")
    ] = None,
    profile: Annotated[
        str | None, typer.Option("--profile", help="Compliance profile id (default: all).")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="xlsx, pdf or html.")] = Format.XLSX,
    out: Annotated[Path | None, typer.Option("--out", help="Output file.")] = None,
    db: Annotated[str | None, typer.Option("--db", help="Store URL.")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Check as of this moment (ISO; default now).")
    ] = None,
    class_name: Annotated[str | None, typer.Option("--class", help="Only this class.")] = None,
    student: Annotated[
        str | None, typer.Option("--student", help="Tabel: «Фамилия И. О.» or person id.")
    ] = None,
    timezone: Annotated[str, typer.Option("--timezone")] = "Europe/Moscow",
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
        store = open_store(db)
        moment = _as_of(as_of)
        plan = read_curriculum(curriculum) if curriculum is not None else None
        docs = _documents(
            store,
            kind,
            school,
            period,
            platform,
            profile or "all",
            moment,
            class_name,
            student,
            timezone,
            plan,
        )
        target = out or Path(f"{kind.value}-{'-'.join(school)}.{fmt.value}")
        for path in write_report(docs, fmt.value, target):
            console.print(f"written {path}")


def _explain(profile_id: str | None) -> None:
    """The profiles table: rule × profile × parameter × value × source, one row a line (plain
    text: it is read, grepped and pasted into reviews)."""
    profiles = [get_profile(profile_id)] if profile_id is not None else None
    typer.echo("rule | profile | parameter | value | source")
    for row in explain_rows(profiles):
        typer.echo(" | ".join(row))


def _documents(
    store: Store,
    kind: Kind,
    schools: list[str],
    period: str | None,
    platform: str | None,
    profile_id: str,
    moment: datetime,
    class_name: str | None,
    student: str | None,
    timezone: str,
    curriculum: dict[tuple[int, str], float] | None = None,
) -> list:  # type: ignore[type-arg]
    profile = get_profile(profile_id)
    weights = kind is Kind.FORECAST
    frames = [frame_from_store(store, s, platform, weights=weights) for s in schools]
    for f in frames:
        if not f.class_ids and not f.l_day.size:
            raise ConfigError(f"no journal data for school {f.school!r} in this store")

    def checked(i: int):  # type: ignore[no-untyped-def]
        return check_frame(
            frames[i],
            profile,
            as_of=moment,
            platform=platform or "local",
            capabilities=_caps(platform),
            timezone=timezone,
            curriculum=curriculum,
        )

    if kind is Kind.COMPLIANCE:
        return [compliance_report([checked(i) for i in range(len(frames))])]
    if len(frames) > 1:
        raise ConfigError(f"report {kind.value} is per school: give one --school")
    frame = frames[0]
    if kind is Kind.SUMMARY:
        return summary_sheet(frame, class_name)
    if kind is Kind.TIMELINESS:
        return [timeliness(frame, checked(0))]
    if kind is Kind.TABEL:
        if not student:
            raise ConfigError("tabel needs --student")
        return [report_card(frame, student)]
    if period is None:
        raise ConfigError(f"report {kind.value} needs --period")
    p = find_period(frame, period)
    if kind is Kind.RESULTS:
        return [class_results(frame, p)]
    if kind is Kind.ATTENDANCE:
        return [attendance_summary(frame, p)]
    docs = forecast(frame, p)
    return [d for d in docs if class_name is None or f"Класс: {class_name}" in d.meta]
