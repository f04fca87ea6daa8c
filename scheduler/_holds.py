"""Held runs: find them, approve (apply exactly once) or discard them.

Approving moves the run ``held → pushing`` inside one row-locked transaction, so of two
approvals of the same run only one applies it; the push goes by the outbox's idempotency keys.
Discarding marks the run's pending changes ``failed`` ("discarded"): their keys stay in the
outbox, so the next reconcile does not queue the same changes again, and their drift findings
stay open for a person.
"""

from __future__ import annotations

from core.errors import ConfigError
from core.logging import get_logger, log_context
from core.store import Run, RunState, SchoolLock, Store
from core.sync import RunReport, continue_held
from scheduler._plan import Plan
from scheduler._runner import ConnectorFactory, make_connector

__all__ = ["approve_run", "discard_run", "find_run", "held_runs"]

log = get_logger(__name__)


def find_run(store: Store, ref: str) -> Run:
    """A run by id, by an id prefix of 8+ characters, or by run key."""
    try:
        return store.get_run(ref)
    except KeyError:
        pass
    from core.store._runs import run_id_for

    try:
        return store.get_run(run_id_for(ref))
    except KeyError:
        pass
    if len(ref) >= 8:
        matches = [r for r in store.runs(limit=100_000) if r.id.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise ConfigError(f"run {ref!r} is ambiguous: give more of its id")
    raise ConfigError(f"no run {ref!r}", hint="`journalsync status` lists runs and holds")


def held_runs(store: Store, school: str | None = None) -> list[Run]:
    return [r for r in store.runs(school=school, limit=10_000) if r.state is RunState.HELD]


def _require_held(run: Run) -> None:
    if run.state is not RunState.HELD:
        raise ConfigError(
            f"run {run.id[:8]} is {run.state.value}: only a held run can be approved or discarded"
        )


async def approve_run(
    plan: Plan,
    store: Store,
    ref: str,
    *,
    actor: str = "operator",
    connectors: ConnectorFactory = make_connector,
) -> RunReport:
    """Apply a held run: push its changes and verify them, once."""
    run = find_run(store, ref)
    _require_held(run)
    school = plan.school(run.school)
    with log_context(run=run.id, school=run.school, platform=run.platform):
        log.info("held run approved", actor=actor)
        # The push uses the school's token: never at once with another run of the school.
        async with SchoolLock(store, run.school), connectors(plan, school, store) as connector:
            try:
                return await continue_held(
                    store, connector, run_id=run.id, note=f"approved by {actor}"
                )
            except ValueError:
                raise ConfigError(
                    f"run {run.id[:8]} was approved or discarded meanwhile; not applied twice"
                ) from None


def discard_run(store: Store, ref: str, *, actor: str = "operator") -> Run:
    """Close a held run without pushing; its pending changes are marked discarded."""
    run = find_run(store, ref)
    _require_held(run)
    pending = store.outbox(run.school, run.platform, status="pending")
    try:
        run = store.transition(
            run.id,
            RunState.DONE,
            counts={"discarded": len(pending)},
            note=f"discarded by {actor}",
        )
    except ValueError:
        raise ConfigError(f"run {run.id[:8]} was approved or discarded meanwhile") from None
    store.set_outbox_status(
        [i.key for i in pending], "failed", error=f"discarded by {actor} (run {run.id[:8]})"
    )
    log.info("held run discarded", run=run.id, changes=len(pending), actor=actor)
    return run
