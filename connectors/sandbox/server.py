"""Serve an emulator on loopback: in a background thread (tests, demo) or in the foreground.

Access logs are off: request lines carry tokens and personal ids in query strings.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp

from connectors.sandbox._issued import with_issued_log
from core.errors import ConfigError

__all__ = ["ServerHandle", "is_loopback", "serve", "serve_in_thread"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (127.0.0.0/8, ::1) or ``localhost``.

    Parsed, not prefix-matched: ``127.example.com`` is a name anyone can point anywhere.
    """
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _config(app: ASGIApp, host: str, port: int) -> uvicorn.Config:
    # Emulators hand out sandbox passwords and serve made-up personal data: never off the host.
    if not is_loopback(host):
        raise ConfigError(
            f"the sandbox serves on loopback only (127.0.0.0/8, ::1, localhost), not {host!r}"
        )
    return uvicorn.Config(
        with_issued_log(app),  # a test-only record of credentials; off unless asked for
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        log_config=None,
    )


class ServerHandle:
    """A running uvicorn server in a daemon thread. ``stop()`` (or leaving the ``with``) ends it."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread, host: str, port: int):
        self._server = server
        self._thread = thread
        self.host = host
        self.port = port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join()

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve_in_thread(app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> ServerHandle:
    """Start ``app`` on ``host:port`` (0 = a free port) and return once it accepts connections."""
    server = uvicorn.Server(_config(app, host, port))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            server.run()
        except BaseException as e:  # surfaced to the caller below
            errors.append(e)

    thread = threading.Thread(target=run, name=f"sandbox-{host}:{port}", daemon=True)
    thread.start()
    # Startup is a handful of event-loop turns; wait on the server's own flag, not a fixed delay.
    while not server.started:
        if errors or not thread.is_alive():
            thread.join()
            raise RuntimeError(f"sandbox server did not start on {host}:{port}") from (
                errors[0] if errors else None
            )
        time.sleep(0.005)
    sock = server.servers[0].sockets[0]
    return ServerHandle(server, thread, host, int(sock.getsockname()[1]))


async def serve(app: ASGIApp, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve in the foreground until cancelled or interrupted (the CLI's ``sandbox`` command)."""
    await uvicorn.Server(_config(app, host, port)).serve()
