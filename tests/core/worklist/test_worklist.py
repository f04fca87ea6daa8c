"""Worklists built from a store: grouping, order, names from the snapshot, files, CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from core.codes import AttendanceCode, MarkValue, PeriodKind, Role
from core.connector import Page
from core.errors import ContractError
from core.model import (
    AcademicYear,
    Attendance,
    ClassUnit,
    Enrollment,
    FinalMark,
    Group,
    Homework,
    Lesson,
    Mark,
    Period,
    Person,
    Record,
    School,
    Subject,
)
from core.store import Store
from core.sync import reconcile
from core.worklist import (
    Worklist,
    build_worklists,
    file_stem,
    from_json,
    issue_worklists,
    to_json,
    write_pdf,
    write_xlsx,
)
from tests.support.cli import run_cli

S, P = "school-7", "kiasuo"
NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


def _person(key: str, last: str, first: str, middle: str, role: Role) -> Person:
    return Person(
        school=S, key=key, last_name=last, first_name=first, middle_name=middle, roles=(role,)
    )


YEAR = AcademicYear(school=S, start_year=2024, start=date(2024, 9, 1), end=date(2025, 5, 31))
Q3 = Period(
    school=S,
    year_id=YEAR.id,
    kind=PeriodKind.QUARTER,
    ordinal=3,
    start=date(2025, 1, 9),
    end=date(2025, 3, 21),
    name="3 четверть",
)
PETROVA = _person("t1", "Петрова", "Анна", "Сергеевна", Role.TEACHER)
ANDREEV = _person("t2", "Андреев", "Олег", "Ильич", Role.TEACHER)
ZHUKOV = _person("s1", "Жуков", "Пётр", "Андреевич", Role.STUDENT)
YOLKIN = _person("s2", "Ёлкин", "Илья", "Олегович", Role.STUDENT)
ABRAMOVA = _person("s3", "Абрамова", "Мария", "Ивановна", Role.STUDENT)
DMITRIEV = _person("s4", "Дмитриев", "Лев", "", Role.STUDENT)
C7A = ClassUnit(school=S, year_id=YEAR.id, grade=7, letter="А")
C5B = ClassUnit(school=S, year_id=YEAR.id, grade=5, letter="Б")
MATH = Subject(school=S, name="Математика")
RUS = Subject(school=S, name="Русский язык")
G_MATH = Group(school=S, class_id=C7A.id, subject_id=MATH.id, teacher_ids=(PETROVA.id,))
G_RUS = Group(school=S, class_id=C5B.id, subject_id=RUS.id, teacher_ids=(ANDREEV.id,))
L1 = Lesson(school=S, group_id=G_MATH.id, date=date(2025, 3, 12), number=3, topic="Дроби")
L2 = Lesson(school=S, group_id=G_MATH.id, date=date(2025, 3, 11), number=1, topic="Проценты")
L3 = Lesson(school=S, group_id=G_RUS.id, date=date(2025, 3, 12), number=2)
REMOTE_MARK = Mark(
    school=S,
    student_id=ABRAMOVA.id,
    lesson_id=L1.id,
    work_type="test",
    value=MarkValue.FOUR,
    weight=2.0,
)
SNAPSHOT: list[Record] = [
    School(school=S, name="МБОУ «Лицей № 7»"),
    YEAR,
    Q3,
    PETROVA,
    ANDREEV,
    ZHUKOV,
    YOLKIN,
    ABRAMOVA,
    DMITRIEV,
    C7A,
    C5B,
    MATH,
    RUS,
    G_MATH,
    G_RUS,
    *(
        Enrollment(school=S, student_id=s.id, class_id=C7A.id, begin=YEAR.start)
        for s in (ZHUKOV, YOLKIN, ABRAMOVA, DMITRIEV)
    ),
    L1,
    L2,
    L3,
    REMOTE_MARK,
]


def _mark(student: Person, value: MarkValue, lesson: Lesson = L1, wt: str = "test") -> Mark:
    return Mark(
        school=S, student_id=student.id, lesson_id=lesson.id, work_type=wt, value=value, weight=2
    )


LOCAL: list[Record] = [
    _mark(ZHUKOV, MarkValue.FIVE),
    _mark(YOLKIN, MarkValue.THREE),
    _mark(ABRAMOVA, MarkValue.FIVE),  # the platform shows 4
    Lesson.model_validate({**L1.data(), "topic": "Сложение дробей с разными знаменателями"}),
    Attendance(school=S, student_id=DMITRIEV.id, lesson_id=L2.id, code=AttendanceCode.ILL),
    Homework(school=S, lesson_id=L3.id, text="Упр. 125", due_date=date(2025, 3, 14)),
    FinalMark(
        school=S, student_id=ZHUKOV.id, subject_id=MATH.id, period_id=Q3.id, value=MarkValue.FIVE
    ),
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(f"sqlite:///{tmp_path / 'j.db'}")
    s.commit_page(S, P, Page(stream="all", scope="all", records=list(SNAPSHOT), cursor={}))
    s.upsert_local(S, LOCAL, actor="paper journal")
    assert reconcile(s, S, P).enqueued == len(LOCAL)
    yield s
    s.close()


def _lists(store: Store) -> list[Worklist]:
    return build_worklists(store, S, P, now=NOW)


def test_one_worklist_per_teacher_grouped_by_lesson(store: Store) -> None:
    andreev, petrova = _lists(store)  # teachers by name
    assert (andreev.teacher, petrova.teacher) == ("Андреев Олег Ильич", "Петрова Анна Сергеевна")
    assert andreev.school_name == "МБОУ «Лицей № 7»"
    assert [b.heading for b in petrova.blocks] == [
        "Вт, 11.03.2025 · урок 1 · 7А · Математика",
        "Ср, 12.03.2025 · урок 3 · 7А · Математика",
        "7А · Математика · итоговые отметки: 3 четверть",
    ]
    lesson = petrova.blocks[1]
    # the lesson's topic first, then students by name (Ё sorts as Е, not before А)
    assert [(e.kind, e.student) for e in lesson.entries] == [
        ("topic", None),
        ("mark", "Абрамова Мария Ивановна"),
        ("mark", "Ёлкин Илья Олегович"),
        ("mark", "Жуков Пётр Андреевич"),
    ]
    topic, abramova, *_ = lesson.entries
    assert (topic.label, topic.current) == ("Сложение дробей с разными знаменателями", "Дроби")
    assert (abramova.label, abramova.current) == ("5", "4")
    assert (abramova.work_type_name, abramova.weight) == ("Контрольная работа", 2.0)
    (attendance,) = petrova.blocks[0].entries
    assert (attendance.what, attendance.label, attendance.current) == ("Посещаемость", "Б", "")
    (hw,) = andreev.blocks[0].entries
    assert hw.kind == "homework" and hw.label == "Упр. 125 (срок 14.03.2025)"
    assert all(w.unresolved == 0 for w in (andreev, petrova))


def test_json_twin_round_trips_and_rejects_other_shapes(store: Store) -> None:
    for wl in _lists(store):
        data = json.loads(json.dumps(to_json(wl), ensure_ascii=False))
        assert data["format"] == "journalsync.worklist/1"
        assert from_json(data) == wl
    with pytest.raises(ContractError):
        from_json({"format": "something else"})
    broken = to_json(_lists(store)[0])
    del broken["blocks"][0]["entries"][0]["kind"]
    with pytest.raises(ContractError):
        from_json(broken)


def test_issue_moves_pending_to_awaiting_entry_once(store: Store) -> None:
    lists = _lists(store)
    assert issue_worklists(store, S, P, lists) == len(LOCAL)
    assert Counter(i.status for i in store.outbox(S, P)) == {"awaiting_entry": len(LOCAL)}
    assert issue_worklists(store, S, P, lists) == 0
    # still open until a pull shows the values: the next worklist lists them again
    assert sum(w.entry_count for w in _lists(store)) == len(LOCAL)


def test_a_record_queued_twice_is_one_entry_with_both_keys(store: Store) -> None:
    changed = REMOTE_MARK.model_validate({**REMOTE_MARK.data(), "value": MarkValue.TWO})
    store.commit_page(S, P, Page(stream="x", scope="x", records=[changed], cursor={}))
    reconcile(store, S, P)  # the platform's value changed: a new change key
    entries = [e for w in _lists(store) for b in w.blocks for e in b.entries]
    abramova = [e for e in entries if e.student == "Абрамова Мария Ивановна"]
    assert len(abramova) == 1
    assert len(abramova[0].keys) == 2 and abramova[0].current == "2"


def test_unknown_student_and_local_only_lesson(store: Store) -> None:
    ghost = _person("s9", "Новикова", "Ольга", "", Role.STUDENT)  # only in the local journal
    new_lesson = Lesson(school=S, group_id=G_RUS.id, date=date(2025, 3, 13), number=4)
    store.upsert_local(
        S, [new_lesson, _mark(ghost, MarkValue.FOUR, new_lesson, "answer")], actor="t"
    )
    reconcile(store, S, P)
    andreev = _lists(store)[0]
    block = next(b for b in andreev.blocks if b.lesson_id == new_lesson.id)
    assert block.heading == "Чт, 13.03.2025 · урок 4 · 5Б · Русский язык"
    mark = next(e for e in block.entries if e.kind == "mark")
    assert mark.student == "(ученик не найден)"
    assert andreev.unresolved == 1


def test_no_open_items_no_worklists(tmp_path: Path) -> None:
    s = Store.open(f"sqlite:///{tmp_path / 'e.db'}")
    try:
        assert build_worklists(s, S, P) == []
    finally:
        s.close()


def test_xlsx_and_pdf_of_a_worklist(store: Store, tmp_path: Path) -> None:
    petrova = _lists(store)[1]
    assert file_stem(petrova) == "worklist_2025-03-14_Петрова_А.С"
    ws = load_workbook(write_xlsx(petrova, tmp_path / "w.xlsx")).active
    assert ws is not None
    assert ws.title == "Петрова А.С."
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    flat = [v for row in rows for v in row if v is not None]
    assert "Учитель: Петрова Анна Сергеевна" in flat
    assert "Сформирован: 14.03.2025 12:30 (местное время, Europe/Moscow)" in flat
    assert [
        2,  # after the lesson's topic
        "Абрамова Мария Ивановна",
        "Оценка",
        "5",
        "Контрольная работа, вес 2",
        "4",
        None,
    ] in (rows)
    assert ws.freeze_panes is not None
    pdf = write_pdf(petrova, tmp_path / "w.pdf")
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils not installed")
    text = " ".join(
        subprocess.run(
            ["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True
        ).stdout.split()
    )
    for words in ("Лист внесения записей", "Ёлкин Илья", "Сложение дробей", "стр. 1 из 1"):
        assert words in text


def test_cli_writes_three_files_per_teacher_and_issues(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "lists"
    db = f"sqlite:///{tmp_path / 'j.db'}"
    args = ["worklist", "--school", S, "--platform", P, "--db", db, "--out", str(out)]
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    files = sorted(p.suffix for p in out.iterdir())
    assert files == [".json", ".json", ".pdf", ".pdf", ".xlsx", ".xlsx"]
    for j in out.glob("*.json"):
        assert from_json(json.loads(j.read_text(encoding="utf-8"))).platform == P
    assert {i.status for i in store.outbox(S, P)} == {"awaiting_entry"}
