"""Schema drift: the reader's events, the connector's log, the store's history, the pull's save."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
import pytest
from pydantic import Field
from sqlalchemy import select

from connectors.netschool.harness import HARNESS
from connectors.sandbox import World, WorldSize
from connectors.sandbox.faults import Faults
from core import platform
from core.codes import MarkValue
from core.connector import Connector, Credentials, Page, PullMode, Quarantined, SchoolTarget
from core.errors import ContractError
from core.model import Mark
from core.schema_drift import DriftEvent, DriftKind, DriftLog, collecting
from core.store import RunState, Store
from core.sync import pull
from journalsync._common import console
from journalsync.config import parse_config
from journalsync.runs_cmd import print_status
from scheduler import school_status

# --- a toy platform, its schema built as every connector builds its own ------------------------


class Bad(platform.Bad):
    pass


_reader = platform.PayloadReader("toy", bad=Bad)


class Item(platform.PlatformModel):
    KNOWN = frozenset({"documented"})

    id: int
    name: str = ""


class Box(platform.PlatformModel):
    items: Annotated[list[Item | Bad], _reader.lenient(Item)] = Field(default_factory=list)
    total: int = 0


def _kinds(events: list[DriftEvent]) -> dict[tuple[str, str, str], int]:
    return {(e.model, e.field, e.kind.value): e.count for e in events}


@pytest.fixture(autouse=True)
def _fresh_reader() -> None:
    _reader.reset_drift_reports()


# --- the reader ----------------------------------------------------------------------------------


def test_reader_counts_unknown_missing_and_retyped_fields() -> None:
    payload = {
        "items": [
            {"id": 1, "new": "Иванов", "documented": 1},
            {"id": 2, "new": "Петров"},
            {"name": "no id"},  # missing
            {"id": "seven"},  # retyped
            "not an object",  # the whole item retyped
        ]
    }
    box = _reader.parse(Box, payload, what="box")
    assert [type(i).__name__ for i in box.items] == ["Item", "Item", "Bad", "Bad", "Bad"]
    assert _kinds(_reader.drift.events()) == {
        ("Item", "new", "unknown"): 2,  # counted per record; KNOWN "documented" is not drift
        ("Item", "id", "missing"): 1,
        ("Item", "id", "retyped"): 1,
        ("Item", "(record)", "retyped"): 1,
    }
    e = _reader.drift.events()[0]
    assert e.platform == "toy" and e.first_seen <= e.last_seen
    assert "Иванов" not in repr(_reader.drift.events())  # names only, never values


def test_a_broken_container_is_a_contract_error_and_its_fields_are_drift() -> None:
    with pytest.raises(ContractError):
        _reader.parse(Box, {"items": {"id": 1}, "total": "many"}, what="box")
    with pytest.raises(ContractError):
        _reader.parse_list(Item, {"id": 1}, what="items")
    assert _kinds(_reader.drift.events()) == {
        ("Box", "items", "retyped"): 1,
        ("Box", "total", "retyped"): 1,
        ("Item", "(response)", "retyped"): 1,
    }


def test_list_indexes_and_union_tags_are_not_part_of_the_field_name() -> None:
    class Cell(platform.PlatformModel):
        value: int | str

    class Row(platform.PlatformModel):
        cells: list[Cell]

    with pytest.raises(ContractError):
        _reader.parse(Row, {"cells": [{"value": 1}, {"value": [1]}, {}]}, what="row")
    assert _kinds(_reader.drift.events()) == {
        ("Row", "cells.value", "retyped"): 1,
        ("Row", "cells.value", "missing"): 1,
    }


def test_events_go_to_the_log_of_the_context_and_its_tasks_only() -> None:
    mine, other = DriftLog(), DriftLog()

    async def parse_in_a_task() -> None:
        _reader.parse(Item, {"id": 1, "from_task": 1}, what="item")

    async def main() -> None:
        with collecting(mine):
            _reader.parse(Item, {"id": 1, "here": 1}, what="item")
            await asyncio.gather(parse_in_a_task())
        with collecting(other):
            _reader.parse(Item, {"id": 1, "there": 1}, what="item")
        _reader.parse(Item, {"id": 1, "nowhere": 1}, what="item")

    asyncio.run(main())
    assert set(_kinds(mine.events())) == {
        ("Item", "here", "unknown"),
        ("Item", "from_task", "unknown"),
    }
    assert set(_kinds(other.events())) == {("Item", "there", "unknown")}
    assert ("Item", "nowhere", "unknown") in _kinds(_reader.drift.events())


# --- the store (SQLite and PostgreSQL) ------------------------------------------------------------


def _event(field: str, kind: DriftKind, n: int, at: datetime, platform: str = "toy") -> DriftEvent:
    return DriftEvent(platform, "Item", field, kind, n, at, at)


def test_store_upserts_counts_and_keeps_first_seen(store: Store) -> None:
    t0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    t1 = t0 + timedelta(hours=5)
    assert store.record_schema_drift("s1", []) == 0
    store.record_schema_drift(
        "s1", [_event("new", DriftKind.UNKNOWN, 3, t0), _event("id", DriftKind.MISSING, 1, t0)]
    )
    store.record_schema_drift("s1", [_event("new", DriftKind.UNKNOWN, 2, t1)])
    store.record_schema_drift("s2", [_event("new", DriftKind.UNKNOWN, 1, t0, platform="other")])
    # an older event saved late does not move last_seen back
    store.record_schema_drift("s1", [_event("new", DriftKind.UNKNOWN, 1, t0)])

    rows = store.schema_drift(platform="toy", school="s1")
    assert [(r.field, r.kind, r.count, r.first_seen, r.last_seen) for r in rows] == [
        ("new", DriftKind.UNKNOWN, 6, t0, t1),  # newest first
        ("id", DriftKind.MISSING, 1, t0, t0),
    ]
    assert [r.school for r in store.schema_drift(platform="other")] == ["s2"]
    assert {r.school for r in store.schema_drift()} == {"s1", "s2"}
    assert store.schema_drift(school="nobody") == []


# --- connectors and the pull engine ---------------------------------------------------------------


class _Toy(Connector):
    """Reads two toy payloads per pull; ``fail`` breaks the second one's container."""

    platform = "toy"
    capabilities = None  # type: ignore[assignment]  # not needed by the engine's pull

    def __init__(self, target: SchoolTarget, *, fail: bool = False) -> None:
        super().__init__(target)
        self.fail = fail

    async def login(self) -> None:
        _reader.parse(Item, {"id": 0, "login_extra": 1}, what="login")

    async def pull(
        self, cursors: Mapping[str, Mapping[str, Any]], mode: PullMode = PullMode.FULL
    ) -> AsyncIterator[Page]:
        for n, scope in enumerate(self.sampled(["a", "b", "c", "d", "e"])):
            box = _reader.parse(Box, {"items": [{"id": n, "extra": 1}]}, what="box")
            if self.fail and n == 1:
                _reader.parse(Box, {"items": 5}, what="box")
            yield Page("items", scope, [], {"done": scope}, complete_for=frozenset())
            del box
        yield Page("more", "z", [], {"done": "z"})


