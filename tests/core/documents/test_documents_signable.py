"""Documents a deputy director signs: every kind rendered to PDF and read back with pdftotext —
no "UTC", no rule ids, no regulation file names, no header word broken against Russian rules,
the signature on the page of the table's last rows, and ``--out X.pdf`` writing X.pdf only."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path

import pyphen
import pytest

from core.codes import MarkValue, Role
from core.compliance import check_frame, get_profile
from core.compliance._catalogue import REG, RULES
from core.compliance._citations import REGULATION_TITLES, cite
from core.compliance._render import write_report
from core.compliance._reports import (
    attendance_summary,
    compliance_report,
    find_period,
    summary_sheet,
    timeliness,
)
from core.documents import TableDocument
from core.model import ClassUnit, Enrollment, FinalMark, Group, Lesson, Person, Subject
from core.store import Store
from core.worklist import build_worklists, to_document
from tests.core.compliance.test_compliance_world import AS_OF, SCHOOL, World, build, prov
from tests.core.worklist.test_worklist import (  # noqa: F401  (the worklist store fixture)
    NOW,
    P,
    S,
    store,
)

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed"
)

ZONE = "Asia/Barnaul"
LONG_SUBJECTS = (
    "Английский язык",
    "Математика",
    "Обществознание",
    "Изобразительное искусство",
    "Физическая культура",
    "Основы безопасности жизнедеятельности",
    "Литература",
    "География",
)
_HYPH = pyphen.Pyphen(lang="ru_RU", left=2, right=2)


def rich_world() -> World:
    """The compliance world's 5А grown to 30 students and 8 subjects, with late finals."""
    w = build()
    cu = next(c for c in w.of(ClassUnit) if c.name == "5А")
    teacher = next(p for p in w.of(Person) if Role.TEACHER in p.roles)
    q1 = next(p for p in w.records if getattr(p, "name", "") == "1 четверть")
    more = [
        Person(
            school=SCHOOL,
            key=f"x:{i}",
            last_name=f"Ученикова{i:02d}",
            first_name="Мария",
            roles=(Role.STUDENT,),
        )
        for i in range(26)
    ]
    w.add(*more)
    for p in more:
        w.add(Enrollment(school=SCHOOL, student_id=p.id, class_id=cu.id, begin=date(2025, 9, 1)))
    late = prov(datetime(2025, 10, 30, 10, 0, tzinfo=AS_OF.tzinfo))
    for n, name in enumerate(n for n in LONG_SUBJECTS if n != "Математика"):
        subj = Subject(school=SCHOOL, name=name)
        g = Group(school=SCHOOL, class_id=cu.id, subject_id=subj.id, teacher_ids=(teacher.id,))
        w.add(subj, g)
        w.add(
            Lesson(
                school=SCHOOL,
                group_id=g.id,
                date=date(2025, 9, 1) + timedelta(days=n),
                number=3,
                topic="Тема",
                teacher_id=teacher.id,
                provenance=prov(datetime(2025, 9, 1, 10, 0, tzinfo=AS_OF.tzinfo)),
            )
        )
        for s in w.students("5А"):
            # entered after the quarter ended: a late final, which names no class or teacher
            w.add(
                FinalMark(
                    school=SCHOOL,
                    student_id=s.id,
                    subject_id=subj.id,
                    period_id=q1.id,
                    value=MarkValue.FOUR,
                    provenance=late,
                )
            )
    return w


