"""``journalsync web --http HOST:PORT``: the municipal console alone (API, pages, metrics);
``journalsync serve --http`` runs the same beside the scheduler (:func:`console_server`)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Generator
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from core.errors import ConfigError
from core.store import Store
from journalsync._common import console, reported_errors
from journalsync.config import load_config
from journalsync.runs_cmd import store_for
from scheduler import Plan

__all__ = ["ConsoleServer", "console_server", "parse_http", "web"]


def parse_http(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6) → (host, port); a bad one is a usage error."""
    host, sep, port = address.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--http {address!r}: give HOST:PORT", hint="e.g. --http 127.0.0.1:8080")
    return host, int(port)


class ConsoleServer(uvicorn.Server):
    """uvicorn on a socket bound beforehand (so a taken port is a clear error, not uvicorn's
    exit), without its own signal handling: the command that runs it owns the signals."""

    def __init__(self, config: uvicorn.Config, sock: socket.socket) -> None:
        super().__init__(config)
        self.sock = sock

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def run_bound(self) -> None:
        try:
            await self.serve(sockets=[self.sock])
        finally:
            self.sock.close()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say they
    # are TCP, and the accepted ones inherit it — without, every kept-alive answer after the
    # first waits ~40 ms for the client's delayed ACK (the headers and the body are two writes)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="another program holds the port, or the address is not this machine's",
        ) from None
    sock.set_inheritable(True)
    return sock


def console_server(plan: Plan | None, store: Store, address: str) -> ConsoleServer:
    from console import create_app

    host, port = parse_http(address)
    sock = _bind(host, port)
    config = uvicorn.Config(
        create_app(plan, store),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
    )
    return ConsoleServer(config, sock)


def web(
    http: Annotated[
        str, typer.Option("--http", help="Address to listen on, HOST:PORT.")
    ] = "127.0.0.1:8080",
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="The municipality's TOML config.")
    ] = None,
    db: Annotated[
        str | None, typer.Option("--db", help="Store URL (default: the config's).")
    ] = None,
) -> None:
    """The municipal console: JSON API, pages in Russian, /metrics, /healthz (tokens: `tokens`)."""
    with reported_errors():
        plan = load_config(config) if config else None
        store = store_for(db, plan)
        server = console_server(plan, store, http)

        async def main() -> None:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
            console.print(f"journalsync web: http://{http}/ (Ctrl-C stops)", highlight=False)
            await server.run_bound()

        asyncio.run(main())
