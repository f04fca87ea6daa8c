"""Verified migration of a school's journal between two platform bindings (issue 15).

* :mod:`._plan` — the plan: the source's journal re-keyed into the target's ids, translated by
  the target's table (:mod:`core.translation`), compared with what the target holds;
* :mod:`._io` — a plan as JSON and back;
* :mod:`._apply` — the plan's writes through the target binding's outbox and channels;
* :mod:`._verify` — the certificate: the plan against a fresh pull of the target;
* :mod:`._documents` — the plan's XLSX summary and the certificate's JSON and PDF (Russian).
"""

from core.migrate._apply import ApplyResult, apply_plan, plan_keys, queue_plan, status_by_key
from core.migrate._documents import (
    ENTITY_TITLES,
    Describer,
    plan_meta,
    write_certificate,
    write_plan_files,
)
from core.migrate._io import plan_from_json, plan_to_json
from core.migrate._plan import (
    JOURNAL_ORDER,
    OPS,
    ROSTER_ORDER,
    MatchLike,
    MigrationPlan,
    PlanItem,
    RosterItem,
    build_plan,
    rekey,
)
from core.migrate._verify import certificate, item_key

__all__ = [
    "ENTITY_TITLES",
    "JOURNAL_ORDER",
    "OPS",
    "ROSTER_ORDER",
    "ApplyResult",
    "Describer",
    "MatchLike",
    "MigrationPlan",
    "PlanItem",
    "RosterItem",
    "apply_plan",
    "build_plan",
    "certificate",
    "item_key",
    "plan_from_json",
    "plan_keys",
    "plan_meta",
    "plan_to_json",
    "queue_plan",
    "rekey",
    "status_by_key",
    "write_certificate",
    "write_plan_files",
]
