"""Alert texts for people: Russian, the school's local time, no ids beyond the short run
reference an operator needs to act, no secrets (reasons are redacted before they get here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from core.platform import platform_title
from scheduler._plan import Plan

__all__ = ["Message", "alert_message", "local_time", "recovery_message"]

_DRIFT_KINDS = {"unknown": "новое поле", "missing": "пропало поле", "retyped": "сменился тип поля"}


@dataclass(frozen=True, slots=True)
class Message:
    event: Literal["alert", "recovery"]
    kind: str
    key: str
    school: str
    school_name: str
    platform: str
    #: One line: the e-mail's subject, the webhook's ``summary``.
    title: str
    body: str
    since: datetime
    at: datetime
    timezone: str
    facts: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        tz = ZoneInfo(self.timezone)
        return {
            "event": self.event,
            "kind": self.kind,
            "key": self.key,
            "school": self.school,
            "school_name": self.school_name,
            "platform": self.platform,
            "summary": self.title,
            "text": self.body,
            "since": self.since.astimezone(tz).isoformat(),
            "at": self.at.astimezone(tz).isoformat(),
            "facts": self.facts,
        }


def local_time(at: datetime, timezone: str) -> str:
    return f"{at.astimezone(ZoneInfo(timezone)):%d.%m.%Y %H:%M}"


def _school(plan: Plan, slug: str) -> tuple[str, str]:
    for s in plan.schools:
        if s.slug == slug:
            return s.name, s.timezone
    return slug, plan.timezone


def _what(kind: str, facts: dict[str, Any], tz: str) -> tuple[str, list[str]]:
    """The condition in one line, and the lines that explain it."""
    if kind == "failed_runs":
        lines = [f"Последняя ошибка: {facts['error']}"] if facts.get("error") else []
        return f"{facts['runs']} запуска(ов) синхронизации подряд завершились ошибкой", lines
    if kind == "held_run":
        run = facts["run"]
        lines = [f"Причина: {facts['reason']}"] if facts.get("reason") else []
        lines += [
            "Ничего из этого запуска не применено. Одобрить: "
            f"journalsync runs approve {run}; отклонить: journalsync runs discard {run}"
        ]
        return "запуск синхронизации остановлен и ждёт решения человека", lines
    if kind == "schema_drift":
        fields = facts["fields"]
        shown = []
        for f in fields[:10]:
            what, _, name = f.partition(" ")
            shown.append(f"  • {_DRIFT_KINDS.get(what, what)}: {name}")
        more = [f"  … и ещё {len(fields) - 10}"] if len(fields) > 10 else []
        return "платформа изменила формат данных", [
            "Поля, которых коннектор не ожидал:",
            *shown,
            *more,
            "Подробнее: journalsync doctor",
        ]
    if kind == "coverage":
        pct = 100 * facts["covered"] / facts["roster"]
        return "охват учеников ниже минимума", [
            f"Учётные записи семей охватили {facts['covered']} из {facts['roster']} учеников "
            f"({pct:.0f} %), минимум — {100 * facts['minimum']:.0f} %"
        ]
    if kind == "outage_journal":
        deadline = local_time(datetime.fromisoformat(facts["deadline"]), tz)
        return "журнал, который вели на время сбоя, не перенесён в срок", [
            f"Журнал «{facts['journal']}», срок переноса — {deadline}"
        ]
    return kind, []


def alert_message(
    plan: Plan,
    *,
    kind: str,
    key: str,
    school: str,
    platform: str,
    since: datetime,
    at: datetime,
    facts: dict[str, Any],
) -> Message:
    name, tz = _school(plan, school)
    what, lines = _what(kind, facts, tz)
    title = f"{name}: {what}"
    body = "\n".join(
        [
            f"Школа: {name}",
            f"Платформа: {platform_title(platform)}",
            f"Что случилось: {what}",
            *lines,
            f"С {local_time(since, tz)} (время школы)",
            "",
            "Когда это пройдёт, придёт сообщение о восстановлении.",
        ]
    )
    return Message("alert", kind, key, school, name, platform, title, body, since, at, tz, facts)


def recovery_message(
    plan: Plan,
    *,
    kind: str,
    key: str,
    school: str,
    platform: str,
    title: str,
    since: datetime,
    at: datetime,
) -> Message:
    """The condition ``title`` (as the alert said it) cleared."""
    name, tz = _school(plan, school)
    what = title.removeprefix(f"{name}: ")
    body = "\n".join(
        [
            f"Школа: {name}",
            f"Платформа: {platform_title(platform)}",
            f"Восстановлено: {what} — больше не так.",
            f"Было с {local_time(since, tz)} до {local_time(at, tz)} (время школы)",
        ]
    )
    return Message(
        "recovery",
        kind,
        key,
        school,
        name,
        platform,
        f"{name}: восстановлено — {what}",
        body,
        since,
        at,
        tz,
        {},
    )
