"""``make bench``: print each figure with its target and the machine it ran on.

Every measurement runs in a child process (``python -m bench one KIND BACKEND``) so that its
peak RSS is its own. ``python -m bench --quick`` runs small sizes (a smoke test, not figures);
``--pull-only`` stops after the pull sections.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from bench._machine import describe
from bench._util import pg_dsn, store_url
from core.http import DEFAULT_CONCURRENCY, START_CONCURRENCY
from core.platform import installed
from core.process import tune_gc

TARGETS = {
    "pull": "≥ 8,000 records per CPU-second (one core, school of 1,000 students × 4 weeks)",
    "pull-latency": "≤ 60 s wall for the same school when every request takes 30 ms",
    "drift": "≤ 5 s and peak RSS ≤ 1,536 MiB for 1,000,000 records with 1 % differences",
    "compliance": "< 60 s on one core, peak RSS ≤ 4 GB, 100 schools × 800 students × a quarter",
    "cycle": "wall time of a 200-school incremental cycle: embedded, Temporal 1 and 2 workers",
    "import": "≤ 30 s wall and peak RSS ≤ 300 MB for a 200,000-row local journal (one core)",
    "migrate": "АВЕРС → NetSchool api migration of a 1,000-student school, 30 ms per request: "
    "plan ≤ 30 s, the whole migration (plan + apply + verify) ≤ 5 minutes",
    "console": "overview of 1,000 schools ≤ 300 ms server time; API 200 requests/s, p99 ≤ 100 ms",
}


#: The pull's targets (issue 13): records per CPU-second without latency, wall seconds with it.
RATE_TARGET = 8_000
WALL_LIMIT = 60
#: The raw SQLite upsert rate (rows per CPU-second, :func:`bench.pull.raw_upsert_rate`) of the
#: machines the 8,000 target was set and first measured on: 56,000–72,000 in the benches of
#: November 2026, about 65,000 in the middle. Machines of the same kind differ by two times from
#: one day to the next, the pull's ratio to the raw rate of the same run much less (КИАСУО
#: 0.082 on a machine with a raw rate of 69,427, 0.077 on one with 28,535), so the target is
#: also printed as that ratio: 8,000 ÷ 65,000.
RAW_REFERENCE = 65_000
RATIO_TARGET = RATE_TARGET / RAW_REFERENCE

#: Seconds the emulator waits before each answer in the latency mode (a regional server).
LATENCY = 0.03
#: Ceilings of requests in flight per host in the latency mode, as the config's
#: ``[hosts."…"] concurrency`` may set them: a lower one, the start (8, fixed: the limit cannot
#: grow past its ceiling) and the default (:data:`core.http.DEFAULT_CONCURRENCY`, 16), which
#: the adaptive limit reaches while the host answers steadily (:class:`core.http.AdaptiveLimit`).
LATENCY_CONCURRENCY = (4, START_CONCURRENCY, DEFAULT_CONCURRENCY)


def _one(kind: str, backend: str, quick: bool) -> dict[str, Any]:
    with store_url(backend) as url:
        if kind == "drift":
            from bench.drift import run

            return run(url, 20_000 if quick else 1_000_000)
        if kind == "import":
            from bench.importer import run as run_import

            return run_import(url, quick=quick)
        if kind == "avers-parser":
            from bench.avers_parser import run as run_parser

            return run_parser(quick=quick)
        if kind.startswith("pull:"):
            from bench.pull import run as run_pull

            # pull:PLATFORM[@LATENCY[xCONCURRENCY]]; an "@" puts the emulator in its own process
            # (so "@0" is the client's CPU alone, without latency)
            platform, at, how = kind.removeprefix("pull:").partition("@")
            latency, _, concurrency = how.partition("x")
            return run_pull(
                url,
                platform=platform,
                quick=quick,
                latency=float(latency or 0),
                concurrency=int(concurrency) if concurrency else None,
                remote=bool(at),
            )
    raise SystemExit(f"unknown benchmark {kind}")


def _latency_run(kind: str) -> bool:
    """A ``pull:PLATFORM@LATENCY…`` run with a latency above zero."""
    _, at, how = kind.partition("@")
    return bool(at) and float(how.partition("x")[0] or 0) > 0


def _child(kind: str, backend: str, quick: bool) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench", "one", kind, backend, "quick" if quick else "full"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return {"error": (out.stderr or out.stdout).strip().splitlines()[-1:]}
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _pg_version() -> str | None:
    dsn = pg_dsn()
    if not dsn:
        return None
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(dsn)
        with engine.connect() as conn:
            version = str(conn.execute(text("SHOW server_version")).scalar())
        engine.dispose()
        return version
    except Exception:
        return None


def main() -> None:
    if len(sys.argv) >= 5 and sys.argv[1] == "one":
        # One core, as the CPU targets say; not for a latency run, whose figure is wall time (a
        # client pinned to a core other processes crowd waits there at every answer).
        if hasattr(os, "sched_setaffinity") and not _latency_run(sys.argv[2]):
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        tune_gc()  # as the journalsync command does at start
        print(json.dumps(_one(sys.argv[2], sys.argv[3], sys.argv[4] == "quick")))
        return
    quick = "--quick" in sys.argv
    pg = _pg_version()
    backends = ["sqlite"] + (["postgresql"] if pg else [])
    print("journalsync benchmarks" + (" (quick sizes: not figures)" if quick else ""))
    print(describe(pg))
    if not pg:
        print("  postgresql: absent (set JOURNALSYNC_TEST_PG) — PostgreSQL figures skipped")
    print(
        "\npull → map → store, emulator in-process (its CPU counted too), no latency: "
        f"target {TARGETS['pull']}"
    )
    for platform in installed():
        for backend in backends:
            result = _child(f"pull:{platform}", backend, quick)
            print(f"  {platform:<10} {backend:<10} {_fmt('pull', result)}", flush=True)
    print(
        "\npull, the client's CPU alone: emulator in its own process over loopback TCP, "
        f"no latency: target {TARGETS['pull']}"
    )
    for platform in installed():
        result = _child(f"pull:{platform}@0", "sqlite", quick)
        print(f"  {platform:<10} {'sqlite':<10} {_fmt('pull-client', result)}", flush=True)
    print(
        f"\npull, emulator in its own process over loopback TCP, {LATENCY * 1000:.0f} ms per "
        f"request: target {TARGETS['pull-latency']}"
    )
    for platform in installed():
        for concurrency in LATENCY_CONCURRENCY:
            result = _child(f"pull:{platform}@{LATENCY}x{concurrency}", "sqlite", quick)
            print(f"  {platform:<10} {'sqlite':<10} {_fmt('pull-latency', result)}", flush=True)
    if "--pull-only" in sys.argv:
        return
    print(f"\ndrift reconcile: target {TARGETS['drift']}")
    for backend in backends:
        print(f"  {backend:<10} {_fmt('drift', _child('drift', backend, quick))}")
    print(
        f"\nlocal-journal import (cp1251 ';' CSV, 1,000-student school): target {TARGETS['import']}"
    )
    for backend in backends:
        print(f"  {backend:<10} {_fmt('import', _child('import', backend, quick))}")
    print("\nАВЕРС JS-literal parser (parsing only, body in memory)")
    print(f"  {_fmt('avers-parser', _child('avers-parser', 'sqlite', quick))}")
    print(f"\ncompliance, all rules: target {TARGETS['compliance']}")
    print(f"  {_compliance(quick)}")
    print(f"\nmigration: {TARGETS['migrate']}", flush=True)
    print(f"  {_migrate(quick)}", flush=True)
    print("\nmigration NetSchool → ЭПОС (hand entry: worklists), 1,000 students, 30 ms", flush=True)
    from bench.migrate import HAND_ENTRY_PAIR

    print(f"  {_migrate(quick, HAND_ENTRY_PAIR)}", flush=True)
    print(f"\nweb console: {TARGETS['console']}", flush=True)
    console = subprocess.run(
        [sys.executable, "-m", "bench.console", *(["--quick"] if quick else [])], check=False
    )
    if console.returncode != 0:
        print(f"  FAILED (exit {console.returncode})")
    print(f"\nmunicipal cycle: {TARGETS['cycle']}", flush=True)
    cycle = subprocess.run(
        [sys.executable, "-m", "bench.cycle", *(["--quick"] if quick else [])], check=False
    )
    if cycle.returncode != 0:
        raise SystemExit(f"the municipal cycle benchmark failed (exit {cycle.returncode})")


def _migrate(quick: bool, pair: str | None = None) -> str:
    """``bench.migrate`` in a child process: the АВЕРС → NetSchool move, or ``pair``."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.migrate",
            *(["--quick"] if quick else []),
            *(["--pair", pair] if pair else []),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        return f"FAILED: {(out.stderr or out.stdout).strip().splitlines()[-1:]}"
    r = json.loads(out.stdout.strip().splitlines()[-1])
    if pair:
        return (
            f"plan {r['plan_seconds']} s (+ {r['replan_seconds']} s with the operator's "
            f"decisions on {r['review_rows']} pupils), apply (worklists) {r['apply_seconds']} s, "
            f"verify {r['verify_seconds']} s; whole {r['total_seconds']} s; {r['awaited']:,} "
            f"entries awaited (hand entry), {r['unexplained']} unexplained "
            f"({r['students']:,} students × {r['weeks']} weeks)"
        )
    return (
        f"plan {r['plan_seconds']} s ({r['plan_seconds'] / 30:.2f} of the 30 s target; "
        f"both pulls inside), the operator's decisions on {r['review_rows']} pupils planned again "
        f"in {r['replan_seconds']} s, approve {r['approve_seconds']} s, apply "
        f"{r['apply_seconds']} s ({r['writes']:,} writes, {r['apply_requests']:,} requests), "
        f"verify {r['verify_seconds']} s; whole migration (all steps) {r['total_seconds']} s "
        f"({r['total_seconds'] / 300:.2f} of the 5-minute target); certificate complete="
        f"{str(r['complete']).lower()}, {r['unexplained']} unexplained; write log "
        f"{r['write_log']:,} entries, {r['write_log_twice']} beyond the plan (seen twice) "
        f"({r['students']:,} students × {r['weeks']} weeks, {r['latency_ms']} ms per request)"
    )


