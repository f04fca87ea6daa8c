"""АВЕРС requests of a school pull: the school's dictionaries once per pull, a class's once per
class, each account's login once, whatever the number of families, and no probe of the session
for an ``[]`` that a later answer of the same account vouches for (issue 13 item 6)."""

from __future__ import annotations

import httpx

from connectors.avers.harness import HARNESS
from connectors.conformance.harness import BASE_URL
from connectors.sandbox import World, WorldSize
from core.store import Store
from core.sync import pull
from tests.connectors.avers.counting import Count as _Count

SIZE = WorldSize(grades=(5, 7), letters=1, students_per_class=4, weeks=2)


async def test_dictionaries_once_per_pull_and_per_class_logins_once_per_account(
    tmp_path: object,
) -> None:
    world = World.generate(HARNESS.seed, SIZE)
    school = next(iter(world.schools))
    target = HARNESS.target(world, BASE_URL, school, True)
    count = _Count(httpx.ASGITransport(app=HARNESS.app(world)))
    store = Store.open(f"sqlite:///{tmp_path}/avers.db")
    try:
        async with HARNESS.connect(world, target, transport=count) as c:
            await pull(store, c)
    finally:
        store.close()
    accounts, classes = len(target.all_accounts), 2
    assert accounts == 8
    for action in ("get_uch_year", "get_periods", "get_timetable", "get_subs_persons_store_data"):
        assert count.paths[f"/act/{action}"] == 1, action
    for action in ("get_dairy_class_subjects", "get_class_per_sp"):
        assert count.paths[f"/act/{action}"] == classes, action
    for path in ("/login", "/auth"):
        assert count.paths[path] == accounts, path
    for action in (
        "get_student_class",
        "get_student_parallel",
        "get_student_groups",
        "get_student_director_data",
        "get_student_dairy",
        "get_student_lessons",
        "get_student_journal_data",
    ):
        assert count.paths[f"/act/{action}"] == accounts, action
    # GET_STUDENT_PARALLEL answers [] to every pupil (captured) and the World has no period
    # marks yet: the class row and the subgroups that follow vouch for those [] (every pupil
    # of this world is in a subgroup), so get_user_data is asked once, for the school's name —
    # not once more per [] (it was 1 + 2 per account).
    assert count.paths["/act/get_user_data"] == 1
    assert sum(count.paths.values()) == 9 * accounts + 6 + 2 * classes + 1  # + the logout
