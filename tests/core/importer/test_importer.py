"""The local-journal importer: the right child or none, conflicts reported, what Russian Excel
saves read as it is, one transaction, idempotent. The remote snapshot is a sandbox world's
canonical records committed to a real store (SQLite, and PostgreSQL where configured)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest

from connectors.sandbox import World, WorldSize
from core.codes import MarkValue
from core.connector import Page
from core.importer import import_file
from core.model import (
    Attendance,
    ClassUnit,
    Enrollment,
    Group,
    Homework,
    Lesson,
    Mark,
    Person,
    Record,
    Subject,
)
from core.store import Store
from tests.support import REPO_ROOT
from tests.support.cli import run_cli

PLATFORM = "netschool"
SIZE = WorldSize(grades=(8, 11), letters=2, students_per_class=6, weeks=1)
HEADER = "kind,class,subject,subgroup,date,lesson,student,work_type,value,code,topic,text"
ROOT = REPO_ROOT


@dataclass
class Snap:
    """The committed snapshot and what the tests look up in it."""

    school: str
    records: list[Record]

    def of(self, cls: type[Record]) -> list[Record]:
        return [r for r in self.records if isinstance(r, cls)]

    def by_id(self, rid: str) -> Record:
        return next(r for r in self.records if r.id == rid)

    def class_of(self, lesson: Lesson) -> ClassUnit:
        group = self.by_id(lesson.group_id)
        assert isinstance(group, Group)
        cls = self.by_id(group.class_id)
        assert isinstance(cls, ClassUnit)
        return cls

    def where(self, lesson: Lesson, *, iso: bool = True) -> str:
        group = self.by_id(lesson.group_id)
        assert isinstance(group, Group)
        subject = self.by_id(group.subject_id)
        assert isinstance(subject, Subject)
        day = lesson.date.isoformat() if iso else lesson.date.strftime("%d.%m.%Y")
        sub = str(group.subgroup) if group.subgroup else ""
        return f"{self.class_of(lesson).name},{subject.name},{sub},{day},{lesson.number}"

    def pupils(self, cls: ClassUnit) -> list[Person]:
        ids = {e.student_id for e in self.of(Enrollment) if e.class_id == cls.id}  # type: ignore[attr-defined]
        return [p for p in self.of(Person) if p.id in ids]  # type: ignore[misc]

    def whole_class_lessons(self, grade: int) -> list[Lesson]:
        out = []
        for le in self.of(Lesson):
            assert isinstance(le, Lesson)
            group = self.by_id(le.group_id)
            assert isinstance(group, Group)
            if not group.subgroup and self.class_of(le).grade == grade:
                out.append(le)
        return sorted(out, key=lambda le: (le.date, le.number, le.id))


def name(p: Person) -> str:
    return f"{p.last_name} {p.first_name} {p.middle_name}".strip()


def load(
    store: Store, *, enrollments: bool = True, twin: bool = False, size: WorldSize = SIZE
) -> Snap:
    """Commit a small world's canonical records as the platform's snapshot. ``twin``: a pupil
    of an 11th class is renamed to the name of an 8th-class pupil (namesakes in two classes);
    ``enrollments=False``: the snapshot holds none, as NetSchool's does."""
    world = World.generate(11, size)
    school = next(iter(world.schools))
    records = world.canonical(school, PLATFORM)
    snap = Snap(school, records)
    if twin:
        eighth = snap.pupils(_cls(snap, 8))[0]
        eleventh = snap.pupils(_cls(snap, 11))[0]
        renamed = eleventh.model_copy(
            update={k: getattr(eighth, k) for k in ("last_name", "first_name", "middle_name")}
        )
        records = [renamed if r.id == eleventh.id else r for r in records]
    if not enrollments:
        records = [r for r in records if not isinstance(r, Enrollment)]
    store.commit_page(school, PLATFORM, Page("roster", "all", records, {}))
    return Snap(school, world.canonical(school, PLATFORM) if not twin else records)


def _cls(snap: Snap, grade: int) -> ClassUnit:
    found = sorted(
        (c for c in snap.of(ClassUnit) if isinstance(c, ClassUnit) and c.grade == grade),
        key=lambda c: c.letter,
    )
    return found[0]


def local_marks(store: Store, school: str) -> list[Mark]:
    return [r for r in store.local_records(school) if isinstance(r, Mark)]


# -- the right child, or none ----------------------------------------------------------------