def _compliance(quick: bool) -> str:
    schools = "2" if quick else "100"
    out = subprocess.run(
        [sys.executable, "-m", "bench.compliance", schools], capture_output=True, text=True
    )
    if out.returncode != 0:
        return f"FAILED: {(out.stderr or out.stdout).strip().splitlines()[-1:]}"
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return ", ".join(f"{k}={v}" for k, v in r.items())


def _of_ratio(ratio: float) -> str:
    """A pull/raw ratio with its share of :data:`RATIO_TARGET`."""
    return f"{ratio:.3f} ({ratio / RATIO_TARGET:.2f} of the target's {RATIO_TARGET:.3f})"


def _fmt(kind: str, r: dict[str, Any]) -> str:
    if "error" in r:
        return f"FAILED: {r['error']}"
    if kind == "avers-parser":
        return ", ".join(
            f"{name}: {r[f'{name}_mb_per_s']:.1f} MB/s over {r[f'{name}_mb']:.1f} MB"
            for name in ("timetable", "journal")
        )
    if kind == "import":
        return (
            f"{r['seconds']} s wall ({r['seconds_ratio']:.2f} of the limit), "
            f"{r['rows_per_s']:,} rows/s, {r['cpu_seconds']} s CPU, peak RSS "
            f"{r['peak_rss_mib']} MiB ({r['rss_ratio']:.2f} of the limit); {r['rows']:,} rows "
            f"→ {r['records']:,} records, {r['quarantined']} rows quarantined"
        )
    if kind in ("pull", "pull-latency", "pull-client"):
        raw = (
            f"; raw SQLite upsert {r['raw_rows_per_cpu_s']:,.0f} rows per CPU-second "
            f"({r['raw_rows']:,} rows), pull/raw {_of_ratio(r['raw_ratio'])}"
            if "raw_ratio" in r
            else ""
        )
        if "raw_ratio" in r and "records_per_client_cpu_s" in r:
            alone = r["records_per_client_cpu_s"] / r["raw_rows_per_cpu_s"]
            raw += f", without the emulator's CPU {_of_ratio(alone)}"
        floor = r["requests"] * r["latency_ms"] / 1000 / r["concurrency"]
        at_once = (
            f"at most {r['concurrency']}, up to {r['peak_concurrency']} reached"
            if r.get("peak_concurrency")
            else r["concurrency"]
        )
        what = (
            f"{r['seconds']} s wall ({r['seconds'] / WALL_LIMIT:.2f} of the {WALL_LIMIT} s "
            f"target; requests × latency / in flight alone: {floor:.1f} s), client "
            f"{r['cpu_seconds']} s CPU ({r['records_per_cpu_s']:,.0f} records per client "
            f"CPU-second), emulator {r['server_cpu_seconds']} s CPU"
            if kind == "pull-latency"
            else f"client alone {r['records_per_cpu_s']:,.0f} records per client CPU-second, "
            f"client {r['cpu_seconds']} s CPU (the emulator's process "
            f"{r['server_cpu_seconds']} s, its start-up included), "
            f"{r['seconds']} s wall"
            if kind == "pull-client"
            else f"{r['records_per_cpu_s']:,.0f} records per CPU-second (client and emulator; "
            f"{r['records_per_cpu_s'] / RATE_TARGET:.2f} of the {RATE_TARGET:,} target), "
            f"{r['records_per_client_cpu_s']:,.0f} without the emulator's "
            f"{r['emulator_cpu_seconds']} s ({r['records_per_client_cpu_s'] / RATE_TARGET:.2f}), "
            f"{r['cpu_seconds']} s CPU, {r['seconds']} s wall"
        )
        return (
            f"{what}; {r['requests_per_pupil']:.2f} requests per pupil "
            f"({r['requests']:,} requests, {at_once} at once per host); "
            f"{r['records']:,} records, {r['students']:,} students × {r['weeks']} weeks, "
            f"{r['accounts']:,} account{'' if r['accounts'] == 1 else 's'}, "
            f"peak RSS {r['peak_rss_mib']} MiB{raw}"
        )
    return (
        f"{r['seconds']} s wall ({r['cpu_seconds']} s CPU in this process) "
        f"for {r['records']:,} records, {r['differences']:,} differences "
        f"{r['by_kind']}, peak RSS {r['peak_rss_mib']} MiB (load {r['load_seconds']} s, untimed)"
    )


if __name__ == "__main__":
    main()
