"""Saved matches: a round trip through the store (SQLite; PostgreSQL with JOURNALSYNC_TEST_PG),
operator decisions kept with who made them, and reused by a later run."""

from __future__ import annotations

from datetime import date

from core.codes import Role
from core.migrate import Decision, MatchSet, match_identities
from core.model import AcademicYear, ClassUnit, Enrollment, Person, Record
from core.store import Store


def _sides() -> tuple[list[Record], list[Record]]:
    year = AcademicYear(school="s", start_year=2026, start=date(2026, 9, 1), end=date(2027, 5, 31))
    unit = ClassUnit(school="s", year_id=year.id, grade=5, letter="А")

    def pupil(platform: str, n: int, last: str) -> list[Record]:
        p = Person(
            school="s",
            key=f"{platform}:{n}",
            last_name=last,
            first_name="Анна",
            middle_name="Петровна",
            roles=(Role.STUDENT,),
        )
        return [p, Enrollment(school="s", student_id=p.id, class_id=unit.id, begin=year.start)]

    source = [year, unit, *pupil("netschool", 1, "Ёлкина"), *pupil("netschool", 2, "Орлова")]
    source += pupil("netschool", 3, "Зайцева")
    target = [year, unit, *pupil("perm", 10, "Елкина"), *pupil("perm", 11, "Орлова")]
    target += pupil("perm", 12, "Орлова")
    return source, target


def test_save_and_load_round_trip_with_decisions(store: Store) -> None:
    source, target = _sides()
    assert store.load_matches("s", "netschool", "perm") is None
    first = match_identities(source, target)
    assert first.counts()["person"] == {"matched": 1, "ambiguous": 1, "unmatched": 1}
    assert store.save_matches("s", "netschool", "perm", first, actor="import") == len(first)
    loaded = store.load_matches("s", "netschool", "perm")
    assert isinstance(loaded, MatchSet)
    assert sorted(loaded.matches, key=lambda m: m.source_id) == sorted(
        first.matches, key=lambda m: m.source_id
    )
    ambiguous = next(m for m in loaded.matches if m.state == "ambiguous")
    assert len(ambiguous.candidates) == 2
    # The operator decides; saved with who decided, and a later run reuses it.
    unmatched = next(m for m in loaded.matches if m.state == "unmatched")
    decided = match_identities(
        source,
        target,
        decisions={
            ("person", ambiguous.source_id): Decision("choose", ambiguous.candidates[1]),
            ("person", unmatched.source_id): Decision("reject"),
        },
        previous=loaded,
    )
    store.save_matches("s", "netschool", "perm", decided, actor="operator@school")
    again = store.load_matches("s", "netschool", "perm")
    assert again is not None
    chosen = again.get("person", ambiguous.source_id)
    assert chosen is not None and chosen.target_id == ambiguous.candidates[1]
    assert chosen.decided_by == "operator@school" and chosen.decided_at is not None
    rejected = again.get("person", unmatched.source_id)
    assert rejected is not None and rejected.state == "rejected"
    auto = next(m for m in again.matches if m.rule == "name_class")
    assert auto.decided_by == "" and auto.decided_at is None
    later = match_identities(source, target, previous=again)
    assert not later.pending()
    assert later.id_map() == decided.id_map()
    # Another pair of platforms is kept apart.
    assert store.load_matches("s", "perm", "netschool") is None
