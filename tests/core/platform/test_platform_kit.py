"""The platform-neutral connector kit (``core.platform``): schema tolerance, cursors, targets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import Field
from structlog.testing import capture_logs

from core import platform
from core.connector import (
    Capabilities,
    Connector,
    Credentials,
    Page,
    PullMode,
    Quarantined,
    SchoolTarget,
)
from core.errors import ConfigError, ContractError, MalformedRecord, Skippable
from core.http import HttpSettings
from core.model import Provenance

# --- a tiny platform's schema, built the way every connector builds its own -------------------


class Wire(platform.PlatformModel):
    pass


class Bad(platform.Bad):
    ID_KEYS = ("id", "pupilId")


_reader = platform.PayloadReader("toy", bad=Bad)


class Item(Wire):
    KNOWN = frozenset({"documented"})

    id: int
    name: str = ""


class Box(Wire):
    items: Annotated[list[Item | Bad], _reader.lenient(Item)] = Field(default_factory=list)
    tag: Item | None = None
    by_key: dict[str, Item] = Field(default_factory=dict)


def _drift(logs: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    return [(e["model"], e["fields"]) for e in logs if "schema drift" in e["event"]]


# --- drift ---------------------------------------------------------------------------------------


def test_drift_is_reported_once_per_model_and_field() -> None:
    _reader.reset_drift_reports()
    with capture_logs() as logs:
        _reader.parse(Box, {"items": [{"id": 1, "new": 1}, {"id": 2, "new": 2}]}, what="box")
        _reader.parse(Box, {"items": [{"id": 3, "new": 3, "newer": 0}]}, what="box")
    # "new" once, although three items and two responses carried it; "newer" later, alone
    assert _drift(logs) == [("Item", ["new"]), ("Item", ["newer"])]
    assert logs[0]["event"] == "toy schema drift: unknown fields"


def test_drift_names_fields_never_values_and_skips_known_ones() -> None:
    _reader.reset_drift_reports()
    with capture_logs() as logs:
        _reader.parse(Box, {"tag": {"id": 1, "documented": 1, "secret": "Иванов"}}, what="box")
    assert _drift(logs) == [("Item", ["secret"])]
    assert "Иванов" not in repr(logs)


def test_drift_memory_is_per_reader() -> None:
    """Two platforms may both have a model named ``Item``: each reports its own drift."""
    other = platform.PayloadReader("other", bad=platform.Bad)
    _reader.reset_drift_reports()
    with capture_logs() as logs:
        _reader.parse(Item, {"id": 1, "new": 1}, what="item")
        other.parse(Item, {"id": 1, "new": 1}, what="item")
    assert [e["event"].split()[0] for e in logs] == ["toy", "other"]


def _unknown(reader: platform.PayloadReader[Any]) -> dict[tuple[str, str], int]:
    return {(e.model, e.field): e.count for e in reader.drift.events() if e.kind.value == "unknown"}


def test_a_usual_response_reads_as_the_tolerant_reading_would() -> None:
    """A response with no bad item: the same models, unknown fields kept, and the drift counted
    per model met, as the tolerant reading (the model's own validation and a walk) gives."""
    _reader.reset_drift_reports()
    payload = {
        "items": [{"id": 1, "new": 1, "documented": 2}, {"id": 2, "new": 2}, {"id": 3}],
        "tag": {"id": 4, "newer": 0},
        "extra": "kept",
    }
    box = _reader.parse(Box, payload, what="box")
    assert box == Box.model_validate(payload)
    assert [type(i) for i in box.items] == [Item, Item, Item]
    assert box.items[0].__pydantic_extra__ == {"new": 1, "documented": 2}
    assert box.__pydantic_extra__ == {"extra": "kept"}
    assert _unknown(_reader) == {("Item", "new"): 2, ("Item", "newer"): 1, ("Box", "extra"): 1}
    items = _reader.parse_list(Item, [{"id": 5, "new": 1}, {"id": 6}], what="items")
    assert items == [Item(id=5, new=1), Item(id=6)]  # type: ignore[call-arg]
    assert _unknown(_reader)[("Item", "new")] == 3
    # the models' own validation is left as it was
    assert Item.__pydantic_complete__
    assert Item.model_validate({"id": 7, "x": 1}).__pydantic_extra__ == {"x": 1}


@pytest.mark.parametrize("bad", [False, True], ids=["usual", "with-a-bad-item"])
def test_models_held_in_a_map_report_their_drift(bad: bool) -> None:
    _reader.reset_drift_reports()
    payload = {"items": [{"id": "x"}] if bad else [], "by_key": {"a": {"id": 1, "new": 1}}}
    with capture_logs() as logs:
        box = _reader.parse(Box, payload, what="box")
    assert isinstance(box.by_key["a"], Item)
    assert _drift(logs) == [("Item", ["new"])]
    assert _unknown(_reader) == {("Item", "new"): 1}


# --- bad items -----------------------------------------------------------------------------------


def test_a_bad_item_does_not_stop_the_list() -> None:
    box = _reader.parse(Box, {"items": [{"id": 1}, {"id": "x"}, {"id": 3}]}, what="box")
    assert [type(i).__name__ for i in box.items] == ["Item", "Bad", "Item"]
    bad = box.items[1]
    assert isinstance(bad, Bad)
    assert (bad.model, bad.field, bad.raw) == ("Item", "id", {"id": "x"})
    assert "x" not in bad.reason  # pydantic's message without the input value


def test_null_list_reads_as_empty_and_a_non_list_container_is_a_contract_error() -> None:
    assert _reader.parse(Box, {"items": None}, what="box").items == []
    with pytest.raises(ContractError, match=r"^toy box: unexpected response shape \(items"):
        _reader.parse(Box, {"items": {"id": 1}}, what="box")


def test_parse_list_reads_item_by_item_and_wants_an_array() -> None:
    out = _reader.parse_list(Item, [{"id": 1}, {"name": "no id"}], what="items")
    assert isinstance(out[0], Item)
    assert isinstance(out[1], Bad)
    assert out[1].field == "id"
    with pytest.raises(ContractError, match=r"^toy items: expected a JSON array$"):
        _reader.parse_list(Item, {"id": 1}, what="items")


def test_bad_item_id_tries_the_platform_keys() -> None:
    assert Bad(model="M", field="f", reason="r", raw={"pupilId": 7}).item_id() == "7"
    assert Bad(model="M", field="f", reason="r", raw={"id": " ", "pupilId": 7}).item_id() == "7"
    assert Bad(model="M", field="f", reason="r", raw={"k": 5}).item_id("k") == "5"
    assert Bad(model="M", field="f", reason="r", raw={"id": 5}).item_id("k") == "?"
    assert platform.Bad(model="M", field="f", reason="r", raw=[1]).item_id() == "?"
    assert platform.Bad(model="M", field="f", reason="r", raw={"x": 1}).raw_get("x") == 1


# --- batches -------------------------------------------------------------------------------------


def test_batch_quarantines_skips_and_bad_items() -> None:
    batch = platform.Batch()
    batch.skip(MalformedRecord("no name", field="name"), "person", "user:1", {"id": 1})
    batch.skip(Skippable("why", entity="mark", record="m:2"), "person", "user:2")
    batch.bad(Bad(model="Item", field="id", reason="bad int", raw={"id": "x"}), "lesson", "l:?")
    assert [(q.entity, q.record, q.field, q.reason) for q in batch.quarantine] == [
        ("person", "user:1", "name", "no name"),
        ("mark", "m:2", "", "why"),
        ("lesson", "l:?", "id", "malformed Item: bad int"),
    ]
    assert batch.quarantine[0].payload == {"id": 1}


def test_batch_add_is_the_one_hook() -> None:
    class Once(platform.Batch):
        def _add(self, q: Quarantined) -> None:
            if q not in self.quarantine:
                self.quarantine.append(q)

    batch = Once()
    for _ in range(2):
        batch.skip(Skippable("why"), "mark", "m:1")
    assert len(batch.quarantine) == 1


# --- cursors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cursor", "expected"),
    [
        (None, (1, [], False)),
        ({}, (1, [], False)),
        ({"pass": 3, "done": ["a"], "complete": True}, (4, [], False)),
        ({"pass": 3, "done": ["a", 7]}, (4, [], False)),  # no "complete" = complete
        ({"pass": 3, "done": ["a", 7], "complete": False}, (3, ["a", "7"], True)),
        ({"pass": 0, "complete": False}, (1, [], True)),
    ],
)
def test_start_pass(cursor: dict[str, Any] | None, expected: tuple[int, list[str], bool]) -> None:
    assert tuple(platform.start_pass(cursor)) == expected


