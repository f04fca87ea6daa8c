"""OneRoster 1.2 both ways: a generated world's journal written as a package and read back by
``journalsync import`` gives the same canonical records; a malformed set (bad manifest, orphan
enrollment, BOM, wrong header order, broken encoding …) is refused whole, with file, row and
column, and nothing is written. Real SQLite, the real writer and reader."""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.sandbox import World, WorldSize
from core.codes import MarkValue
from core.connector import Page
from core.importer import ImportFileError, import_file
from core.model import Lesson, Mark, Person, Record
from core.package import PackageIntegrityError, build_package, csv_tables, write_package
from core.store import Store
from tests.support import REPO_ROOT
from tests.support.cli import run_cli

PLATFORM = "netschool"
# Two weeks: the first school week is short (1 September is a Tuesday in 2026), and the
# foreign-set test needs a group with two lessons on one day.
SIZE = WorldSize(grades=(5, 9), letters=1, students_per_class=8, weeks=2)
NOW = datetime(2026, 10, 5, 9, 30, tzinfo=UTC)
ROOT = REPO_ROOT


def _same(r: Record) -> dict[str, object]:
    return r.model_dump(exclude={"provenance"})


@pytest.fixture(scope="module")
def world_records() -> tuple[str, list[Record]]:
    world = World.generate(11, SIZE)
    school = next(iter(world.schools))
    return school, world.canonical(school, PLATFORM)


def _store(path: Path, school: str, records: list[Record], *, local: bool = False) -> Store:
    store = Store.open(f"sqlite:///{path}")
    store.commit_page(school, PLATFORM, Page("roster", "all", records, {}))
    if local:
        store.upsert_local(school, records, actor="test", reason="the journal to migrate")
    return store


@pytest.fixture(scope="module")
def package_zip(
    tmp_path_factory: pytest.TempPathFactory, world_records: tuple[str, list[Record]]
) -> Path:
    school, records = world_records
    tmp = tmp_path_factory.mktemp("pkg")
    store = _store(tmp / "source.db", school, records, local=True)
    try:
        pkg = build_package(store, school, PLATFORM, scope="journal", now=NOW)
        return write_package(pkg, tmp)
    finally:
        store.close()


@pytest.fixture
def target(tmp_path: Path, world_records: tuple[str, list[Record]]) -> Iterator[Store]:
    school, records = world_records
    store = _store(tmp_path / "target.db", school, records)
    yield store
    store.close()


def _unpacked(package_zip: Path, into: Path) -> Path:
    into.mkdir()
    with zipfile.ZipFile(package_zip) as zf:
        for name in zf.namelist():
            if "/" not in name and name.endswith(".csv"):
                (into / name).write_bytes(zf.read(name))
    return into


# -- the round trip ----------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["zip", "dir"])
def test_a_package_written_and_read_back_gives_the_same_records(
    target: Store,
    world_records: tuple[str, list[Record]],
    package_zip: Path,
    tmp_path: Path,
    form: str,
) -> None:
    school, records = world_records
    source = package_zip if form == "zip" else _unpacked(package_zip, tmp_path / "set")
    result = import_file(target, school, PLATFORM, source, actor="test")
    want = {r.id: _same(r) for r in records if isinstance(r, Mark)}
    got = {r.id: _same(r) for r in target.local_records(school, "mark")}
    assert len(want) > 200
    assert result.quarantine == []
    assert got == want  # every field: value, weight, ordinal, work type, comment, teacher
    assert result.records == result.inserted == len(want)
    assert "OneRoster 1.2 bulk set" in result.form

    again = import_file(target, school, PLATFORM, source, actor="test")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, len(want))


def test_namesakes_in_one_class_are_told_apart_by_their_sourced_ids(
    tmp_path: Path, world_records: tuple[str, list[Record]]
) -> None:
    """Two pupils of one class with one name: a CSV row cannot say which; the package's
    sourcedIds can, so every mark lands on its own pupil."""
    school, records = world_records
    marks = [r for r in records if isinstance(r, Mark)]
    a_id = marks[0].student_id
    persons = {r.id: r for r in records if isinstance(r, Person)}
    a = persons[a_id]
    b_id = next(
        m.student_id for m in marks if m.student_id != a_id and m.lesson_id == marks[0].lesson_id
    )
    renamed = persons[b_id].model_copy(
        update={k: getattr(a, k) for k in ("last_name", "first_name", "middle_name")}
    )
    twins = [renamed if r.id == b_id else r for r in records]
    source = _store(tmp_path / "s.db", school, twins, local=True)
    path = write_package(
        build_package(source, school, PLATFORM, scope="journal", now=NOW), tmp_path
    )
    source.close()
    target = _store(tmp_path / "t.db", school, twins)
    result = import_file(target, school, PLATFORM, path, actor="test")
    got = {r.id: _same(r) for r in target.local_records(school, "mark")}
    target.close()
    assert result.quarantine == []
    assert got == {r.id: _same(r) for r in twins if isinstance(r, Mark)}
    assert {a_id, b_id} <= {m["student_id"] for m in got.values()}


