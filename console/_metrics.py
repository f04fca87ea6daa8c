"""``/metrics`` in the Prometheus text format, read from the store at each scrape (so every
process sharing the store reports the same figures), per platform and school."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from core.store import Store, drift_findings, runs, schema_drift

__all__ = ["metrics_text"]

_LABELS = ["platform", "school"]


class _StoreCollector(Collector):
    def __init__(self, store: Store, schools: frozenset[str] | None) -> None:
        self.store, self.schools = store, schools

    def _mine(self, school: str) -> bool:
        return self.schools is None or school in self.schools

    def collect(self) -> Iterator[Metric]:
        u, f, d = runs.c, drift_findings.c, schema_drift.c
        by_state: Counter[tuple[str, str, str]] = Counter()
        pulled: Counter[tuple[str, str]] = Counter()
        pushed: Counter[tuple[str, str]] = Counter()
        last: dict[tuple[str, str], tuple[float, float]] = {}
        with self.store.engine.connect() as conn:
            stmt = select(u.school, u.platform, u.state, u.counts, u.created_at, u.updated_at)
            for school, platform, state, counts, created, updated in conn.execute(
                stmt.order_by(u.created_at)
            ):
                if not self._mine(school):
                    continue
                pair = (platform, school)
                by_state[(platform, school, state)] += 1
                pulled[pair] += int(counts.get("records", 0) or 0)
                pushed[pair] += int(counts.get("pushed", 0) or 0)
                last[pair] = ((updated - created).total_seconds(), updated.timestamp())
            drift = conn.execute(
                select(f.platform, f.school, func.count())
                .where(f.status == "open")
                .group_by(f.platform, f.school)
            ).all()
            schema = conn.execute(
                select(d.platform, d.school, func.count()).group_by(d.platform, d.school)
            ).all()

        runs_total = CounterMetricFamily(
            "journalsync_runs", "Runs recorded in the store, by state.", labels=[*_LABELS, "state"]
        )
        errors = CounterMetricFamily("journalsync_run_errors", "Runs that failed.", labels=_LABELS)
        holds = GaugeMetricFamily(
            "journalsync_held_runs", "Runs held for approval.", labels=_LABELS
        )
        errs: Counter[tuple[str, str]] = Counter()
        held: Counter[tuple[str, str]] = Counter()
        for (platform, school, state), n in sorted(by_state.items()):
            runs_total.add_metric([platform, school, state], n)
            if state == "failed":
                errs[(platform, school)] += n
            if state == "held":
                held[(platform, school)] += n
        pairs = sorted({(p, s) for p, s, _ in by_state})
        for pair in pairs:
            errors.add_metric(list(pair), errs[pair])
            holds.add_metric(list(pair), held[pair])
        yield runs_total
        yield errors
        yield holds

        duration = GaugeMetricFamily(
            "journalsync_last_run_duration_seconds", "The last run's duration.", labels=_LABELS
        )
        when = GaugeMetricFamily(
            "journalsync_last_run_timestamp_seconds", "When the last run ended.", labels=_LABELS
        )
        for pair, (seconds, at) in sorted(last.items()):
            duration.add_metric(list(pair), seconds)
            when.add_metric(list(pair), at)
        yield duration
        yield when

        c_pulled = CounterMetricFamily(
            "journalsync_records_pulled", "Records read from the platform.", labels=_LABELS
        )
        c_pushed = CounterMetricFamily(
            "journalsync_records_pushed", "Changes pushed to the platform.", labels=_LABELS
        )
        for pair in pairs:
            c_pulled.add_metric(list(pair), pulled[pair])
            c_pushed.add_metric(list(pair), pushed[pair])
        yield c_pulled
        yield c_pushed

        open_drift = GaugeMetricFamily(
            "journalsync_drift_open", "Open drift findings.", labels=_LABELS
        )
        seen: dict[tuple[str, str], int] = defaultdict(int)
        for platform, school, n in drift:
            if self._mine(school):
                seen[(platform, school)] = int(n)
        for pair in sorted({*pairs, *seen}):
            open_drift.add_metric(list(pair), seen.get(pair, 0))
        yield open_drift

        fields = GaugeMetricFamily(
            "journalsync_schema_drift_fields",
            "Payload fields the platform added, dropped or retyped.",
            labels=_LABELS,
        )
        for platform, school, n in sorted(schema):
            if self._mine(school):
                fields.add_metric([platform, school], int(n))
        yield fields


def metrics_text(store: Store, schools: frozenset[str] | None) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StoreCollector(store, schools))
    return generate_latest(registry)
