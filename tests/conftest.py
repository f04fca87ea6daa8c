"""Shared fixtures.

``store`` runs each test on a real SQLite file and, when ``JOURNALSYNC_TEST_PG`` holds a DSN
(e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/test``), on PostgreSQL too — each test in
a schema of its own (via ``search_path``), dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from core.store import Store

PG_DSN = os.environ.get("JOURNALSYNC_TEST_PG", "")


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(
                    not PG_DSN, reason="set JOURNALSYNC_TEST_PG to a PostgreSQL DSN"
                ),
            ],
        ),
    ]
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL for one test: a fresh SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/store.db"
        return
    schema = f"t_{uuid.uuid4().hex}"
    admin = sa.create_engine(PG_DSN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        sep = "&" if "?" in PG_DSN else "?"
        yield f"{PG_DSN}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = Store.open(store_url)
    try:
        yield s
    finally:
        s.close()
