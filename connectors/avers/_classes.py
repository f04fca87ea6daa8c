"""A class as the АВЕРС roster pass sees it (its accounts, subgroups, subjects, terms, pages)
and its teaching groups, worked out from what the class's accounts show."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from core.connector import Credentials
from core.model import ClassUnit, Subject

from . import schema as s
from ._journal import ClassContext, Timetable
from ._terms import Segment
from .jsarray import JsValue
from .mapping import Batch, Mapper

__all__ = ["ClassState", "Roster", "class_groups", "groups_from_finals", "parallel_ids"]


@dataclass(slots=True)
class ClassState:
    row: s.StudentClass
    unit: ClassUnit
    accounts: list[tuple[Credentials, int]] = field(default_factory=list)  # (account, pupil)
    groups: dict[int, dict[int, int]] = field(default_factory=dict)  # pupil → subject → no
    guessed: set[int] = field(default_factory=set)  # pupils whose subgroups come from finals
    parallel: str = ""  # GET_STUDENT_PARALLEL's class ids, as the SPA passes them on
    subjects: dict[int, str] = field(default_factory=dict)  # platform subject → subject id
    term_ids: list[int] = field(default_factory=list)  # every term of the class
    ctx: ClassContext | None = None
    segments: list[Segment] = field(default_factory=list)
    final_pages: dict[int, str] = field(default_factory=dict)  # period id → page of its finals
    period_ids: dict[int, str] = field(default_factory=dict)  # period id → canonical id


@dataclass(slots=True)
class Roster:
    batch: Batch
    uch_year: int
    year_start: date
    year_end: date
    classes: dict[int, ClassState] = field(default_factory=dict)


def class_groups(
    mapper: Mapper,
    cls: ClassState,
    subjects: Mapping[int, Subject],
    timetable: Timetable,
    teachers: frozenset[int] | None,
    batch: Batch,
) -> None:
    """The class's teaching groups into ``batch`` (a split subject has subgroups 1 and 2, the
    others one group, 0), and ``cls.ctx`` for its journal pages."""
    if cls.guessed:
        # GET_STUDENT_GROUPS lists split subjects only; from the finals, a subject is split
        # where some pupil is in subgroup 2 or more.
        split_ids = {
            sj
            for pupil, g in cls.groups.items()
            for sj, no in g.items()
            if pupil not in cls.guessed or no >= 2
        }
        for pupil in cls.guessed:
            cls.groups[pupil] = {sj: no for sj, no in cls.groups[pupil].items() if sj in split_ids}
    members: dict[tuple[int, int], list[int]] = {}
    for pupil, of_pupil in cls.groups.items():
        for subject, no in of_pupil.items():
            members.setdefault((subject, no), []).append(pupil)
    split = frozenset(subj for subj, _ in members)
    groups: dict[tuple[int, int], str] = {}
    for subj_id in cls.subjects:
        subgroups = [0]
        if subj_id in split:  # both subgroups exist even when no account is in one
            subgroups = sorted({1, 2} | {no for sj, no in members if sj == subj_id})
        for no in subgroups:
            rec = mapper.group(
                cls.unit.id,
                subjects[subj_id].id,
                no,
                members.get((subj_id, no), []),
                cls=cls.row.cls,
                platform_subject=subj_id,
            )
            groups[(subj_id, no)] = rec.id
            batch.records.append(rec)
    cls.ctx = ClassContext(
        cls=cls.row.cls,
        class_id=cls.unit.id,
        split_subjects=split,
        groups=groups,
        subjects=cls.subjects,
        timetable=timetable,
        pupil_groups=cls.groups,
        teachers=teachers,
    )


def parallel_ids(answer: Sequence[JsValue]) -> str:
    """``[[1014, 1016]]`` → ``"1014,1016"``; ``[]`` (captured for students) → ``""``."""
    first = answer[0] if answer and isinstance(answer[0], list) else []
    return ",".join(str(v) for v in first if isinstance(v, int))


def groups_from_finals(finals: Sequence[s.DirectorRow | s.Bad]) -> dict[int, int]:
    """subject → subgroup, from position 0 of the pupil's period marks [guess: in both captures
    it is 2 only for the foreign language, whose diary shows two subgroups]."""
    return {
        f.subject_id: f.group_no
        for f in finals
        if isinstance(f, s.DirectorRow) and f.group_no is not None
    }
