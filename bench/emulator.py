"""``python -m bench.emulator PLATFORM quick|full LATENCY [full|empty [WRITE_LOG]]``: serve the
bench school's emulator.

The bench's latency mode (:mod:`bench.pull`, :mod:`bench.migrate`) runs the emulator here, in its
own process, so the client's CPU is measured apart from the server's: uvicorn on a loopback TCP
port (printed as ``port N`` on the first line), every request answered after ``LATENCY`` seconds
(:attr:`connectors.sandbox.faults.Faults.slow_seconds`). ``empty`` serves the same school with an
empty journal (roster and timetable only, as ``journalsync sandbox serve --journal empty``: a
platform the school has just moved to). Stops on SIGTERM; then, with ``WRITE_LOG``, writes the
emulator's write log (its ``app.state.write_log``, one JSON list per write) there. ``GET
/_bench/requests`` answers how many requests it has served.
"""

from __future__ import annotations

import json
import signal
import socket
import sys
from typing import Any

import uvicorn

from bench.pull import SEED, size_of
from connectors.sandbox import World
from connectors.sandbox.faults import Faults
from connectors.sandbox.journal import empty_journal
from journalsync.sandbox_cmd import emulator_factory


class _Counted:
    """The emulator, with its requests counted: ``GET /_bench/requests`` answers the count so far
    (the bench's own path, not the emulator's; not counted, not delayed)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            if scope["path"] == "/_bench/requests":
                body = str(self.requests).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [(b"content-type", b"text/plain")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
            self.requests += 1
        await self.app(scope, receive, send)


def main() -> None:
    platform, size, latency = sys.argv[1], sys.argv[2], float(sys.argv[3])
    journal = sys.argv[4] if len(sys.argv) > 4 else "full"
    write_log = sys.argv[5] if len(sys.argv) > 5 else None
    world = World.generate(SEED, size_of(size == "quick"))
    if journal == "empty":
        empty_journal(world)
    app = emulator_factory(platform)(world, faults=Faults(slow_seconds=latency))
    # proto given explicitly: asyncio sets TCP_NODELAY on accepted sockets only when the
    # listening socket says IPPROTO_TCP (proto 0 would leave Nagle on: 40 ms stalls).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)  # connections wait in the backlog until uvicorn accepts them
    print(f"port {sock.getsockname()[1]}", flush=True)
    if write_log:
        # uvicorn restores this handler after its graceful shutdown and raises the signal again.
        def dump(signum: int, frame: object) -> None:
            log = list(getattr(getattr(app, "state", None), "write_log", []))
            with open(write_log, "w", encoding="utf-8") as f:
                json.dump(log, f, ensure_ascii=False, default=str)
            sys.exit(0)

        signal.signal(signal.SIGTERM, dump)
    config = uvicorn.Config(_Counted(app), log_level="warning", access_log=False, backlog=256)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
