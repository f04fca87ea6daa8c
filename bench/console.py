"""The web console under load: the overview page of 1,000 schools (server time, target
≤ 300 ms) and the API on loopback (a bounded load loop: target 200 requests/s with p99 ≤ 100 ms).

The municipality is made in the store directly: 1,000 schools over the installed platforms, 30 runs
each (some failed, some held, transitions recorded), open drift findings at every tenth school.
The console runs as the product runs it (``journalsync web``'s uvicorn server) in a process of its
own, so the load loop's client does not share its interpreter; compliance scores are warm, as on a
console that has been up. Server time is the app's own ``Server-Timing`` header; the server
process's CPU time (from /proc) per request is printed too, so a figure taken on a busy machine
can be judged, with the load average.

    python -m bench.console [--quick]
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from core.platform import installed

#: The installed platforms (the registry), the schools spread over them.
PLATFORMS = tuple(installed())


def _plan(n: int, url: str) -> Any:
    from scheduler import Plan, Schedule, SchoolPlan

    schools = tuple(
        SchoolPlan(
            slug=f"school-{i:04d}",
            name=f"МБОУ СОШ № {i}",
            platform=PLATFORMS[i % len(PLATFORMS)],
            base_url=f"http://127.0.0.1:{9000 + i % 5}",
            platform_school=str(i),
            login="login",
            password=None,
            timezone="Asia/Barnaul",
            schedules=(Schedule("pull", "*/30 8-17 * * 1-6"), Schedule("push", "30 19 * * 1-6")),
        )
        for i in range(n)
    )
    return Plan("Бенчмарк", "Asia/Barnaul", url, schools)


def _fill(store: Any, plan: Any, runs_per_school: int) -> None:
    from core.store import drift_findings, run_id_for, run_transitions, runs

    now = datetime.now(UTC)
    run_rows, trans_rows, finding_rows = [], [], []
    for i, s in enumerate(plan.schools):
        for k in range(runs_per_school):
            key = f"{s.slug}:{s.platform}:push:{k}"
            last = k == runs_per_school - 1
            state = "held" if last and i % 17 == 0 else "failed" if last and i % 13 == 0 else "done"
            at = now - timedelta(hours=runs_per_school - k, minutes=i % 60)
            run_rows.append(
                {
                    "id": run_id_for(key),
                    "run_key": key,
                    "school": s.slug,
                    "platform": s.platform,
                    "operation": "push",
                    "state": state,
                    "created_at": at,
                    "updated_at": at + timedelta(seconds=40),
                    "counts": {"records": 5000 + i, "pushed": k % 3, "drift": i % 10 == 0},
                    "error": "platform answered 503" if state == "failed" else None,
                }
            )
            for seq, (a, b) in enumerate(
                [(None, "planned"), ("planned", "pulling"), ("pulling", "reconciling")], 1
            ):
                trans_rows.append(
                    {
                        "run_id": run_id_for(key),
                        "seq": seq,
                        "from_state": a,
                        "to_state": b,
                        "at": at,
                        "note": "",
                    }
                )
            if state == "held":
                trans_rows.append(
                    {
                        "run_id": run_id_for(key),
                        "seq": 4,
                        "from_state": "reconciling",
                        "to_state": "held",
                        "at": at,
                        "note": "mark: 40 updates exceed 20",
                    }
                )
        if i % 10 == 0:
            for f in range(20):
                finding_rows.append(
                    {
                        "id": f"{i:05d}{f:027d}",
                        "school": s.slug,
                        "platform": s.platform,
                        "entity": "mark",
                        "record_id": f"r{i}-{f}",
                        "kind": "mismatch",
                        "fields": [],
                        "status": "open",
                        "first_seen": now,
                        "last_seen": now,
                        "resolved_at": None,
                        "note": "",
                        "run_id": None,
                    }
                )
    with store.engine.begin() as conn:
        conn.execute(runs.insert(), run_rows)
        conn.execute(run_transitions.insert(), trans_rows)
        conn.execute(drift_findings.insert(), finding_rows)


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _server_ms(r: httpx.Response) -> float:
    """The app's own time for the answer: ``Server-Timing: app;dur=12.3``."""
    for part in r.headers.get("server-timing", "").split(","):
        name, _, dur = part.strip().partition(";dur=")
        if name == "app" and dur:
            return float(dur)
    raise AssertionError("the answer has no Server-Timing")


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Http:
    """A minimal HTTP/1.1 keep-alive client over asyncio streams (GET, Content-Length bodies):
    the load loop's client must cost far less than the server it measures, and httpx's
    per-request overhead is of the same order as the console's own."""

    def __init__(self, host: str, port: int, headers: dict[str, str], size: int) -> None:
        self.host, self.port, self.size = host, port, size
        self.head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.slots = asyncio.Semaphore(size)

    async def get(self, path: str) -> tuple[int, dict[str, str]]:
        async with self.slots:
            if self.idle:
                try:  # a kept-alive connection the server may have closed meanwhile
                    return await self._exchange(*self.idle.pop(), path)
                except (ConnectionError, asyncio.IncompleteReadError):
                    pass
            return await self._exchange(*await asyncio.open_connection(self.host, self.port), path)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str
    ) -> tuple[int, dict[str, str]]:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.head}\r\n".encode())
        raw = await reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            if line:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
        await reader.readexactly(int(headers.get("content-length", "0")))
        self.idle.append((reader, writer))
        return status, headers

    async def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


