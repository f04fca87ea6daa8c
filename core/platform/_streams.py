"""Stream names and the entity sets their pages carry in full, defined once for every connector.

A connector's streams are ``roster`` (one page), ``journal`` (one page per class × week or term,
or per group × term) and, where the platform lists period marks apart from the journal,
``finals``. A page of a stream is complete for (replaces) the stream's entities; a connector
whose platform cannot carry one of them in full takes it out (NetSchool's roster has no
enrollments; Ruobr's groups come with the journal and are never complete) or, where finals ride
on the journal pages, adds :data:`FINAL_ENTITIES` to :data:`JOURNAL_ENTITIES`.
"""

from __future__ import annotations

ROSTER = "roster"
JOURNAL = "journal"
FINALS = "finals"

ROSTER_ENTITIES = frozenset(
    {"school", "academic_year", "period", "person", "class_unit", "subject", "group", "enrollment"}
)
JOURNAL_ENTITIES = frozenset({"lesson", "homework", "mark", "attendance"})
FINAL_ENTITIES = frozenset({"final_mark"})
