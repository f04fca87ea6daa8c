"""Alerts over real channels: a local SMTP server (aiosmtpd) and a webhook receiver on loopback.

Each condition is told once per channel, not again on the next tick, and its recovery once; a
failing channel is logged and stops neither the other channel nor the scheduler."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from structlog.testing import capture_logs
from typer.testing import CliRunner

from core.errors import ConfigError
from core.store import RunState, Store
from journalsync.cli import app
from journalsync.config import check_secrets, parse_config
from scheduler import Plan, Runner, discard_run
from scheduler.alerts import (
    Alerter,
    coverage_below,
    evaluate,
    failed_in_a_row,
    outage_overdue,
)
from scheduler.sandbox import SandboxMunicipality, sandbox_municipality
from tests.scheduler.test_scheduler import THRESHOLDS, _edit_local_marks
from tests.support.alert_receivers import Mailbox, Webhook, free_port, smtp_server, webhook_receiver

SLOT = datetime(2026, 9, 14, 12, 30, tzinfo=UTC)  # Monday, 19:30 in Barnaul: after school
TOKEN = "hook-token-Zq81"


def _alerts(hook_url: str, smtp_port: int, *, failed_runs: int = 2) -> str:
    return (
        "[alerts]\n"
        f"failed_runs = {failed_runs}\n"
        f'webhook_url = "{hook_url}"\n'
        'webhook_token = { env = "JS_TEST_HOOK_TOKEN" }\n'
        'smtp_host = "127.0.0.1"\n'
        f"smtp_port = {smtp_port}\n"
        'smtp_from = "journalsync@example.ru"\n'
        'smtp_to = ["it@example.ru", "zavuch@example.ru"]\n'
        "smtp_timeout = 5\n\n"
    )


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with webhook_receiver() as h:
        yield h


@pytest.fixture
def mail() -> Iterator[Mailbox]:
    with smtp_server() as m:
        yield m


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JS_TEST_HOOK_TOKEN", TOKEN)


def _kinds(hook: Webhook) -> list[tuple[str, str, str]]:
    return [(m["event"], m["kind"], m["school"]) for m in hook.received]


# -- through the scheduler, on real emulators ---------------------------------------------------


@pytest.fixture
def muni(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxMunicipality]:
    with sandbox_municipality(
        2,
        store_url=f"sqlite:///{tmp_path / 'm.db'}",
        failing=1,
        platforms=["netschool"],
        extra=THRESHOLDS,
    ) as m:
        for k, v in m.env.items():
            monkeypatch.setenv(k, v)
        yield m


@pytest.mark.slow
def test_scheduler_alerts_once_per_condition_and_recovers_once(
    muni: SandboxMunicipality, hook: Webhook, mail: Mailbox
) -> None:
    text = muni.config_text.replace(THRESHOLDS, THRESHOLDS + _alerts(hook.url, mail.port))
    plan = parse_config(text, "m.toml", platforms=["netschool"])
    store = Store.open(plan.store_url)
    (bad,) = muni.failing
    good = next(s for s in muni.schools if s != bad)

    def cycle(day: int, p: Plan = plan) -> dict[str, str]:
        out = asyncio.run(Runner(p, store).run_cycle("push", SLOT.replace(day=day)))
        return {o.school: o.state for o in out}

    assert cycle(14) == {bad: "failed", good: "done"}
    assert hook.received == [] and mail.messages == []  # one failure is not yet "in a row"
    assert cycle(15)[bad] == "failed"
    assert _kinds(hook) == [("alert", "failed_runs", bad)]
    assert len(mail.messages) == 1
    # The next tick: still failing, nothing told again.
    assert cycle(16)[bad] == "failed"
    assert len(hook.received) == 1 and len(mail.messages) == 1

    # A held push of the healthy school: told once, not again while it stays held.
    _edit_local_marks(store, good, 3)
    assert cycle(17)[good] == "held"
    assert _kinds(hook)[1:] == [("alert", "held_run", good)]
    assert cycle(18)[bad] == "failed"  # the held school is skipped; the other runs
    assert len(hook.received) == 2 and len(mail.messages) == 2

    # The webhook's body: Russian for people, the school's local time, no secret.
    held = hook.received[1]
    assert held["summary"].endswith("запуск синхронизации остановлен и ждёт решения человека")
    assert "mark: 3 updates exceed 2" in held["text"] and "journalsync runs approve" in held["text"]
    assert held["since"].endswith("+07:00")  # Asia/Barnaul
    assert hook.headers[0]["Authorization"] == f"Bearer {TOKEN}"
    email = mail.messages[0]
    body = email.get_content()
    assert "[journalsync]" in email["Subject"] and "подряд завершились ошибкой" in email["Subject"]
    assert "Школа:" in body and "(время школы)" in body and "503" in body
    first_failure = store.runs(school=bad, limit=10)[-2].updated_at  # the 2nd failure in a row
    assert f"{first_failure.astimezone(ZoneInfo('Asia/Barnaul')):%d.%m.%Y %H:%M}" in body
    assert mail.envelopes[0] == ("journalsync@example.ru", ["it@example.ru", "zavuch@example.ru"])
    for sent in [str(m) for m in hook.received] + [m.as_string() for m in mail.messages]:
        assert "UTC" not in sent and TOKEN not in sent
        assert not any(v in sent for v in muni.env.values())

    # The hold is discarded, the failing school's platform is back: each recovery told once.
    discard_run(store, held["facts"]["run"], actor="test")
    bad_url = muni.schools[bad][1]
    healthy = muni.schools[good][1]
    fixed = parse_config(text.replace(bad_url, healthy), "m.toml", platforms=["netschool"])
    assert cycle(19, fixed) == {bad: "done", good: "done"}
    assert sorted(_kinds(hook)[2:]) == [
        ("recovery", "failed_runs", bad),
        ("recovery", "held_run", good),
    ]
    assert len(mail.messages) == 4
    assert all("восстановлено" in m["Subject"] for m in mail.messages[2:])
    cycle(20, fixed)
    assert len(hook.received) == 4 and len(mail.messages) == 4


# -- channels failing -------------------------------------------------------------------------


def _plan(tmp_path: Path, hook_url: str, smtp_port: int, **kw: int) -> Plan:
    text = (
        '[municipality]\nname = "Тестовый район"\ntimezone = "Asia/Krasnoyarsk"\n\n'
        f'[store]\nurl = "sqlite:///{tmp_path / "a.db"}"\n\n'
        + _alerts(hook_url, smtp_port, **kw)
        + '[[schools]]\nslug = "school-7"\nname = "МБОУ «СОШ № 7»"\nplatform = "kiasuo"\n'
        f'base_url = "http://127.0.0.1:{free_port()}"\nlogin = "x"\n'
        'password = { env = "JS_TEST_SCHOOL_PASSWORD" }\n'
    )
    (tmp_path / "a.toml").write_text(text, encoding="utf-8")
    return parse_config(text, tmp_path / "a.toml", platforms=["kiasuo"])


def _runs(store: Store, n: int, state: RunState, start: int = 0) -> None:
    for i in range(start, start + n):
        run = store.start_run(f"school-7:kiasuo:pull:{i}", "school-7", "kiasuo", "pull")
        store.transition(run.id, RunState.PULLING)
        if state is RunState.FAILED:
            store.transition(run.id, state, error="the platform answered 503; try again later")
        else:
            store.transition(run.id, state)


def test_a_failing_channel_is_logged_and_told_later_the_other_once(
    tmp_path: Path, hook: Webhook, mail: Mailbox
) -> None:
    plan = _plan(tmp_path, hook.url, mail.port, failed_runs=3)
    store = Store.open(plan.store_url)
    _runs(store, 2, RunState.FAILED)
    alerter = Alerter(plan, store)
    assert asyncio.run(alerter.check()).deliveries == []
    _runs(store, 1, RunState.FAILED, start=2)
    hook.status = 500
    with capture_logs() as logs:
        report = asyncio.run(alerter.check())
    assert [(d.channel, d.event) for d in report.sent] == [("email", "alert")]
    assert [d.error for d in report.failed] == [
        f"webhook at 127.0.0.1:{hook.url.split(':')[2].split('/')[0]} answered HTTP 500"
    ]
    warned = [e for e in logs if e["log_level"] == "warning"]
    assert warned and warned[0]["channel"] == "webhook" and "HTTP 500" in warned[0]["error"]
    assert TOKEN not in str(logs) and "/hooks/" not in str(logs)  # the URL may carry a token
    assert len(mail.messages) == 1
    # The webhook is back: the cron command tells it, once; the e-mail is not sent again.
    hook.status = 204
    cli = CliRunner()
    result = cli.invoke(app, ["alerts", "check", "-c", str(tmp_path / "a.toml")])
    assert result.exit_code == 0, result.output
    assert "1 messages sent" in result.stdout
    assert _kinds(hook) == [("alert", "failed_runs", "school-7")] and len(mail.messages) == 1
    assert cli.invoke(app, ["alerts", "check", "-c", str(tmp_path / "a.toml")]).exit_code == 0
    assert len(hook.received) == 1 and len(mail.messages) == 1

    # Recovered while the SMTP server is down: the webhook is told, the command exits 1, and
    # the e-mail recovery goes out at the next check — once.
    _runs(store, 1, RunState.DONE, start=3)
    down = _plan(tmp_path, hook.url, free_port(), failed_runs=3)
    report = asyncio.run(Alerter(down, store).check())
    assert [(d.channel, d.event) for d in report.sent] == [("webhook", "recovery")]
    assert [d.channel for d in report.failed] == ["email"]
    assert "ConnectionRefusedError" in report.failed[0].error
    report = asyncio.run(Alerter(plan, store).check())
    assert [(d.channel, d.event) for d in report.sent] == [("email", "recovery")]
    assert asyncio.run(Alerter(plan, store).check()).deliveries == []
    assert len(hook.received) == 2 and len(mail.messages) == 2
    recovery = mail.messages[1].get_content()
    assert "Восстановлено" in recovery and "МБОУ «СОШ № 7»" in recovery


def test_channels_down_never_stop_the_scheduler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both channels unreachable: the runs end as they would, every slot, nothing raised."""
    monkeypatch.setenv("JS_TEST_SCHOOL_PASSWORD", "pw-Kq2")
    plan = _plan(tmp_path, f"http://127.0.0.1:{free_port()}/x", free_port(), failed_runs=1)
    store = Store.open(plan.store_url)
    runner = Runner(plan, store)
    assert runner.alerter is not None
    with capture_logs() as logs:
        for day in (14, 15):
            (out,) = asyncio.run(runner.run_cycle("pull", SLOT.replace(day=day), scheduled=False))
            assert out.state == "failed"
    failed = [e for e in logs if e["event"].startswith("alert channel failed")]
    assert {e["channel"] for e in failed} == {"webhook", "email"}
    assert store.alert_notices() == []  # nothing claimed: both are told at the next check


