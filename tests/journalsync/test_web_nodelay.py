"""``journalsync web`` answers kept-alive requests without Nagle's delay: its listening socket is
made as TCP, so asyncio turns Nagle off on every accepted connection (else each answer after
the first waits ~40 ms for the client's delayed ACK: headers and body are two writes)."""

from __future__ import annotations

import asyncio
import socket
import statistics
import time
from pathlib import Path

import httpx

from core.store import Store
from journalsync.web_cmd import console_server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_kept_alive_answers_are_not_delayed(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'w.db'}")
    port = _free_port()
    server = console_server(None, store, f"127.0.0.1:{port}")
    assert server.sock.proto == socket.IPPROTO_TCP

    async def go() -> tuple[list[int], list[float]]:
        task = asyncio.create_task(server.run_bound())
        while not server.started:
            await asyncio.sleep(0.01)
        took: list[float] = []
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(12):
                t = time.perf_counter()
                assert (await client.get("/healthz")).status_code == 200
                took.append(time.perf_counter() - t)
            flags = [
                conn.transport.get_extra_info("socket").getsockopt(
                    socket.IPPROTO_TCP, socket.TCP_NODELAY
                )
                for conn in server.server_state.connections  # type: ignore[attr-defined]
            ]
        server.should_exit = True
        await task
        return flags, took

    try:
        flags, took = asyncio.run(go())
    finally:
        store.close()
    assert flags and all(flags), "Nagle is on for the console's connections"
    # one connection, kept alive: no answer waits for a delayed ACK (~40 ms)
    assert statistics.median(took[2:]) < 0.035
