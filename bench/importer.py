"""Local-journal import: a 200,000-row CSV against a 1,000-student school's snapshot, one core.

The snapshot (the sandbox world's canonical records, as a full pull would leave them) and the
CSV are made by a separate process before the clock starts, so the peak RSS printed is the
import's own: reading and checking the file, resolving every row against the roster, finding
conflicts, and writing the records, their change log and the quarantined rows in one
transaction. The rows are marks and absences of every pupil of every lesson (subgroup lessons
of their members only), a topic and a homework per lesson, in a cp1251 ``;`` file with
``ДД.ММ.ГГГГ`` dates as Russian Excel saves it, with one row in a thousand naming no pupil.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._util import peak_rss_mib
from connectors.sandbox import World, WorldSize
from core.connector import Page
from core.logging import configure_logging
from core.model import ClassUnit, Enrollment, Group, Lesson, Person, Record, Subject
from core.platform import installed
from core.store import Store

#: The snapshot's platform: a label only (the import reads the store, never a platform), the
#: first installed one.
PLATFORM = installed()[0]
FULL = WorldSize(grades=tuple(range(1, 12)), letters=4, students_per_class=23, weeks=4)
QUICK = WorldSize(grades=(5, 6), letters=1, students_per_class=10, weeks=1)
#: The limits the importer is held to (issue 12).
LIMIT_SECONDS = 30.0
LIMIT_RSS_MB = 300.0  # decimal megabytes: 286 MiB


def run(url: str, *, quick: bool) -> dict[str, Any]:
    configure_logging(level="WARNING")
    rows = 2_000 if quick else 200_000
    with tempfile.TemporaryDirectory(prefix="jsbench-import-") as tmp:
        csv_path = Path(tmp) / "journal.csv"
        setup = [sys.executable, "-m", "bench.importer", url, str(csv_path), str(rows)]
        setup += ["quick"] if quick else []
        subprocess.run(setup, check=True)
        school = csv_path.with_suffix(".school").read_text()
        from core.importer import import_file

        store = Store.open(url)
        t0, c0 = time.perf_counter(), time.process_time()
        result = import_file(store, school, PLATFORM, csv_path, actor="bench")
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        store.close()
    rss = peak_rss_mib()
    return {
        "rows": result.rows,
        "records": result.records,
        "inserted": result.inserted,
        "quarantined": len(result.quarantine),
        "form": result.form.split("; columns")[0],
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "rows_per_s": round(result.rows / seconds),
        "peak_rss_mib": round(rss),
        "seconds_ratio": round(seconds / LIMIT_SECONDS, 2),
        "rss_ratio": round(rss * 1.048576 / LIMIT_RSS_MB, 2),
    }


def _setup(url: str, csv_path: Path, rows: int, quick: bool) -> None:
    """Commit the world's snapshot to ``url`` and write the CSV (not timed, not measured)."""
    world = World.generate(2026, QUICK if quick else FULL)
    school = next(iter(world.schools))
    records = world.canonical(school, PLATFORM)
    with Store.open(url) as store:
        store.commit_page(school, PLATFORM, Page("roster", "all", records, {}))
    lines = journal_lines(records, rows)
    csv_path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1251"))
    csv_path.with_suffix(".school").write_text(school)


def journal_lines(records: list[Record], rows: int) -> list[str]:
    """A local journal of ``rows`` rows (and the header) over the lessons of ``records``."""
    by_id = {r.id: r for r in records}
    pupils: dict[str, list[str]] = {}
    for r in records:
        if isinstance(r, Enrollment):
            p = by_id[r.student_id]
            assert isinstance(p, Person)
            pupils.setdefault(r.class_id, []).append(
                f"{p.last_name} {p.first_name} {p.middle_name}"
            )
    lines = ["kind;class;subject;subgroup;date;lesson;student;work_type;value;code;topic;text"]
    marks = ("5", "4", "3", "4/5", "2", "зачёт")
    codes = ("Н", "Б", "У", "ОП", "УП")
    lessons = sorted((r for r in records if isinstance(r, Lesson)), key=lambda le: le.id)
    while len(lines) <= rows:
        for le in lessons:
            g = by_id[le.group_id]
            assert isinstance(g, Group)
            cls, subject = by_id[g.class_id], by_id[g.subject_id]
            assert isinstance(cls, ClassUnit) and isinstance(subject, Subject)
            members = [_name(by_id[m]) for m in g.member_ids] if g.member_ids else pupils[cls.id]
            where = (
                f"{cls.name};{subject.name};{g.subgroup or ''};"
                f"{le.date.strftime('%d.%m.%Y')};{le.number}"
            )
            lines.append(f"topic;{where};;;;;Тема урока {le.number};")
            lines.append(f"homework;{where};;;;;;§ {le.number}, упр. 1–5")
            for i, who in enumerate(members):
                n = len(lines) // 2
                who = "Нет Такого Ученика" if n % 1000 == 0 else who
                lines.append(f"mark;{where};{who};answer;{marks[n % len(marks)]};;;")
                lines.append(f"attendance;{where};{who};;;{codes[i % len(codes)]};;")
            if len(lines) > rows:
                break
        else:
            break  # every lesson listed once: the records run out before the rows do
    return lines[: rows + 1]


def _name(p: object) -> str:
    assert isinstance(p, Person)
    return f"{p.last_name} {p.first_name} {p.middle_name}"


if __name__ == "__main__":
    _setup(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), "quick" in sys.argv[4:])
