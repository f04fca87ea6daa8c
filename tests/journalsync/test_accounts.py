"""`journalsync accounts import|list`, account outcomes in the store, and coverage."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.connector import AccountOutcome, PupilSeen
from core.store import RunState, Store
from core.sync import school_coverage
from journalsync.cli import app
from journalsync.config import load_config

CONFIG = """# the municipality's own comment, kept
[municipality]
name = "Город N"   # an inline comment, kept
timezone = "Asia/Novosibirsk"

[store]
url = "sqlite:///{db}"

[[schools]]
slug = "s-1"
name = "Школа 1"
platform = "ruobr"
base_url = "https://api3d.ruobr.ru"
login = "ivanova.m"
password = {{ env = "JS_TEST_FIRST" }}
min_coverage = 95

[[schools]]
slug = "s-2"
name = "Школа 2"
platform = "netschool"
base_url = "https://sgo.example.ru"
platform_school = "Школа 2"
login = "admin"
password = {{ env = "JS_TEST_S2" }}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "journalsync.toml"
    path.write_text(CONFIG.format(db=tmp_path / "store.db"), encoding="utf-8")
    path.chmod(0o644)
    return path


def _invoke(*args: str) -> tuple[int, str]:
    out = CliRunner().invoke(app, list(args))
    return out.exit_code, " ".join(out.output.split())


def test_import_a_semicolon_cp1251_csv_into_secrets_and_config(
    config: Path, tmp_path: Path
) -> None:
    file = tmp_path / "families.csv"
    file.write_bytes(
        "Логин;Пароль;Ученик;Класс\n"
        "petrov.a;Ёлка-7;Петров Алексей;5А\n"
        "\n"
        "sidorova.e;river12;Сидорова Елена;7Б\n"
        "ivanova.m;новый-пароль;Иванова Мария;5А\n".encode("cp1251")
    )
    code, out = _invoke("accounts", "import", str(file), "--school", "s-1", "-c", str(config))
    assert code == 0, out
    assert "3 accounts" in out and "2 accounts added, 1 updated" in out
    assert "Ёлка-7" not in out and "river12" not in out
    secrets = tmp_path / "secrets.toml"
    assert secrets.stat().st_mode & 0o777 == 0o600
    assert tomllib.loads(secrets.read_text(encoding="utf-8")) == {
        "s-1.petrov.a.password": "Ёлка-7",
        "s-1.sidorova.e.password": "river12",
        "s-1.ivanova.m.password": "новый-пароль",
    }
    text = config.read_text(encoding="utf-8")
    assert "# the municipality's own comment, kept" in text and "# an inline comment" in text
    assert config.stat().st_mode & 0o777 == 0o644
    school = load_config(config).school("s-1")
    assert [(a.login, a.pupil, a.class_name) for a in school.accounts] == [
        ("petrov.a", "Петров Алексей", "5А"),
        ("sidorova.e", "Сидорова Елена", "7Б"),
    ]
    # the school's own login: its secret now comes from the file
    assert school.password is not None and school.password.key == "s-1.ivanova.m.password"
    assert school.accounts[0].credentials().password == "Ёлка-7"
    assert load_config(config).school("s-2").login == "admin"  # the rest untouched

    # Imported again: the same accounts are updated, not doubled.
    code, out = _invoke("accounts", "import", str(file), "--school", "s-1", "-c", str(config))
    assert code == 0 and "0 accounts added, 3 updated" in out
    assert len(load_config(config).school("s-1").accounts) == 2


def test_import_an_xlsx_of_tokens(config: Path, tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["login", "token", "class"])
    sheet.append(["student-1", "a" * 40, "5А"])
    sheet.append(["guardian-2", "b" * 40, 5])
    file = tmp_path / "families.xlsx"
    book.save(file)
    code, out = _invoke("accounts", "import", str(file), "--school", "s-1", "-c", str(config))
    assert code == 0, out
    accounts = load_config(config).school("s-1").accounts
    assert [a.credentials().token for a in accounts] == ["a" * 40, "b" * 40]
    assert accounts[1].class_name == "5"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("login;password\n;secret\n", "families.csv, row 2, login: empty"),
        ("login;password\nx;\n", "families.csv, row 2, password: empty"),
        ("login;password\nx;1\ny;2\nx;3\n", "families.csv, row 4, login: the same login as row 2"),
        ("login;pupil\nx;Петров\n", "families.csv, row 1: no password or token column"),
        ("name;password\nx;1\n", "families.csv, row 1: no recognisable header"),
        ("login;password\nx;1;extra\n", "families.csv, row 2: more cells than the header"),
    ],
)
def test_a_bad_file_names_its_row_and_column_and_writes_nothing(
    config: Path, tmp_path: Path, text: str, expected: str
) -> None:
    before = config.read_text(encoding="utf-8")
    file = tmp_path / "families.csv"
    file.write_text(text, encoding="utf-8")
    code, out = _invoke("accounts", "import", str(file), "--school", "s-1", "-c", str(config))
    assert code == 2, out
    assert expected in out
    assert "secret" not in out.replace("secrets", "")
    assert config.read_text(encoding="utf-8") == before
    assert not (tmp_path / "secrets.toml").exists()


