"""The store's bulk statement helper: rows bound as tuples."""

from __future__ import annotations

import pytest

from core.store import Store
from core.store._base import BulkStatement
from core.store._remote import _ROW_COLUMNS
from core.store._schema import cursors, remote_records


def test_snapshot_rows_are_given_in_the_tables_column_order() -> None:
    assert tuple(c.name for c in remote_records.columns) == _ROW_COLUMNS


def test_tuples_are_bound_by_column_on_either_backend(store: Store) -> None:
    insert = BulkStatement(cursors.insert())
    columns = ("school", "platform", "stream", "value", "updated_at")
    at = "2026-01-02 03:04:05.000000" if store.dialect == "sqlite" else "2026-01-02T03:04:05Z"
    with store.engine.begin() as conn:
        insert.execute_tuples(conn, columns, [("s", "p", "marks", '{"a": 1}', at)])
    assert store.cursors("s", "p") == {"marks": {"a": 1}}
    if store.dialect == "sqlite":  # positional: a tuple out of the table's order is refused
        with store.engine.begin() as conn, pytest.raises(ValueError, match="order"):
            insert.execute_tuples(conn, tuple(reversed(columns)), [("x",) * 5])
