"""``journalsync serve`` (embedded scheduler or Temporal Schedules) and ``journalsync worker``."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from core.errors import ConfigError
from core.logging import get_logger
from journalsync._common import EXIT_FAILED, console, reported_errors
from journalsync.config import load_config
from journalsync.runs_cmd import store_for
from scheduler import OPERATIONS, EmbeddedScheduler, Outcome, Plan, Runner, SchedulerLock

__all__ = ["print_outcomes", "serve", "worker"]

log = get_logger(__name__)


class Engine(StrEnum):
    EMBEDDED = "embedded"
    TEMPORAL = "temporal"


ConfigArg = Annotated[Path, typer.Option("--config", "-c", help="The municipality's TOML config.")]
DbOpt = Annotated[str | None, typer.Option("--db", help="Store URL (default: the config's).")]


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def print_outcomes(outcomes: list[Outcome], seconds: float) -> int:
    """A cycle's summary; returns how many schools failed."""
    states = Counter(o.state for o in outcomes)
    summary = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
    console.print(f"{len(outcomes)} schools in {seconds:.1f} s: {summary}", highlight=False)
    # Every school that did not end "done" is named, with why (a blackout, a window, a busy
    # school, a hold, a failure): "9 done, 1 skipped" alone tells nobody which or why.
    for o in outcomes:
        if o.state != "done":
            why = o.reason or "no reason recorded"
            console.print(f"  {o.state:<7} {o.school} ({o.platform}): {why}", highlight=False)
    return states.get("failed", 0)


def _check_operation(once: str | None) -> None:
    if once is not None and once not in OPERATIONS:
        raise ConfigError(f"--once: unknown operation {once!r}; use one of {', '.join(OPERATIONS)}")


def serve(
    config: ConfigArg,
    db: DbOpt = None,
    engine: Annotated[Engine, typer.Option("--engine")] = Engine.EMBEDDED,
    once: Annotated[
        str | None,
        typer.Option("--once", help="Run this operation's slot now for every school, then exit."),
    ] = None,
    grace: Annotated[
        float | None,
        typer.Option("--grace", help="Seconds running slots get to finish on stop (config)."),
    ] = None,
    http: Annotated[
        str | None,
        typer.Option("--http", help="Also serve the web console on HOST:PORT (`journalsync web`)."),
    ] = None,
) -> None:
    """Run the schedules of the config: embedded (APScheduler) or on Temporal."""
    with reported_errors():
        _check_operation(once)
        if http is not None:
            from journalsync.web_cmd import parse_http

            parse_http(http)
            if engine is Engine.TEMPORAL or once is not None:
                raise ConfigError(
                    "--http runs the console beside the embedded scheduler only",
                    hint="with Temporal (or --once), run `journalsync web --http …` on its own",
                )
        plan = load_config(config)
        if engine is Engine.TEMPORAL:
            failed = asyncio.run(_serve_temporal(plan, db, once))
        else:
            failed = asyncio.run(_serve_embedded(plan, db, once, grace, http))
        if failed:
            raise typer.Exit(EXIT_FAILED)


async def _serve_embedded(
    plan: Plan, db: str | None, once: str | None, grace: float | None, http: str | None = None
) -> int:
    store = store_for(db, plan)
    if once is None:
        sched = EmbeddedScheduler(plan, store, grace_seconds=grace)
        slugs = len({s.slug for s in plan.schools})
        console.print(
            f"journalsync serve: {slugs} schools; Ctrl-C or SIGTERM stops "
            f"(running slots get {sched.grace_seconds:g} s to finish)",
            highlight=False,
        )
        stop = _stop_event()
        if http is None:
            await sched.serve(stop)
            return 0
        from journalsync.web_cmd import console_server

        server = console_server(plan, store, http)
        web = asyncio.ensure_future(server.run_bound())
        console.print(f"web console: http://{http}/", highlight=False)
        try:
            await sched.serve(stop)
        finally:
            server.should_exit = True
            await web
        return 0
    url = store.engine.url.render_as_string(hide_password=False)
    with SchedulerLock(url):
        started = datetime.now(UTC)
        slot = started.replace(second=0, microsecond=0)
        outcomes = await Runner(plan, store).run_cycle(once, slot, scheduled=False)
        return print_outcomes(outcomes, (datetime.now(UTC) - started).total_seconds())


async def _serve_temporal(plan: Plan, db: str | None, once: str | None) -> int:
    from scheduler.temporal import connect, run_cycle, sync_schedules

    client = await connect(plan)
    if once is None:
        created, updated, deleted = await sync_schedules(client, plan)
        console.print(
            f"Temporal schedules: {created} created, {updated} updated, {deleted} deleted "
            f"({plan.temporal.address}, namespace {plan.temporal.namespace}); "
            "run `journalsync worker` to execute them",
            highlight=False,
        )
        return 0
    started = datetime.now(UTC)
    slot = started.replace(second=0, microsecond=0)
    outcomes = await run_cycle(client, plan, once, slot)
    return print_outcomes(outcomes, (datetime.now(UTC) - started).total_seconds())


def worker(
    config: ConfigArg,
    db: DbOpt = None,
    identity: Annotated[str | None, typer.Option("--identity", help="Worker name.")] = None,
) -> None:
    """A Temporal worker: school-run workflows and one activity queue per upstream host."""
    from scheduler.temporal import run_worker

    with reported_errors():
        plan = load_config(config)
        store = store_for(db, plan)
        if store.dialect != "postgresql":
            log.warning("Temporal workers share the store: use PostgreSQL for more than one")

        async def main() -> None:
            console.print(f"journalsync worker: {plan.temporal.address}", highlight=False)
            await run_worker(plan, store, stop=_stop_event(), identity=identity)

        asyncio.run(main())
