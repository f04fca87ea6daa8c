"""The store: one object over one database, assembled from its job-specific parts.

Each part (remote snapshot, local journal, drift, outbox, runs, content digest) lives in its own
module; this one only opens the database, migrates it and hands out the tables for bulk loaders.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Self

from alembic.util import CommandError
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from core.errors import ConfigError
from core.store._accounts import AccountStore
from core.store._alerts import AlertStore
from core.store._base import check_ours, make_engine, migrate, open_error
from core.store._digest import DigestStore
from core.store._drift import DriftStore
from core.store._local import LocalStore
from core.store._matches import MatchStore
from core.store._outbox import OutboxStore
from core.store._overview import OverviewStore
from core.store._runs import RunStore
from core.store._schema import metadata
from core.store._schema_drift import SchemaDriftStore
from core.store._staged import StagedStore
from core.store._state import StateStore

__all__ = ["Store"]


class Store(
    StagedStore,
    LocalStore,
    DriftStore,
    OutboxStore,
    RunStore,
    StateStore,
    DigestStore,
    SchemaDriftStore,
    OverviewStore,
    AlertStore,
    AccountStore,
    MatchStore,
):
    """journalsync's persistent state on SQLite (embedded) or PostgreSQL (scale)."""

    #: The SQLAlchemy tables by name, for bulk loading and ad-hoc reports.
    tables = MappingProxyType(dict(metadata.tables))

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    @classmethod
    def open(cls, url: str, *, migrate: bool = True, init: bool = False) -> Self:
        """Open ``sqlite:///path.db`` or ``postgresql+psycopg://…``, migrating it to head.

        Every way this can fail a user can cause (a bad URL, a missing driver, a damaged or
        unwritable file, an unreachable server, a database that is not journalsync's) is a
        :class:`ConfigError` naming the store without its password. A SQLite database holding
        other tables is only migrated (given journalsync's tables) with ``init=True``.
        """
        engine = make_engine(url)
        try:
            if migrate:
                if not init and engine.dialect.name == "sqlite":
                    check_ours(engine.url)
                _migrate(engine)
        except ConfigError:
            engine.dispose()
            raise
        except (DBAPIError, CommandError) as exc:
            engine.dispose()
            orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
            raise open_error(engine.url, orig, newer=isinstance(exc, CommandError)) from exc
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_migrate = migrate
