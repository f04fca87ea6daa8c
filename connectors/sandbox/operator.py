"""The sandbox "operator": enters a worklist into the shared World as a teacher would by hand.

Emulators of platforms without a write API mount :func:`operator_routes` so tests and the demo
can close the worklist loop: build a worklist, apply it here, pull again, see it verified::

    POST /_sandbox/operator/apply-worklist
    {"worklist": <core.worklist.to_json output>, "mistype": 1}

Each entry is resolved the way a teacher finds it on screen — class name, subject, date, lesson
number, the student's full name — never by canonical id, so a worklist that names things wrongly
fails here as it would in a school. ``mistype`` enters a different value for that many entries
(marks first, then attendance) so tests can show drift. The answer lists the record ids of the
mistyped and skipped entries (no personal data).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.sandbox.responses import JSONResponse
from connectors.sandbox.world import GroupInfo, LessonInfo, PersonInfo, World
from core.codes import AttendanceCode, MarkValue
from core.errors import ContractError
from core.model import normalise_class_name, normalise_subject_name
from core.worklist import Block, Entry, Worklist, from_json

__all__ = ["APPLY_PATH", "apply_worklist", "operator_routes"]

APPLY_PATH = "/_sandbox/operator/apply-worklist"

_MARK_TYPO: Mapping[str, str] = {
    "5": "4",
    "4": "5",
    "3": "4",
    "2": "3",
    "1": "2",
    "pass": "fail",
    "fail": "pass",
}
_ATTENDANCE_TYPO: Mapping[str, str] = {"absent": "excused"}


class _Skip(Exception):
    """An entry a teacher could not make (the reason never holds personal data)."""


def _norm_name(text: str) -> str:
    return " ".join(text.replace("ё", "е").replace("Ё", "Е").split()).lower()


class _Finder:
    def __init__(self, world: World, school: str) -> None:
        self.world = world
        self.school = world.schools[school]

    def group(self, block: Block) -> GroupInfo:
        try:
            grade, letter = normalise_class_name(block.class_name)
        except ValueError:
            raise _Skip("class name not recognised") from None
        w = self.world
        classes = [
            w.classes[c]
            for c in self.school.class_ids
            if (w.classes[c].grade, w.classes[c].letter.upper()) == (grade, letter)
        ]
        subject = normalise_subject_name(block.subject)
        for c in classes:
            for gid in c.group_ids:
                g = w.groups[gid]
                if g.subgroup == block.subgroup and (
                    normalise_subject_name(w.subjects[g.subject_id].name) == subject
                ):
                    return g
        raise _Skip("no such class/subject/subgroup on the platform")

    def lesson(self, block: Block) -> LessonInfo:
        group = self.group(block)
        for lid in group.lesson_ids:
            le = self.world.lessons[lid]
            if le.day == block.date and le.number == block.number:
                return le
        raise _Skip("no lesson on that date with that number")

    def student(self, group: GroupInfo, name: str | None) -> PersonInfo:
        """By full name, or as «Фамилия И. О.» where the platform shows only initials (АВЕРС):
        a teacher finds either in the class list."""
        found = [
            p for sid in group.member_ids if _same_person(name or "", p := self.world.persons[sid])
        ]
        if len(found) != 1:
            raise _Skip("student not found in the group" if not found else "student name ambiguous")
        return found[0]


def _same_person(printed: str, person: PersonInfo) -> bool:
    """The printed name is the person's: surname equal, and each given name either whole or as
    its initial («Макарова Д Н», «Макарова Д. Н.» and «Макарова Дарья Николаевна» alike)."""
    words = _norm_name(printed).replace(".", " ").split()
    names = [n for n in _norm_name(person.full_name).split() if n]
    if not words or len(words) != len(names) or words[0] != names[0]:
        return False
    return all(w in (n, n[0]) for w, n in zip(words[1:], names[1:], strict=True))


def _typo(entry: Entry) -> str | None:
    if entry.op != "upsert":
        return None
    if entry.kind == "mark":
        return _MARK_TYPO.get(entry.value, "5")
    if entry.kind == "attendance":
        return _ATTENDANCE_TYPO.get(entry.value, "absent")
    return None


def _assignment(world: World, le: LessonInfo, entry: Entry, create: bool) -> int | None:
    work_type = entry.work_type or "answer"
    same = sorted(
        (a for a in world.lesson_assignments(le) if a.work_type == work_type),
        key=lambda a: a.ext_id,
    )
    ordinal = entry.ordinal or 1
    if len(same) >= ordinal:
        return same[ordinal - 1].ext_id
    if not create:
        return None
    aid = 0
    for _ in range(ordinal - len(same)):
        aid = world.create_assignment(le.ext_id, work_type, weight=entry.weight).ext_id
    return aid


def _apply(world: World, finder: _Finder, block: Block, entry: Entry, value: str) -> None:
    if entry.kind == "final_mark":
        _apply_final(world, finder, block, entry, value)
        return
    le = finder.lesson(block)
    if entry.kind == "topic":
        world.set_topic(le.ext_id, "" if entry.op == "delete" else value)
        return
    if entry.kind == "homework":
        if (entry.ordinal or 1) != 1:
            raise _Skip("only a lesson's first homework can be entered")
        world.set_homework(le.ext_id, value, entry.due_date)
        return
    student = finder.student(world.groups[le.group_id], entry.student)
    if entry.kind == "attendance":
        code = None if entry.op == "delete" else AttendanceCode(value)
        world.set_attendance(le.ext_id, student.ext_id, code)
    elif entry.kind == "mark":
        aid = _assignment(world, le, entry, create=entry.op == "upsert")
        if entry.op == "delete":
            if aid is not None:
                world.delete_mark(aid, student.ext_id)
            return
        world.set_mark(
            le.ext_id, student.ext_id, entry.work_type or "answer", MarkValue(value), aid
        )


def _apply_final(world: World, finder: _Finder, block: Block, entry: Entry, value: str) -> None:
    # the World has no mutation method for finals; set the entry as the platform would store it
    group = finder.group(block)
    student = finder.student(group, entry.student)
    period = next((p for p in finder.school.periods if p.name == block.period), None)
    if period is None:
        raise _Skip("no such period")
    key = (student.ext_id, group.subject_id, period.ext_id)
    if entry.op == "delete":
        world.final_marks.pop(key, None)
    else:
        world.final_marks[key] = MarkValue(value)
    world.version += 1


def apply_worklist(world: World, worklist: Worklist, *, mistype: int = 0) -> dict[str, Any]:
    """Enter every entry of ``worklist``; ``mistype`` entries get a wrong value on purpose."""
    if worklist.school not in world.schools:
        raise _Skip("unknown school")
    finder = _Finder(world, worklist.school)
    pairs = [(b, e) for b in worklist.blocks for e in b.entries]
    typo_order = sorted(
        (i for i, (_, e) in enumerate(pairs) if _typo(e) is not None),
        key=lambda i: (pairs[i][1].kind != "mark", i),
    )
    typos = set(typo_order[: max(mistype, 0)])
    applied, mistyped, skipped = 0, [], []
    for i, (block, entry) in enumerate(pairs):
        value = (_typo(entry) if i in typos else None) or entry.value
        try:
            _apply(world, finder, block, entry, value)
        except _Skip as exc:
            skipped.append({"record_id": entry.record_id, "reason": str(exc)})
            continue
        except (KeyError, ValueError) as exc:
            skipped.append({"record_id": entry.record_id, "reason": type(exc).__name__})
            continue
        applied += 1
        if i in typos:
            mistyped.append(entry.record_id)
    return {
        "applied": applied,
        "mistyped": mistyped,
        "skipped": skipped,
        "version": world.version,
    }


def operator_routes(world: World) -> list[Route]:
    """Routes to mount on an emulator whose platform has no write API."""

    async def apply(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
            if not isinstance(body, dict) or "worklist" not in body:
                raise ValueError("no worklist")
            mistype = int(body.get("mistype") or 0)
            worklist = from_json(body["worklist"])
        except ContractError as exc:
            return JSONResponse({"message": exc.message}, status_code=400)
        except (ValueError, TypeError):
            return JSONResponse(
                {"message": "expected {worklist: <worklist JSON>, mistype?: int}"}, status_code=400
            )
        if worklist.school not in world.schools:
            return JSONResponse({"message": "unknown school"}, status_code=404)
        return JSONResponse(apply_worklist(world, worklist, mistype=mistype))

    return [Route(APPLY_PATH, apply, methods=["POST"])]
