"""Migrating a school between two platform bindings (issue 15): who is who on each side.

:func:`match_identities` pairs the source binding's records with the target's, per entity, each
match with its rule and confidence; what is ambiguous or unmatched goes to the operator through
a review file (:func:`write_review` / :func:`read_review`) and nothing ambiguous is applied
silently. The store keeps the matches (``Store.save_matches`` / ``load_matches``) for later runs.
"""

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
from core.migrate._review import (
    REVIEW_BELOW,
    REVIEW_COLUMNS,
    ReviewError,
    read_review,
    review_rows,
    write_review,
)

__all__ = [
    "CONFIDENCE",
    "DECISION_ACTIONS",
    "GLOBAL_ID_KEYS",
    "MATCH_ENTITIES",
    "MATCH_RULES",
    "MATCH_STATES",
    "REVIEW_BELOW",
    "REVIEW_COLUMNS",
    "Decision",
    "Match",
    "MatchSet",
    "ReviewError",
    "match_identities",
    "normalise_name",
    "person_classes",
    "person_kind",
    "read_review",
    "review_rows",
    "write_review",
]
