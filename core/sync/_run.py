"""One school's sync run through its explicit states (DESIGN.md §4).

``planned → pulling → (held) → reconciling → (held) → pushing → verifying → done``, or
``failed`` with a reason a person can act on. A run is held after pulling when the pull would
delete or change more than its limits allow (its pages wait, the old snapshot is kept), and
after reconciling when the push would. Every transition is recorded by the store. A run key
that already finished is not run again; one that crashed half-way is resumed (the pull resumes
from its cursors, the outbox from its statuses).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from core.connector import Connector, Page, PullMode
from core.errors import ConfigError, Fatal, JournalSyncError, Retriable
from core.logging import get_logger, log_context
from core.store import Run, RunState, Store
from core.sync._coverage import Coverage, check_coverage, held_coverage
from core.sync._limits import DEFAULT_PULL_LIMITS, PullLimits
from core.sync._pull import PullResult, apply_held_pull, pull
from core.sync._push import PushResult, push
from core.sync._reconcile import DEFAULT_POLICIES, Policy, ReconcileResult, reconcile

__all__ = ["PUSHING_OPERATIONS", "HoldCheck", "RunReport", "continue_held", "sync_school"]

log = get_logger(__name__)

#: Decides after reconcile whether a run's push needs a person's approval: returns the reason
#: to hold it (e.g. "mark: 40 deletes exceed 5 %"), or ``None`` to go on.
HoldCheck = Callable[[Store, Connector], str | None]

#: Operations whose runs push after reconciling (a held pull of one goes on to push once
#: approved).
PUSHING_OPERATIONS = frozenset({"push", "sync"})


@dataclass(slots=True)
class RunReport:
    run: Run
    pulled: PullResult | None = None
    reconciled: ReconcileResult | None = None
    pushed: PushResult | None = None
    verified_pull: PullResult | None = None
    extra: dict[str, int] = field(default_factory=dict)
    #: Why the run failed (``None`` unless it did): lets a scheduler retry a ``Retriable``
    #: failure after the platform's ``Retry-After``.
    error: JournalSyncError | None = None
    #: A family-account school's coverage (which pupils the pull read); ``None`` otherwise.
    coverage: Coverage | None = None

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        if self.pulled:
            out.update(self.pulled.as_counts())
        if self.reconciled:
            out.update(self.reconciled.as_counts())
        if self.pushed:
            out.update(self.pushed.as_counts())
        if self.coverage:
            out.update(self.coverage.as_counts())
        out.update(self.extra)
        return out


async def sync_school(
    store: Store,
    connector: Connector,
    *,
    run_key: str,
    operation: str = "sync",
    mode: PullMode = PullMode.FULL,
    do_push: bool = True,
    policies: Mapping[str, Policy] = DEFAULT_POLICIES,
    max_changes: int | None = None,
    on_page: Callable[[Page, PullResult], None] | None = None,
    hold: HoldCheck | None = None,
    pull_limits: Mapping[str, PullLimits] = DEFAULT_PULL_LIMITS,
    min_coverage: float = 1.0,
) -> RunReport:
    """Run pull → reconcile → push → verify for the connector's school under ``run_key``.

    The run is held for approval (state ``held``): after pulling when the pull exceeds
    ``pull_limits`` (nothing of its suspicious pages applied); after reconciling (nothing
    pushed) when the pending outbox has more than ``max_changes`` items or ``hold`` returns a
    reason. :func:`continue_held` applies an approved run.

    A family-account school's run whose pull read fewer pupils of the school's roster than
    ``min_coverage`` (a fraction) ends ``partial`` instead of ``done`` (``report.coverage``).
    """
    target = connector.target
    run = store.start_run(run_key, target.school, target.platform, operation)
    report = RunReport(run=run)
    if not run.created and run.state in (RunState.DONE, RunState.PARTIAL):
        log.info("run already done; not running it twice", run_key=run_key)
        return report
    with log_context(run=run.id, school=target.school, platform=target.platform):
        try:
            resume = not run.created
            report.run = store.transition(run.id, RunState.PULLING, resume=resume)
            report.pulled = await pull(
                store, connector, mode=mode, run_id=run.id, on_page=on_page, limits=pull_limits
            )
            _close_superseded(store, target.school, target.platform, run.id)
            report.coverage = check_coverage(store, connector, run.id, min_coverage)
            if report.coverage is not None:
                log.info("pull coverage", coverage=report.coverage.summary())
            if report.pulled.held:
                report.run = store.transition(
                    run.id,
                    RunState.HELD,
                    counts=report.counts(),
                    note=f"pull held: {report.pulled.held}",
                )
                return report
            report.run = store.transition(
                run.id, RunState.RECONCILING, counts=report.counts(), note="pulled"
            )
            report.reconciled = reconcile(
                store,
                target.school,
                target.platform,
                capabilities=connector.capabilities,
                policies=policies,
                run_id=run.id,
            )
            if not do_push:
                report.run = _finish(store, run.id, report)
                return report
            pending = len(store.outbox(target.school, target.platform, status="pending"))
            reason = None
            if max_changes is not None and pending > max_changes:
                reason = f"{pending} changes to push exceed the threshold of {max_changes}"
            elif hold is not None:
                reason = hold(store, connector)
            if reason:
                report.run = store.transition(
                    run.id, RunState.HELD, counts=report.counts(), note=reason
                )
                return report
            report.run = store.transition(run.id, RunState.PUSHING, counts=report.counts())
            await _push_and_verify(store, connector, report, policies)
        except (Fatal, Retriable) as exc:
            if report.coverage is None and connector.account_outcomes:
                # The accounts tried before the failure (the school's own refused as expired,
                # say): `accounts list` shows their state.
                store.record_accounts(
                    target.school, target.platform, connector.account_outcomes.values(), run.id
                )
            report.run = _fail(store, run.id, exc, report)
        return report


async def continue_held(
    store: Store,
    connector: Connector | None,
    *,
    run_id: str,
    policies: Mapping[str, Policy] = DEFAULT_POLICIES,
    note: str = "approved",
    min_coverage: float | None = None,
) -> RunReport:
    """Apply a held run after approval, exactly once.

    A held pull (``held → reconciling``) has its staged pages applied as they were read, then
    is reconciled and, for a pushing operation, pushed; a held push goes ``held → pushing →
    verifying → done``. ``connector`` is needed only to push (a held pull of a ``pull`` run is
    applied from the store alone). The move out of ``held`` is checked inside the writing
    transaction, so of two approvals racing for the same run one wins and the other gets
    ``ValueError``; the push itself goes by the outbox's idempotency keys.

    Approval does not waive the coverage check: a family-account school's run whose pull read
    fewer pupils than ``min_coverage`` (the school's minimum; ``None``: the one the run
    recorded when held) ends ``partial`` naming them, as an unheld run would.
    """
    run = store.get_run(run_id)
    if run.state is not RunState.HELD:
        raise ValueError(f"run is {run.state.value}: only a held run can be approved")
    report = RunReport(run=run, coverage=held_coverage(store, run, min_coverage))
    held_pull = store.staged_count(run.id) > 0
    pushes = run.operation in PUSHING_OPERATIONS or not held_pull
    if pushes and connector is None:
        raise ConfigError(f"run {run.id[:8]} pushes once approved: give the school's config")
    with log_context(run=run.id, school=run.school, platform=run.platform):
        if held_pull:
            report.run = store.transition(run.id, RunState.RECONCILING, note=note)
            report.pulled = apply_held_pull(store, run.school, run.platform, run.id)
            report.reconciled = reconcile(
                store,
                run.school,
                run.platform,
                # Without a connector, reconcile looks the platform's capabilities up itself.
                capabilities=connector.capabilities if connector is not None else None,
                policies=policies,
                run_id=run.id,
            )
            if not pushes or connector is None:
                report.run = _finish(store, run.id, report)
                return report
            report.run = store.transition(run.id, RunState.PUSHING, counts=report.counts())
        else:
            assert connector is not None  # checked above: a held push always pushes
            report.run = store.transition(run.id, RunState.PUSHING, note=note)
        try:
            await _push_and_verify(store, connector, report, policies)
        except (Fatal, Retriable) as exc:
            report.run = _fail(store, run.id, exc, report)
    return report


def _close_superseded(store: Store, school: str, platform: str, current: str) -> None:
    """Close the school's held pulls whose every page a later pull has read again."""
    for r in store.runs(school=school, limit=50):
        if (
            r.id != current
            and r.state is RunState.HELD
            and r.platform == platform
            and r.counts.get("held_pages")
            and not store.staged_count(r.id)
        ):
            with contextlib.suppress(ValueError):  # approved or discarded meanwhile
                store.transition(
                    r.id, RunState.DONE, note="superseded: a later pull read its scopes again"
                )
            log.info("held pull superseded by a later pull", held_run=r.id)