# -- conditions as functions --------------------------------------------------------------------


@dataclass(frozen=True)
class _Coverage:
    covered: int
    roster: int
    minimum: float | None = None


@dataclass(frozen=True)
class _Journal:
    name: str
    deadline: datetime
    carried_over: bool


def test_coverage_and_outage_conditions() -> None:
    at = SLOT
    assert coverage_below("s", "perm", _Coverage(95, 100), 0.9, at) is None
    low = coverage_below("s", "perm", _Coverage(80, 100), 0.9, at)
    assert low is not None and low.key == "coverage:s:perm" and low.facts["covered"] == 80
    assert coverage_below("s", "perm", _Coverage(0, 0), 0.9, at) is None  # no roster yet
    journals = [
        _Journal("сбой 1", at - timedelta(days=1), carried_over=False),
        _Journal("сбой 2", at - timedelta(days=1), carried_over=True),
        _Journal("сбой 3", at + timedelta(days=1), carried_over=False),
    ]
    (late,) = outage_overdue("s", "perm", journals, at)
    assert late.key == "outage_journal:s:perm:сбой 1"


def test_coverage_and_outage_journals_come_from_the_store(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "http://127.0.0.1:9/x", 9)
    assert plan.alerts is not None
    store = Store.open(plan.store_url)
    ev = evaluate(plan, store, plan.alerts)
    assert ev.conditions == [] and ("coverage", "school-7", "kiasuo") not in ev.checked
    assert ("outage_journal", "school-7", "kiasuo") in ev.checked
    # A family-account pull that read 41 of the roster's 60 pupils (below the default 100 %).
    run = store.start_run("school-7:kiasuo:pull:cov", "school-7", "kiasuo", "pull")
    store.transition(run.id, RunState.PULLING)
    store.transition(run.id, RunState.RECONCILING)
    store.transition(run.id, RunState.PARTIAL, counts={"pupils_read": 41, "pupils_expected": 60})
    ev = evaluate(plan, store, plan.alerts)
    assert [(c.kind, c.facts["covered"], c.facts["roster"]) for c in ev.conditions] == [
        ("coverage", 41, 60)
    ]
    assert ("coverage", "school-7", "kiasuo") in ev.checked


