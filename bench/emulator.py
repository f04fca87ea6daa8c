"""``python -m bench.emulator PLATFORM quick|full LATENCY``: serve the bench school's emulator.

The bench's latency mode (:mod:`bench.pull`) runs the emulator here, in its own process, so the
client's CPU is measured apart from the server's: uvicorn on a loopback TCP port (printed as
``port N`` on the first line), every request answered after ``LATENCY`` seconds
(:attr:`connectors.sandbox.faults.Faults.slow_seconds`). Stops on SIGTERM.
"""

from __future__ import annotations

import socket
import sys

import uvicorn

from bench.pull import SEED, size_of
from connectors.sandbox import World
from connectors.sandbox.faults import Faults
from journalsync.sandbox_cmd import emulator_factory


def main() -> None:
    platform, size, latency = sys.argv[1], sys.argv[2], float(sys.argv[3])
    world = World.generate(SEED, size_of(size == "quick"))
    app = emulator_factory(platform)(world, faults=Faults(slow_seconds=latency))
    # proto given explicitly: asyncio sets TCP_NODELAY on accepted sockets only when the
    # listening socket says IPPROTO_TCP (proto 0 would leave Nagle on: 40 ms stalls).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)  # connections wait in the backlog until uvicorn accepts them
    print(f"port {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, backlog=256)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
