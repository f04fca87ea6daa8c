"""The overview's rows from a real SQLite store: failed runs in a row counted up to the last run
(one windowed query for every school), and the page's cells in words."""

from __future__ import annotations

from pathlib import Path

from console import overview
from core.store import RunState, Store


def _runs(store: Store, school: str, states: list[RunState]) -> None:
    for i, state in enumerate(states):
        run = store.start_run(f"{school}:kiasuo:pull:{i}", school, "kiasuo", "pull")
        store.transition(run.id, RunState.PULLING)
        if state is RunState.FAILED:
            store.transition(run.id, state, error="the platform answered 503")
        else:
            store.transition(run.id, state)


def test_failed_in_a_row_counts_back_to_the_last_success(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'o.db'}")
    done, failed = RunState.DONE, RunState.FAILED
    _runs(store, "school-1", [failed, done, failed, failed, failed])
    _runs(store, "school-2", [failed, failed, done])
    _runs(store, "school-3", [failed, failed])
    _runs(store, "school-4", [failed] * 60)  # the window looks 50 runs back
    rows = {r.slug: r for r in overview(None, store)}
    assert {s: r.failed_in_a_row for s, r in rows.items()} == {
        "school-1": 3,
        "school-2": 0,
        "school-3": 2,
        "school-4": 50,
    }
    assert rows["school-1"].state == "failed" and rows["school-2"].state == "done"
    store.close()