def test_the_writer_refuses_a_set_that_would_not_hold_together(
    tmp_path: Path, world_records: tuple[str, list[Record]]
) -> None:
    school, records = world_records
    store = _store(tmp_path / "s.db", school, records, local=True)
    pkg = build_package(store, school, PLATFORM, scope="journal", now=NOW)
    store.close()
    dropped = next(p for p in pkg.persons if "student" in p.roles)
    members = {g: tuple(s for s in ids if s != dropped.id) for g, ids in pkg.members.items()}
    from dataclasses import replace

    broken = replace(
        pkg, persons=tuple(p for p in pkg.persons if p.id != dropped.id), members=members
    )
    with pytest.raises(PackageIntegrityError) as err:
        csv_tables(broken)
    assert "results.csv, row " in err.value.message
    assert f"column studentSourcedId: no '{dropped.id}' in users.csv" in err.value.message
    assert list(tmp_path.glob("*.zip")) == [], "nothing written"


# -- malformed sets: refused whole, with file, row and column ----------------------------------


def _edit_csv(path: Path, edit: Callable[[list[list[str]]], None]) -> None:
    rows = list(csv.reader(io.StringIO(path.read_text("utf-8"), newline="")))
    edit(rows)
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    path.write_text(out.getvalue(), "utf-8", newline="")


def _bad_manifest(d: Path) -> None:
    _edit_csv(d / "manifest.csv", lambda rows: rows[2].__setitem__(1, "1.1"))


def _orphan_enrollment(d: Path) -> None:
    _edit_csv(d / "enrollments.csv", lambda rows: rows[5].__setitem__(5, "nobody-here"))


def _utf16(d: Path) -> None:
    p = d / "users.csv"
    p.write_bytes(p.read_bytes().decode("utf-8").encode("utf-16"))


def _stray_bom(d: Path) -> None:
    p = d / "users.csv"
    lines = p.read_bytes().split(b"\r\n")
    lines[4] = b"\xef\xbb\xbf" + lines[4]
    p.write_bytes(b"\r\n".join(lines))


def _header_order(d: Path) -> None:
    def swap(rows: list[list[str]]) -> None:
        for r in rows:
            r[6], r[7] = r[7], r[6]  # givenName ↔ familyName

    _edit_csv(d / "users.csv", swap)


def _cp1251(d: Path) -> None:
    p = d / "users.csv"
    lines = p.read_bytes().decode("utf-8").split("\r\n")
    head, row = lines[0].encode(), lines[3].encode("cp1251")
    p.write_bytes(b"\r\n".join([head, *(x.encode() for x in lines[1:3]), row,
                                *(x.encode() for x in lines[4:])]))  # fmt: skip


def _short_row(d: Path) -> None:
    _edit_csv(d / "results.csv", lambda rows: rows[3].pop())


def _undeclared_file(d: Path) -> None:
    _edit_csv(d / "manifest.csv", lambda rows: [r.__setitem__(1, "absent") for r in rows
                                                if r[0] == "file.lineItems"])  # fmt: skip


