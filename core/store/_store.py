"""The store: one object over one database, assembled from its job-specific parts.

Each part (remote snapshot, local journal, drift, outbox, runs, content digest) lives in its own
module; this one only opens the database, migrates it and hands out the tables for bulk loaders.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Self

from sqlalchemy import Engine

from core.store._base import make_engine, migrate
from core.store._digest import DigestStore
from core.store._drift import DriftStore
from core.store._local import LocalStore
from core.store._outbox import OutboxStore
from core.store._overview import OverviewStore
from core.store._remote import RemoteStore
from core.store._runs import RunStore
from core.store._schema import metadata
from core.store._schema_drift import SchemaDriftStore
from core.store._state import StateStore

__all__ = ["Store"]


class Store(
    RemoteStore,
    LocalStore,
    DriftStore,
    OutboxStore,
    RunStore,
    StateStore,
    DigestStore,
    SchemaDriftStore,
    OverviewStore,
):
    """journalsync's persistent state on SQLite (embedded) or PostgreSQL (scale)."""

    #: The SQLAlchemy tables by name, for bulk loading and ad-hoc reports.
    tables = MappingProxyType(dict(metadata.tables))

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Self:
        """Open ``sqlite:///path.db`` or ``postgresql+psycopg://…``, migrating it to head."""
        engine = make_engine(url)
        if migrate:
            _migrate(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_migrate = migrate