def test_an_unknown_school_is_a_usage_error(config: Path, tmp_path: Path) -> None:
    file = tmp_path / "families.csv"
    file.write_text("login,password\nx,1\n", encoding="utf-8")
    code, out = _invoke("accounts", "import", str(file), "--school", "nope", "-c", str(config))
    assert code == 2 and "no school 'nope'" in out


def test_list_shows_states_and_coverage_never_a_secret(config: Path, tmp_path: Path) -> None:
    file = tmp_path / "families.csv"
    file.write_text(
        "login,password,pupil,class\npetrov.a,Пароль-1,Петров Алексей,5А\n"
        "sidorova.e,Пароль-2,Сидорова Елена,7Б\nkuzin.d,Пароль-3,Кузин Денис,7Б\n",
        encoding="utf-8",
    )
    assert _invoke("accounts", "import", str(file), "--school", "s-1", "-c", str(config))[0] == 0
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    petrov = PupilSeen("p-1", "Петров Алексей Ильич", "5А")
    sidorova = PupilSeen("p-2", "Сидорова Елена Павловна", "7Б")
    first = store.start_run("k1", "s-1", "ruobr", "pull")
    store.record_accounts(
        "s-1",
        "ruobr",
        [
            AccountOutcome("ivanova.m", "ok"),
            AccountOutcome("petrov.a", "ok", (petrov,)),
            AccountOutcome("sidorova.e", "ok", (sidorova,)),
        ],
        first.id,
    )
    second = store.start_run("k2", "s-1", "ruobr", "pull")
    store.record_accounts(
        "s-1",
        "ruobr",
        [
            AccountOutcome("ivanova.m", "ok"),
            AccountOutcome("petrov.a", "ok", (petrov,)),
            AccountOutcome("sidorova.e", "rejected", detail="ruobr rejected account #3 of 4"),
        ],
        second.id,
    )
    coverage = school_coverage(store, "s-1", "ruobr", second.id, 0.95)
    assert (coverage.read, coverage.expected, coverage.ok) == (1, 2, False)
    assert "Сидорова" not in coverage.summary()  # names stay out of notes and logs
    assert coverage.missing_by_class() == {"7Б": ["Сидорова Елена Павловна"]}
    for state in (RunState.PULLING, RunState.RECONCILING):
        store.transition(second.id, state)
    store.transition(
        second.id, RunState.PARTIAL, counts=coverage.as_counts(), error=coverage.summary()
    )
    rows = {r.login: r for r in store.accounts("s-1", "ruobr")}
    assert rows["sidorova.e"].state == "rejected" and rows["sidorova.e"].pupils == 1
    assert (
        rows["sidorova.e"].last_ok is not None
        and rows["sidorova.e"].last_ok < rows["sidorova.e"].last_used
    )

    code, out = _invoke("accounts", "list", "--school", "s-1", "-c", str(config))
    assert code == 0, out
    assert "rejected" in out and "never used" in out and "ok" in out
    assert "1 / 2 pupils" in out and "not read in 7Б: Сидорова Елена Павловна" in out
    assert "Пароль" not in out
    code, out = _invoke("status", "-c", str(config))
    assert code == 0 and "1 partial" in out
    code, out = _invoke("status", "-c", str(config), "--school", "s-1", "--json")
    assert '"pupils": {"read": 1, "expected": 2}' in out and '"state": "partial"' in out


def test_min_coverage_is_a_percentage(config: Path) -> None:
    assert load_config(config).school("s-1").min_coverage == 0.95
    assert load_config(config).school("s-2").min_coverage == 1.0
    config.write_text(
        config.read_text(encoding="utf-8").replace("min_coverage = 95", "min_coverage = 0"),
        encoding="utf-8",
    )
    code, out = _invoke("config", "check", str(config))
    assert code == 2 and "min_coverage" in out


