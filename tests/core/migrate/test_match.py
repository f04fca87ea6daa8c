"""Identity matching between two bindings of one school (issue 15, item 2).

The sandbox world rendered for two platforms is the same school with unrelated person ids
(``netschool:…`` / ``perm:…``); only ЭПОС (``perm``) shows birth dates."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from connectors.sandbox import World, WorldSize
from core.codes import Role
from core.migrate import MATCH_ENTITIES, Decision, MatchSet, match_identities, normalise_name
from core.model import AcademicYear, ClassUnit, Enrollment, Person, Provenance, Record

SIZE = WorldSize(grades=(5, 6), letters=2, students_per_class=12, weeks=1)


@pytest.fixture(scope="module")
def world() -> World:
    return World.generate(15, SIZE)


def _sides(world: World) -> tuple[list[Record], list[Record]]:
    slug = next(iter(world.schools))
    # NetSchool shows no birth dates.
    source = [
        r.model_copy(update={"birth_date": None}) if isinstance(r, Person) else r
        for r in world.canonical(slug, "netschool")
    ]
    return source, world.canonical(slug, "perm")


def _persons(records: list[Record]) -> dict[str, Person]:
    return {r.id: r for r in records if isinstance(r, Person)}


def test_the_same_school_on_two_platforms_matches_whole(world: World) -> None:
    source, target = _sides(world)
    ms = match_identities(source, target)
    assert not ms.pending()
    src_people, tgt_people = _persons(source), _persons(target)
    assert not set(src_people) & set(tgt_people)  # unrelated person ids
    id_map = ms.id_map()
    for sid, p in src_people.items():
        t = tgt_people[id_map[sid]]
        assert (p.last_name, p.first_name, p.middle_name) == (
            t.last_name,
            t.first_name,
            t.middle_name,
        )
    rules = Counter((m.entity, m.rule) for m in ms.matches)
    for entity in MATCH_ENTITIES[:-1]:  # keys without a platform part: the same ids
        assert set(r for (e, r) in rules if e == entity) == {"same_key"}
    # pupils by name and class (no birth date on the source); staff by name and role
    assert rules[("person", "name_class")] == sum(
        1 for p in src_people.values() if Role.STUDENT in p.roles
    )
    counts = ms.counts()
    assert set(counts) == set(MATCH_ENTITIES)
    assert all(set(per) == {"matched"} for per in counts.values())
    assert all(0 < m.confidence <= 1 for m in ms.matches)


def _school() -> tuple[AcademicYear, ClassUnit, ClassUnit]:
    year = AcademicYear(school="s", start_year=2026, start=date(2026, 9, 1), end=date(2027, 5, 31))
    a = ClassUnit(school="s", year_id=year.id, grade=5, letter="А")
    b = ClassUnit(school="s", year_id=year.id, grade=6, letter="Б")
    return year, a, b


def _pupil(platform: str, n: int, name: str, unit: ClassUnit, birth: date | None) -> list[Record]:
    last, first, middle = name.split()
    p = Person(
        school="s",
        key=f"{platform}:{n}",
        last_name=last,
        first_name=first,
        middle_name=middle,
        birth_date=birth,
        roles=(Role.STUDENT,),
    )
    return [p, Enrollment(school="s", student_id=p.id, class_id=unit.id, begin=date(2026, 9, 1))]


def test_namesakes_in_different_classes_are_told_apart_by_class() -> None:
    year, a, b = _school()
    source = [year, a, b]
    source += _pupil("netschool", 1, "Иванов Иван Иванович", a, None)
    source += _pupil("netschool", 2, "Иванов Иван Иванович", b, None)
    target = [year, a, b]
    target += _pupil("perm", 77, "иванов  иван иванович", b, date(2013, 1, 2))
    target += _pupil("perm", 78, "Иванов Иван Иванович", a, date(2014, 3, 4))
    ms = match_identities(source, target)
    people = [m for m in ms.matches if m.entity == "person"]
    assert [m.rule for m in people] == ["name_class", "name_class"]
    assert ms.id_map()[source[3].id] == target[5].id  # 5А ↔ 5А
    assert ms.id_map()[source[5].id] == target[3].id  # 6Б ↔ 6Б


def test_birth_dates_on_both_sides_are_used_and_a_difference_rules_out() -> None:
    year, a, _b = _school()
    source = [year, a, *_pupil("x", 1, "Ёлкина Анна Петровна", a, date(2014, 5, 1))]
    target = [year, a]
    target += _pupil("y", 1, "Елкина Анна Петровна", a, date(2014, 5, 1))
    target += _pupil("y", 2, "Елкина Анна Петровна", a, date(2015, 6, 2))
    ms = match_identities(source, target)
    (m,) = [m for m in ms.matches if m.entity == "person"]
    assert (m.rule, m.state, m.target_id, m.confidence) == (
        "name_birth_class",
        "matched",
        target[2].id,
        0.99,
    )


def test_two_candidates_at_the_best_rule_are_ambiguous_never_picked() -> None:
    year, a, _b = _school()
    source = [year, a, *_pupil("x", 1, "Петров Пётр Петрович", a, None)]
    target = [year, a]
    target += _pupil("y", 1, "Петров Петр Петрович", a, None)
    target += _pupil("y", 2, "Петров Петр Петрович", a, None)
    ms = match_identities(source, target)
    (m,) = ms.pending()
    assert (m.state, m.rule, m.target_id) == ("ambiguous", "name_class", None)
    assert set(m.candidates) == {target[2].id, target[4].id}
    assert source[2].id not in ms.id_map()
    # The operator chooses; the choice is applied, by the operator's rule.
    chosen = match_identities(
        source, target, decisions={("person", source[2].id): Decision("choose", target[4].id)}
    )
    (m2,) = [m for m in chosen.matches if m.entity == "person"]
    assert (m2.state, m2.rule, m2.target_id, m2.confidence) == (
        "matched",
        "operator",
        target[4].id,
        1.0,
    )
    assert not chosen.pending()


def test_a_name_alone_matches_with_low_confidence_and_nobody_is_unmatched_silently() -> None:
    year, a, b = _school()
    source = [year, a, b, *_pupil("x", 1, "Сидоров Олег Ильич", a, None)]
    source += _pupil("x", 2, "Кузнецова Ольга Ивановна", a, None)
    target = [year, a, b, *_pupil("y", 9, "Сидоров Олег Ильич", b, None)]
    ms = match_identities(source, target)
    by = {m.source_id: m for m in ms.matches if m.entity == "person"}
    assert (by[source[3].id].rule, by[source[3].id].state) == ("name", "matched")
    assert by[source[3].id].confidence < 0.9
    assert by[source[5].id].state == "unmatched"
    assert ms.pending() == (by[source[5].id],)
    rejected = match_identities(
        source, target, decisions={("person", source[5].id): Decision("reject")}
    )
    assert not rejected.pending()
    assert rejected.counts()["person"] == {"matched": 1, "rejected": 1}


def test_staff_match_by_name_and_role() -> None:
    def teacher(platform: str, n: int, roles: tuple[Role, ...]) -> Person:
        return Person(
            school="s",
            key=f"{platform}:{n}",
            last_name="Смирнова",
            first_name="Мария",
            middle_name="Павловна",
            roles=roles,
        )

    src = [teacher("x", 1, (Role.TEACHER,)), teacher("x", 2, (Role.GUARDIAN,))]
    tgt = [teacher("y", 5, (Role.GUARDIAN,)), teacher("y", 6, (Role.TEACHER,))]
    ms = match_identities(src, tgt)
    assert ms.id_map() == {src[0].id: tgt[1].id, src[1].id: tgt[0].id}
    assert {m.rule for m in ms.matches} == {"name"}


def test_previous_matches_and_decisions_are_reused() -> None:
    year, a, _b = _school()
    source = [year, a, *_pupil("x", 1, "Петров Пётр Петрович", a, None)]
    target = [year, a]
    target += _pupil("y", 1, "Петров Петр Петрович", a, None)
    target += _pupil("y", 2, "Петров Петр Петрович", a, None)
    first = match_identities(
        source,
        target,
        decisions={("person", source[2].id): Decision("choose", target[2].id, decided_by="op")},
    )
    again = match_identities(source, target, previous=first)
    assert again.id_map() == first.id_map()
    (m,) = [m for m in again.matches if m.entity == "person"]
    assert (m.rule, m.decided_by) == ("operator", "op")


def test_a_choice_of_a_target_that_is_not_there_is_refused() -> None:
    year, a, _b = _school()
    source = [year, a, *_pupil("x", 1, "Петров Пётр Петрович", a, None)]
    with pytest.raises(ValueError, match="not on the target binding"):
        match_identities(
            source, [year, a], decisions={("person", source[2].id): Decision("choose", "nope")}
        )


def test_matchset_views() -> None:
    assert MatchSet().id_map() == {} and MatchSet().pending() == () and MatchSet().counts() == {}
    assert normalise_name(" Ёлкин ", "ПЁТР") == "елкин петр"


def _person(platform: str, n: int, last: str, **ids: str) -> Person:
    return Person(
        school="s",
        key=f"{platform}:{n}",
        last_name=last,
        first_name="Анна",
        roles=(Role.STUDENT,),
        provenance=Provenance(platform=platform, external_ids={"id": str(n)} | ids),
    )


def test_exact_external_ids_only_where_both_sides_share_one() -> None:
    # A nation-wide id (СНИЛС) beats a different name (a surname changed).
    src = [_person("netschool", 1, "Орлова", snils="123-456-789 00")]
    tgt = [
        _person("perm", 1, "Орлова"),  # the same platform-local id means nothing across
        _person("perm", 2, "Соколова", snils="123-456-789 00"),
    ]
    ms = match_identities(src, tgt)
    (m,) = ms.matches
    assert (m.rule, m.target_id, m.confidence) == ("external_id", tgt[1].id, 1.0)
    # Without a shared id: the platforms' own ids are not compared, the name decides.
    plain = match_identities([_person("netschool", 1, "Орлова")], tgt)
    assert plain.matches[0].rule == "name" and plain.matches[0].target_id == tgt[0].id
    # Two bindings on one platform (two installations): its own ids are shared.
    same = match_identities([_person("perm", 7, "Соколова-Иванова", id="2")], tgt)
    assert same.matches[0].rule == "external_id"
