"""Populate a :class:`World` from a seed.

Every random choice comes from one ``random.Random(seed)`` and happens in a fixed order, so the
same seed and size give the same world. Nothing reads the clock: a caller may pass a date read
from one (``World.generate(..., today=)``), and the calendar follows it.

Calendar: lessons from the first school day — 1 September, or the Monday after it when it falls on
a Saturday or Sunday (the federal «Порядок организации и осуществления образовательной
деятельности по основным общеобразовательным программам»: the year begins on 1 September, on the
next working day when that is a day off; the world keeps a five-day week) — and only on the days of
the quarters: none in the holidays between them. The first quarter and the year still start on
1 September. ``WorldSize.weeks`` counts calendar weeks (Monday to Sunday) from the week of the first
school day, so in 2026 (1 September a Tuesday) the first week has four school days.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import date, timedelta
from typing import TYPE_CHECKING

from connectors.sandbox import _names as N
from connectors.sandbox._entities import (
    AssignmentInfo,
    ClassInfo,
    GroupInfo,
    LessonInfo,
    PeriodInfo,
    PersonInfo,
    SchoolInfo,
    SubjectInfo,
    TimetableSlot,
    TopicInfo,
    YearInfo,
)
from core.codes import WORK_TYPES, AttendanceCode, MarkValue

if TYPE_CHECKING:
    from connectors.sandbox._state import WorldSize
    from connectors.sandbox._state import WorldState as World

LETTERS = "АБВГДЕЖИКЛМН"
KTP_WEEKS = 34  # a Russian school year has 34 teaching weeks

# Work types of generated (non-homework) assignments and their relative frequency.
_WORK_CHOICES = ("answer", "classwork", "independent", "test", "quiz", "check", "dictation")
_WORK_WEIGHTS = (62, 8, 9, 7, 5, 5, 4)
_MARKS = (MarkValue.TWO, MarkValue.THREE, MarkValue.FOUR, MarkValue.FIVE)
_MARK_WEIGHTS = (5, 22, 40, 33)
_ATTENDANCE = (
    AttendanceCode.ABSENT,
    AttendanceCode.ILL,
    AttendanceCode.EXCUSED,
    AttendanceCode.LATE,
)
_ATTENDANCE_WEIGHTS = (60, 20, 12, 8)


def first_monday(d: date) -> date:
    return d + timedelta(days=(7 - d.weekday()) % 7)


def first_school_day(start_year: int) -> date:
    """1 September, or the Monday after it when it is a Saturday or a Sunday."""
    day = date(start_year, 9, 1)
    return day if day.weekday() < 5 else first_monday(day)


def first_week(start_year: int) -> date:
    """The Monday of the week that holds the first school day (week 1 of ``WorldSize.weeks``)."""
    day = first_school_day(start_year)
    return day - timedelta(days=day.weekday())


def calendar_for_day(size: WorldSize, today: date) -> WorldSize:
    """``size`` moved to the school year that holds ``today`` (from August on, the coming one),
    with ``weeks`` reaching through ``today``'s week (at least one, at most the year's)."""
    start_year = today.year if today.month >= 8 else today.year - 1
    first = first_week(start_year)
    monday = today - timedelta(days=today.weekday())
    last = date(start_year + 1, 5, 31)
    most = (last - timedelta(days=last.weekday()) - first).days // 7 + 1
    weeks = max(1, min(most, (monday - first).days // 7 + 1))
    return dataclasses.replace(size, start_year=start_year, weeks=weeks)


def populate(world: World, rng: random.Random, today: date | None = None) -> None:
    """Fill ``world``; ``today`` (a clock reading) becomes ``world.today``, else the Saturday of
    the last generated week."""
    size = world.size
    for n in range(1, size.schools + 1):
        _school(world, rng, n)
    last_monday = first_week(size.start_year) + timedelta(weeks=size.weeks - 1)
    world.today = today or last_monday + timedelta(days=5)
    for school in world.schools.values():
        _final_marks(world, rng, school)


def _person(
    world: World,
    rng: random.Random,
    school: str,
    role: str,
    gender: str | None = None,
    last_pair: tuple[str, str] | None = None,
    birth_year: int | None = None,
) -> PersonInfo:
    g = gender or rng.choice("mf")
    pair = last_pair or rng.choice(N.SURNAMES)
    patr = rng.choice(N.PATRONYMICS)
    first = rng.choice(N.MALE_FIRST if g == "m" else N.FEMALE_FIRST)
    birth = None
    if birth_year is not None:
        birth = date(birth_year, 1, 1) + timedelta(days=rng.randrange(365))
    p = PersonInfo(
        ext_id=world.next_id(),
        school=school,
        role=role,
        last_name=pair[0] if g == "m" else pair[1],
        first_name=first,
        middle_name=patr[0] if g == "m" else patr[1],
        gender=g,
        birth_date=birth,
    )
    p.login = f"{N.translit(p.last_name)}.{N.translit(first)[0]}{p.ext_id}"
    p.password = f"{rng.choice(N.PASSWORD_WORDS)}{rng.randrange(100, 10000)}"
    world.persons[p.ext_id] = p
    world.schools[school].person_ids.append(p.ext_id)
    return p


def _school(world: World, rng: random.Random, n: int) -> None:
    size = world.size
    y = size.start_year
    number = rng.randrange(1, 150)
    region_ix = rng.randrange(len(N.REGIONS))
    slug = f"school-{n}"
    year = YearInfo(world.next_id(), y, date(y, 9, 1), date(y + 1, 5, 31))
    quarters = (
        (date(y, 9, 1), date(y, 10, 25)),
        (date(y, 11, 5), date(y, 12, 28)),
        (date(y + 1, 1, 12), date(y + 1, 3, 22)),
        (date(y + 1, 4, 1), date(y + 1, 5, 26)),
    )
    periods = [
        PeriodInfo(world.next_id(), i, f"{i} четверть", s, e)
        for i, (s, e) in enumerate(quarters, start=1)
    ]
    school = SchoolInfo(
        ext_id=world.next_id(),
        slug=slug,
        number=number,
        name=f"МБОУ СОШ № {number} ({N.CITIES[region_ix]})",
        short_name=f"МБОУ СОШ № {number}",
        inn="22" + "".join(str(rng.randrange(10)) for _ in range(8)),
        ogrn="102" + "".join(str(rng.randrange(10)) for _ in range(10)),
        region=N.REGIONS[region_ix],
        city=N.CITIES[region_ix],
        address=f"{N.CITIES[region_ix]}, ул. Школьная, д. {rng.randrange(1, 99)}",
        year=year,
        periods=periods,
    )
    world.schools[slug] = school

    admin = _person(world, rng, slug, "admin", birth_year=None)
    admin.login = f"zavuch{n}"
    admin.password = f"Завуч-{rng.randrange(1000, 10000)}"  # Cyrillic: exercises cp1251 hashing
    school.admin_id = admin.ext_id

    subjects: dict[str, SubjectInfo] = {}
    for name, hours, _sub in N.CURRICULUM:
        if any(g in hours for g in size.grades):
            s = SubjectInfo(world.next_id(), slug, name)
            subjects[name] = s
            world.subjects[s.ext_id] = s
            school.subject_ids.append(s.ext_id)

    classes: list[ClassInfo] = []
    for grade in size.grades:
        for li in range(size.letters):
            c = ClassInfo(world.next_id(), slug, grade, LETTERS[li])
            world.classes[c.ext_id] = c
            school.class_ids.append(c.ext_id)
            classes.append(c)
            for _ in range(size.students_per_class):
                st = _person(
                    world, rng, slug, "student", birth_year=y - grade - 6 - rng.randrange(2) + 1
                )
                st.class_id = c.ext_id
                c.student_ids.append(st.ext_id)
                gu = _person(
                    world,
                    rng,
                    slug,
                    "guardian",
                    last_pair=next(p for p in N.SURNAMES if st.last_name in p),
                    birth_year=y - grade - 30 - rng.randrange(12),
                )
                gu.children.append(st.ext_id)
                st.guardian_ids.append(gu.ext_id)

    # Teacher pools: enough subject teachers for ~24 hours a week each; one primary teacher per
    # primary class.
    pools: dict[str, list[PersonInfo]] = {}
    load: dict[str, int] = {}
    for c in classes:
        for name, hours, sub_from in N.CURRICULUM:
            h = hours.get(c.grade)
            if h and not (c.grade <= 4 and name not in N.PRIMARY_SUBJECT_TEACHERS):
                factor = 2 if sub_from is not None and c.grade >= sub_from else 1
                load[name] = load.get(name, 0) + h * factor
    for name, _h, _s in N.CURRICULUM:
        if name in load:
            pools[name] = [
                _person(world, rng, slug, "teacher") for _ in range(max(1, -(-load[name] // 24)))
            ]
    for c in classes:
        if c.grade <= 4:
            c.chief_id = _person(world, rng, slug, "teacher", gender="f").ext_id
    counters: dict[str, int] = {}

    def pick(name: str) -> int:
        i = counters.get(name, 0)
        counters[name] = i + 1
        pool = pools[name]
        return pool[i % len(pool)].ext_id

    for c in classes:
        slots: list[tuple[int, ...]] = []
        for name, hours, sub_from in N.CURRICULUM:
            h = hours.get(c.grade)
            if not h:
                continue
            subj = subjects[name]
            n_sub = 2 if sub_from is not None and c.grade >= sub_from else 1
            members = list(c.student_ids)
            gids: list[int] = []
            for k in range(n_sub):
                if c.grade <= 4 and name not in N.PRIMARY_SUBJECT_TEACHERS:
                    teacher = c.chief_id or pick(name)
                else:
                    teacher = pick(name)
                half = len(members) // 2
                part = members if n_sub == 1 else (members[:half] if k == 0 else members[half:])
                grp = GroupInfo(
                    ext_id=world.next_id(),
                    school=slug,
                    class_id=c.ext_id,
                    subject_id=subj.ext_id,
                    subgroup=0 if n_sub == 1 else k + 1,
                    weekly_hours=h,
                    teacher_ids=[teacher],
                    member_ids=list(part),
                )
                grp.ktp = [
                    TopicInfo(world.next_id(), f"{rng.choice(N.TOPIC_STEMS)}. {name}: тема {i + 1}")
                    for i in range(h * KTP_WEEKS)
                ]
                world.groups[grp.ext_id] = grp
                c.group_ids.append(grp.ext_id)
                gids.append(grp.ext_id)
            slots.extend([tuple(gids)] * h)
        world.timetable[c.ext_id] = _timetable(rng, slots)

    # `weeks` counts calendar weeks from the week of the first school day; its days before that
    # day (31 August 2026) fall outside every quarter and are skipped below.
    start = first_week(y)
    opening = first_school_day(y)
    for c in classes:
        for week in range(size.weeks):
            monday = start + timedelta(weeks=week)
            for slot in world.timetable[c.ext_id]:
                day = monday + timedelta(days=slot.weekday)
                # lessons only on school days: none before the first one, none in the holidays
                if day < opening or not any(p.start <= day <= p.end for p in periods):
                    continue
                bell = N.BELLS[slot.number - 1]
                for gid in slot.group_ids:
                    grp = world.groups[gid]
                    lesson = LessonInfo(
                        ext_id=world.next_id(),
                        group_id=gid,
                        day=day,
                        number=slot.number,
                        start_time=bell[0],
                        end_time=bell[1],
                        teacher_id=grp.teacher_ids[0],
                        topic=grp.ktp[len(grp.lesson_ids) % len(grp.ktp)].name,
                    )
                    grp.lesson_ids.append(lesson.ext_id)
                    world.lessons[lesson.ext_id] = lesson
    for c in classes:
        for gid in c.group_ids:
            _fill_group(world, rng, c, world.groups[gid])


def _timetable(rng: random.Random, slots: list[tuple[int, ...]]) -> list[TimetableSlot]:
    """Deal the week's lessons over five days, then shuffle each day's order."""
    days: list[list[tuple[int, ...]]] = [[] for _ in range(5)]
    for i, s in enumerate(slots):
        days[i % 5].append(s)
    out: list[TimetableSlot] = []
    for wd, items in enumerate(days):
        rng.shuffle(items)
        out.extend(TimetableSlot(wd, k, gids) for k, gids in enumerate(items, start=1))
    return out


def _fill_group(world: World, rng: random.Random, c: ClassInfo, grp: GroupInfo) -> None:
    subject = world.subjects[grp.subject_id].name
    lessons = [world.lessons[i] for i in grp.lesson_ids]
    for li, lesson in enumerate(lessons):
        absent: set[int] = set()
        for sid in grp.member_ids:
            if rng.random() < 0.03:
                code = rng.choices(_ATTENDANCE, _ATTENDANCE_WEIGHTS)[0]
                lesson.attendance[sid] = code
                if code is not AttendanceCode.LATE:
                    absent.add(sid)
        if c.grade == 1:  # regulations: no marks and no homework in grade 1
            continue
        present = [s for s in grp.member_ids if s not in absent]
        for _ in range(1 if rng.random() < 0.6 else 2):
            wt = rng.choices(_WORK_CHOICES, _WORK_WEIGHTS)[0]
            if wt == "dictation" and subject != "Русский язык":
                wt = "answer"
            a = _new_assignment(world, lesson, wt, WORK_TYPES[wt].name, lesson.day)
            if WORK_TYPES[wt].written:
                marked = [s for s in present if rng.random() < 0.85]
            else:
                marked = rng.sample(present, min(len(present), rng.randrange(1, 5)))
            for sid in marked:
                a.marks[sid] = (
                    MarkValue.DOT if rng.random() < 0.01 else rng.choices(_MARKS, _MARK_WEIGHTS)[0]
                )
        if rng.random() < 0.5:
            nxt = lessons[li + 1].day if li + 1 < len(lessons) else lesson.day + timedelta(days=7)
            tpl = rng.choice(N.HOMEWORK_TEMPLATES)
            text = tpl.format(n=rng.randrange(1, 300), q=rng.randrange(2, 12))
            _new_assignment(world, lesson, "homework", text, nxt)


def _new_assignment(
    world: World, lesson: LessonInfo, work_type: str, name: str, due: date
) -> AssignmentInfo:
    a = AssignmentInfo(
        ext_id=world.next_id(),
        lesson_id=lesson.ext_id,
        work_type=work_type,
        name=name,
        weight=WORK_TYPES[work_type].default_weight,
        due_date=due,
    )
    world.assignments[a.ext_id] = a
    lesson.assignment_ids.append(a.ext_id)
    return a


def _final_marks(world: World, rng: random.Random, school: SchoolInfo) -> None:
    """Quarter marks = the rounded weighted mean of the quarter's marks (half up)."""
    for period in school.periods:
        if period.end >= world.today:
            continue
        for cid in school.class_ids:
            for gid in world.classes[cid].group_ids:
                grp = world.groups[gid]
                sums: dict[int, tuple[float, float]] = {}
                for lid in grp.lesson_ids:
                    lesson = world.lessons[lid]
                    if not period.start <= lesson.day <= period.end:
                        continue
                    for aid in lesson.assignment_ids:
                        a = world.assignments[aid]
                        for sid, v in a.marks.items():
                            if v in _MARKS:
                                s, w = sums.get(sid, (0.0, 0.0))
                                sums[sid] = (s + int(v) * a.weight, w + a.weight)
                for sid, (s, w) in sorted(sums.items()):
                    value = max(2, min(5, int(s / w + 0.5)))
                    world.final_marks[(sid, grp.subject_id, period.ext_id)] = MarkValue(str(value))
