"""Every failure a user can cause ends as one clear message and the README's exit code, never a
traceback and never a password: each case runs ``python -m journalsync`` as a real process."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from core.store import Store
from tests.support import REPO_ROOT

PASSWORD = "Sekr3tPassw0rd"
PG_DSN = os.environ.get("JOURNALSYNC_TEST_PG", "")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(tmp: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOURNALSYNC_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    env["COLUMNS"] = "200"  # one message, one line
    env["JOURNALSYNC_PASSWORD"] = PASSWORD
    return subprocess.Popen(
        [sys.executable, "-m", "journalsync", *args],
        cwd=tmp,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=120)
    return proc.returncode, out


def run(tmp: Path, *args: str) -> tuple[int, str]:
    return finish(start(tmp, *args))


def make_files(tmp_path: Path) -> Path:
    (tmp_path / "corrupt.db").write_bytes(os.urandom(4096))
    with Store.open(f"sqlite:///{tmp_path}/good.db"):
        pass
    good = (tmp_path / "good.db").read_bytes()
    (tmp_path / "truncated.db").write_bytes(good[: len(good) // 3])
    (tmp_path / "empty.db").write_bytes(b"")
    (tmp_path / "adir.db").mkdir()
    (tmp_path / "afile").write_text("not a folder")
    other = sqlite3.connect(tmp_path / "other.db")
    other.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    other.commit()
    other.close()
    (tmp_path / "cp1251.toml").write_bytes('[municipality]\nname = "Управление"\n'.encode("cp1251"))
    return tmp_path


@pytest.fixture
def files(tmp_path: Path) -> Path:
    return make_files(tmp_path)


def pull_args(db: str, base_url: str = "http://127.0.0.1:9") -> list[str]:
    return [
        "pull",
        "--school=s1",
        "--platform=netschool",
        f"--base-url={base_url}",
        "--platform-school=School 1",
        "--login=admin",
        f"--db={db}",
    ]


# (case, command line with {tmp} for the case's directory, exit code, words the message names)
CASES: list[tuple[str, list[str], int, list[str]]] = [
    ("corrupt file", ["status", "--db=sqlite:///{tmp}/corrupt.db"], 2, ["not a database"]),
    ("truncated store", ["status", "--db=sqlite:///{tmp}/truncated.db"], 2, ["malformed"]),
    (
        "read-only store",
        ["status", "--db=sqlite:///file:{tmp}/empty.db?mode=ro&uri=true"],
        2,
        ["cannot open the store", "readonly"],
    ),
    ("directory", ["status", "--db=sqlite:///{tmp}/adir.db"], 2, ["is a directory"]),
    (
        "folder that is a file",
        ["status", "--db=sqlite:///{tmp}/afile/x.db"],
        2,
        ["cannot be created"],
    ),
    ("not a URL", ["status", "--db=notaurl"], 2, ["'notaurl' is not a database URL"]),
    (
        "mysql",
        ["status", f"--db=mysql://user:{PASSWORD}@db.example/js"],
        2,
        ["mysql", "does not support", "postgresql+psycopg://"],
    ),
    (
        "postgresql without psycopg",
        ["status", f"--db=postgresql://user:{PASSWORD}@127.0.0.1/js"],
        2,
        ["psycopg2 driver for postgresql", "does not support"],
    ),
    (
        "unreachable postgresql",
        ["status", f"--db=postgresql+psycopg://user:{PASSWORD}@127.0.0.1:{closed_port()}/js"],
        2,
        ["cannot open the store", "user:***@127.0.0.1", "PGPASSWORD"],
    ),
    ("in-memory status", ["status", "--db=sqlite://"], 2, ["in-memory store"]),
    ("in-memory pull", pull_args("sqlite://"), 2, ["in-memory store"]),
    (
        "in-memory, spelt out",
        ["drift", "--school=s", "--platform=netschool", "--db=sqlite:///:memory:"],
        2,
        ["in-memory store"],
    ),
    (
        "another program's database",
        ["status", "--db=sqlite:///{tmp}/other.db"],
        2,
        ["not a journalsync store", "invoices", "--init-store"],
    ),
    ("config not UTF-8", ["config", "check", "{tmp}/cp1251.toml"], 2, ["not UTF-8"]),
    ("config missing", ["config", "check", "{tmp}/none.toml"], 2, ["cannot read config file"]),
    (
        "platform refuses connections",
        pull_args("sqlite:///{tmp}/good.db", f"http://127.0.0.1:{closed_port()}"),
        4,
        ["ConnectError", "gave up after", "check the network"],
    ),
]
if PG_DSN:
    from sqlalchemy.engine import make_url

    wrong = make_url(PG_DSN).set(password=PASSWORD, database="no_such_database_here")
    CASES.append(
        (
            "wrong PostgreSQL database",
            ["status", f"--db={wrong.render_as_string(hide_password=False)}"],
            2,
            ["cannot open the store", "no_such_database_here"],
        )
    )


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str]]:
    """Every case's exit code and output: the processes run side by side (each spends most of
    its time importing), every case in a directory of its own."""
    procs = {}
    for name, args, _, _ in CASES:
        tmp = make_files(tmp_path_factory.mktemp("case"))
        procs[name] = start(tmp, *(a.format(tmp=tmp) for a in args))
    return {name: finish(proc) for name, proc in procs.items()}


@pytest.mark.parametrize(("name", "code", "words"), [(c[0], c[2], c[3]) for c in CASES])
def test_a_user_error_is_one_message_and_its_exit_code(outcomes, name, code, words):
    rc, out = outcomes[name]
    flat = " ".join(out.split())
    assert rc == code, out
    assert "Traceback" not in out
    assert flat.startswith("error: "), out
    for word in words:
        assert word in flat, (word, out)
    assert PASSWORD not in out
    assert "retried later" not in out  # nobody retries a manual run


def test_a_refused_database_is_left_as_it_was_and_init_store_adopts_it(files):
    before = (files / "other.db").read_bytes()
    rc, _ = run(files, "status", f"--db=sqlite:///{files}/other.db")
    assert rc == 2
    assert (files / "other.db").read_bytes() == before
    assert not (files / "other.db-wal").exists()

    rc, out = run(files, "--init-store", "status", f"--db=sqlite:///{files}/other.db")
    assert rc == 0, out
    tables = {
        r[0]
        for r in sqlite3.connect(files / "other.db").execute(
            "SELECT name FROM sqlite_master WHERE type='table'"
        )
    }
    assert {"invoices", "alembic_version", "remote_records"} <= tables


def test_a_journalsync_store_and_a_new_file_open_without_init(files):
    assert run(files, "status", f"--db=sqlite:///{files}/good.db")[0] == 0
    assert run(files, "status", f"--db=sqlite:///{files}/empty.db")[0] == 0
    assert run(files, "status", f"--db=sqlite:///{files}/new.db")[0] == 0