def _target() -> SchoolTarget:
    return SchoolTarget("s1", "toy", "http://toy", Credentials("u", "p"))


def _counts(store: Store) -> dict[tuple[str, str, str], int]:
    return {(r.model, r.field, r.kind.value): r.count for r in store.schema_drift(school="s1")}


async def test_the_pull_saves_the_drift_it_met_once_each(store: Store) -> None:
    c = _Toy(_target())
    await pull(store, c)
    await pull(store, c)  # the same connector again: its events are not saved twice
    assert _counts(store) == {
        ("Item", "login_extra", "unknown"): 2,
        ("Item", "extra", "unknown"): 10,
    }
    assert c.schema_drift() == []


async def test_a_failing_pull_saves_its_drift_too(store: Store) -> None:
    with pytest.raises(ContractError):
        await pull(store, _Toy(_target(), fail=True))
    assert _counts(store) == {
        ("Item", "login_extra", "unknown"): 1,
        ("Item", "extra", "unknown"): 2,
        ("Box", "items", "retyped"): 1,
    }
    with store.engine.connect() as conn:  # names only: no column holds a payload
        cols = set(store.tables["schema_drift"].c.keys())
        assert cols == {"platform", "school", "model", "field", "kind", "count"} | {
            "first_seen",
            "last_seen",
        }
        assert conn.execute(select(store.tables["schema_drift"])).all()


async def test_sample_reads_a_few_scopes_per_stream_and_attributes_drift() -> None:
    c = _Toy(_target())
    sample = await c.sample()
    assert list(sample.streams) == ["items", "more"]
    items = sample.streams["items"]
    assert (items.pages, items.page.scope) == (3, "a")  # first, middle, last of five
    assert [(e.field, e.kind) for e in items.drift] == [("extra", DriftKind.UNKNOWN)]
    assert sample.streams["more"].drift == []
    assert not c.sampling and sample.error is None

    broken = await _Toy(_target(), fail=True).sample()
    assert isinstance(broken.error, ContractError)
    # the drift met since the last good page: the failing scope's unknown field and the break
    assert [(e.model, e.field) for e in broken.error_drift] == [("Box", "items"), ("Item", "extra")]
    assert broken.streams["items"].pages == 1


async def test_sample_stops_at_its_page_budget() -> None:
    class Endless(_Toy):
        async def pull(
            self, cursors: Mapping[str, Mapping[str, Any]], mode: PullMode = PullMode.FULL
        ) -> AsyncIterator[Page]:
            n = 0
            while True:  # a connector that does not pass its scopes through sampled()
                n += 1
                yield Page("items", str(n), [], {})

    sample = await Endless(_target()).sample(max_pages=7)
    assert (sample.pages, sample.truncated, sample.streams["items"].pages) == (7, True, 7)