def test_single_page_is_skipped_by_a_resumed_pass_that_holds_it() -> None:
    def page(cursor: dict[str, Any] | None) -> Any:
        return platform.single_page(
            "roster", cursor, platform.Batch(), complete_for=frozenset({"person"})
        )

    first = page(None)
    assert first is not None
    assert (first.scope, first.cursor) == (
        "roster",
        {"pass": 1, "done": ["roster"], "complete": True},
    )
    assert first.complete_for == frozenset({"person"})
    again = page(first.cursor)
    assert again is not None and again.cursor["pass"] == 2
    assert page({"pass": 5, "done": ["roster"], "complete": False}) is None


def test_closing_page_completes_the_pass_and_touches_nothing() -> None:
    page = platform.closing_page("journal", 4, ["journal:1"], {"watermark": "w"})
    assert page.scope == "journal:pass:4"
    assert page.records == [] and page.complete_for == frozenset()
    assert page.cursor == {"pass": 4, "done": ["journal:1"], "complete": True, "watermark": "w"}
    assert list(page.cursor) == ["pass", "done", "complete", "watermark"]
    assert platform.start_pass(page.cursor) == (5, [], False)


def test_pass_cursor() -> None:
    assert platform.pass_cursor(2, ["a"], complete=False) == {
        "pass": 2,
        "done": ["a"],
        "complete": False,
    }