@pytest.mark.parametrize("enrollments", [True, False], ids=["enrollments", "journal-only"])
def test_a_pupil_of_another_class_is_refused(
    store: Store, tmp_path: Path, enrollments: bool
) -> None:
    snap = load(store, enrollments=enrollments)
    lesson = snap.whole_class_lessons(8)[0]
    stranger = snap.pupils(_cls(snap, 11))[0]
    result = import_file(
        store, snap.school, PLATFORM, _write(tmp_path, [
            f"mark,{snap.where(lesson)},{name(stranger)},answer,5,,,",
        ]), actor="t",
    )  # fmt: skip
    assert local_marks(store, snap.school) == [], "a mark put on a pupil of another class"
    assert [q.field for q in result.quarantine] == ["student"]
    assert "no pupil of that name in the class" in result.quarantine[0].reason
    assert name(stranger) not in result.quarantine[0].reason
    assert result.records == 0


def test_namesakes_in_two_classes_are_told_apart_by_the_class(store: Store, tmp_path: Path) -> None:
    snap = load(store, twin=True)
    eighth, eleventh = _cls(snap, 8), _cls(snap, 11)
    pupil8 = snap.pupils(eighth)[0]
    pupil11 = snap.pupils(eleventh)[0]
    assert name(pupil8) == name(pupil11) and pupil8.id != pupil11.id
    l8 = next(le for le in snap.whole_class_lessons(8) if snap.class_of(le).id == eighth.id)
    l11 = next(le for le in snap.whole_class_lessons(11) if snap.class_of(le).id == eleventh.id)
    result = import_file(
        store, snap.school, PLATFORM, _write(tmp_path, [
            f"mark,{snap.where(l8)},{name(pupil8)},answer,5,,,",
            f"mark,{snap.where(l11)},{name(pupil11)},answer,3,,,",
        ]), actor="t",
    )  # fmt: skip
    assert result.quarantine == []
    got = {(m.student_id, m.lesson_id, m.value) for m in local_marks(store, snap.school)}
    assert got == {(pupil8.id, l8.id, MarkValue.FIVE), (pupil11.id, l11.id, MarkValue.THREE)}


def test_a_subgroup_lesson_takes_its_members_only(store: Store, tmp_path: Path) -> None:
    snap = load(store)
    groups = [g for g in snap.of(Group) if isinstance(g, Group) and g.subgroup == 1]
    group = groups[0]
    lesson = next(
        le for le in snap.of(Lesson) if isinstance(le, Lesson) and le.group_id == group.id
    )
    cls = snap.class_of(lesson)
    member = next(p for p in snap.pupils(cls) if p.id in group.member_ids)
    other = next(p for p in snap.pupils(cls) if p.id not in group.member_ids)
    result = import_file(
        store, snap.school, PLATFORM, _write(tmp_path, [
            f"mark,{snap.where(lesson)},{name(member)},answer,5,,,",
            f"mark,{snap.where(lesson)},{name(other)},answer,4,,,",
        ]), actor="t",
    )  # fmt: skip
    assert [(m.student_id, m.value) for m in local_marks(store, snap.school)] == [
        (member.id, MarkValue.FIVE)
    ]
    assert [(q.record, q.reason) for q in result.quarantine] == [
        ("row 3", "row 3, field student: the pupil is not in that subgroup")
    ]


# -- conflicts ---------------------------------------------------------------------------------


def test_conflicting_rows_are_all_reported_and_none_applied(store: Store, tmp_path: Path) -> None:
    snap = load(store)
    lesson = snap.whole_class_lessons(8)[0]
    a, b, c = snap.pupils(snap.class_of(lesson))[:3]
    w = snap.where(lesson)
    result = import_file(
        store, snap.school, PLATFORM, _write(tmp_path, [
            f"mark,{w},{name(a)},answer,5,,,",  # row 2 ┐ conflict
            f"mark,{w},{name(a)},answer,4,,,",  # row 3 ┘
            f"attendance,{w},{name(b)},,,Н,,",  # row 4 ┐ conflict
            f"attendance,{w},{name(b)},,,Б,,",  # row 5 ┘
            f"mark,{w},{name(c)},answer,5,,,",  # row 6 ┐ the same twice: one mark
            f"mark,{w},{name(c)},answer,5,,,",  # row 7 ┘
        ]), actor="t",
    )  # fmt: skip
    local = list(store.local_records(snap.school))
    assert [(m.student_id, m.value) for m in local if isinstance(m, Mark)] == [
        (c.id, MarkValue.FIVE)
    ]
    assert not [r for r in local if isinstance(r, Attendance)]
    assert {q.record: q.field for q in result.quarantine} == {
        "row 2": "value",
        "row 3": "value",
        "row 4": "code",
        "row 5": "code",
    }
    assert "conflicts with row 3" in result.quarantine[0].reason
    assert (result.conflicts, result.records, result.inserted) == (4, 1, 1)


