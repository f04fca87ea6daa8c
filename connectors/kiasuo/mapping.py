"""КИАСУО payloads → canonical records; code tables for marks, absences, kinds of work, terms.

Conventions (WIRE.md):

* ``mark.value`` is a string: «5», «4/5» (a double mark: two marks, ordinals 1 and 2 of the same
  kind of work), «Н»/«У»/«Б» (an absence, not a mark), «.» (a debt «точка»; a guess).
* a slot's ``text`` names the kind of work; an unknown one becomes work type ``other`` with the
  text kept as the mark's comment (nothing is dropped), and is reported once.
* a lesson's teacher comes as a short name («Иванов И. И.») and is resolved against the staff the
  child's ``/api/recipients`` lists.

A record that cannot be mapped raises :class:`core.errors.Skippable`; the caller quarantines it
with a platform reference (never a name) and goes on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time

from core import platform
from core.codes import WORK_TYPES, AttendanceCode, CodeTable, PeriodKind, Role, split_mark_text
from core.errors import MalformedRecord, UnknownCode
from core.logging import get_logger
from core.model import (
    AcademicYear,
    Attachment,
    Attendance,
    ClassUnit,
    Enrollment,
    FinalMark,
    Group,
    Homework,
    Lesson,
    Mark,
    Period,
    Person,
    Provenance,
    Record,
    School,
    Subject,
    normalise_class_name,
    normalise_subject_name,
)

from . import schema as s

__all__ = [
    "ABSENCES",
    "NO_HOMEWORK",
    "NO_TOPIC",
    "PLATFORM",
    "WORK_LABELS",
    "Batch",
    "Mapper",
    "StaffEntry",
    "distinct_slots",
    "parse_staff_name",
    "period_kind",
]

PLATFORM = "kiasuo"
NO_TOPIC = "не указана"  # the lesson-topic placeholder (note §5)
NO_HOMEWORK = "Без задания"  # the homework placeholder (note §5)
_log = get_logger(__name__)

ABSENCES: CodeTable[str, AttendanceCode] = CodeTable(
    "absence code",
    "mark.value",
    {"Н": AttendanceCode.ABSENT, "У": AttendanceCode.EXCUSED, "Б": AttendanceCode.ILL},
)


def _label(text: str) -> str:
    return " ".join(text.replace("ё", "е").replace("Ё", "Е").casefold().split())


#: Kind-of-work label (slot ``text``) → canonical work type. The canonical names, plus labels
#: public clients show (K1 «Работа у доски»).
WORK_LABELS: CodeTable[str, str] = CodeTable(
    "kind of work",
    "text",
    {
        **{_label(w.name): code for code, w in WORK_TYPES.items()},
        _label("Работа у доски"): "answer",
        _label("Ответ у доски"): "answer",
        _label("Устный ответ"): "answer",
        _label("Контрольная"): "test",
        _label("Самостоятельная"): "independent",
        _label("Домашняя работа"): "homework",
    },
)

_PERIOD = re.compile(
    r"^\s*(\d+)\s*[-‑]?\s*(?:я\s+)?(четверть|полугодие|триместр|семестр)\s*$", re.I
)
_PERIOD_KINDS = {
    "четверть": PeriodKind.QUARTER,
    "полугодие": PeriodKind.HALF_YEAR,
    "триместр": PeriodKind.TRIMESTER,
    "семестр": PeriodKind.SEMESTER,
}
_YEAR_WORDS = {"год", "учебный год", "годовая"}


def period_kind(text: str) -> tuple[PeriodKind, int]:
    """«1 четверть» → (quarter, 1); «2 полугодие» → (half_year, 2); «Год» → (year, 1)."""
    m = _PERIOD.match(text)
    if m:
        return _PERIOD_KINDS[m.group(2).lower()], int(m.group(1))
    if text.strip().lower() in _YEAR_WORDS:
        return PeriodKind.YEAR, 1
    raise UnknownCode(f"unknown study period name {text!r}", field="text")


@dataclass(frozen=True, slots=True)
class StaffEntry:
    """One staff line of ``/api/recipients``: «Фамилия Имя Отчество (Предмет1, Предмет2)»."""

    user_id: int
    last_name: str
    first_name: str
    middle_name: str
    subjects: frozenset[str]

    @property
    def short_name(self) -> str:
        initials = "".join(f" {n[0]}." for n in (self.first_name, self.middle_name) if n)
        return f"{self.last_name}{initials}"


def _split_name(full: str) -> tuple[str, str, str]:
    parts = full.split()
    last = parts[0] if parts else ""
    first = parts[1] if len(parts) > 1 else ""
    return last, first, " ".join(parts[2:])


def parse_staff_name(display: str, user_id: int) -> StaffEntry:
    """Names carry no brackets, subjects may («Труд (технология)»): split at the first «(»."""
    name, bracket, rest = display.partition("(")
    subjects = rest.strip()
    if bracket and subjects.endswith(")"):
        subjects = subjects[:-1]
    last, first, middle = _split_name(name)
    return StaffEntry(
        user_id=user_id,
        last_name=last,
        first_name=first,
        middle_name=middle,
        subjects=frozenset(
            normalise_subject_name(x) for x in _split_subjects(subjects) if x.strip()
        ),
    )


def _split_subjects(text: str) -> list[str]:
    """Split at commas outside brackets."""
    out, depth, current = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            out.append(current)
            current = ""
            continue
        depth += (ch == "(") - (ch == ")")
        current += ch
    return [*out, current]


def short_key(name: str) -> str:
    """«Иванов И. И.» and «Иванов И.И.» compare equal."""
    return "".join(name.replace("ё", "е").replace("Ё", "Е").split()).casefold()


Batch = platform.Batch


def _time(text: str | None) -> time | None:
    if not text:
        return None
    try:
        return time.fromisoformat(text.strip())
    except ValueError:
        return None


class Mapper:
    """Builds canonical records of one school; ``fetched_at`` is stamped on provenance."""

    def __init__(self, school: str, origin: str) -> None:
        self.school = school
        self.origin = origin.rstrip("/")
        self.fetched_at: datetime | None = None

    def prov(self, updated_at: datetime | None = None, **ids: object) -> Provenance:
        return platform.provenance(PLATFORM, ids, fetched_at=self.fetched_at, updated_at=updated_at)

    # --- roster ----------------------------------------------------------------------------------

    def school_record(self, name: str) -> School:
        return School(school=self.school, name=name, provenance=self.prov())

    def year(self, start_year: int, start: date, end: date) -> AcademicYear:
        return AcademicYear(
            school=self.school, start_year=start_year, start=start, end=end, provenance=self.prov()
        )

    def period(self, year_id: str, sp: s.StudyPeriod) -> Period:
        kind, ordinal = period_kind(sp.text)
        return Period(
            school=self.school,
            year_id=year_id,
            kind=kind,
            ordinal=ordinal,
            start=sp.start,
            end=sp.end,
            name=sp.text,
            provenance=self.prov(id=sp.id),
        )

    def class_unit(self, year_id: str, name: str, platform_id: str | None) -> ClassUnit:
        try:
            grade, letter = normalise_class_name(name)
        except ValueError:
            raise MalformedRecord("not a class name", field="school_class") from None
        return ClassUnit(
            school=self.school,
            year_id=year_id,
            grade=grade,
            letter=letter,
            provenance=self.prov(id=platform_id),
        )

    def student(self, child: s.Child) -> Person:
        return Person(
            school=self.school,
            key=platform.person_key(PLATFORM, child.id),
            last_name=child.last_name.strip(),
            first_name=child.first_name.strip(),
            middle_name=(child.middle_name or "").strip(),
            roles=(Role.STUDENT,),
            provenance=self.prov(id=child.id),
        )

    def classmate(self, display: str, user_id: int) -> Person:
        """A classmate known only from recipients («Фамилия Имя»: no patronymic shown)."""
        last, first, middle = _split_name(display)
        return Person(
            school=self.school,
            key=platform.person_key(PLATFORM, user_id),
            last_name=last,
            first_name=first,
            middle_name=middle,
            roles=(Role.STUDENT,),
            provenance=self.prov(id=user_id),
        )

    def staff(self, entry: StaffEntry) -> Person:
        return Person(
            school=self.school,
            key=platform.person_key(PLATFORM, entry.user_id),
            last_name=entry.last_name,
            first_name=entry.first_name,
            middle_name=entry.middle_name,
            roles=(Role.TEACHER,),
            provenance=self.prov(id=entry.user_id),
        )

    def person_id(self, user_id: int) -> str:
        return platform.person_id(PLATFORM, self.school, user_id)

    def enrollment(self, student_id: str, class_id: str, begin: date, child: int) -> Enrollment:
        return Enrollment(
            school=self.school,
            student_id=student_id,
            class_id=class_id,
            begin=begin,
            provenance=self.prov(id=child),
        )

    def subject(self, name: str) -> Subject:
        return Subject(school=self.school, name=name, provenance=self.prov())

    def group(
        self,
        class_id: str,
        subject_id: str,
        subgroup: int,
        teacher_ids: Iterable[str],
        member_ids: Iterable[str],
        platform_id: str | None,
    ) -> Group:
        return Group(
            school=self.school,
            class_id=class_id,
            subject_id=subject_id,
            subgroup=subgroup,
            teacher_ids=tuple(teacher_ids),
            member_ids=tuple(member_ids),
            provenance=self.prov(id=platform_id),
        )

    # --- journal ---------------------------------------------------------------------------------

    def lesson(self, le: s.ScheduleLesson, group_id: str, teacher_id: str | None) -> Lesson:
        topic = (le.theme or "").strip()
        if topic.casefold() == NO_TOPIC:
            topic = ""
        return Lesson(
            school=self.school,
            group_id=group_id,
            date=le.lesson_date,
            number=le.lesson_number,
            topic=topic,
            teacher_id=teacher_id,
            start_time=_time(le.start),
            end_time=_time(le.end),
            provenance=self.prov(id=le.lesson_event_id),
        )

    def homework(self, item: s.HomeworkItem, lesson_id: str) -> Homework | None:
        """None for the «Без задания» placeholder (no homework)."""
        text = item.text.strip()
        if not text or text.casefold() == NO_HOMEWORK.casefold():
            return None
        attachments = tuple(
            Attachment(name=f.title or f.url.rsplit("/", 1)[-1], url=self._absolute(f.url))
            for f in [*item.files, *item.links]
            if isinstance(f, s.HomeworkFile) and f.url
        )
        return Homework(
            school=self.school,
            lesson_id=lesson_id,
            ordinal=1,
            text=text,
            due_date=item.check_at,
            attachments=attachments,
            provenance=self.prov(id=item.id),
        )

    def _absolute(self, url: str) -> str:
        # File URLs are relative to the API host (note §4.4); links are absolute already.
        return url if "://" in url else f"{self.origin}/{url.lstrip('/')}"

    def slot_records(
        self,
        slot: s.Slot,
        *,
        student: int,
        lesson: Lesson,
        event_id: int,
        ordinals: dict[tuple[int, str], int],
    ) -> list[Record]:
        """A slot's marks (a double «4/5» is two) or its absence; ``[]`` for an empty cell.

        ``ordinals`` counts marks per (student, work type) within the lesson.
        """
        value = slot.mark.value if slot.mark is not None else None
        if value is None or not value.strip():
            return []
        value = value.strip()
        student_id = self.person_id(student)
        prov = self.prov(slot.updated_at, lesson_event=event_id, student=student)
        if value in ABSENCES:
            return [
                Attendance(
                    school=self.school,
                    student_id=student_id,
                    lesson_id=lesson.id,
                    code=ABSENCES.lookup(value),
                    provenance=prov,
                )
            ]
        try:
            values = split_mark_text(value)
        except UnknownCode as exc:
            raise UnknownCode(exc.message, entity="mark", field="mark.value") from None
        label = (slot.text or "").strip()
        work_type, comment = self.work_type(label)
        out: list[Record] = []
        for v in values:
            n = ordinals[(student, work_type)] = ordinals.get((student, work_type), 0) + 1
            out.append(
                Mark(
                    school=self.school,
                    student_id=student_id,
                    lesson_id=lesson.id,
                    work_type=work_type,
                    ordinal=n,
                    value=v,
                    weight=WORK_TYPES[work_type].default_weight,
                    comment=comment,
                    teacher_id=lesson.teacher_id,
                    provenance=prov,
                )
            )
        return out

    def work_type(self, label: str) -> tuple[str, str]:
        """(work type, comment): an unknown label keeps its text as the comment."""
        if not label:
            return "other", ""
        key = _label(label)
        if key in WORK_LABELS:
            return WORK_LABELS.lookup(key), ""
        if key not in WORK_LABELS.seen_unknown:
            WORK_LABELS.seen_unknown.add(key)
            _log.warning("kiasuo: unknown kind of work; mapped to 'other'", label_chars=len(key))
        return "other", label

    def final_mark(
        self, student: int, subject_id: str, period_id: str, value: str, ref: str
    ) -> FinalMark:
        values = split_mark_text(value)
        if len(values) != 1:
            raise UnknownCode(
                f"a period mark with {len(values)} values", entity="final_mark", field="marks"
            )
        return FinalMark(
            school=self.school,
            student_id=self.person_id(student),
            subject_id=subject_id,
            period_id=period_id,
            value=values[0],
            provenance=self.prov(student=student, mark_type=ref),
        )


def distinct_slots(slots: Iterable[s.Slot | s.Bad]) -> Iterator[s.Slot | s.Bad]:
    """A lesson's slots for one child, a slot listed twice read once.

    Slots carry no id. A second slot equal to an earlier one in every field read — date, value,
    kind of work, ``updated_at`` — is taken as the same slot listed twice (a server's paging or
    join glitch), not as a second mark: it would take ordinal 2 and add a mark that is not
    there [guess: the evidence shows one slot per kind of work per lesson, a double mark being
    one «4/5» slot, so two equal slots are not seen on a real journal]. Unreadable slots pass.
    """
    seen: set[tuple[object, ...]] = set()
    for slot in slots:
        if isinstance(slot, s.Slot):
            key = (
                slot.lesson_date,
                slot.mark.value if slot.mark is not None else None,
                slot.text,
                slot.updated_at,
            )
            if key in seen:
                continue
            seen.add(key)
        yield slot