def _text(pdf: Path, *args: str) -> str:
    return subprocess.run(
        ["pdftotext", *args, str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout


def _header_words(doc: TableDocument) -> set[str]:
    return {w for c in doc.columns for w in c.title.split() if len(w) > 3}


def assert_signable(pdf: Path, docs: list[TableDocument]) -> str:
    """The checks every document must pass; returns its text (``pdftotext -raw``)."""
    text = _text(pdf, "-raw")
    assert "UTC" not in text
    for rule in RULES:
        assert rule not in text, rule
    assert not re.search(r"\d{3}_[0-9a-f]{16}\.txt", text), "a regulation file name"
    assert not re.search(r"Профиль[^:\n]*: all\b", text)
    # a header word is whole, or split at a legal hyphenation point with a hyphen
    words = set().union(*(_header_words(d) for d in docs))
    joined = text
    for m in re.finditer(r"(\w+)-\n(\w+)", text):
        head, tail = m[1], m[2]
        whole = next((w for w in words if w.endswith(head + tail) or w == head + tail), None)
        if whole is not None and (head + tail) == whole[-len(head + tail) :]:
            cut = len(whole) - len(tail)
            assert cut in _HYPH.positions(whole), f"{whole!r} hyphenated as {head}-{tail}"
            joined = joined.replace(m[0], head + tail)
    flat = re.sub(r"\s+", " ", joined)
    for word in words:
        assert word in flat, f"header word {word!r} broken or missing"
    return text


def _check(world: World):  # type: ignore[no-untyped-def]
    frame = world.frame()
    return frame, check_frame(frame, get_profile("all"), as_of=AS_OF, timezone=ZONE)


@needs_poppler
def test_compliance_report_a_deputy_director_signs(tmp_path: Path) -> None:
    frame, result = _check(rich_world())
    doc = compliance_report([result], [frame], timezone=ZONE)
    pdf = tmp_path / "c.pdf"
    assert write_report([doc], "pdf", pdf) == [pdf]
    text = assert_signable(pdf, [doc])
    # 9:00 UTC is 16:00 in Barnaul; the profile, rules and the regulation are named in words
    assert "01.11.2025 16:00" in text and "Asia/Barnaul" in text
    assert (
        get_profile("all").title.split(" (")[0] in text and "Профиль проверки: Все правила" in text
    )
    assert RULES["finals.deadline"].title.split()[0] in text
    assert "Положение о порядке работы в электронном журнале" in text and "п. 5.3" in text
    # the late finals (the rule names no class or teacher) name both, from the school's data
    title = RULES["finals.deadline"].title
    late = [r for sec in doc.sections if sec.heading.startswith(title) for r in sec.rows]
    assert late and all(r[0] == "5А" and r[2] == "Петрова А. И." for r in late)
    # «Дата» holds dates only; the period has its own column
    dates = [r[4] for s in doc.sections for r in s.rows if r[4] is not None]
    assert dates and all(isinstance(d, date) for d in dates)


@needs_poppler
def test_summary_sheets_one_file_signature_with_its_table(tmp_path: Path) -> None:
    frame = rich_world().frame()
    docs = summary_sheet(frame)
    assert len(docs) == 2  # 5А and 1А
    pdf = tmp_path / "summary.pdf"
    assert write_report(docs, "pdf", pdf) == [pdf]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.pdf"]
    assert_signable(pdf, docs)
    pages = _text(pdf, "-layout").split("\f")
    for page in pages:
        if "Директор" in page:
            # never a signature alone: data rows of the class stand on the same page
            assert re.search(r"^\s*\d+ \S+", page, re.M), page[:300]
    # each class starts a page of its own
    first = [i for i, p in enumerate(pages) if "Учебный год:" in p]
    assert len(first) == 2 and first[0] == 0 and "Класс: 1А" in pages[first[1]]


@needs_poppler
def test_timeliness_report_in_local_time_and_words(tmp_path: Path) -> None:
    frame, result = _check(rich_world())
    doc = timeliness(frame, result, timezone=ZONE)
    pdf = tmp_path / "t.pdf"
    write_report([doc], "pdf", pdf)
    text = assert_signable(pdf, [doc])
    assert "16:00 (местное время, Asia/Barnaul)" in text
    row = doc.sections[0].rows[0]
    # late finals are the teacher's (found through the class's group), not an unnamed row
    late = sum(f.rule == "finals.deadline" for f in result.findings)
    assert late > 0 and row[0] == "Петрова А. И." and row[-1] == late


@needs_poppler
def test_worklist_in_the_school_zone(store: Store, tmp_path: Path) -> None:  # noqa: F811
    from dataclasses import replace

    from core.documents import write_pdf

    wl = replace(build_worklists(store, S, P, now=NOW)[1], timezone=ZONE)
    doc = to_document(wl)
    pdf = tmp_path / "w.pdf"
    write_pdf(pdf, doc)
    text = assert_signable(pdf, [doc])
    assert "14.03.2025 16:30 (местное время, Asia/Barnaul)" in text
    assert "Посещаемост\nь" not in text  # a body word too long for its column is hyphenated


def test_citations_name_the_regulation_never_its_file() -> None:
    assert cite(f"{REG['gymn2-krasnoyarsk']} п. 5.2") == (
        "Положение о порядке работы в электронном журнале на платформе ГИС ЭЖД КИАСУО "
        "(МАОУ Гимназия № 2), п. 5.2"
    )
    assert cite("099_0000000000000000.txt п. 1.1") == "положение школы, п. 1.1"
    assert cite("без ссылки") == "без ссылки"


def test_regulation_titles_are_the_texts_own_headings() -> None:
    root = Path("/work/shared/regulations")
    if not root.is_dir():
        pytest.skip("the regulations folder /work/shared/regulations is absent")
    for file, title in REGULATION_TITLES.items():
        head = re.sub(r"\s+", " ", (root / file).read_text(encoding="utf-8")[:1500]).lower()
        # the title's first words (before the school in brackets) stand at the head of the text
        words = re.sub(r"\s*\(.*\)$", "", title).lower().split()[:5]
        found = " ".join(words).replace("помощью", "помо")
        assert found.split(" помо")[0] in head.replace("помошью", "помо"), (file, words)


CONFIG = """\
[municipality]
name = "Тестовый район"
timezone = "Europe/Moscow"

[[schools]]
slug = "s1"
name = "МБОУ «Школа № 1»"
platform = "netschool"
base_url = "http://127.0.0.1:9"
login = "admin"
password = { env = "JS_TEST_S1" }
timezone = "Asia/Barnaul"
"""


@needs_poppler
def test_cli_reports_take_zone_and_platform_from_the_config(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from core.connector import Page
    from journalsync.cli import app

    w = rich_world()
    db = f"sqlite:///{tmp_path / 'j.db'}"
    with Store.open(db) as st:
        st.commit_page(SCHOOL, "netschool", Page("all", "all", w.records, {}))
    cfg = tmp_path / "m.toml"
    cfg.write_text(CONFIG, encoding="utf-8")
    runner = CliRunner()
    out = tmp_path / "t.pdf"
    args = ["report", "timeliness", "--school", SCHOOL, "--db", db, "--format", "pdf"]
    res = runner.invoke(
        app, [*args, "--config", str(cfg), "--as-of", AS_OF.isoformat(), "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    text = re.sub(r"\s+", " ", _text(out, "-raw"))
    assert "01.11.2025 16:00 (местное время, Asia/Barnaul)" in text and "UTC" not in text
    assert "часовой пояс Asia/Barnaul — конфигурация школы s1" in text
    assert "снимок платформы «Сетевой город. Образование»" in text
    # a municipal report over one school's snapshots on two platforms: the second is missing
    muni = ["report", "compliance", "--school", SCHOOL, "--school", SCHOOL, "--db", db]
    muni += ["--platform", "netschool", "--platform", "ruobr", "--format", "pdf"]
    res = runner.invoke(app, [*muni, "--out", str(tmp_path / "m.pdf")])
    assert res.exit_code == 2 and "'ruobr'" in res.output
    with Store.open(db) as st:
        st.commit_page(SCHOOL, "ruobr", Page("all", "all", w.records, {}))
    res = runner.invoke(app, [*muni, "--out", str(tmp_path / "m.pdf")])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in tmp_path.glob("m*.pdf")) == ["m.pdf"]
    text = _text(tmp_path / "m.pdf", "-raw")
    assert "Школ: 2" in text and "Электронная школа 2.0" in text and "UTC" not in text


def _crowded(world: World, per_class: int) -> World:
    """``per_class`` more pupils in each class, so each class runs over several pages."""
    for cu in world.of(ClassUnit):
        more = [
            Person(
                school=SCHOOL,
                key=f"crowd:{cu.name}:{i}",
                last_name=f"Иванова{i:02d}",
                first_name="Анна",
                roles=(Role.STUDENT,),
            )
            for i in range(per_class)
        ]
        world.add(*more)
        for p in more:
            world.add(
                Enrollment(school=SCHOOL, student_id=p.id, class_id=cu.id, begin=date(2025, 9, 1))
            )
    return world


def _pages(pdf: Path) -> list[str]:
    pages = _text(pdf, "-layout").split("\f")
    return [p for p in pages if p.strip()]


@needs_poppler
def test_a_file_of_several_classes_numbers_its_pages_and_names_the_class_on_each(
    tmp_path: Path,
) -> None:
    """A sheet a class (several pages each) in one PDF: «стр. N из M» over the whole file, and
    every page of a class's part names that class and repeats the table's header row."""
    frame = _crowded(rich_world(), 60).frame()
    docs = summary_sheet(frame)
    pdf = tmp_path / "summary.pdf"
    write_report(docs, "pdf", pdf)
    pages = _pages(pdf)
    assert len(pages) >= 4
    for n, page in enumerate(pages, start=1):
        assert re.search(rf"стр\. {n} из {len(pages)}\b", page), (n, page[-200:])
        assert "Обучающийся" in page, n  # the header row
    starts = [i for i, p in enumerate(pages) if "Учебный год:" in p]  # a class's first page
    assert len(starts) == 2 and starts[0] == 0
    for i, page in enumerate(pages):
        cls = "5А" if i < starts[1] else "1А"
        other = "1А" if cls == "5А" else "5А"
        assert f"Класс: {cls}" in page and f"Класс: {other}" not in page, i
        if i not in starts:
            assert f"Сводная ведомость итоговых оценок — Класс: {cls} (продолжение)" in page
    assert all(len(p.split("Класс:")) == 2 for p in pages), "the class once a page"
    assert_signable(pdf, docs)


@needs_poppler
def test_a_table_of_class_sections_repeats_the_class_heading_on_each_page(
    tmp_path: Path,
) -> None:
    frame = _crowded(rich_world(), 60).frame()
    doc = attendance_summary(frame, find_period(frame, "1"))
    pdf = tmp_path / "attendance.pdf"
    write_report([doc], "pdf", pdf)
    pages = _pages(pdf)
    assert len(pages) >= 3
    seen: list[str] = []
    for n, page in enumerate(pages, start=1):
        assert re.search(rf"стр\. {n} из {len(pages)}\b", page)
        lines = [ln.strip() for ln in page.splitlines() if ln.strip()]
        # the header row, then (on a page a class continues on) that class's heading first
        top = next(i for i, ln in enumerate(lines) if ln.startswith("№"))
        heading = next(ln for ln in lines[top:] if ln.startswith("Класс "))
        if n > 1:
            assert lines[0] == "Сводная ведомость учёта посещаемости (продолжение)"
            first_row = next(ln for ln in lines[top + 1 :] if re.match(r"\d+ ", ln))
            assert lines.index(heading) < lines.index(first_row), n
            if not first_row.startswith("1 "):
                # rows carried over: under the heading of the class the last page ended with
                assert heading == seen[-1], (n, heading, seen[-1])
        seen += [ln for ln in lines if ln.startswith("Класс ")]
    # every class's rows are numbered on, under that class's heading, across pages
    assert seen[0] == "Класс 5А" and "Класс 1А" in seen
    assert_signable(pdf, [doc])
