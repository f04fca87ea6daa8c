"""Shared fixtures.

``store`` runs each test on a real SQLite file and, when ``JOURNALSYNC_TEST_PG`` holds a DSN
(e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/test``), on PostgreSQL too — each test in
a schema of its own (via ``search_path``), dropped afterwards. Under pytest-xdist (``make
test-fast`` runs two workers) each worker has a database of its own besides: PostgreSQL's
advisory locks — the school lock — are per database, so two workers' tests of one school name
would otherwise wait on each other.
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


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """The PostgreSQL DSN of this test process ("" without one): ``JOURNALSYNC_TEST_PG``, or
    under pytest-xdist a fresh database of this worker's on the same server, dropped after."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not PG_DSN or not worker:
        yield PG_DSN
        return
    url = sa.make_url(PG_DSN)
    name = f"{url.database or 'test'}_{worker}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_DSN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


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
    dsn: str = request.getfixturevalue("pg_dsn")
    schema = f"t_{uuid.uuid4().hex}"
    admin = sa.create_engine(dsn, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        sep = "&" if "?" in dsn else "?"
        yield f"{dsn}{sep}options={quote(f'-csearch_path={schema}')}"
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
