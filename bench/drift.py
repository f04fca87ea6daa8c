"""Drift reconcile of N local vs N remote records with 1 % differences.

The rows are loaded straight into the store's tables (the load is not timed); the timed part is
:func:`core.sync.reconcile`: the SQL diff, the field-by-field comparison of the differing rows,
recording the findings and enqueueing the pushes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from hashlib import blake2b
from typing import Any

import orjson

from bench._util import peak_rss_mib
from core.platform import connector_class, installed
from core.store import Store, local_records, remote_records
from core.sync import reconcile

SCHOOL = "bench-school"


def _platform() -> str:
    """An installed platform that carries every field of a mark (the rows are synthetic; its
    capabilities only decide which fields the comparison skips), read from the registry."""
    for name in installed():
        if not connector_class(name).capabilities.fields_not_carried.get("mark"):
            return name
    return installed()[0]


PLATFORM = _platform()
CHUNK = 20_000


def _mark(i: int, value: str) -> tuple[str, str, bytes]:
    lesson = f"lesson-{i // 25:08d}"
    data = {
        "school": SCHOOL,
        "student_id": f"student-{i % 25:04d}",
        "lesson_id": lesson,
        "work_type": "answer",
        "ordinal": 1,
        "value": value,
        "weight": 1.0,
        "comment": "",
        "teacher_id": None,
    }
    return f"mark-{i:010d}", lesson, orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def _rows(n: int, side: str, now: datetime) -> Iterator[dict[str, Any]]:
    """1 % differences: 0.5 % value mismatches, 0.25 % missing on the platform, 0.25 % extra."""
    for i in range(n):
        if side == "remote" and i % 400 == 1:
            continue  # missing on the platform
        value = "4" if side == "remote" and i % 200 == 0 else "5"
        rid, lesson, content = _mark(i, value)
        yield _row(side, rid, lesson, content, now)
    if side == "remote":
        for j in range(n // 400):  # extra on the platform, under lessons the school keeps
            rid, lesson, content = _mark(j * 400 + 2, "3")
            yield _row(side, f"extra-{j:010d}", lesson, content, now)


def _row(side: str, rid: str, lesson: str, content: bytes, now: datetime) -> dict[str, Any]:
    row: dict[str, Any] = {
        "school": SCHOOL,
        "entity": "mark",
        "id": rid,
        "parent_id": lesson,
        "content_hash": blake2b(content, digest_size=16).hexdigest(),
        "data": content.decode(),
        "deleted": False,
    }
    if side == "remote":
        row.update(
            platform=PLATFORM,
            scope=f"journal:{lesson}",
            provenance=None,
            first_seen=now,
            last_seen=now,
            run_id=None,
        )
    else:
        row["updated_at"] = now
    return row


def load(store: Store, n: int) -> None:
    now = datetime.now(UTC)
    for side, table in (("local", local_records), ("remote", remote_records)):
        batch: list[dict[str, Any]] = []
        for row in _rows(n, side, now):
            batch.append(row)
            if len(batch) == CHUNK:
                with store.engine.begin() as conn:
                    conn.execute(table.insert(), batch)
                batch = []
        if batch:
            with store.engine.begin() as conn:
                conn.execute(table.insert(), batch)
    if store.dialect == "postgresql":
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")


def run(url: str, n: int) -> dict[str, Any]:
    store = Store.open(url)
    t0 = time.perf_counter()
    load(store, n)
    load_s = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    result = reconcile(store, SCHOOL, PLATFORM, local_is_complete=True)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    store.close()
    return {
        "records": n,
        "differences": result.drift,
        "by_kind": dict(result.by_kind),
        "enqueued": result.enqueued,
        "seconds": round(seconds, 2),
        # SQLite runs in this process, so its work is in the CPU time; PostgreSQL's is not.
        "cpu_seconds": round(cpu, 2),
        "load_seconds": round(load_s, 1),
        "peak_rss_mib": round(peak_rss_mib()),
    }
