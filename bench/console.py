"""The web console under load: the overview page of 1,000 schools (server time, target
≤ 300 ms) and the API on loopback (a bounded load loop: target 200 requests/s with p99 ≤ 100 ms).

The municipality is made in the store directly: 1,000 schools over the installed platforms, 30 runs
each (some failed, some held, transitions recorded), open drift findings at every tenth school.
Compliance scores are warm (computed once before timing), as on a console that has been up.

    python -m bench.console [--quick]
"""

from __future__ import annotations

import asyncio
import json
import statistics
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


async def _load(base: str, token: str, paths: list[str], seconds: float, rate: float) -> dict:
    """Open-loop load: requests started at ``rate`` per second for ``seconds``, each timed."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits) as client:

        async def one(path: str) -> None:
            nonlocal errors
            t = time.perf_counter()
            try:
                r = await client.get(path, timeout=10)
                if r.status_code != 200:
                    errors += 1
            except httpx.HTTPError:
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
    return {
        "requests": n,
        "achieved_rps": round(n / wall, 1),
        "errors": errors,
        "p50_ms": round(1000 * statistics.median(latencies), 1),
        "p99_ms": round(1000 * _p(latencies, 0.99), 1),
    }


def run(quick: bool = False) -> dict[str, Any]:
    from connectors.sandbox.server import serve_in_thread
    from console import create_app, create_token, overview
    from core.store import Store

    n = 100 if quick else 1000
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'console.db'}"
        store = Store.open(url)
        plan = _plan(n, url)
        _fill(store, plan, 5 if quick else 30)
        token, _ = create_token(store, role="admin", name="bench")
        app = create_app(plan, store, warm_scores=False)
        ctx = app.state.ctx
        ctx.scores.budget = 3600.0
        overview(plan, store, scores=ctx.scores)  # the scores warm, as on a running console
        ctx.scores.budget = 0.0
        timings = []
        for _ in range(5):
            t = time.perf_counter()
            rows = overview(plan, store, scores=ctx.scores)
            timings.append(time.perf_counter() - t)
        assert len(rows) == n
        with serve_in_thread(app) as server:
            headers = {"Authorization": f"Bearer {token}"}
            page_ms = []
            with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as c:
                c.get("/api/schools?limit=1")
                sid = _login(c, token)
                for _ in range(5):
                    t = time.perf_counter()
                    r = c.get("/", cookies={"js_session": sid})
                    page_ms.append(1000 * (time.perf_counter() - t))
                    assert r.status_code == 200 and r.text.count("<tr data-school") == n
            school = plan.schools[10].slug
            paths = [
                "/healthz",
                f"/api/schools/{school}",
                f"/api/runs?school={school}&limit=20",
                f"/api/drift?school={school}&limit=50",
                "/api/runs?limit=50",
            ]
            load = asyncio.run(_load(server.base_url, token, paths, 3 if quick else 10, 200.0))
        store.close()
    return {
        "schools": n,
        "overview_data_ms": round(1000 * min(timings), 1),
        "overview_page_ms": round(min(page_ms), 1),
        "load": load,
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
    quick = "--quick" in sys.argv
    r = run(quick)
    load = r["load"]
    print(
        f"  overview of {r['schools']:,} schools: {r['overview_page_ms']} ms page (server, "
        f"loopback; target ≤ 300 ms), {r['overview_data_ms']} ms of it the store"
    )
    print(
        f"  API load loop: {load['requests']} requests at 200/s offered → {load['achieved_rps']}/s "
        f"served, p50 {load['p50_ms']} ms, p99 {load['p99_ms']} ms (target ≤ 100 ms), "
        f"{load['errors']} errors"
    )
    print(json.dumps(r))


if __name__ == "__main__":
    main()
