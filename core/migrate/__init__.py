"""Verified migration of a school's journal between two platform bindings (issue 15).

* :mod:`._match` — who is who on each side: :func:`match_identities` pairs the source binding's
  records with the target's, per entity, each match with its rule and confidence; what is
  ambiguous or unmatched goes to the operator through a review file and nothing ambiguous is
  applied silently. The store keeps the matches (``Store.save_matches`` / ``load_matches``);
* :mod:`._plan` — the plan: the source's journal re-keyed into the target's ids, translated by
  the target's table (:mod:`core.translation`), compared with what the target holds;
* :mod:`._io` — a plan as JSON and back;
* :mod:`._verify` — the certificate: the plan against a fresh pull of the target;
* :mod:`._documents` — the plan's XLSX summary and the certificate's JSON and PDF (Russian).

Applying a plan (the target's outbox and channels) is ``core.sync``'s :func:`apply_plan`: this
package knows no store (the store keeps matches through it).
"""

from core.migrate._documents import (
    ENTITY_TITLES,
    Describer,
    plan_meta,
    write_certificate,
    write_plan_files,
)
from core.migrate._io import plan_from_json, plan_to_json
from core.migrate._match import (
    CONFIDENCE,
    DECISION_ACTIONS,
    GLOBAL_ID_KEYS,
    MATCH_ENTITIES,
    MATCH_RULES,
    MATCH_STATES,
    Decision,
    Match,
    MatchSet,
    match_identities,
    normalise_name,
    person_classes,
    person_kind,
)
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
from core.migrate._review import (
    REVIEW_BELOW,
    REVIEW_COLUMNS,
    ReviewError,
    read_review,
    review_rows,
    write_review,
)
from core.migrate._verify import certificate, item_key, shown_keys

__all__ = [
    "CONFIDENCE",
    "DECISION_ACTIONS",
    "ENTITY_TITLES",
    "GLOBAL_ID_KEYS",
    "JOURNAL_ORDER",
    "MATCH_ENTITIES",
    "MATCH_RULES",
    "MATCH_STATES",
    "OPS",
    "REVIEW_BELOW",
    "REVIEW_COLUMNS",
    "ROSTER_ORDER",
    "Decision",
    "Describer",
    "Match",
    "MatchLike",
    "MatchSet",
    "MigrationPlan",
    "PlanItem",
    "ReviewError",
    "RosterItem",
    "build_plan",
    "certificate",
    "item_key",
    "match_identities",
    "normalise_name",
    "person_classes",
    "person_kind",
    "plan_from_json",
    "plan_meta",
    "plan_to_json",
    "read_review",
    "rekey",
    "review_rows",
    "shown_keys",
    "write_certificate",
    "write_plan_files",
    "write_review",
]
