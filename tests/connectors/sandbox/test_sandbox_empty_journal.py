"""``sandbox serve --journal empty``: the same school's roster and timetable under the platform's
own ids, with no marks, attendance, topics or homework — pulled over a real socket and compared
with the full world's pull of the same seed."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.netschool import NetSchoolConnector
from connectors.netschool.emulator import create_app
from connectors.sandbox.journal import empty_journal
from connectors.sandbox.server import serve_in_thread
from connectors.sandbox.world import World, WorldSize
from core.connector import Credentials, SchoolTarget
from core.model import Lesson
from core.store import Store
from core.sync import pull
from journalsync.cli import app as cli_app

SLUG = "school-1"
PLATFORM = "netschool"
SIZE = WorldSize(grades=(5, 7), letters=1, students_per_class=6, weeks=1)
ROSTER = ("person", "class_unit", "subject", "group", "lesson", "academic_year", "period")
JOURNAL = ("mark", "attendance", "homework", "final_mark")


async def _pulled(world: World, path: Path) -> Store:
    store = Store.open(f"sqlite:///{path}")
    admin = world.accounts(school=SLUG, role="admin")[0]
    with serve_in_thread(create_app(world)) as server:
        target = SchoolTarget(
            school=SLUG,
            platform=PLATFORM,
            base_url=server.base_url,
            credentials=Credentials(login=admin.login, password=admin.password),
            platform_school=world.school(SLUG).short_name,
        )
        async with NetSchoolConnector(target, today=world.today) as conn:
            await pull(store, conn)
    return store


def _ids(store: Store, entity: str) -> set[str]:
    return {r.id for r in store.remote_records(SLUG, PLATFORM, entity)}


async def test_the_empty_journal_keeps_roster_and_timetable_and_nothing_else(
    tmp_path: Path,
) -> None:
    full = await _pulled(World.generate(5, SIZE), tmp_path / "full.db")
    empty = await _pulled(empty_journal(World.generate(5, SIZE)), tmp_path / "empty.db")
    try:
        for entity in ROSTER:
            assert _ids(empty, entity) == _ids(full, entity) != set(), entity
        for entity in JOURNAL[:3]:
            assert _ids(full, entity), entity
        for entity in JOURNAL:
            assert _ids(empty, entity) == set(), entity
        lessons = [r for r in empty.remote_records(SLUG, PLATFORM, "lesson")]
        assert all(isinstance(le, Lesson) and not le.topic for le in lessons)
        assert any(
            isinstance(le, Lesson) and le.topic
            for le in full.remote_records(SLUG, PLATFORM, "lesson")
        )
    finally:
        full.close()
        empty.close()


@pytest.mark.parametrize("value", ["half", ""])
def test_an_unknown_journal_option_is_refused(value: str) -> None:
    result = CliRunner().invoke(cli_app, ["sandbox", "serve", "--journal", value])
    assert result.exit_code == 2
    assert "--journal must be one of full, empty" in result.output
