"""Alembic environment for the journalsync store.

Run programmatically by :meth:`core.store.Store.open`, which passes its open connection in
``config.attributes["connection"]``; there is no alembic.ini, so the migrations work from an
installed package. ``render_as_batch`` lets SQLite alter tables (it rebuilds them).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from core.store._schema import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run the store migrations through core.store.Store.open")
    _run(connection)


_main()
