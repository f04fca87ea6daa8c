"""A migration plan's writes in the target's outbox: once by key, lessons first, and every
slot's first mark before its second (a platform numbering a lesson's assignments of one work
type cannot create slot 2 before slot 1)."""

from __future__ import annotations

from datetime import date

from core.codes import MarkValue
from core.migrate import MigrationPlan, PlanItem, item_key
from core.model import Lesson, Mark
from core.store import Store
from core.sync import plan_keys, queue_plan


def test_queue_order_and_idempotency(store: Store) -> None:
    lesson = Lesson(school="s-1", group_id="g" * 32, date=date(2026, 9, 7), number=1, topic="Дроби")
    marks = [
        Mark(school="s-1", student_id=f"{n}" * 32, lesson_id=lesson.id, work_type="answer",
             ordinal=o, value=MarkValue.FIVE)
        for n, o in ((1, 2), (2, 1), (3, 2), (4, 1))
    ]  # fmt: skip
    plan = MigrationPlan(school="s-1", source={}, target={})
    plan.items = [
        *(PlanItem("mark", "add", m.id, m, "api") for m in marks),
        PlanItem("lesson", "update", lesson.id, lesson, "api"),
        PlanItem("mark", "blocked", "x", None),  # writes nothing
    ]
    assert queue_plan(store, "p-1", plan, "netschool") == {"api": 5}
    queued = store.outbox("s-1", "netschool")
    assert [i.entity for i in queued] == ["lesson", "mark", "mark", "mark", "mark"]
    assert [getattr(i.record, "ordinal", 0) for i in queued][1:] == [1, 1, 2, 2]
    assert {i.key for i in queued} == set(plan_keys("p-1", plan))
    assert queued[0].key == item_key("p-1", lesson)
    # Run again (a resumed apply): nothing is queued twice.
    assert sum(queue_plan(store, "p-1", plan, "netschool").values()) == 0
    assert len(store.outbox("s-1", "netschool")) == 5


def test_a_slots_marks_queue_by_group_and_lesson(store: Store) -> None:
    """The plan lists marks in any order; the queue holds each group's lessons together (one
    lesson whole, then the next), so a batch of the push covers few groups."""
    lessons = [
        Lesson(school="s-1", group_id=g * 32, date=date(2026, 9, d), number=1, topic="Дроби")
        for g, d in (("b", 7), ("a", 8), ("b", 9), ("a", 10))
    ]
    marks = [
        Mark(school="s-1", student_id=f"{n}" * 32, lesson_id=le.id, work_type="answer",
             ordinal=1, value=MarkValue.FIVE)
        for n in range(1, 4)
        for le in lessons
    ]  # fmt: skip
    plan = MigrationPlan(school="s-1", source={}, target={})
    plan.items = [
        *(PlanItem("mark", "add", m.id, m, "api") for m in marks),
        *(PlanItem("lesson", "update", le.id, le, "api") for le in lessons),
    ]
    queue_plan(store, "p-1", plan, "netschool")
    queued = [i.record for i in store.outbox("s-1", "netschool") if isinstance(i.record, Mark)]
    group_of = {le.id: le.group_id for le in lessons}
    runs = [group_of[m.lesson_id] for m in queued]
    assert runs == sorted(runs)  # one group's marks, then the other's
    order = [m.lesson_id for m in queued]
    assert all(order.count(x) == 3 for x in order)
    assert [order[n] for n in range(0, 12, 3)] == list(dict.fromkeys(order))  # lessons whole
