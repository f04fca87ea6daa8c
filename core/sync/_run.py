"""One school's sync run through its explicit states (DESIGN.md §4).

``planned → pulling → reconciling → (held) → pushing → verifying → done``, or ``failed`` with a
reason a person can act on. Every transition is recorded by the store. A run key that already
finished is not run again; one that crashed half-way is resumed (the pull resumes from its
cursors, the outbox from its statuses).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from core.connector import Connector, Page, PullMode
from core.errors import Fatal, JournalSyncError, Retriable
from core.logging import get_logger, log_context
from core.store import Run, RunState, Store
from core.sync._pull import PullResult, pull
from core.sync._push import PushResult, push
from core.sync._reconcile import DEFAULT_POLICIES, Policy, ReconcileResult, reconcile

__all__ = ["RunReport", "sync_school"]

log = get_logger(__name__)


@dataclass(slots=True)
class RunReport:
    run: Run
    pulled: PullResult | None = None
    reconciled: ReconcileResult | None = None
    pushed: PushResult | None = None
    verified_pull: PullResult | None = None
    extra: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        if self.pulled:
            out.update(self.pulled.as_counts())
        if self.reconciled:
            out.update(self.reconciled.as_counts())
        if self.pushed:
            out.update(self.pushed.as_counts())
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
) -> RunReport:
    """Run pull → reconcile → push → verify for the connector's school under ``run_key``."""
    target = connector.target
    run = store.start_run(run_key, target.school, target.platform, operation)
    report = RunReport(run=run)
    if not run.created and run.state is RunState.DONE:
        log.info("run already done; not running it twice", run_key=run_key)
        return report
    with log_context(run=run.id, school=target.school, platform=target.platform):
        try:
            resume = not run.created
            report.run = store.transition(run.id, RunState.PULLING, resume=resume)
            report.pulled = await pull(store, connector, mode=mode, run_id=run.id, on_page=on_page)
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
                report.run = store.transition(run.id, RunState.DONE, counts=report.counts())
                return report
            pending = len(store.outbox(target.school, target.platform, status="pending"))
            if max_changes is not None and pending > max_changes:
                report.run = store.transition(
                    run.id,
                    RunState.HELD,
                    counts=report.counts(),
                    note=f"{pending} changes to push exceed the threshold of {max_changes}",
                )
                return report
            report.run = store.transition(run.id, RunState.PUSHING, counts=report.counts())
            report.pushed = await push(store, connector, run_id=run.id)
            report.run = store.transition(run.id, RunState.VERIFYING, counts=report.counts())
            if report.pushed.sent:
                # Refresh the snapshot so the findings the push fixed are resolved now.
                report.verified_pull = await pull(
                    store, connector, mode=PullMode.INCREMENTAL, run_id=run.id
                )
                report.reconciled = reconcile(
                    store,
                    target.school,
                    target.platform,
                    capabilities=connector.capabilities,
                    policies=policies,
                    run_id=run.id,
                )
            report.run = store.transition(run.id, RunState.DONE, counts=report.counts())
        except (Fatal, Retriable) as exc:
            report.run = _fail(store, run.id, exc, report)
        return report


def _fail(store: Store, run_id: str, exc: JournalSyncError, report: RunReport) -> Run:
    reason = exc.message + (f" — {exc.hint}" if exc.hint else "")
    log.error("run failed", error=reason, kind=type(exc).__name__)
    return store.transition(run_id, RunState.FAILED, counts=report.counts(), error=reason)
