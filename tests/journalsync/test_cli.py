"""The command line as a script uses it: real processes, real sockets."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from connectors.netschool.client import NetSchoolClient
from core.connector import Credentials


async def _log_in(base_url: str, school: str, creds: dict[str, str]) -> None:
    client = NetSchoolClient(
        base_url, Credentials(login=creds["login"], password=creds["password"]), school
    )
    try:
        for _ in range(100):  # the server may still be starting
            try:
                await client.login()
                return
            except Exception:  # retried until the socket answers
                await asyncio.sleep(0.05)
        raise AssertionError("could not log in to the sandbox")
    finally:
        await client.aclose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# Each test runs `python -m journalsync` as a script would: end to end (`make test` runs them;
# the in-process tests in test_accounts.py cover the same exit codes in `make test-fast`).
pytestmark = pytest.mark.slow


def test_sandbox_serve_prints_accounts_that_log_in() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "journalsync", "sandbox", "serve", "--platform", "netschool",
         "--port", str(port), "--seed", "4", "--grades", "5", "--letters", "1",
         "--students", "3", "--weeks", "1", "--accounts"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        assert first == f"http://127.0.0.1:{port}"
        line = json.loads(proc.stdout.readline())
        assert line["base_url"] == first
        assert {"teacher", "student", "parent", "admin"} <= line.keys()
        for role in ("student", "parent", "teacher"):
            creds = line[role]
            asyncio.run(_log_in(line["base_url"], line["school"], creds))
    finally:
        proc.terminate()
        proc.communicate(timeout=10)  # reaps the process and closes its pipes


def test_sandbox_refuses_a_non_loopback_host() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "journalsync", "sandbox", "serve", "--host", "0.0.0.0"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 2 and "loopback" in out.stderr


def test_missing_password_variable_is_a_usage_error(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "journalsync", "pull", "--school", "s", "--platform", "netschool",
         "--base-url", "http://127.0.0.1:9", "--platform-school", "x", "--login", "u",
         "--password-env", "JS_NO_SUCH_VARIABLE", "--db", f"sqlite:///{tmp_path}/x.db"],
        capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert "JS_NO_SUCH_VARIABLE" in out.stderr


def test_unreachable_platform_exits_4(tmp_path: Path) -> None:
    port = _free_port()  # nothing listens there
    out = subprocess.run(
        [sys.executable, "-m", "journalsync", "pull", "--school", "s", "--platform", "netschool",
         "--base-url", f"http://127.0.0.1:{port}", "--platform-school", "x", "--login", "u",
         "--db", f"sqlite:///{tmp_path}/x.db"],
        capture_output=True, text=True, timeout=120, check=False,
        env={"PATH": "/usr/bin:/bin", "JOURNALSYNC_PASSWORD": "secret-pw"},
    )  # fmt: skip
    assert out.returncode == 4, out.stderr
    assert "secret-pw" not in out.stdout + out.stderr


def test_sandbox_today_must_be_now_fixed_or_a_date() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "journalsync", "sandbox", "serve", "--today", "tomorrow"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 2 and "--today" in out.stderr and "Traceback" not in out.stderr
