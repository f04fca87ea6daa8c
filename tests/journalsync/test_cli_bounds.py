"""A manual ``journalsync pull`` against a platform that never answers, or answers a byte at a
time: it ends within the deadline with exit 4 and a message that promises no retry. Real
loopback sockets; the connector's HTTP settings are made small (they come from the config's
``[hosts]`` in a scheduled run, see test_config_check)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.connector import Connector
from core.http import HttpSettings
from journalsync.cli import app

Serve = Callable[[socket.socket], None]


@contextmanager
def server(serve: Serve) -> Iterator[str]:
    """A thread accepting connections on loopback and handing each to ``serve``."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()
    conns: list[socket.socket] = []

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conns.append(conn)
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in conns:
            conn.close()
        listener.close()


def silent(conn: socket.socket) -> None:
    with suppress(OSError):
        conn.recv(65536)  # the request; then nothing, ever


def trickle(conn: socket.socket) -> None:
    try:
        conn.recv(65536)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 999\r\n\r\n"
        )
        while True:
            conn.sendall(b" ")
            time.sleep(0.1)
    except OSError:
        pass


@pytest.fixture
def small_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = HttpSettings(
        timeout=0.5, deadline=1.5, login_deadline=2.0, max_attempts=3, backoff_max=0.1
    )
    monkeypatch.setattr(Connector, "http_settings", lambda self, default=None: settings)


@pytest.mark.parametrize("serve", [silent, trickle], ids=["silent", "trickle"])
def test_a_manual_pull_from_a_platform_that_does_not_answer_ends_with_exit_4(
    serve: Serve, small_bounds: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOURNALSYNC_PASSWORD", "pw-not-in-output")
    with server(serve) as base_url:
        started = time.monotonic()
        result = CliRunner().invoke(
            app,
            [
                "pull",
                "--school=s1",
                "--platform=netschool",
                f"--base-url={base_url}",
                "--platform-school=School 1",
                "--login=admin",
                f"--db=sqlite:///{tmp_path}/js.db",
            ],
        )
        elapsed = time.monotonic() - started
    out = " ".join(result.output.split())
    assert result.exit_code == 4, out
    assert elapsed < 20.0  # the login deadline (2 s), start-up, a shared machine
    # Each request gives up by its read timeout (silent) or its deadline (trickle); the login
    # re-runs its whole sequence on such failures, so the login deadline is what ends it.
    assert "error: netschool: the login did not finish within 2 s" in out
    assert "try again later" in out
    assert "retried later" not in out and "will be retried" not in out
    assert "Traceback" not in out and "pw-not-in-output" not in out
