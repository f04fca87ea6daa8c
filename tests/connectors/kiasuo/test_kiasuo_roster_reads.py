"""How many reads the roster of a КИАСУО school pull makes (issue 13 item 6), over the harness.

What is the same for a class is read once for it: ``school_classes`` and ``study_periods`` once
per class, ``recipients`` once per class and set of journals a child sees (its teaching groups:
a child of another subgroup sees other teachers); ``lesson_marks`` stays per child (its own
journals and ``updated_at``). The pulled records stay what the families see: a subgroup taught by
another teacher keeps its own teacher, which one child's recipients shared with the whole class
(or the class's staff merged into every group) would lose.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import httpx

from connectors.conformance.compare import differences, project
from connectors.conformance.harness import BASE_URL
from connectors.kiasuo import KiasuoConnector
from connectors.kiasuo._emulator_auth import initial_refresh_token
from connectors.kiasuo._roster import _signature, _units
from connectors.kiasuo._weeks import weeks_between
from connectors.kiasuo.connector import AHEAD
from connectors.kiasuo.harness import HARNESS, visible
from connectors.kiasuo.schema import Child, LessonMarks, StudyPeriod
from connectors.sandbox.world import GroupInfo, World, WorldSize
from core.connector import Credentials
from core.store import Store
from core.sync import pull

SIZE = WorldSize(grades=(5, 7), letters=2, students_per_class=6, weeks=3)


class _Count(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.paths: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        for prefix in ("/diary/api/lesson_marks/", "/diary/api/student_marks/"):
            if path.startswith(prefix):
                path = prefix + "*"
        self.paths[path] += 1
        return await self.inner.handle_async_request(request)


def _split_teachers(world: World) -> list[GroupInfo]:
    """Give every second subgroup a teacher of its own (a teacher of the school who does not
    teach the class), lessons included; the subgroups changed."""
    changed = []
    for g in list(world.groups.values()):
        if g.subgroup != 2:
            continue
        cls = world.classes[g.class_id]
        in_class = {t for gid in cls.group_ids for t in world.groups[gid].teacher_ids}
        other = next(
            p.ext_id
            for p in world.persons.values()
            if p.role == "teacher" and p.school == g.school and p.ext_id not in in_class
        )
        g.teacher_ids = [other]
        for lid in g.lesson_ids:
            world.lessons[lid].teacher_id = other
        changed.append(g)
    return changed


async def _pull(
    world: World, tmp: Path, extra: tuple[Credentials, ...] = ()
) -> tuple[_Count, Store]:
    school = next(iter(world.schools))
    target = HARNESS.target(world, BASE_URL, school, True)
    target = replace(target, accounts=(*target.accounts, *extra))
    count = _Count(httpx.ASGITransport(app=HARNESS.app(world)))
    store = Store.open(f"sqlite:///{tmp}/kiasuo.db")
    async with HARNESS.connect(world, target, transport=count) as c:
        result = await pull(store, c)
    assert result.quarantined == 0
    return count, store


async def test_class_dictionaries_are_read_once_per_class_and_subgroups_keep_teachers(
    tmp_path: Path,
) -> None:
    world = World.generate(5, SIZE)
    school = next(iter(world.schools.values()))
    assert _split_teachers(world)
    students = [p for p in world.persons.values() if p.role == "student"]
    # a pupil seen by two accounts (its guardian's and its own) is read once
    twice = world.accounts(school.slug, "student")[0]
    extra = (Credentials(login=twice.login, token=initial_refresh_token(world, twice)),)
    count, store = await _pull(world, tmp_path, extra)
    try:
        classes = school.class_ids
        journal_sets = {
            (st.class_id, frozenset(g.ext_id for g in world.groups_of_student(st.ext_id)))
            for st in students
        }
        assert len(journal_sets) > len(classes)  # subgroups: more than one set in a class
        terms = [p for p in school.periods if p.start <= world.today + AHEAD]
        weeks = weeks_between(min(p.start for p in school.periods), world.today + AHEAD)
        accounts = len(students) + 1
        assert dict(count.paths) == {
            "/diary/refresh": accounts,
            "/diary/api/user": accounts,
            "/diary/api/school_classes": len(classes),
            "/diary/api/study_periods": len(classes),
            "/diary/api/recipients": len(journal_sets),
            "/diary/api/lesson_marks/*": len(students) * len(terms),
            "/diary/api/schedule": len(students) * len(weeks),
            "/diary/api/student_marks/*": len(students),
        }
        got = project(store.remote_records(school.slug, "kiasuo"), KiasuoConnector.capabilities)
        expected = project(visible(world, school.slug, "kiasuo"), KiasuoConnector.capabilities)
        assert differences(got, expected) == ""
    finally:
        store.close()


def _child(cid: int, school_class: str) -> Child:
    return Child(id=cid, first_name="А", last_name="Б", school_class=school_class)


def test_children_are_grouped_by_the_class_user_names_and_an_odd_one_reads_alone() -> None:
    kids = [_child(1, "7А"), _child(2, "7 а"), _child(3, "8Б"), _child(4, ""), _child(5, "")]
    units = _units([(None, k) for k in kids])  # type: ignore[misc]  # no account needed
    assert [[c.id for _, c in u.members] for u in units] == [[1, 2], [3], [4], [5]]


def test_a_child_whose_journals_are_not_all_known_reads_its_own_recipients() -> None:
    term = StudyPeriod.model_validate(
        {"id": 1, "text": "1", "from": "2026-09-01", "to": "2026-10-25"}
    )

    def marks(*lessons: dict[str, object]) -> list[tuple[StudyPeriod, LessonMarks]]:
        return [(term, LessonMarks.model_validate({"lessons": list(lessons)}))]

    a = _signature(marks({"id": 7, "subject": "Алгебра"}, {"id": 8, "subject": "Английский язык"}))
    b = _signature(marks({"id": 8, "subject": "Английский язык"}, {"id": 7, "subject": "Алгебра"}))
    c = _signature(marks({"id": 7, "subject": "Алгебра"}, {"id": 9, "subject": "Английский язык"}))
    assert a == b and a is not None and c != a
    assert _signature(marks({"subject": "Алгебра"})) is None  # no journal id
    assert _signature(marks({"id": 7, "subject": "Алгебра"}, {"id": 8})) is None  # an item lost
