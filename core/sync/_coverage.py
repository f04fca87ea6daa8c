"""Coverage of a family-account school: which pupils of its roster a pull could read.

On platforms that show one family per account a school is read through hundreds of accounts,
and a pull that could not read some pupils (an account removed, rejected or expired) looks just
like a complete one. Each such pull records its accounts' outcomes and the pupils they showed
(:meth:`core.store.Store.record_accounts`); the school's roster is every pupil its accounts have
shown, and the pupils the pull did not read are missing from it. Below the school's minimum
(100 % unless configured) the run ends ``partial``, never ``done``.

Names are personal data: :meth:`Coverage.summary` (for run notes, logs and the scheduler) gives
counts only; :meth:`Coverage.missing_by_class` (for the operator's terminal) gives the names.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from core.connector import Connector
from core.store import RosterPupil, Run, Store

__all__ = ["Coverage", "check_coverage", "held_coverage", "school_coverage"]


@dataclass(frozen=True, slots=True)
class Coverage:
    read: int
    expected: int
    #: The school's minimum, a fraction (1.0 = every pupil).
    minimum: float
    missing: tuple[RosterPupil, ...] = ()

    @property
    def ok(self) -> bool:
        return self.expected == 0 or self.read >= self.minimum * self.expected - 1e-9

    @property
    def figure(self) -> str:
        """«512 / 550 pupils»."""
        return f"{self.read} / {self.expected} pupils"

    def summary(self) -> str:
        """Counts only (no names): for run notes, logs and the scheduler's reasons."""
        if self.ok:
            return f"coverage {self.figure}"
        classes = len({p.class_name for p in self.missing})
        where = f" in {classes} class(es)" if self.missing else ""
        return (
            f"coverage {self.figure}, below the minimum of {_percent(self.minimum)}: "
            f"{self.expected - self.read} pupil(s){where} not read"
        )

    def missing_by_class(self) -> dict[str, list[str]]:
        """Class name → the names of its missing pupils (personal data: the terminal only)."""
        out: dict[str, list[str]] = defaultdict(list)
        for p in self.missing:
            out[p.class_name or "?"].append(p.name)
        return dict(sorted(out.items()))

    @property
    def required(self) -> int:
        """The fewest pupils the school's minimum asks for."""
        return math.ceil(self.minimum * self.expected - 1e-9)

    def as_counts(self) -> dict[str, int]:
        """The run's counts; ``pupils_required`` lets an approval of a held run judge its
        coverage again without the config (:func:`held_coverage`)."""
        return {
            "pupils_read": self.read,
            "pupils_expected": self.expected,
            "pupils_required": self.required,
        }


def _percent(fraction: float) -> str:
    return f"{fraction * 100:g} %"


def school_coverage(
    store: Store, school: str, platform: str, run_id: str, minimum: float
) -> Coverage:
    """The coverage of run ``run_id`` against the school's roster as it stands."""
    roster = store.family_roster(school, platform)
    missing = tuple(p for p in roster if p.last_run != run_id)
    return Coverage(len(roster) - len(missing), len(roster), minimum, missing)


def check_coverage(
    store: Store, connector: Connector, run_id: str, minimum: float
) -> Coverage | None:
    """Record the pull's account outcomes and return its coverage; ``None`` when the connector
    reads no family accounts (the school is read whole through one account)."""
    if not connector.account_outcomes:
        return None
    target = connector.target
    store.record_accounts(
        target.school, target.platform, connector.account_outcomes.values(), run_id
    )
    return school_coverage(store, target.school, target.platform, run_id, minimum)


def held_coverage(store: Store, run: Run, minimum: float | None = None) -> Coverage | None:
    """The coverage of a held run being approved: its pull is what was read, so it is judged
    as it was then — against the school's minimum (``minimum``; else the one the run recorded;
    else every pupil). ``None`` when the run read no family accounts."""
    expected = run.counts.get("pupils_expected")
    if expected is None:
        return None
    read = int(run.counts.get("pupils_read", 0))
    if minimum is None:
        required = run.counts.get("pupils_required")
        minimum = required / expected if required is not None and expected else 1.0
    now = school_coverage(store, run.school, run.platform, run.id, minimum)
    if (now.read, now.expected) == (read, expected):
        return now  # the roster stands as the run left it: the missing pupils are known
    # A later pull has read the roster since (a held push waits while pulls go on): the
    # run's own counts judge it; who was missing then is no longer known.
    return Coverage(read, int(expected), minimum)
