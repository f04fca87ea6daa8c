"""All compliance rules over a municipality: 100 schools × 800 students × one quarter.

About ten million marks (plus lessons, homework, attendance, finals, rosters) are written
straight into the store's ``remote_records`` table through the DBAPI, and their typed
``remote_facts`` derived in SQL as migration 0003 derives them (the load is not timed; the
timed reports find the facts up to date, as they are after the first report of a day).
The timed part is what ``journalsync report compliance`` does per school: build the columnar
frame from the store (``frame_from_store``) and run every rule of the ``all`` profile with a
curriculum, collecting the findings. One core (``python -m bench`` pins it), peak RSS reported.

A sprinkling of breaches is generated on purpose (late topics and homework, late written-work
marks, retroactive changes, missing finals, grade-1 marks, vague work types, absence reasons
fixed late, subgroup moves mid-term) so every rule has findings to produce.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench._util import peak_rss_mib
from core.compliance import check_frame, frame_from_store, get_profile
from core.store import Store

PLATFORM = "bench"
Q_START, Q_END = date(2025, 9, 1), date(2025, 10, 24)  # eight full weeks
AS_OF = datetime(2025, 11, 1, 9, tzinfo=UTC)
#: (subject, weekly hours); 30 h a week, as a Russian timetable for grades 5–9 has.
SUBJECTS = (
    ("Русский язык", 5),
    ("Литература", 3),
    ("Математика", 5),
    ("Информатика", 1),
    ("История", 2),
    ("Обществознание", 1),
    ("География", 2),
    ("Биология", 2),
    ("Физика", 2),
    ("Химия", 2),
    ("Английский язык", 3),
    ("Физическая культура", 2),
)
CURRICULUM = {(g, s): float(h) for g in range(1, 12) for s, h in SUBJECTS}
WORK = ("answer", "answer", "classwork", "homework", "test", "independent", "dictation")


def _ts(day: date, hh: int, mm: int = 0) -> str:
    return (
        datetime(day.year, day.month, day.day, hh, mm, tzinfo=UTC) - timedelta(hours=3)
    ).isoformat()


def _prov(created: str) -> str:
    return f'{{"created_at":"{created}","platform":"bench"}}'


def _hw_time(rng: random.Random, d: date) -> str:
    """Homework at 15:00, one in a hundred the next morning (late)."""
    return _ts(d, 15) if rng.random() > 0.01 else _ts(d + timedelta(days=1), 8)


def _school_rows(n: int, students: int, rng: random.Random, seen: str) -> Iterator[tuple[Any, ...]]:
    """(entity, id, parent, data json, provenance json) of one school."""
    s = f"sch{n:03d}"
    yield "school", f"{s}", None, f'{{"name":"Школа № {n}","school":"{s}"}}', None
    yield "academic_year", f"{s}-y", None, f'{{"school":"{s}","start_year":2025}}', None
    yield (
        "period",
        f"{s}-q1",
        None,
        f'{{"end":"{Q_END}","kind":"quarter","name":"1 четверть","ordinal":1,"school":"{s}",'
        f'"start":"{Q_START}","year_id":"{s}-y"}}',
        None,
    )
    for i, (name, _) in enumerate(SUBJECTS):
        yield "subject", f"{s}-sub{i}", None, f'{{"name":"{name}","school":"{s}"}}', None
    teachers = [f"{s}-t{i}" for i in range(40)]
    for t in teachers:
        yield (
            "person",
            t,
            None,
            f'{{"first_name":"Анна","last_name":"Учитель{t[-2:]}","middle_name":"Ивановна",'
            f'"school":"{s}"}}',
            None,
        )
    days = [Q_START + timedelta(days=d) for d in range((Q_END - Q_START).days + 1)]
    days = [d for d in days if d.weekday() < 5]
    per_class = students // 32
    for c in range(32):
        grade = 1 + c * 11 // 32
        cid = f"{s}-c{c}"
        yield "class_unit", cid, None, f'{{"grade":{grade},"letter":"А","school":"{s}"}}', None
        kids = [f"{cid}-s{k}" for k in range(per_class)]
        for k in kids:
            yield (
                "person",
                k,
                None,
                f'{{"first_name":"Ученик","last_name":"Фамилия{k[-3:]}","middle_name":"","school":"{s}"}}',
                None,
            )
            yield (
                "enrollment",
                f"{k}-e",
                None,
                f'{{"class_id":"{cid}","school":"{s}","student_id":"{k}"}}',
                None,
            )
        slot = 0
        for si, (_, hours) in enumerate(SUBJECTS):
            gid = f"{cid}-g{si}"
            teacher = teachers[(c + si) % len(teachers)]
            yield (
                "group",
                gid,
                cid,
                f'{{"class_id":"{cid}","member_ids":[],"school":"{s}","subgroup":0,'
                f'"subject_id":"{s}-sub{si}","teacher_ids":["{teacher}"]}}',
                None,
            )
            lesson_days = [d for d in days if (d.weekday() * 7 + si) % 5 < hours]
            for li, d in enumerate(lesson_days):
                slot += 1
                lid = f"{gid}-l{li}"
                late_topic = rng.random() < 0.01
                topic_at = _ts(d + timedelta(days=late_topic), 9 if late_topic else 14)
                yield (
                    "lesson",
                    lid,
                    gid,
                    f'{{"date":"{d}","end_time":"13:30:00","group_id":"{gid}",'
                    f'"number":{1 + slot % 6},'
                    f'"school":"{s}","shift":1,"teacher_id":"{teacher}","topic":"Тема {li}"}}',
                    f'{{"created_at":"{topic_at}","platform":"bench"}}',
                )
                if grade == 1:
                    if rng.random() < 0.01:  # a mark in grade 1
                        k = kids[0]
                        yield (
                            "mark",
                            f"{lid}-{k}",
                            lid,
                            f'{{"comment":"","lesson_id":"{lid}","ordinal":1,"school":"{s}",'
                            f'"student_id":"{k}","teacher_id":"{teacher}","value":"5",'
                            f'"weight":1.0,"work_type":"answer"}}',
                            f'{{"created_at":"{_ts(d, 14)}","platform":"bench"}}',
                        )
                    continue
                yield (
                    "homework",
                    f"{lid}-h",
                    lid,
                    f'{{"lesson_id":"{lid}","ordinal":1,"school":"{s}","text":"§ {li}"}}',
                    f'{{"created_at":"{_hw_time(rng, d)}","platform":"bench"}}',
                )
                for k in kids:
                    if rng.random() < 0.03:
                        code = "ill" if rng.random() < 0.1 else "absent"
                        yield (
                            "attendance",
                            f"{lid}-{k}-a",
                            lid,
                            f'{{"code":"{code}","lesson_id":"{lid}","school":"{s}","student_id":"{k}"}}',
                            None,
                        )
                        if code == "ill":  # the reason fixed 1 or 6 days later (change log)
                            fixed = _ts(d + timedelta(days=1 + 5 * (rng.random() < 0.2)), 10)
                            yield "~change", f"{lid}-{k}-a", fixed, f"{lid}|{k}|{s}", None
                    if rng.random() >= 0.58:
                        continue
                    wt = WORK[rng.randrange(len(WORK))] if rng.random() > 0.001 else "other"
                    delay = 9 if rng.random() < 0.002 else 0
                    value = 2 + rng.randrange(4)
                    yield (
                        "mark",
                        f"{lid}-{k}",
                        lid,
                        f'{{"comment":"","lesson_id":"{lid}","ordinal":1,"school":"{s}",'
                        f'"student_id":"{k}","teacher_id":"{teacher}","value":"{value}",'
                        f'"weight":1.0,"work_type":"{wt}"}}',
                        _prov(_ts(d + timedelta(days=delay), 14)),
                    )
            if grade > 1:
                for k in kids:
                    if rng.random() < 0.005:
                        continue  # a missing final
                    yield (
                        "final_mark",
                        f"{gid}-{k}-f",
                        f"{s}-q1",
                        f'{{"period_id":"{s}-q1","school":"{s}","student_id":"{k}",'
                        f'"subject_id":"{s}-sub{si}","value":"4"}}',
                        _prov(_ts(Q_END - timedelta(days=3), 10)),
                    )


def _store_ts(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.000000")


def load(store: Store, schools: int, students: int) -> int:
    """Write the municipality into ``remote_records``; returns the number of marks."""
    rng = random.Random(7)
    now = datetime(2025, 9, 1, 6, tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S.000000")
    marks = 0
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        if store.dialect == "sqlite":
            cur.execute("PRAGMA cache_size = -500000")  # 500 MB: index inserts stay in memory
        for n in range(schools):
            rows, changes = [], []
            for entity, rid, parent, data, prov in _school_rows(n, students, rng, now):
                if entity == "~change":
                    lid, k, s = data.split("|")
                    after = (
                        f'{{"code":"ill","lesson_id":"{lid}","school":"{s}","student_id":"{k}"}}'
                    )
                    before = after.replace('"ill"', '"absent"')
                    changes.append(
                        (PLATFORM, s, "attendance", rid, parent, "updated", before, after)
                    )
                    continue
                marks += entity == "mark"
                rows.append(
                    (
                        PLATFORM,
                        f"sch{n:03d}",
                        entity,
                        rid,
                        "bench",
                        parent,
                        "0" * 32,
                        data,
                        prov,
                        False,
                        now,
                        now,
                    )
                )
            if store.dialect == "sqlite":
                cur.execute("BEGIN")  # the store's connections run in autocommit mode
            cur.executemany(
                "INSERT INTO remote_records (platform, school, entity, id, scope, parent_id, "
                "content_hash, data, provenance, deleted, first_seen, last_seen) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                if store.dialect == "sqlite"
                else "INSERT INTO remote_records (platform, school, entity, id, scope, parent_id, "
                "content_hash, data, provenance, deleted, first_seen, last_seen) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
            cur.executemany(
                "INSERT INTO remote_changes (platform, school, entity, record_id, at, kind, "
                "before, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                if store.dialect == "sqlite"
                else "INSERT INTO remote_changes (platform, school, entity, record_id, at, kind, "
                "before, after) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                [(*c[:4], _store_ts(c[4]), *c[5:]) for c in changes],
            )
            if store.dialect == "sqlite":
                cur.execute("COMMIT")
            else:
                raw.commit()
        cur.close()
    finally:
        raw.close()
    # The rows went around the change log: their typed facts are derived as an upgraded
    # store's are (a pulling store derives them from its change log at the next report).
    store.backfill_facts()
    return marks


def _load_child(url: str, schools: int, students: int, out: Any) -> None:
    store = Store.open(url)
    out.put(load(store, schools, students))
    store.close()


def _loaded_marks(url: str) -> int:
    with Store.open(url) as store, store.engine.connect() as conn:
        n = conn.exec_driver_sql(
            "SELECT count(*) FROM remote_records WHERE platform = 'bench' AND entity = 'mark'"
        ).scalar()
    return int(n or 0)


def run(url: str, schools: int = 100, students: int = 800) -> dict[str, Any]:
    # The load runs in a child process, so the peak RSS below is the check's own.
    import multiprocessing

    t0 = time.perf_counter()
    marks = _loaded_marks(url)  # a store kept from an earlier run is reused as it is
    if not marks:
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        child = ctx.Process(target=_load_child, args=(url, schools, students, queue))
        child.start()
        marks = queue.get()
        child.join()
    load_s = time.perf_counter() - t0
    store = Store.open(url)
    profile = get_profile("all")
    t0 = time.perf_counter()
    findings: dict[str, int] = {}
    build_s = 0.0
    for n in range(schools):
        t1 = time.perf_counter()
        frame = frame_from_store(store, f"sch{n:03d}", PLATFORM)
        build_s += time.perf_counter() - t1
        result = check_frame(frame, profile, as_of=AS_OF, curriculum=CURRICULUM)
        for f in result.findings:
            findings[f.rule] = findings.get(f.rule, 0) + 1
    seconds = time.perf_counter() - t0
    store.close()
    return {
        "schools": schools,
        "students": schools * students,
        "marks": marks,
        "seconds": round(seconds, 1),
        "frame_seconds": round(build_s, 1),
        "findings": dict(sorted(findings.items())),
        "load_seconds": round(load_s, 1),
        "peak_rss_mib": round(peak_rss_mib()),
    }


#: What the figure is held against.
TARGET = "≤ 60 s and peak RSS ≤ 4 GiB for 100 schools × 800 students × one quarter (≈ 10 M marks)"


def main() -> None:
    """``python -m bench.compliance [SCHOOLS] [DB_FILE]``: one core; a temporary SQLite store,
    or ``DB_FILE`` kept between runs (loaded on the first)."""
    import json
    import os
    import sys

    from bench._util import store_url

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    schools = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    if len(sys.argv) > 2:
        print(json.dumps(run(f"sqlite:///{sys.argv[2]}", schools), ensure_ascii=False))
        return
    with store_url("sqlite") as url:
        print(json.dumps(run(url, schools), ensure_ascii=False))


if __name__ == "__main__":
    main()