# --- targets and records -------------------------------------------------------------------------


class _Bare(Connector):
    platform = "toy"
    default_timezone = "Asia/Kamchatka"
    capabilities = Capabilities(platform="toy", reads=frozenset({"school"}))

    async def login(self) -> None:
        pass

    def pull(self, cursors: Any, mode: PullMode = PullMode.FULL) -> AsyncIterator[Page]:
        raise NotImplementedError


def _bare(timezone: str | None = None, **kw: Any) -> _Bare:
    target = SchoolTarget("s", "toy", "http://x", Credentials(), timezone=timezone)
    return _Bare(target, **kw)


def test_today_is_the_constructor_s_else_the_date_in_the_school_s_zone() -> None:
    assert _bare(today=date(2026, 3, 2)).today() == date(2026, 3, 2)
    for configured, zone in ((None, "Asia/Kamchatka"), ("Pacific/Pago_Pago", "Pacific/Pago_Pago")):
        c = _bare(configured)
        assert c.timezone == zone
        before = datetime.now(UTC).astimezone(ZoneInfo(zone)).date()
        assert c.today() in {before, datetime.now(UTC).astimezone(ZoneInfo(zone)).date()}


def test_http_settings_are_the_constructor_s_else_the_connector_s_default() -> None:
    mine, default = HttpSettings(timeout=5.0), HttpSettings(timeout=7.0)
    assert _bare(http=mine).http_settings(default) is mine
    assert _bare().http_settings(default) is default
    assert _bare().http_settings() == HttpSettings()


def test_a_bare_connector_takes_no_options() -> None:
    target = SchoolTarget("s", "toy", "http://x", Credentials(), options={"today": "2026-03-02"})
    with pytest.raises(ConfigError, match="today: unknown option"):
        _Bare(target)


def test_names_and_ids() -> None:
    assert platform.split_full_name("Алиев  Рашид Ахмед оглы", field="f") == (
        "Алиев",
        "Рашид",
        "Ахмед оглы",
    )
    with pytest.raises(MalformedRecord, match="needs two") as info:
        platform.split_full_name("Алиев", field="fullName", message="needs two")
    assert info.value.field == "fullName"
    assert platform.person_key("toy", 7) == "toy:7"
    assert platform.person_id("toy", "s", 7) == platform.person_id("toy", "s", "7")
    assert platform.person_id("toy", "s", 7) != platform.person_id("other", "s", 7)
    prov = platform.provenance("toy", {"a": 1, "b": None}, fetched_at=None)
    assert (prov.platform, dict(prov.external_ids)) == ("toy", {"a": "1"})
    # built without validation: it must be exactly what validation would have made
    at = datetime(2025, 9, 1, 8, tzinfo=UTC)
    prov = platform.provenance("toy", {"a": 1}, fetched_at=at, updated_at=at)
    assert prov == Provenance.model_validate(prov.model_dump())
    assert prov.model_dump_json() == Provenance.model_validate(prov.model_dump()).model_dump_json()
