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

from collections import defaultdict
from dataclasses import dataclass

from core.connector import Connector
from core.store import RosterPupil, Store

__all__ = ["Coverage", "check_coverage", "school_coverage"]


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
        return (
            f"coverage {self.figure}, below the minimum of {_percent(self.minimum)}: "
            f"{len(self.missing)} pupil(s) in {classes} class(es) not read"
        )

    def missing_by_class(self) -> dict[str, list[str]]:
        """Class name → the names of its missing pupils (personal data: the terminal only)."""
        out: dict[str, list[str]] = defaultdict(list)
        for p in self.missing:
            out[p.class_name or "?"].append(p.name)
        return dict(sorted(out.items()))

    def as_counts(self) -> dict[str, int]:
        return {"pupils_read": self.read, "pupils_expected": self.expected}


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