MALFORMED: dict[str, tuple[Callable[[Path], None], str]] = {
    "bad manifest": (_bad_manifest, "manifest.csv, row 3, column value: oneroster.version is "
                                    "'1.1', expected '1.2'"),
    "orphan enrollment": (_orphan_enrollment, "enrollments.csv, row 6, column userSourcedId: "
                                              "no 'nobody-here' in users.csv"),
    "UTF-16 BOM": (_utf16, "users.csv, row 1: UTF-16 text (byte order mark FF FE)"),
    "BOM inside": (_stray_bom, "users.csv, row 5, column sourcedId: a byte order mark inside"),
    "header order": (_header_order, "users.csv, row 1, column 7: expected 'givenName', found "
                                    "'familyName'"),
    "broken encoding": (_cp1251, "users.csv, row 4, column givenName: not UTF-8"),
    "short row": (_short_row, "results.csv, row 4: 16 cells, the header has 17"),
    "file marked absent": (_undeclared_file, "manifest.csv: lineItems.csv is in the set but the "
                                             "manifest marks it absent"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_set_is_refused_whole_naming_file_row_and_column(
    target: Store,
    world_records: tuple[str, list[Record]],
    package_zip: Path,
    tmp_path: Path,
    case: str,
) -> None:
    school, _ = world_records
    spoil, expected = MALFORMED[case]
    d = _unpacked(package_zip, tmp_path / "set")
    spoil(d)
    with pytest.raises(ImportFileError) as err:
        import_file(target, school, PLATFORM, d, actor="test")
    assert expected in err.value.message, err.value.message
    assert "nothing was imported" in err.value.message
    assert list(target.local_records(school)) == [], "nothing partial"
    assert list(target.quarantined(school)) == []


def test_a_utf8_bom_at_the_start_is_tolerated_as_the_binding_asks(
    target: Store, world_records: tuple[str, list[Record]], package_zip: Path, tmp_path: Path
) -> None:
    school, records = world_records
    d = _unpacked(package_zip, tmp_path / "set")
    for p in d.glob("*.csv"):
        p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())
    result = import_file(target, school, PLATFORM, d, actor="test")
    assert result.quarantine == []
    assert result.inserted == sum(isinstance(r, Mark) for r in records)


def test_cli_reports_the_orphan_and_exits_2(
    tmp_path: Path, world_records: tuple[str, list[Record]], package_zip: Path
) -> None:
    school, records = world_records
    db = tmp_path / "cli.db"
    _store(db, school, records).close()
    d = _unpacked(package_zip, tmp_path / "set")
    _orphan_enrollment(d)
    rest = ["--school", school, "--platform", PLATFORM, "--db", f"sqlite:///{db}"]
    run = run_cli("import", str(d), *rest)
    assert run.returncode == 2, run.stderr
    assert "enrollments.csv, row 6, column userSourcedId" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    shutil.rmtree(d)
    zipped = tmp_path / "ok.zip"
    shutil.copy(package_zip, zipped)
    run = run_cli("import", str(zipped), *rest)
    assert run.returncode == 0, run.stderr
    assert f"imported {sum(isinstance(r, Mark) for r in records)} records" in run.stdout


def test_a_set_from_another_system_is_read_by_names_and_dates(
    target: Store, world_records: tuple[str, list[Record]], package_zip: Path, tmp_path: Path
) -> None:
    """Foreign sourcedIds for classes and users and no extension columns — as another system
    would export: classes by class code, course title and subgroup, pupils by name within the
    class, the lesson as the group's only one that day. What the set cannot place (two lessons
    of the group that day; a second mark of one work it does not number) is quarantined."""
    school, records = world_records
    d = _unpacked(package_zip, tmp_path / "set")
    tables = {p.name: list(csv.reader(io.StringIO(p.read_bytes().decode(), newline="")))
              for p in d.glob("*.csv")}  # fmt: skip
    foreign = {r[0]: f"x-{n}" for name in ("classes.csv", "users.csv")
               for n, r in enumerate(tables[name][1:])}  # fmt: skip
    for name, rows in tables.items():
        if name == "manifest.csv":
            continue
        keep = [i for i, h in enumerate(rows[0]) if not h.startswith("metadata.")]
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows(
            [[foreign.get(r[i], r[i]) for i in keep] for r in rows]
        )
        (d / name).write_text(out.getvalue(), "utf-8", newline="")

    result = import_file(target, school, PLATFORM, d, actor="test")
    lessons = [r for r in records if isinstance(r, Lesson)]
    per_day = Counter((le.group_id, le.date) for le in lessons)
    by_id = {le.id: le for le in lessons}
    marks = [r for r in records if isinstance(r, Mark)]
    values: dict[tuple[str, str, str], set[MarkValue]] = {}
    for m in marks:
        values.setdefault((m.student_id, m.lesson_id, m.work_type), set()).add(m.value)

    def one_lesson(m: Mark) -> bool:
        return per_day[(by_id[m.lesson_id].group_id, by_id[m.lesson_id].date)] == 1

    # Unnumbered, every mark is the work's first; a second mark of the same value is the same
    # row again (one record), of another value a conflict (none applied).
    placeable = {
        (m.student_id, m.lesson_id, m.work_type, 1, m.value)
        for m in marks
        if one_lesson(m) and len(values[(m.student_id, m.lesson_id, m.work_type)]) == 1
    }
    refused = [m for m in marks if not one_lesson(m)]
    conflicting = [
        m for m in marks
        if one_lesson(m) and len(values[(m.student_id, m.lesson_id, m.work_type)]) > 1
    ]  # fmt: skip
    got = {
        (m.student_id, m.lesson_id, m.work_type, m.ordinal, m.value)
        for m in target.local_records(school, "mark")
        if isinstance(m, Mark)
    }
    assert len(placeable) > 100 and refused and conflicting
    assert got == placeable
    several = [q for q in result.quarantine if "several lessons that day" in q.reason]
    conflicts = [q for q in result.quarantine if "conflicts with row" in q.reason]
    assert (len(several), len(conflicts)) == (len(refused), len(conflicting))
    assert len(result.quarantine) == len(refused) + len(conflicting)
    assert all(q.payload == {"file": "set/results.csv"} for q in result.quarantine)


def test_a_zipped_folder_is_told_to_be_zipped_as_files(
    target: Store, world_records: tuple[str, list[Record]], package_zip: Path, tmp_path: Path
) -> None:
    """The binding puts the CSV files at the root of the zip; a zipped folder is the usual
    slip, and it is named as such (not «not a readable spreadsheet»)."""
    school, _ = world_records
    d = _unpacked(package_zip, tmp_path / "export")
    nested = tmp_path / "export.zip"
    with zipfile.ZipFile(nested, "w") as zf:
        for p in sorted(d.iterdir()):
            zf.write(p, f"export/{p.name}")
    with pytest.raises(ImportFileError) as err:
        import_file(target, school, PLATFORM, nested, actor="test")
    assert err.value.message == (
        "export.zip: no manifest.csv at the root of the set (found export/manifest.csv: zip the "
        "files themselves, not their folder)"
    )
    assert list(target.local_records(school)) == []
