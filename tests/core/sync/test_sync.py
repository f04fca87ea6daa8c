"""The sync engine over the NetSchool emulator (in-process HTTP) and a real SQLite store:
reconcile semantics, idempotency keys, the run state machine, and the CSV importer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from connectors.netschool import NetSchoolConnector
from connectors.netschool.emulator import NetSchoolEmulator, create_app
from connectors.netschool.harness import HARNESS
from connectors.sandbox import World, WorldSize
from core.codes import AttendanceCode, MarkValue
from core.connector import Capabilities
from core.importer import import_csv
from core.model import Attendance, ClassUnit, Enrollment, Group, Lesson, Mark, Person, Subject
from core.store import RunState, Store
from core.sync import Policy, pull, push, reconcile, sync_school

SIZE = WorldSize(grades=(5,), letters=1, students_per_class=6, weeks=1)
BASE = "http://emulator.test"


@pytest.fixture
def world() -> World:
    return World.generate(31, SIZE)


@pytest.fixture
def app(world: World) -> NetSchoolEmulator:
    return create_app(world)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(f"sqlite:///{tmp_path}/sync.db")
    yield s
    s.close()


@pytest.fixture
def school(world: World) -> str:
    return next(iter(world.schools))


def connector(
    world: World, app: NetSchoolEmulator, school: str, good: bool = True
) -> NetSchoolConnector:
    target = HARNESS.target(world, BASE, school, good)
    return NetSchoolConnector(target, transport=httpx.ASGITransport(app=app), today=world.today)


async def pulled(store: Store, world: World, app: NetSchoolEmulator, school: str) -> None:
    async with connector(world, app, school) as c:
        await pull(store, c)


def a_free_slot(store: Store, school: str) -> tuple[Lesson, str, str]:
    """A lesson that has marks, and two pupils *of that lesson* (its group's members: a
    subgroup's listed members, else the class's enrolled pupils) without a mark or an absence
    there. A pupil of another subgroup or class would be refused by the platform and by the
    importer, which is not what the callers test."""
    remote = list(store.remote_records(school, "netschool"))
    marks = [m for m in remote if isinstance(m, Mark)]
    absent = {(a.lesson_id, a.student_id) for a in remote if isinstance(a, Attendance)}
    groups = {g.id: g for g in remote if isinstance(g, Group)}
    enrolled: dict[str, set[str]] = {}
    for e in remote:
        if isinstance(e, Enrollment) and e.end is None:
            enrolled.setdefault(e.class_id, set()).add(e.student_id)
    taken = {(m.lesson_id, m.student_id) for m in marks} | absent
    for le in (r for r in remote if isinstance(r, Lesson)):
        if not any(m.lesson_id == le.id for m in marks):
            continue
        g = groups[le.group_id]
        members = set(g.member_ids) if g.subgroup else enrolled.get(g.class_id, set())
        free = sorted(s for s in members if (le.id, s) not in taken)
        if len(free) >= 2:
            return le, free[0], free[1]
    raise AssertionError("no free slot in the test world")


def new_mark(school: str, lesson: Lesson, student: str, value: MarkValue = MarkValue.FIVE) -> Mark:
    return Mark(
        school=school, student_id=student, lesson_id=lesson.id, work_type="answer", value=value
    )


async def test_local_journal_is_an_overlay_unless_declared_complete(
    store: Store, world: World, app: NetSchoolEmulator, school: str
) -> None:
    await pulled(store, world, app, school)
    lesson, student, _ = a_free_slot(store, school)
    store.upsert_local(school, [new_mark(school, lesson, student)], actor="test")
    overlay = reconcile(store, school, "netschool", capabilities=NetSchoolConnector.capabilities)
    assert dict(overlay.by_kind) == {"missing_on_platform": 1}
    complete = reconcile(
        store, school, "netschool", capabilities=NetSchoolConnector.capabilities,
        local_is_complete=True,
    )  # fmt: skip
    assert complete.by_kind["missing_on_platform"] == 1
    assert complete.by_kind["extra_on_platform"] >= 1  # classmates' marks on that lesson
    assert complete.enqueued == 0, "platform-only records are never deleted automatically"


async def test_differences_only_in_fields_the_platform_cannot_carry_are_not_drift(
    store: Store, world: World, app: NetSchoolEmulator, school: str
) -> None:
    await pulled(store, world, app, school)
    mark = next(m for m in store.remote_records(school, "netschool", "mark") if isinstance(m, Mark))
    store.upsert_local(
        school, [mark.model_copy(update={"comment": "устно", "provenance": None})], actor="t"
    )
    result = reconcile(store, school, "netschool", capabilities=NetSchoolConnector.capabilities)
    assert result.drift == 0
    # Not given, the capabilities are the installed connector's: still no drift.
    assert reconcile(store, school, "netschool").drift == 0
    carries_all = Capabilities(platform="netschool", reads=frozenset())
    without_caps = reconcile(store, school, "netschool", capabilities=carries_all)
    assert dict(without_caps.by_kind) == {"mismatch": 1}


async def test_platform_edit_after_a_verified_push_is_corrected_by_a_new_push(
    store: Store, world: World, app: NetSchoolEmulator, school: str
) -> None:
    await pulled(store, world, app, school)
    lesson, student, _ = a_free_slot(store, school)
    store.upsert_local(school, [new_mark(school, lesson, student)], actor="test")
    caps = NetSchoolConnector.capabilities
    reconcile(store, school, "netschool", capabilities=caps)
    async with connector(world, app, school) as c:
        assert (await push(store, c)).verified == 1
    # Re-reconciling the same state enqueues nothing new (same key).
    await pulled(store, world, app, school)
    assert reconcile(store, school, "netschool", capabilities=caps).enqueued == 0
    # A teacher changes the mark on the platform: drift, and a new key to correct it.
    cm_id = int(store.remote_external_ids("netschool", [lesson.id])[lesson.id]["cmId"])
    pushed = next(
        a for a in world.assignments.values() if a.lesson_id == cm_id and a.work_type == "answer"
    )
    student_ext = int(store.remote_external_ids("netschool", [student])[student]["userId"])
    world.set_mark(pushed.lesson_id, student_ext, "answer", MarkValue.TWO, assignment=pushed.ext_id)
    await pulled(store, world, app, school)
    again = reconcile(store, school, "netschool", capabilities=caps)
    assert dict(again.by_kind) == {"mismatch": 1} and again.enqueued == 1
    async with connector(world, app, school) as c:
        assert (await push(store, c)).verified == 1
    assert pushed.marks[student_ext] is MarkValue.FIVE


async def test_accept_remote_policy_overwrites_the_local_record(
    store: Store, world: World, app: NetSchoolEmulator, school: str
) -> None:
    await pulled(store, world, app, school)
    remote = next(
        m for m in store.remote_records(school, "netschool", "mark") if isinstance(m, Mark)
    )
    wrong = remote.model_copy(update={"value": MarkValue.ONE, "provenance": None})
    store.upsert_local(school, [wrong], actor="test")
    result = reconcile(store, school, "netschool", policies={"mark": Policy.ACCEPT_REMOTE})
    assert result.accepted_remote == 1 and result.enqueued == 0
    (local,) = [r for r in store.local_records(school, "mark")]
    assert isinstance(local, Mark) and local.value == remote.value
    log = store.change_log(school, remote.id)
    assert [e.actor for e in log] == ["test", "reconcile"]


async def test_run_goes_through_its_states_and_a_done_key_is_not_run_twice(
    store: Store, world: World, app: NetSchoolEmulator, school: str
) -> None:
    async with connector(world, app, school) as c:
        report = await sync_school(store, c, run_key="k1")
    assert report.run.state is RunState.DONE
    states = [t.to_state for t in store.transitions(report.run.id)]
    assert states == ["planned", "pulling", "reconciling", "pushing", "verifying", "done"]
    version = world.version
    async with connector(world, app, school) as c:
        again = await sync_school(store, c, run_key="k1")
    assert again.run.id == report.run.id and again.pulled is None and world.version == version


async def test_threshold_holds_the_run(
    store: Store, world: World, app: NetSchoolEmulator, school: str
) -> None:
    await pulled(store, world, app, school)
    lesson, s1, s2 = a_free_slot(store, school)
    store.upsert_local(
        school, [new_mark(school, lesson, s1), new_mark(school, lesson, s2)], actor="t"
    )
    async with connector(world, app, school) as c:
        report = await sync_school(store, c, run_key="held", max_changes=1)
    assert report.run.state is RunState.HELD and report.pushed is None
    assert "exceed" in (store.transitions(report.run.id)[-1].note or "")


async def test_bad_credentials_fail_the_run_with_a_reason(
    store: Store, world: World, app: NetSchoolEmulator, school: str
) -> None:
    async with connector(world, app, school, good=False) as c:
        report = await sync_school(store, c, run_key="bad")
    assert report.run.state is RunState.FAILED
    assert report.run.error and "password" in report.run.error.lower()
    assert store.remote_counts(school, "netschool") == {}


async def test_csv_import_quarantines_broken_rows_and_commits_the_rest(
    store: Store, world: World, app: NetSchoolEmulator, school: str, tmp_path: Path
) -> None:
    await pulled(store, world, app, school)
    lesson, s1, s2 = a_free_slot(store, school)
    remote = {r.id: r for r in store.remote_records(school, "netschool")}
    group = remote[lesson.group_id]
    cls = remote[group.class_id]  # type: ignore[attr-defined]
    subject = remote[group.subject_id]  # type: ignore[attr-defined]
    assert isinstance(cls, ClassUnit) and isinstance(subject, Subject)

    def name(pid: str) -> str:
        p = remote[pid]
        assert isinstance(p, Person)
        return f"{p.last_name} {p.first_name} {p.middle_name}".strip()

    sub = group.subgroup or ""  # type: ignore[attr-defined]
    where = f"{cls.name},{subject.name},{sub},{lesson.date.isoformat()},{lesson.number}"
    csv_text = "\n".join(
        [
            "kind,class,subject,subgroup,date,lesson,student,work_type,value,code,topic,text",
            f"mark,{where},{name(s1)},answer,4/5,,,",
            f"attendance,{where},{name(s2)},,,Б,,",
            f"mark,{where},{name(s1)},answer,7,,,",  # row 4: not a mark
            f"mark,{where},Никто Никтович,answer,5,,,",  # row 5: no such student
            f"mark,99Я,{subject.name},{sub},{lesson.date.isoformat()},{lesson.number},x,answer,5,,,",
            f"attendance,{where},{name(s2)},,,Ж,,",  # row 7: unknown code
        ]
    )
    path = tmp_path / "journal.csv"
    path.write_text(csv_text, encoding="utf-8")
    result = import_csv(store, school, "netschool", path, actor="import:journal.csv")
    assert result.inserted == 3  # «4/5» is two marks, plus the absence
    reasons = [q.reason for q in result.quarantine]
    assert [q.field for q in result.quarantine] == ["value", "student", "class", "code"]
    assert reasons[0].startswith("row 4, field value")
    assert all("Никто" not in r for r in reasons), "no personal data in reasons"
    local = list(store.local_records(school))
    values = sorted(r.value for r in local if isinstance(r, Mark))
    assert values == [MarkValue.FOUR, MarkValue.FIVE]
    assert any(isinstance(r, Attendance) and r.code is AttendanceCode.ILL for r in local)
    assert len(store.quarantined(school, "local")) == 4


def test_a_preferred_channel_is_used_where_the_platform_offers_it(store: Store) -> None:
    from connectors.kiasuo import KiasuoConnector
    from core.connector import PushChannel

    caps = KiasuoConnector.capabilities
    mark = Mark(school="s", student_id="a", lesson_id="l", work_type="answer", value=MarkValue.FIVE)
    store.upsert_local("s", [mark], actor="t")
    reconcile(store, "s", "kiasuo", capabilities=caps)
    assert [i.channel for i in store.outbox("s", "kiasuo")] == ["worklist"]
    other = mark.model_copy(update={"student_id": "b"})
    store.upsert_local("s", [other], actor="t")
    reconcile(store, "s", "kiasuo", capabilities=caps, channel=PushChannel.PACKAGE)
    channels = {i.record_id: i.channel for i in store.outbox("s", "kiasuo")}
    assert channels == {mark.id: "worklist", other.id: "package"}


class _Killed(Exception):
    pass


class _DiesAfterThreePages(NetSchoolConnector):
    async def pull(self, cursors, mode):  # type: ignore[no-untyped-def,override]
        n = 0
        async for page in super().pull(cursors, mode):
            yield page
            n += 1
            if n == 3:
                raise _Killed


@pytest.mark.parametrize(("batch_records", "committed_pages"), [(10**9, 0), (1, 3)])
async def test_a_pull_dying_mid_batch_loses_only_that_batch(
    store: Store,
    world: World,
    app: NetSchoolEmulator,
    school: str,
    batch_records: int,
    committed_pages: int,
) -> None:
    """Pages are committed in batches: a pull that dies leaves exactly the batches it finished
    (records and cursors together), and the next pull completes the snapshot."""
    seen: list[int] = []
    target = HARNESS.target(world, BASE, school, True)
    dying = _DiesAfterThreePages(target, transport=httpx.ASGITransport(app=app), today=world.today)
    with pytest.raises(_Killed):
        async with dying:
            await pull(
                store,
                dying,
                batch_records=batch_records,
                batch_seconds=3600,
                on_page=lambda page, result: seen.append(result.pages),
            )
    assert seen == list(range(1, committed_pages + 1))
    assert bool(store.cursors(school, "netschool")) == bool(committed_pages)
    assert bool(list(store.remote_records(school, "netschool"))) == bool(committed_pages)
    await pulled(store, world, app, school)
    clean = Store.open(f"sqlite:///{store.engine.url.database}-clean")
    try:
        async with connector(world, app, school) as c:
            await pull(clean, c)
        ids = sorted((r.id, r.content_hash) for r in store.remote_records(school, "netschool"))
        assert ids == sorted(
            (r.id, r.content_hash) for r in clean.remote_records(school, "netschool")
        )
    finally:
        clean.close()
