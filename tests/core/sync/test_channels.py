"""Every change reaches the platform through the channel its connector offers for it — whoever
reconciles (``journalsync drift``, a sync run, a test), and after an upgrade from a version
that queued changes without the connector's capabilities."""

from __future__ import annotations

import os
import subprocess
from datetime import date
from pathlib import Path

from alembic import command
from alembic.config import Config

from connectors.netschool.emulator import create_app
from connectors.sandbox import World, WorldSize
from connectors.sandbox.server import serve_in_thread
from core.codes import MarkValue
from core.connector import Change
from core.model import Homework, Mark
from core.store import Store
from core.store._base import _MIGRATIONS
from core.sync import reconcile
from tests.core.sync.test_sync import a_free_slot
from tests.support.cli import run_cli

PLATFORM = "netschool"
SIZE = WorldSize(grades=(5,), letters=1, students_per_class=6, weeks=1)


def _mark(school: str, student: str = "st1", lesson: str = "L1") -> Mark:
    return Mark(
        school=school,
        student_id=student,
        lesson_id=lesson,
        work_type="answer",
        value=MarkValue.FIVE,
    )


def _change(record: Mark | Homework, platform: str = PLATFORM) -> Change:
    return Change(key=f"{platform}-{record.id}", op="upsert", record=record)


def _channels(store: Store, school: str, platform: str) -> dict[str, tuple[str, str]]:
    return {i.record_id: (i.channel, i.status) for i in store.outbox(school, platform)}


def test_drift_then_push_on_netschool_sends_and_verifies_the_change(tmp_path: Path) -> None:
    world = World.generate(31, SIZE)
    school = next(iter(world.schools.values()))
    admin = world.accounts(school.slug, "admin")[0]
    db = tmp_path / "j.db"
    env = {**os.environ, "JS_TEST_PASSWORD": admin.password}
    with serve_in_thread(create_app(world)) as server:
        login = [
            "--school", school.slug, "--platform", PLATFORM, "--base-url", server.base_url,
            "--platform-school", school.short_name, "--login", admin.login,
            "--password-env", "JS_TEST_PASSWORD", "--db", f"sqlite:///{db}",
        ]  # fmt: skip

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return run_cli(*args, env=env)

        pulled = cli("pull", *login, "--today", world.today.isoformat())
        assert pulled.returncode == 0, pulled.stderr[-2000:]

        # The paper journal has a mark the platform lacks.
        with Store.open(f"sqlite:///{db}") as store:
            # a pupil of that lesson's own group (not of the other subgroup)
            found, student, _ = a_free_slot(store, school.slug)
            lesson = found.id
            store.upsert_local(school.slug, [_mark(school.slug, student, lesson)], actor="paper")

        drift = cli(
            "drift", "--school", school.slug, "--platform", PLATFORM, "--db", f"sqlite:///{db}"
        )
        assert drift.returncode == 0, drift.stderr[-2000:]
        pushed = cli("push", *login)
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr[-2000:]
        assert "pushed 1, verified 1, failed 0, awaiting hand entry 0" in pushed.stdout
        assert admin.password not in pushed.stdout + pushed.stderr

    with Store.open(f"sqlite:///{db}") as store:
        (item,) = store.outbox(school.slug, PLATFORM)
        assert (item.channel, item.status) == ("api", "verified")


def test_reconcile_without_capabilities_uses_the_installed_connectors(store: Store) -> None:
    s = "school-1"
    store.upsert_local(
        s,
        [_mark(s), Homework(school=s, lesson_id="L1", text="упр. 1", due_date=date(2025, 3, 14))],
        actor="t",
    )
    assert reconcile(store, s, PLATFORM).enqueued == 2
    by_entity = {i.entity: i.channel for i in store.outbox(s, PLATFORM)}
    # NetSchool writes marks through its API; homework has no channel there: by hand.
    assert by_entity == {"mark": "api", "homework": "worklist"}
    other = "school-2"  # (change keys do not name the platform)
    store.upsert_local(other, [_mark(other)], actor="t")
    assert reconcile(store, other, "kiasuo").enqueued == 1
    assert {i.channel for i in store.outbox(other, "kiasuo")} == {"worklist"}


def test_items_stranded_on_the_worklist_move_back_at_reconcile(store: Store) -> None:
    s = "school-1"
    stranded = _mark(s, "st1")
    store.enqueue(s, PLATFORM, [_change(stranded)], channel="worklist")
    store.set_outbox_status([f"{PLATFORM}-{stranded.id}"], "awaiting_entry")
    reconcile(store, s, PLATFORM)
    assert _channels(store, s, PLATFORM) == {stranded.id: ("api", "pending")}


def test_migration_0005_moves_stranded_items_and_leaves_the_rest(store: Store) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003")
    s = "school-1"
    pending, waiting, sent = _mark(s, "a"), _mark(s, "b"), _mark(s, "c")
    homework = Homework(school=s, lesson_id="L1", text="упр. 1", due_date=date(2025, 3, 14))
    package = _mark(s, "d")
    store.enqueue(
        s, PLATFORM, [_change(r) for r in (pending, waiting, sent, homework)], channel="worklist"
    )
    store.set_outbox_status([f"{PLATFORM}-{waiting.id}"], "awaiting_entry")
    store.set_outbox_status([f"{PLATFORM}-{sent.id}"], "verified")
    store.enqueue(s, "kiasuo", [_change(pending, "kiasuo")], channel="worklist")
    store.enqueue(s, "kiasuo", [_change(package, "kiasuo")], channel="package")
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    assert _channels(store, s, PLATFORM) == {
        pending.id: ("api", "pending"),
        waiting.id: ("api", "pending"),
        sent.id: ("worklist", "verified"),  # history is never rewritten
        homework.id: ("worklist", "pending"),  # NetSchool has no channel for homework
    }
    # КИАСУО offers both hand-entry channels for marks: nothing to move.
    assert _channels(store, s, "kiasuo") == {
        pending.id: ("worklist", "pending"),
        package.id: ("package", "pending"),
    }