def test_several_homework_rows_of_a_lesson_are_separate_entries(
    store: Store, tmp_path: Path
) -> None:
    snap = load(store)
    lesson = snap.whole_class_lessons(8)[0]
    w = snap.where(lesson)
    import_file(
        store, snap.school, PLATFORM, _write(tmp_path, [
            f"homework,{w},,,,,,§ 4",
            f"homework,{w},,,,,,№ 12–15",
            f"homework,{w},,,,,,§ 4",  # the same text again: one entry
            f"homework,{w},,,,,,повторить формулы",
        ]), actor="t",
    )  # fmt: skip
    hw = sorted(
        (r.ordinal, r.text) for r in store.local_records(snap.school) if isinstance(r, Homework)
    )
    assert hw == [(1, "§ 4"), (2, "№ 12–15"), (3, "повторить формулы")]


# -- what Excel saves --------------------------------------------------------------------------


def _rows(snap: Snap, *, iso: bool = True, fold: bool = False) -> list[list[str]]:
    lesson = snap.whole_class_lessons(8)[0]
    a, b = snap.pupils(snap.class_of(lesson))[:2]
    w = snap.where(lesson, iso=iso)
    if fold:  # «алгебра» for «Алгебра», «7а» for «7А», names lower-case with «ё»/«е» swapped
        cls, subject, rest = w.split(",", 2)
        w = f"{cls.lower()},{subject.lower()},{rest}"
    an, bn = name(a), name(b)
    if fold:
        an = an.lower().replace("е", "ё") if "е" in an else an.upper()
        bn = bn.lower()
    return [
        f"mark,{w},{an},answer,4/5,,,".split(","),
        f"attendance,{w},{bn},,,Н,,".split(","),
        f"topic,{w},,,,,Дроби,".split(","),
    ]


def _expected(store: Store, snap: Snap) -> set[tuple[str, ...]]:
    out = set()
    for r in store.local_records(snap.school):
        out.add((r.ENTITY, r.id, r.content_hash))
    return out


def _reference(tmp_path: Path) -> set[tuple[str, ...]]:
    with Store.open(f"sqlite:///{tmp_path}/reference.db") as ref:
        snap = load(ref)
        path = tmp_path / "reference.csv"
        path.write_text("\n".join([HEADER, *(",".join(r) for r in _rows(snap))]), "utf-8")
        result = import_file(ref, snap.school, PLATFORM, path, actor="t")
        assert result.quarantine == []
        want = _expected(ref, snap)
        assert len(want) == 4  # two marks («4/5»), an absence, a topic
        return want


@pytest.mark.parametrize(
    "form",
    [
        "cp1251;",
        "utf-8-sig;",
        "utf-8-sig,dmy",
        "utf-8,folded",
        "cp1251;dmy-folded",
        "xlsx",
        "xlsx-folded",
        "utf-16\t",
    ],
)
def test_what_russian_excel_saves_is_read(store: Store, tmp_path: Path, form: str) -> None:
    want = _reference(tmp_path)
    snap = load(store)
    rows = _rows(snap, iso="dmy" not in form, fold="folded" in form)
    if form.startswith("xlsx"):
        book = openpyxl.Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(HEADER.split(","))
        for row in rows:
            cells: list[object] = list(row)
            cells[4] = snap.whole_class_lessons(8)[0].date  # a real date cell
            cells[5] = int(row[5])  # a number cell
            sheet.append(cells)
        path = tmp_path / "journal.xlsx"
        book.save(path)
    else:
        encoding = form.split(";")[0].split("\t")[0].split(",")[0]
        sep = ";" if ";" in form else "\t" if "\t" in form else ","
        text = "\r\n".join(sep.join(r) for r in [HEADER.split(","), *rows]) + "\r\n"
        path = tmp_path / "journal.csv"
        path.write_bytes(text.encode(encoding))
    result = import_file(store, snap.school, PLATFORM, path, actor="t")
    assert result.quarantine == [], [q.reason for q in result.quarantine]
    assert _expected(store, snap) == want


# -- whole-file errors: exit 2, the file named, nothing written ---------------------------------


def _cli(db: Path, path: Path, school: str) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "import", str(path), "--school", school, "--platform", PLATFORM, "--db", f"sqlite:///{db}",
        columns=200,
    )  # fmt: skip


def _counts(db: Path) -> tuple[int, int, int]:
    con = sqlite3.connect(db)
    try:
        return tuple(  # type: ignore[return-value]
            con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("local_records", "local_changes", "quarantine")
        )
    finally:
        con.close()


