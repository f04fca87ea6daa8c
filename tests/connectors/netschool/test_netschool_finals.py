"""NetSchool final marks from family accounts' ``studenttotalmarks`` reports, end to end: the
emulator on a loopback socket (queue, SignalR hub over a real WebSocket, files), the connector,
and a real SQLite store."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from connectors.netschool import NetSchoolConnector
from connectors.netschool._finals import parse_total_marks
from connectors.netschool.emulator import NetSchoolEmulator, create_app
from connectors.sandbox.server import serve_in_thread
from connectors.sandbox.world import World, WorldSize
from core.connector import Credentials, Page, SchoolTarget
from core.errors import ContractError, JournalSyncError
from core.http import HttpSettings
from core.model import FinalMark
from core.store import Store
from core.sync import pull

SLUG = "school-1"
FAST = HttpSettings(backoff_initial=0.0, backoff_max=0.0, max_retry_after=0.0)
#: Ten weeks: the first quarter is over and has its finals.
SIZE = WorldSize(grades=(5,), letters=1, students_per_class=4, weeks=10)


@pytest.fixture
def world() -> World:
    return World.generate(11, SIZE)


def _target(world: World, base_url: str, family: list[Any]) -> SchoolTarget:
    admin = world.accounts(SLUG, "admin")[0]
    return SchoolTarget(
        school=SLUG,
        platform="netschool",
        base_url=base_url,
        credentials=Credentials(login=admin.login, password=admin.password),
        platform_school=world.school(SLUG).short_name,
        options={"report_timeout": 10},
        accounts=tuple(Credentials(login=a.login, password=a.password) for a in family),
    )


def _family(world: World) -> list[Any]:
    """Every guardian, plus the student account of the first guardian's first child (the same
    pupil seen by two accounts)."""
    guardians = world.accounts(SLUG, "guardian")
    child = world.persons[guardians[0].person_id].children[0]
    own = next(a for a in world.accounts(SLUG, "student") if a.person_id == child)
    return [own, *guardians]


def _expected(world: World, pupils: set[int]) -> Counter[tuple[int, str, str]]:
    return Counter(
        (sid, world.subjects[subj].name, v.value)
        for (sid, subj, _), v in world.final_marks.items()
        if sid in pupils
    )


async def _pages(target: SchoolTarget, world: World) -> list[Page]:
    async with NetSchoolConnector(target, http=FAST, today=world.today) as conn:
        await conn.login()
        return [p async for p in conn.pull({})]


def _finals(pages: list[Page]) -> list[FinalMark]:
    return [r for p in pages for r in p.records if isinstance(r, FinalMark)]


@pytest.mark.slow
async def test_finals_are_read_from_family_reports_once_per_pupil(world: World) -> None:
    family = _family(world)
    pupils = {
        c for a in family for c in ([a.person_id] if a.role == "student" else
                                    world.persons[a.person_id].children)
    }  # fmt: skip
    with serve_in_thread(create_app(world)) as server:
        pages = await _pages(_target(world, server.base_url, family), world)
    finals = _finals(pages)
    assert finals and all(not p.quarantine for p in pages)
    # one record per pupil × subject × period, although one pupil is shown by two accounts
    assert len({f.id for f in finals}) == len(finals)
    scopes = [p.scope for p in pages if p.stream == "finals"]
    assert len(scopes) == len(set(scopes)) == len(pupils)
    assert all(p.complete_for == {"final_mark"} for p in pages if p.stream == "finals")
    assert [p.cursor["complete"] for p in pages if p.stream == "finals"][-1] is True
    # the same values as the world's, on the administrator's periods and subjects
    roster = pages[0].records
    persons = {r.id: r for r in roster if r.ENTITY == "person"}
    subjects = {r.id: r.name for r in roster if r.ENTITY == "subject"}  # type: ignore[attr-defined]
    periods = {r.id for r in roster if r.ENTITY == "period"}
    by_key = {p.key: uid for uid in pupils for p in persons.values() if p.key.endswith(f":{uid}")}  # type: ignore[attr-defined]
    got = Counter(
        (by_key[persons[f.student_id].key], subjects[f.subject_id], f.value.value)  # type: ignore[attr-defined]
        for f in finals
    )
    assert got == _expected(world, pupils)
    assert {f.period_id for f in finals} <= periods
    # the ids are the canonical (pupil, subject, period) ones: the world's own records
    truth = {r.id for r in world.canonical(SLUG, "netschool") if isinstance(r, FinalMark)}
    assert {f.id for f in finals} <= truth


@pytest.mark.slow
async def test_without_family_accounts_finals_are_not_read_and_capabilities_say_so(
    world: World,
) -> None:
    with serve_in_thread(create_app(world)) as server:
        pages = await _pages(_target(world, server.base_url, []), world)
    assert not _finals(pages) and "finals" not in {p.stream for p in pages}
    caps = NetSchoolConnector.capabilities
    assert "final_mark" not in caps.reads  # not read — which is not "none"
    assert "family (student/parent) accounts" in caps.notes


@pytest.mark.slow
def test_a_report_failing_midway_leaves_the_pass_open_and_deletes_nothing(
    world: World, tmp_path: Path
) -> None:
    import asyncio

    family = world.accounts(SLUG, "guardian")
    app: NetSchoolEmulator = create_app(world)
    with serve_in_thread(app) as server, Store.open(f"sqlite:///{tmp_path}/f.db") as store:
        target = _target(world, server.base_url, family)

        async def run(on_page: Any = None) -> Any:
            async with NetSchoolConnector(target, http=FAST, today=world.today) as conn:
                return await pull(store, conn, on_page=on_page, batch_records=1, limits=None)

        asyncio.run(run())
        before = {r.id: r for r in store.remote_records(SLUG, "netschool", "final_mark")}
        assert before
        assert store.cursors(SLUG, "netschool")["finals"]["complete"] is True

        # A second full pass: after its first finals page the report queue fails for good.
        # Before, a final of a pupil not yet read is removed on the platform (it must not be
        # deleted from the store by a pass that never read that pupil again).
        seen: list[str] = []

        def on_page(page: Page, _: Any) -> None:
            if page.stream == "finals" and not seen:
                seen.append(page.scope)
                app.faults.path_prefix = "/webapi/reports/studenttotalmarks/queue"
                app.faults.server_errors = 1000

        last_pupil = max(world.persons[g.person_id].children[0] for g in family)
        gone = next(k for k in world.final_marks if k[0] == last_pupil)
        del world.final_marks[gone]
        with pytest.raises(JournalSyncError):
            asyncio.run(run(on_page))
        assert len(seen) == 1
        cursor = store.cursors(SLUG, "netschool")["finals"]
        assert cursor["complete"] is False and cursor["done"] == seen
        after = {r.id: r for r in store.remote_records(SLUG, "netschool", "final_mark")}
        assert after.keys() == before.keys()  # nothing deleted, the removed final included
        deleted = [
            c for c in store.remote_changes(SLUG, "netschool", "final_mark") if c.kind == "deleted"
        ]
        assert deleted == []

        # The platform answers again: the pass resumes with the pupils not read, and only now
        # the removed final is deleted.
        app.faults.server_errors = 0
        asyncio.run(run())
        assert store.cursors(SLUG, "netschool")["finals"]["complete"] is True
        final = {r.id for r in store.remote_records(SLUG, "netschool", "final_mark")}
        assert len(final) == len(before) - 1


def test_report_parser_reads_spans_and_refuses_a_changed_layout() -> None:
    html = (
        "<html><body><table class='table-print'>"
        "<tr><th>№</th><th>Предмет</th><th colspan='2'>1 четверть</th><th>Годовая</th></tr>"
        "<tr><td>1</td><td>Алгебра</td><td>5</td><td></td><td>&nbsp;</td></tr>"
        "</table><table><tr><th>Предмет</th></tr></table></body></html>"
    )
    header, rows = parse_total_marks(html)
    assert header == ["№", "Предмет", "1 четверть", "1 четверть", "Годовая"]
    assert rows == [["1", "Алгебра", "5", "", ""]]
    with pytest.raises(ContractError, match="Предмет"):
        parse_total_marks("<table><tr><td>1</td></tr></table>")