def test_pull_takes_the_school_from_the_config_and_flags_only_where_needed(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = _invoke("pull", "-c", str(config), "--school", "nope")
    assert code == 2 and "no school 'nope'" in out
    code, out = _invoke("pull", "-c", str(config), "--school", "s-1", "--platform", "netschool")
    assert code == 2 and "is on ruobr" in out
    code, out = _invoke("pull", "--school", "s-1", "--platform", "ruobr")
    assert code == 2 and "--base-url, --login" in out
    # No --platform-school where the platform does not use it: the run gets as far as the
    # network (nothing listens on port 9: "unavailable", exit 4).
    monkeypatch.setenv("JOURNALSYNC_PASSWORD", "pw-123")
    code, out = _invoke(
        "pull", "--school", "s-1", "--platform", "ruobr", "--base-url", "http://127.0.0.1:9",
        "--login", "u", "--db", f"sqlite:///{tmp_path / 'x.db'}",
    )  # fmt: skip
    assert code == 4, out
    assert "pw-123" not in out


@pytest.mark.parametrize("platform", ["perm", "kiasuo", "ruobr"])
def test_sandbox_accounts_list_every_account_with_tokens_and_a_pupil_with_marks_first(
    platform: str,
) -> None:
    from connectors.sandbox import World, WorldSize
    from journalsync.sandbox_cmd import accounts_line

    world = World.generate(7, WorldSize(grades=(1, 5), letters=1, students_per_class=3, weeks=1))
    lines = [accounts_line(world, "http://x", slug, platform) for slug in world.schools]
    assert len(lines) == len(world.schools)
    marked = {sid for a in world.assignments.values() for sid in a.marks}
    for line in lines:
        accounts = line["accounts"]
        assert accounts and all(a["login"] for a in accounts)
        if platform in ("perm", "kiasuo"):  # token platforms: the first login's token
            assert all(a.get("token") and "password" not in a for a in accounts)
        else:
            assert all(a.get("password") for a in accounts)
        first = next(
            p
            for p in world.persons.values()
            if p.full_name == accounts[0]["pupil"] and p.role == "student"
        )
        assert first.ext_id in marked  # grade 1 has no marks by regulation: not first
        student = world.account(line["student"]["login"])
        assert student is not None and student.ext_id in marked
        if platform == "perm":  # a student account per pupil: every pupil is listed
            students = {
                p.full_name
                for p in world.persons.values()
                if p.school == line["school_slug"] and p.role == "student"
            }
            assert students == {a.get("pupil") for a in accounts}


def test_forget_takes_pupils_who_left_off_the_roster(config: Path, tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    petrov = PupilSeen("p-1", "Петров Алексей Ильич", "5А")
    sidorova = PupilSeen("p-2", "Сидорова Елена Павловна", "7Б")
    sidorov = PupilSeen("p-3", "Сидоров Пётр Ильич", "7Б")
    sidorova_5 = PupilSeen("p-4", "Сидорова Елена Ивановна", "5А")
    first = store.start_run("k1", "s-1", "ruobr", "pull")
    everyone = (petrov, sidorova, sidorov, sidorova_5)
    store.record_accounts("s-1", "ruobr", [AccountOutcome("ivanova.m", "ok", everyone)], first.id)
    second = store.start_run("k2", "s-1", "ruobr", "pull")
    store.record_accounts("s-1", "ruobr", [AccountOutcome("ivanova.m", "ok", (petrov,))], second.id)
    coverage = school_coverage(store, "s-1", "ruobr", second.id, 0.95)
    for state in (RunState.PULLING, RunState.RECONCILING):
        store.transition(second.id, state)
    store.transition(second.id, RunState.PARTIAL, counts=coverage.as_counts())

    def roster() -> set[str]:
        return {p.pupil_id for p in store.family_roster("s-1", "ruobr")}

    args = ("accounts", "forget", "--school", "s-1", "-c", str(config))
    # Two «Сидорова Елена»: refused, naming both, nothing forgotten; likewise an unknown name.
    code, out = _invoke(*args, "--pupil", "Сидорова Елена")
    assert code == 2 and "names 2 pupils" in out and "(7Б)" in out and "(5А)" in out
    code, out = _invoke(*args, "--pupil", "Сидоров Пётр", "--pupil", "Кузин Денис")
    assert code == 2 and "Кузин Денис" in out and "nothing forgotten" in out
    assert roster() == {"p-1", "p-2", "p-3", "p-4"}
    code, out = _invoke(*args)
    assert code == 2 and "--pupil" in out

    # --class tells them apart; a name's first words and ё/е as the roster spells them.
    code, out = _invoke(*args, "--pupil", "сидорова елена", "--class", "7Б")
    assert code == 0, out
    assert "1 pupil(s) taken off" in out and "7Б: Сидорова Елена Павловна" in out
    assert roster() == {"p-1", "p-3", "p-4"}
    code, out = _invoke(*args, "--pupil", "Сидоров Петр Ильич", "--pupil", "Сидорова Елена")
    assert code == 0, out
    assert roster() == {"p-1"}
    assert "last pull (partial" in out and "1 / 1 pupils" in out  # nobody missing now

    # A class that left, whole; a class with nobody on the roster is refused.
    code, out = _invoke(*args, "--class", "9В")
    assert code == 2 and "9В" in out
    code, out = _invoke(*args, "--class", "5А")
    assert code == 0 and "1 pupil(s) taken off" in out, out
    assert roster() == set()
    # A later pull that shows a pupil again puts the pupil back.
    third = store.start_run("k3", "s-1", "ruobr", "pull")
    store.record_accounts("s-1", "ruobr", [AccountOutcome("ivanova.m", "ok", (petrov,))], third.id)
    assert roster() == {"p-1"}
