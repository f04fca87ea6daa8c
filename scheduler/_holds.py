"""Held runs: find them, approve (apply exactly once) or discard them.

A run is held after pulling (the pull would delete or change more than its limits allow: its
pages wait in the store) or after reconciling (the push would). Approving moves the run out of
``held`` inside one row-locked transaction, so of two approvals of the same run only one
applies it: a held pull's pages are applied exactly as read, a push goes by the outbox's
idempotency keys. Discarding a held pull drops its pages and has the next pull read those
streams in full; discarding a held push marks the run's pending changes ``failed``
("discarded"): their keys stay in the outbox, so the next reconcile does not queue the same
changes again, and their drift findings stay open for a person.
"""

from __future__ import annotations

from core.errors import ConfigError
from core.logging import get_logger, log_context
from core.store import Run, RunState, SchoolLock, Store
from core.sync import PUSHING_OPERATIONS, RunReport, continue_held
from scheduler._plan import Plan
from scheduler._runner import ConnectorFactory, make_connector

__all__ = ["approve_run", "discard_run", "find_run", "held_runs", "hold_reason"]

log = get_logger(__name__)


def find_run(store: Store, ref: str) -> Run:
    """A run by id, by an id prefix of 8+ characters, or by run key."""
    try:
        return store.get_run(ref)
    except KeyError:
        pass
    from core.store import run_id_for

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


def hold_reason(store: Store, run: Run) -> str:
    """Why the run was (last) held, as recorded on its move to ``held``; "" if never held."""
    notes = [t.note for t in store.transitions(run.id) if t.to_state is RunState.HELD]
    return notes[-1] if notes else ""


def _require_held(run: Run) -> None:
    if run.state is not RunState.HELD:
        raise ConfigError(
            f"run {run.id[:8]} is {run.state.value}: only a held run can be approved or discarded"
        )


async def approve_run(
    plan: Plan | None,
    store: Store,
    ref: str,
    *,
    actor: str = "operator",
    connectors: ConnectorFactory = make_connector,
) -> RunReport:
    """Apply a held run once: a held pull's pages, then (for a pushing run) its push."""
    run = find_run(store, ref)
    _require_held(run)
    note = f"approved by {actor}"
    # Approval does not waive the school's coverage minimum: a family-account pull that read
    # too few pupils still ends partial. The config's minimum, else the one the run recorded.
    school = (
        next((s for s in plan.schools if (s.slug, s.platform) == (run.school, run.platform)), None)
        if plan
        else None
    )
    minimum = school.min_coverage if school is not None else None
    with log_context(run=run.id, school=run.school, platform=run.platform):
        log.info("held run approved", actor=actor)
        try:
            # Applying or pushing: never at once with another run of the school (its token).
            async with SchoolLock(store, run.school):
                if run.operation not in PUSHING_OPERATIONS and store.staged_count(run.id):
                    return await continue_held(
                        store, None, run_id=run.id, note=note, min_coverage=minimum
                    )
                if plan is None:
                    raise ConfigError(
                        f"run {run.id[:8]} pushes once approved: give the config (-c)",
                        hint="the school's platform and credentials come from it",
                    )
                async with connectors(
                    plan, plan.on_platform(run.school, run.platform), store
                ) as connector:
                    return await continue_held(
                        store, connector, run_id=run.id, note=note, min_coverage=minimum
                    )
        except ValueError:
            raise ConfigError(
                f"run {run.id[:8]} was approved or discarded meanwhile; not applied twice"
            ) from None


def discard_run(store: Store, ref: str, *, actor: str = "operator") -> Run:
    """Close a held run without applying it: a held pull's pages are dropped (the next pull
    reads their streams in full), a held push's pending changes are marked discarded."""
    run = find_run(store, ref)
    _require_held(run)
    if store.staged_count(run.id):
        # Pages first: a crash between the two leaves a held run with nothing staged, which
        # the school's next pull closes as superseded.
        pages = store.discard_staged(run.id)
        try:
            run = store.transition(
                run.id, RunState.DONE, note=f"pull discarded by {actor}: the old snapshot kept"
            )
        except ValueError:
            raise ConfigError(f"run {run.id[:8]} was approved or discarded meanwhile") from None
        log.info("held pull discarded", run=run.id, pages=pages, actor=actor)
        return run
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