def _timing(headers: dict[str, str]) -> float:
    for part in headers.get("server-timing", "").split(","):
        name, _, dur = part.strip().partition(";dur=")
        if name == "app" and dur:
            return float(dur)
    raise AssertionError("the answer has no Server-Timing")


async def _load(
    port: int, token: str, paths: list[str], seconds: float, rate: float
) -> dict[str, Any]:
    """Open-loop load: requests started at ``rate`` per second for ``seconds`` (at most 64 at
    once, each on a kept-alive connection), each timed at the client and by the server."""
    latencies: list[float] = []
    server: list[float] = []
    errors = 0
    client = _Http("127.0.0.1", port, {"Authorization": f"Bearer {token}"}, 64)

    async def one(path: str) -> None:
        nonlocal errors
        t = time.perf_counter()
        try:
            status, headers = await asyncio.wait_for(client.get(path), 10)
            if status != 200:
                errors += 1
            else:
                server.append(_timing(headers))
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            errors += 1
        latencies.append(time.perf_counter() - t)

    tasks = []
    start = time.perf_counter()
    n = int(seconds * rate)
    for i in range(n):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(paths[i % len(paths)])))
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - start
    await client.close()
    return {
        "requests": n,
        "achieved_rps": round(n / wall, 1),
        "errors": errors,
        "p50_ms": round(1000 * statistics.median(latencies), 1),
        "p99_ms": round(1000 * _p(latencies, 0.99), 1),
        "server_p50_ms": round(statistics.median(server), 2) if server else None,
        "server_p99_ms": round(_p(server, 0.99), 2) if server else None,
    }


