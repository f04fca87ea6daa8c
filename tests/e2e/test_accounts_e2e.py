"""Family accounts end to end, in real processes over real HTTP: `sandbox serve --accounts`,
`accounts import` of a CSV (Ruobr) or an XLSX (ЭПОС, tokens), `pull -c … --school` reading every
pupil, `status` showing full coverage; then one account removed from the config: the pull ends
partial (exit 6) naming that pupil, `status` shows the shortfall, `accounts list` the states.
No secret reaches any output.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from openpyxl import Workbook

from tests.support import REPO_ROOT

pytestmark = pytest.mark.slow

ROOT = REPO_ROOT
SLUG = "family-school"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        # the repository first; then whatever the test run was given
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
        "JOURNALSYNC_SECRET_KEY_FILE": str(tmp_path / "key"),
        "COLUMNS": "200",
    }


def _js(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "journalsync", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=tmp_path,
        env=_env(tmp_path),
    )


class Sandbox:
    def __init__(self, tmp_path: Path, platform: str) -> None:
        port = _free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "journalsync", "sandbox", "serve", "--platform", platform,
             "--port", str(port), "--seed", "5", "--grades", "1,5", "--letters", "1",
             "--students", "3", "--weeks", "1", "--today", "fixed", "--accounts"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(tmp_path),
        )  # fmt: skip
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()
        self.school: dict[str, Any] = json.loads(self.proc.stdout.readline())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # until the socket answers
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.communicate(timeout=10)


def _config(tmp_path: Path, platform: str, sandbox: Sandbox) -> Path:
    first = sandbox.school["accounts"][0]
    kind = "token" if "token" in first else "password"
    options = ", ".join(
        f"{k} = {json.dumps(v)}" for k, v in sorted(sandbox.school["options"].items())
    )
    text = f"""[municipality]
name = "Test"
timezone = "Asia/Novosibirsk"

[store]
url = "sqlite:///{tmp_path}/store.db"

[[schools]]
slug = "{SLUG}"
name = "Школа семей"
platform = "{platform}"
base_url = "{sandbox.base_url}"
login = "{first["login"]}"
{kind} = {{ file = "secrets.toml", key = "{SLUG}.{first["login"]}.{kind}" }}
options = {{ {options} }}
"""
    path = tmp_path / "journalsync.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _accounts_file(tmp_path: Path, accounts: list[dict[str, str]], xlsx: bool) -> Path:
    kind = "token" if "token" in accounts[0] else "password"
    header = ["login", kind, "pupil", "class"]
    rows = [[a["login"], a[kind], a.get("pupil", ""), a.get("class", "")] for a in accounts]
    if xlsx:
        path = tmp_path / "families.xlsx"
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(header)
        for row in rows:
            sheet.append(row)
        book.save(path)
        return path
    path = tmp_path / "families.csv"
    with path.open("w", encoding="cp1251", newline="") as fh:  # as Russian Excel saves it
        writer = csv.writer(fh, delimiter=";")
        writer.writerow(["Логин", "Пароль", "Ученик", "Класс"])
        writer.writerows(rows)
    return path


def _remove_account(config: Path, login: str) -> None:
    doc = tomlkit.parse(config.read_text(encoding="utf-8"))
    school = doc["schools"][0]  # type: ignore[index]
    accounts = school["accounts"]
    for i, entry in enumerate(list(accounts)):
        if entry["login"] == login:
            del accounts[i]
            break
    config.write_text(tomlkit.dumps(doc), encoding="utf-8")


@pytest.mark.parametrize(("platform", "xlsx"), [("ruobr", False), ("perm", True)])
def test_family_accounts_import_pull_coverage_and_partial(
    tmp_path: Path, platform: str, xlsx: bool
) -> None:
    sandbox = Sandbox(tmp_path, platform)
    try:
        accounts = sandbox.school["accounts"]
        pupils = {(a["class"], a["pupil"]) for a in accounts if a.get("pupil")}
        secrets = {a.get("password") or a.get("token") for a in accounts}
        config = _config(tmp_path, platform, sandbox)
        outputs: list[str] = []

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            out = _js(tmp_path, *args)
            outputs.append(out.stdout + out.stderr)
            return out

        imported = run(
            "accounts", "import", str(_accounts_file(tmp_path, accounts, xlsx)),
            "--school", SLUG, "-c", str(config),
        )  # fmt: skip
        assert imported.returncode == 0, imported.stderr
        assert f"{len(accounts)} accounts" in imported.stdout
        assert (tmp_path / "secrets.toml").stat().st_mode & 0o777 == 0o600
        assert run("config", "check", str(config)).returncode == 0

        pulled = run("pull", "-c", str(config), "--school", SLUG)
        assert pulled.returncode == 0, pulled.stdout + pulled.stderr
        assert f"coverage: {len(pupils)} / {len(pupils)} pupils" in pulled.stdout
        status = run("status", "-c", str(config), "--school", SLUG, "--json")
        line = json.loads(status.stdout)[0]
        assert line["state"] == "done"
        assert line["pupils"] == {"read": len(pupils), "expected": len(pupils)}

        # One family's account (not the school's own) removed: that pupil is missing.
        def shows(account: dict[str, str], pupil: str) -> bool:
            return account.get("pupil") == pupil or pupil in account.get("children", "")

        gone = next(
            a for a in accounts[1:] if a.get("pupil") and not shows(accounts[0], a["pupil"])
        )
        removed = [a["login"] for a in accounts if shows(a, gone["pupil"])]
        for login in removed:  # the pupil's own account and the parents': all go
            _remove_account(config, login)
        pulled = run("pull", "-c", str(config), "--school", SLUG)
        assert pulled.returncode == 6, pulled.stdout + pulled.stderr
        text = " ".join((pulled.stdout + pulled.stderr).split())
        assert f"{len(pupils) - 1} / {len(pupils)} pupils" in text
        assert f"not read in {gone['class']}: {gone['pupil']}" in text
        assert "ended partial" in text
        assert " 0 deleted" in text  # the pupil's records are kept, out of sight
        status = run("status", "-c", str(config), "--school", SLUG, "--json")
        line = json.loads(status.stdout)[0]
        assert line["state"] == "partial"
        assert line["pupils"] == {"read": len(pupils) - 1, "expected": len(pupils)}
        assert gone["pupil"] not in line["error"]  # names stay out of stored reasons and logs
        table = run("status", "-c", str(config))
        assert f"{len(pupils) - 1} / {len(pupils)} pupils" in " ".join(table.stdout.split())

        listed = run("accounts", "list", "-c", str(config), "--school", SLUG, "--json")
        assert listed.returncode == 0, listed.stderr
        states = {a["login"]: a["state"] for a in json.loads(listed.stdout)}
        assert {states[login] for login in removed} == {"not configured"}
        assert {s for login, s in states.items() if login not in removed} == {"ok"}
        assert run("accounts", "list", "-c", str(config), "--school", SLUG).returncode == 0
    finally:
        sandbox.stop()
    everything = "\n".join(outputs)
    leaked = [s for s in secrets if s and s in everything]
    assert leaked == []
    assert "Traceback" not in everything