def test_failed_in_a_row_counts_only_the_newest_streak(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "http://127.0.0.1:9/x", 9)
    store = Store.open(plan.store_url)
    _runs(store, 2, RunState.FAILED)
    _runs(store, 1, RunState.DONE, start=2)
    _runs(store, 2, RunState.FAILED, start=3)
    runs = store.runs(school="school-7")
    assert failed_in_a_row(runs, 3) is None
    found = failed_in_a_row(runs, 2)
    assert found is not None and found.facts["runs"] == 2


# -- config ----------------------------------------------------------------------------------------


def test_alerts_config_is_validated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = _plan(tmp_path, "https://hooks.example.ru/x", 587)
    assert plan.alerts is not None and plan.alerts.channels == ("webhook", "email")
    assert plan.alerts.failed_runs == 2
    base = (tmp_path / "a.toml").read_text(encoding="utf-8")
    cases = {
        'smtp_to = ["it@example.ru", "zavuch@example.ru"]\n': (
            "",
            r"a\.toml:\d+: alerts: e-mail alerts need smtp_from",
        ),
        "smtp_timeout": (
            'smtp_user = "u"\nsmtp_password = "x"\nsmtp_timeout',
            r"a\.toml:\d+: alerts\.smtp_password: a secret in the config file",
        ),
        "failed_runs = 2": ("failed_runs = 0", r"alerts\.failed_runs: Input should be greater"),
        '"it@example.ru", ': ('"not an address", ', r"alerts\.smtp_to\[0\]"),
        "webhook_url": ("webhook_uri", r"alerts\.webhook_uri: unknown key"),
    }
    for old, (new, error) in cases.items():
        assert old in base
        with pytest.raises(ConfigError, match=error):
            parse_config(base.replace(old, new), tmp_path / "a.toml")
    monkeypatch.delenv("JS_TEST_HOOK_TOKEN")
    errors, warnings = check_secrets(plan)
    assert errors == []
    assert "alerts: webhook_token: environment variable JS_TEST_HOOK_TOKEN is not set" in "".join(
        warnings
    )


