"""The cases every connector passes, on its emulator over ``httpx.ASGITransport``.

Auth ok/bad, expiry in the middle of a pull, a full pull equal to the world on the fields the
platform carries, an incremental pull after changes on the platform side, resume after an
interruption, each fault class, a malformed payload quarantined with nothing else lost, and the
push round trip with idempotency where the platform has a write API (else an honest refusal).
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from connectors.conformance.compare import Projection, differences, project
from connectors.conformance.harness import Harness
from core.codes import AttendanceCode, MarkValue
from core.connector import Capabilities, Page, PullMode, PushChannel
from core.errors import AuthError, JournalSyncError, UnsupportedOperation
from core.model import Attendance, Lesson, Mark, Person, Record
from core.sync import PullResult, pull, push, reconcile

from .conftest import Env


def assert_same(actual: Projection, expected: Projection) -> None:
    diff = differences(actual, expected)
    if diff:
        pytest.fail(f"pull differs from the world: {diff}")


def expected_now(env: Env) -> Projection:
    return project(env.harness.expected(env.world, env.school, env.platform), env.caps)


def snapshot(env: Env) -> Projection:
    return project(env.store.remote_records(env.school, env.platform), env.caps)


async def run_pull(env: Env, mode: PullMode = PullMode.FULL, **kw: Any) -> PullResult:
    async with env.connector() as c:
        return await pull(env.store, c, mode=mode, **kw)


# --- auth ---------------------------------------------------------------------------------------


async def test_login_ok(env: Env) -> None:
    async with env.connector() as c:
        await c.login()


async def test_bad_credentials_clear_error_nothing_written(env: Env) -> None:
    with pytest.raises(AuthError) as err:
        await run_pull_bad(env)
    assert env.password not in str(err.value)
    assert env.store.remote_counts(env.school, env.platform) == {}
    assert env.store.cursors(env.school, env.platform) == {}


async def run_pull_bad(env: Env) -> None:
    async with env.connector(good=False) as c:
        await pull(env.store, c)


async def test_state_survives_a_restart(env: Env) -> None:
    """A new connector (a new process) starts from the saved state: rotated tokens still work."""
    await run_pull(env)
    await run_pull(env)  # a second connector instance, from what the first saved
    assert_same(snapshot(env), expected_now(env))


# --- full, incremental, resume ------------------------------------------------------------------


async def test_full_pull_equals_world(env: Env) -> None:
    result = await run_pull(env)
    assert result.quarantined == 0
    assert_same(snapshot(env), expected_now(env))
    entities = {e for e, _ in snapshot(env).values()}
    assert {"lesson", "mark", "person"} <= entities


async def test_second_full_pull_changes_nothing(env: Env) -> None:
    await run_pull(env)
    again = await run_pull(env)
    assert (again.inserted, again.updated, again.deleted) == (0, 0, 0)


async def test_incremental_pull_after_platform_changes(env: Env) -> None:
    await run_pull(env)
    changes = env.harness.change_platform(env.world, random.Random(5), env.school)
    assert changes, "the harness made no change"
    result = await run_pull(env, PullMode.INCREMENTAL)
    assert result.updated + result.inserted + result.deleted > 0
    assert_same(snapshot(env), expected_now(env))


async def test_expiry_in_the_middle_of_a_pull(env: Env) -> None:
    def expire_after_first(page: Page, result: PullResult) -> None:
        if result.pages == 1:
            env.harness.expire_sessions(env.app)

    await run_pull(env, on_page=expire_after_first, batch_records=1)
    assert_same(snapshot(env), expected_now(env))


async def test_interrupted_pull_resumes_without_loss_or_duplicates(env: Env) -> None:
    class Interrupted(Exception):
        pass

    def stop_after(page: Page, result: PullResult) -> None:
        if result.pages == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        await run_pull(env, on_page=stop_after, batch_records=1)
    resumed = await run_pull(env)
    full = await run_pull(env)
    assert 0 < resumed.pages < full.pages + 1
    assert_same(snapshot(env), expected_now(env))


# --- faults -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "switch",
    [
        {"server_errors": 2},
        {"rate_limited": 2, "retry_after": 0},
        {"html_instead_of_json": 1},
    ],
    ids=["5xx-burst", "429-retry-after", "html-instead-of-json"],
)
async def test_transient_faults_are_retried(env: Env, switch: dict[str, Any]) -> None:
    await run_pull(env)  # logged in and warm
    env.faults.update({**switch, "exclude_prefixes": env.harness.login_paths})
    result = await run_pull(env)
    assert result.quarantined == 0
    assert_same(snapshot(env), expected_now(env))


async def test_persistent_outage_fails_clearly_and_keeps_what_was_committed(env: Env) -> None:
    await run_pull(env)
    before = snapshot(env)
    env.faults.update({"server_errors": 10_000, "exclude_prefixes": env.harness.login_paths})
    with pytest.raises(JournalSyncError) as err:
        await run_pull(env)
    assert "503" in str(err.value) or "unavailable" in str(err.value).lower()
    assert snapshot(env) == before


async def test_malformed_record_is_quarantined_rest_committed(env: Env) -> None:
    env.faults.update({"malformed": 1})
    result = await run_pull(env)
    assert result.quarantined == 1
    rows = env.store.quarantined(env.school, env.platform)
    assert len(rows) == 1 and rows[0].reason and rows[0].field
    expected, actual = expected_now(env), snapshot(env)
    assert len(expected) - len(actual) <= 2, "only the bad record (and what hangs on it) is lost"
    assert all(actual[k] == expected[k] for k in actual if k in expected)


# --- push ---------------------------------------------------------------------------------------


def _api(caps: Capabilities) -> frozenset[str]:
    ch = caps.channel(PushChannel.API)
    return ch.entities if ch else frozenset()


def _local_changes(env: Env) -> list[Record]:
    """A new mark and a new absence on the last lesson that has room for them."""
    remote = list(env.store.remote_records(env.school, env.platform))
    students = {p.id for p in remote if isinstance(p, Person) and "student" in p.roles}
    marked = {(m.lesson_id, m.student_id) for m in remote if isinstance(m, Mark)}
    absent = {(a.lesson_id, a.student_id) for a in remote if isinstance(a, Attendance)}
    lessons = sorted((le for le in remote if isinstance(le, Lesson)), key=lambda x: x.date)
    group_of = {le.id: le.group_id for le in lessons}
    # Members of a group: the students who have a mark or an absence in any of its lessons.
    members: dict[str, set[str]] = {}
    for lesson_id, student in marked | absent:
        members.setdefault(group_of.get(lesson_id, ""), set()).add(student)
    for le in reversed(lessons):
        free = sorted(
            s
            for s in members.get(le.group_id, set()) & students
            if (le.id, s) not in marked and (le.id, s) not in absent
        )
        if len(free) >= 2:
            return [
                Mark(
                    school=env.school,
                    student_id=free[0],
                    lesson_id=le.id,
                    work_type="answer",
                    value=MarkValue.FIVE,
                ),
                Attendance(
                    school=env.school, student_id=free[1], lesson_id=le.id, code=AttendanceCode.ILL
                ),
            ]
    pytest.fail("no lesson with two unmarked students in the test world")


async def test_push_round_trip_and_idempotency(env: Env) -> None:
    await run_pull(env)
    changes = _local_changes(env)
    env.store.upsert_local(env.school, changes, actor="test")
    found = reconcile(env.store, env.school, env.platform, capabilities=env.caps)
    assert found.by_kind["missing_on_platform"] == 2
    if not {"mark", "attendance"} <= _api(env.caps):
        async with env.connector() as c:
            with pytest.raises(UnsupportedOperation):
                await c.push([])
        assert all(not ch.verified or ch.evidence for ch in env.caps.push)
        return
    async with env.connector() as c:
        first = await push(env.store, c)
    assert (first.sent, first.verified, first.failed) == (2, 2, 0), first.failures
    version = env.world.version
    async with env.connector() as c:
        second = await push(env.store, c)
    assert second.sent == 0 and env.world.version == version
    await run_pull(env)
    again = reconcile(env.store, env.school, env.platform, capabilities=env.caps)
    assert again.drift == 0 and again.resolved == 2


def test_capabilities_are_declared_honestly(harness: Harness) -> None:
    caps = harness.connector.capabilities
    assert caps.platform == harness.platform
    assert caps.reads, "a connector reads something"
    for ch in caps.push:
        assert ch.evidence.strip(), f"{ch.channel}: say what the channel rests on"
        assert ch.entities
    if PushChannel.API not in {c.channel for c in caps.push}:
        assert caps.push, "a platform without a write API offers worklist/package"