async def test_a_renamed_field_on_the_emulator_is_recorded_by_a_real_pull(store: Store) -> None:
    """NetSchool's ``mark`` renamed ``markValue`` (a proxy, a platform release): the results
    are quarantined (their last good versions kept), and the store says which field of which
    payload drifted — missing under its old name, unknown under its new one."""
    world = World.generate(31, WorldSize(grades=(5,), letters=1, students_per_class=6, weeks=1))
    school = next(iter(world.schools))
    app = HARNESS.app(world, Faults(rename_fields={"mark": "markValue"}))
    target = HARNESS.target(world, "http://emulator.test", school, True)
    async with HARNESS.connect(world, target, transport=httpx.ASGITransport(app=app)) as c:
        await pull(store, c)
    rows = store.schema_drift(platform="netschool", school=school)
    found = {(r.model, r.field, r.kind.value) for r in rows}
    assert ("Result", "markValue", "unknown") in found
    assert ("Result", "mark", "missing") in found
    assert all(r.count >= 1 for r in rows)


# --- status -----------------------------------------------------------------------------------


def _cli_pulled(store: Store) -> None:
    """A school pulled from the command line (no run, no plan) with a quarantined record and
    NetSchool schema drift, and a school on another platform with a held run."""
    marks = [
        Mark(school="cli", student_id=s, lesson_id="L1", work_type="answer", value=MarkValue.FIVE)
        for s in ("a", "b")
    ]
    bad = Quarantined("mark", "m:3", "value", "malformed Result: bad int")
    store.commit_page(
        "cli", "netschool", Page("journal", "j:1", marks, {"pass": 1}, [], frozenset({"mark"}))
    )
    # The next read cannot read b's mark: quarantined, its last good version kept stale.
    store.commit_page(
        "cli",
        "netschool",
        Page("journal", "j:1", marks[:1], {"pass": 2}, [bad], frozenset({"mark"})),
    )
    at = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    store.record_schema_drift(
        "cli", [DriftEvent("netschool", "Result", "markValue", DriftKind.UNKNOWN, 35, at, at)]
    )
    run = store.start_run("held:1", "held", "ruobr", "push")
    store.transition(run.id, RunState.RECONCILING)
    store.transition(run.id, RunState.HELD, note="mark: 3 updates exceed 2")


def test_status_lists_cli_pulled_schools_with_records_quarantine_drift_and_holds(
    store: Store, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _cli_pulled(store)
    rows = {(r.school, r.platform): r for r in school_status(None, store)}
    assert set(rows) == {("cli", "netschool"), ("held", "ruobr")}
    cli = rows["cli", "netschool"]
    assert (cli.records, cli.quarantined, cli.stale, cli.drifted_fields) == (
        {"mark": 2},
        {"mark": 1},
        {"mark": 1},
        ["unknown Result.markValue"],
    )
    assert rows["held", "ruobr"].holds[0][1] == "mark: 3 updates exceed 2"

    # A plan knows one school; the command-line one is listed after it, marked as not planned.
    plan = parse_config(
        '[municipality]\nname = "N"\n[[schools]]\nslug = "planned"\nname = "P"\n'
        'platform = "netschool"\nbase_url = "http://x"\nlogin = "u"\n'
        'password = { env = "NOPE" }\n',
        platforms=["netschool"],
    )
    listed = [(r.school, r.in_plan) for r in school_status(plan, store)]
    assert listed == [("planned", True), ("cli", False), ("held", False)]

    # What ``journalsync status [--json]`` prints (journalsync/cli.py calls print_status).
    print_status(None, store, as_json=True)
    by = {(d["school"], d["platform"]): d for d in json.loads(capsys.readouterr().out)}
    assert by["cli", "netschool"]["records"] == {"mark": 2}
    assert by["cli", "netschool"]["quarantined"] == {"mark": 1}
    assert by["cli", "netschool"]["stale"] == {"mark": 1}
    (drift,) = by["cli", "netschool"]["schema_drift"]
    assert (drift["model"], drift["field"], drift["kind"], drift["count"]) == (
        "Result",
        "markValue",
        "unknown",
        35,
    )
    assert by["held", "ruobr"]["holds"][0]["reason"] == "mark: 3 updates exceed 2"

    monkeypatch.setattr(console, "width", 250)
    print_status(None, store)
    table = capsys.readouterr().out
    assert "unknown Result.markValue" in table
    assert "mark: 3 updates exceed 2" in table
    assert "1 with stale records" in table
    assert (
        "2 schools, 0 failed, 0 partial, 1 with held runs, 1 with stale records, "
        "1 with platform schema drift" in table
    )


def test_keys_that_are_data_never_become_field_names() -> None:
    class ByDay(platform.PlatformModel):
        days: dict[str, Item]

    with pytest.raises(ContractError):
        _reader.parse(ByDay, {"days": {"2026-09-01": {"name": "x"}}}, what="days")
    _reader.parse(Item, {"id": 1, "Иванов Иван": 5, "12345": 1}, what="item")
    names = {(e.model, e.field) for e in _reader.drift.events()}
    assert names == {("ByDay", "days.id"), ("Item", "(key)")}