@pytest.mark.parametrize(
    "bad", ["junk", "no-header", "wrong-header", "oversized", "broken-xlsx", "xlsx-no-header"]
)
def test_a_file_that_is_not_a_journal_is_refused_whole(tmp_path: Path, bad: str) -> None:
    db = tmp_path / "cli.db"
    with Store.open(f"sqlite:///{db}") as store:
        snap = load(store)
    good = [",".join(r) for r in _rows(snap)]
    path = tmp_path / (f"{bad}.xlsx" if "xlsx" in bad else f"{bad}.csv")
    if bad == "broken-xlsx":  # a zip's signature and then nothing of a workbook
        path.write_bytes(b"PK\x03\x04" + bytes(range(1, 256)) * 16)
    elif bad == "xlsx-no-header":
        book = openpyxl.Workbook()
        sheet = book.active
        assert sheet is not None
        for row in _rows(snap):
            sheet.append(row)
        book.save(path)
    elif bad == "junk":
        path.write_bytes(bytes(range(256)) * 64)
    elif bad == "no-header":
        path.write_text("\n".join(good), encoding="utf-8")
    elif bad == "wrong-header":
        path.write_text("\n".join(["вид;класс;что-то", *good]), encoding="utf-8")
    else:
        long_topic = good[2].replace("Дроби", "Д" * 200_000)
        path.write_text("\n".join([HEADER, *good[:2], long_topic]), encoding="utf-8")
    out = _cli(db, path, snap.school)
    assert out.returncode == 2, out.stdout + out.stderr
    message = " ".join((out.stderr + out.stdout).split())
    assert path.name in message
    assert "Traceback" not in out.stderr
    if bad == "oversized":
        assert "row 4" in message and "topic" in message
    assert _counts(db) == (0, 0, 0)


# -- one transaction, idempotent ----------------------------------------------------------------


def test_importing_the_same_file_again_changes_nothing(store: Store, tmp_path: Path) -> None:
    snap = load(store)
    lesson = snap.whole_class_lessons(8)[0]
    a, b = snap.pupils(snap.class_of(lesson))[:2]
    w = snap.where(lesson)
    path = _write(tmp_path, [
        f"mark,{w},{name(a)},answer,5,,,",
        f"mark,{w},{name(b)},answer,7,,,",  # not a mark
        f"attendance,{w},{name(b)},,,Н,,",
        f"attendance,{w},{name(b)},,,У,,",  # a conflict with the row above
    ])  # fmt: skip
    first = import_file(store, snap.school, PLATFORM, path, actor="t")
    log, quarantined = store.change_log(snap.school), store.quarantined(snap.school, "local")
    assert (len(log), len(quarantined)) == (1, 3)
    again = import_file(store, snap.school, PLATFORM, path, actor="t")
    assert store.change_log(snap.school) == log
    assert store.quarantined(snap.school, "local") == quarantined
    assert {q.payload["file"] for q in quarantined} == {"journal.csv"}
    assert (first.inserted, len(first.quarantine), first.quarantine_added) == (1, 3, 3)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 1)
    assert len(again.quarantine) == 3 and again.quarantine_added == 0


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "journal.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def _write_locked(db: Path) -> bool:
    """Whether another connection holds the database's write lock right now."""
    con = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        con.execute("BEGIN IMMEDIATE")
        con.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        con.close()


@pytest.mark.slow  # a real `journalsync import` of 20,000+ rows, SIGKILLed, then run again
def test_sigkill_in_the_middle_of_an_import_leaves_nothing(tmp_path: Path) -> None:
    """A real ``journalsync import`` killed while it holds the write transaction: no record, no
    change-log row, no quarantine row; the same command again imports it all."""
    db = tmp_path / "kill.db"
    # three calendar weeks from the week of 1 September (14 school days in 2026)
    size = WorldSize(grades=(5, 6, 7, 8, 9), letters=2, students_per_class=20, weeks=3)
    with Store.open(f"sqlite:///{db}") as store:
        snap = load(store, size=size)
    lines, expected = [], 0
    lessons = [le for g in size.grades for le in snap.whole_class_lessons(g)]
    for le in lessons:
        w = snap.where(le)
        for p in snap.pupils(snap.class_of(le)):
            lines.append(f"mark,{w},{name(p)},answer,5,,,")
            lines.append(f"attendance,{w},{name(p)},,,Н,,")
            expected += 2
        lines.append(f"mark,{w},Нет Такого Ученика,answer,5,,,")  # a quarantined row
    assert expected > 20_000, "a write long enough to be killed in"
    path = _write(tmp_path, lines)
    cmd = [sys.executable, "-m", "journalsync", "import", str(path), "--school", snap.school,
           "--platform", PLATFORM, "--db", f"sqlite:///{db}"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        held, deadline = 0, time.monotonic() + 120
        while held < 3 and time.monotonic() < deadline:  # the write, not a migration's blink
            assert proc.poll() is None, "the import finished before it could be killed"
            held = held + 1 if _write_locked(db) else 0
            time.sleep(0.02)
        assert held >= 3, "the import never held the write lock"
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert _counts(db) == (0, 0, 0)
    again = _cli(db, path, snap.school)
    assert again.returncode == 0, again.stderr
    assert _counts(db) == (expected, expected, len(lessons))