def serve(url: str, n: int, port: int) -> None:
    """The child: the console over the bench's store, on ``port``; prints ``ready`` once the
    compliance scores are warm and it listens, then serves until stdin closes."""
    import threading

    from core.process import tune_gc
    from core.store import Store
    from journalsync.web_cmd import console_server

    tune_gc()  # as the CLI does for `journalsync web`
    store = Store.open(url)
    server = console_server(_plan(n, url), store, f"127.0.0.1:{port}")
    app: Any = server.config.app
    app.state.ctx.scores.wait_idle(600.0)

    def stop_on_eof() -> None:
        sys.stdin.read()
        server.should_exit = True

    threading.Thread(target=stop_on_eof, daemon=True).start()

    async def main() -> None:
        task = asyncio.create_task(server.run_bound())
        while not server.started:
            await asyncio.sleep(0.01)
        print("ready", flush=True)
        await task

    asyncio.run(main())
    store.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(quick: bool = False) -> dict[str, Any]:
    from console import create_token, overview
    from core.store import Store

    n = 100 if quick else 1000
    pages = 5 if quick else 15
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'console.db'}"
        store = Store.open(url)
        plan = _plan(n, url)
        _fill(store, plan, 5 if quick else 30)
        token, _ = create_token(store, role="admin", name="bench")
        timings = []
        for _ in range(5):
            t = time.perf_counter()
            rows = overview(plan, store)
            timings.append(time.perf_counter() - t)
        assert len(rows) == n
        store.close()
        port = _free_port()
        child = subprocess.Popen(
            [sys.executable, "-m", "bench.console", "--serve", url, str(n), str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
            base = f"http://127.0.0.1:{port}"
            headers = {"Authorization": f"Bearer {token}"}
            page_server, page_client = [], []
            with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
                c.get("/api/schools?limit=1")
                sid = _login(c, token)
                first = c.get("/", headers={"Cookie": f"js_session={sid}"})
                assert first.status_code == 200
                cpu0 = _cpu_seconds(child.pid)
                for _ in range(pages):
                    t = time.perf_counter()
                    r = c.get("/", headers={"Cookie": f"js_session={sid}"})
                    page_client.append(1000 * (time.perf_counter() - t))
                    assert r.status_code == 200 and r.text.count("<tr data-school") == n
                    page_server.append(_server_ms(r))
                page_cpu = 1000 * (_cpu_seconds(child.pid) - cpu0) / pages
            school = plan.schools[10].slug
            paths = [
                "/healthz",
                f"/api/schools/{school}",
                f"/api/runs?school={school}&limit=20",
                f"/api/drift?school={school}&limit=50",
                "/api/runs?limit=50",
            ]
            cpu0, own0 = _cpu_seconds(child.pid), time.process_time()
            load = asyncio.run(_load(port, token, paths, 3 if quick else 10, 200.0))
            load["server_cpu_ms_per_request"] = round(
                1000 * (_cpu_seconds(child.pid) - cpu0) / load["requests"], 2
            )
            load["client_cpu_ms_per_request"] = round(
                1000 * (time.process_time() - own0) / load["requests"], 2
            )
        finally:
            assert child.stdin is not None
            child.stdin.close()
            child.wait(30)
    return {
        "schools": n,
        "overview_data_ms": round(1000 * min(timings), 1),
        "overview_first_server_ms": _server_ms(first),
        "overview_server_ms": round(statistics.median(page_server), 1),
        "overview_server_min_ms": round(min(page_server), 1),
        "overview_client_ms": round(statistics.median(page_client), 1),
        "overview_cpu_ms": round(page_cpu, 1),
        "load": load,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def _login(c: httpx.Client, token: str) -> str:
    import re

    page = c.get("/login")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    r = c.post("/login", data={"token": token, "csrf": found.group(1)})
    assert r.status_code == 303
    return str(r.cookies["js_session"])


def main() -> None:
    if sys.argv[1:2] == ["--serve"]:
        serve(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    quick = "--quick" in sys.argv
    r = run(quick)
    load = r["load"]
    page, page_cpu = r["overview_server_ms"], r["overview_cpu_ms"]
    print(
        f"  overview of {r['schools']:,} schools: {page} ms server time, median of the warm "
        f"pages ({page / 300:.2f}× the 300 ms target; min {r['overview_server_min_ms']} ms, "
        f"first {r['overview_first_server_ms']} ms); {page_cpu} ms server CPU per page; "
        f"{r['overview_client_ms']} ms at the client; {r['overview_data_ms']} ms of it the store"
    )
    print(
        f"  API load loop: {load['requests']} requests at 200/s offered → {load['achieved_rps']}/s "
        f"served, p50 {load['p50_ms']} ms, p99 {load['p99_ms']} ms ({load['p99_ms'] / 100:.2f}× "
        f"the 100 ms target), {load['errors']} errors; server time p50 {load['server_p50_ms']} "
        f"ms, p99 {load['server_p99_ms']} ms; {load['server_cpu_ms_per_request']} ms server CPU "
        f"per request ({load['client_cpu_ms_per_request']} ms at the load loop's client)"
    )
    la = r["loadavg"]
    print(f"  load average during the run: {la[0]} {la[1]} {la[2]} ({os.cpu_count()} cores)")
    print(json.dumps(r))


if __name__ == "__main__":
    main()