def test_the_example_config_has_an_alerts_section(tmp_path: Path) -> None:
    from journalsync.config import example_text

    (tmp_path / "secrets.toml").write_text('school-12 = "from-the-file"\n')
    plan = parse_config(
        example_text(), tmp_path / "journalsync.toml", platforms=["netschool", "perm", "ruobr"]
    )
    assert plan.alerts is not None and plan.alerts.channels == ("webhook", "email")
    assert plan.alerts.smtp is not None and plan.alerts.smtp.tls == "starttls"


def test_the_embedded_scheduler_checks_alerts_between_runs(tmp_path: Path) -> None:
    from scheduler import EmbeddedScheduler

    plan = _plan(tmp_path, "http://127.0.0.1:9/x", 9)
    store = Store.open(plan.store_url)
    jobs = {j.id: j for j in EmbeddedScheduler(plan, store).build().get_jobs()}
    assert "alerts" in jobs and "school-7:pull" not in jobs  # no schedules in this plan
    no_alerts = parse_config(
        (tmp_path / "a.toml").read_text(encoding="utf-8").split("[alerts]")[0]
        + "[[schools]]"
        + (tmp_path / "a.toml").read_text(encoding="utf-8").split("[[schools]]")[1],
        platforms=["kiasuo"],
    )
    assert "alerts" not in {j.id for j in EmbeddedScheduler(no_alerts, store).build().get_jobs()}
