"""Migration plans in the store (SQLite and PostgreSQL): saved whole, moved along their states,
approval and certificate kept."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from core.store import Store


def test_a_plan_moves_through_its_states(store: Store) -> None:
    data = {"school": "s-1", "items": [{"entity": "mark", "op": "add"}], "pending_review": 0}
    store.save_plan(
        "p-1",
        school="s-1",
        source=("sgo", "netschool"),
        target=("epos", "perm"),
        counts={"mark": {"add": 1}},
        data=data,
    )
    row = store.plan("p-1")
    assert (row.state, row.source_platform, row.target_binding) == ("planned", "netschool", "epos")
    assert row.data == data and row.counts == {"mark": {"add": 1}} and row.certificate is None
    store.set_plan_state("p-1", "approved", approved_by="zav")
    store.set_plan_state("p-1", "awaiting_entry")
    store.set_plan_state("p-1", "verified", certificate={"complete": True})
    row = store.plan("p-1")
    assert (row.state, row.approved_by, row.certificate) == ("verified", "zav", {"complete": True})
    assert [r.id for r in store.plans("s-1")] == ["p-1"] and store.plans("s-2") == []
    with pytest.raises(ValueError):
        store.set_plan_state("p-1", "done")
    with pytest.raises(ConfigError):
        store.plan("p-2")