async def _push_and_verify(
    store: Store, connector: Connector, report: RunReport, policies: Mapping[str, Policy]
) -> None:
    target = connector.target
    run_id = report.run.id
    report.pushed = await push(store, connector, run_id=run_id)
    report.run = store.transition(run_id, RunState.VERIFYING, counts=report.counts())
    if report.pushed.sent:
        # Refresh the snapshot so the findings the push fixed are resolved now.
        report.verified_pull = await pull(
            store, connector, mode=PullMode.INCREMENTAL, run_id=run_id
        )
        report.reconciled = reconcile(
            store,
            target.school,
            target.platform,
            capabilities=connector.capabilities,
            policies=policies,
            run_id=run_id,
        )
    report.run = _finish(store, run_id, report)


def _finish(store: Store, run_id: str, report: RunReport) -> Run:
    """``done``, or ``partial`` when a family-account pull read too few of the school's pupils
    (the note and reason give counts only: pupils' names never reach logs)."""
    if report.coverage is not None and not report.coverage.ok:
        why = report.coverage.summary()
        return store.transition(
            run_id, RunState.PARTIAL, counts=report.counts(), note=why, error=why
        )
    return store.transition(run_id, RunState.DONE, counts=report.counts())


def _fail(store: Store, run_id: str, exc: JournalSyncError, report: RunReport) -> Run:
    report.error = exc
    reason = exc.message + (f" — {exc.hint}" if exc.hint else "")
    # Info, not error: whoever runs the run reports its end once (the CLI as its error line,
    # the scheduler's runner as a warning naming the school), not twice.
    log.info("run failed", error=reason, kind=type(exc).__name__)
    return store.transition(run_id, RunState.FAILED, counts=report.counts(), error=reason)
