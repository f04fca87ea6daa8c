"""Typed rows of АВЕРС's positional payloads (platform note §4, WIRE.md).

Every action answers an array of rows; a row is an array read by position. Each row type lists
its positions once (``_SPEC``: name, position, kind), and :func:`parse_rows` reads a payload:

* a payload that is not an array of arrays is a broken contract → :class:`ContractError`;
* a row that is too short or has a wrong type becomes a :class:`Bad` entry (the mapping
  quarantines it), its siblings are read normally;
* positions beyond the known ones are tolerated and reported once per action as schema drift.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any, ClassVar, TypeAlias, TypeVar

from core.errors import ContractError
from core.logging import get_logger

from .jsarray import JsValue, Recent

__all__ = [
    "Bad",
    "DiaryRow",
    "DirectorRow",
    "JournalRow",
    "LessonRow",
    "LoginRow",
    "PeriodDates",
    "PeriodName",
    "Row",
    "RowMemo",
    "StudentClass",
    "StudentGroup",
    "SubjectRow",
    "TeacherRow",
    "TimetableRow",
    "UserData",
    "parse_rows",
    "single_row",
]

_log = get_logger(__name__)
_reported: set[tuple[str, int]] = set()


@dataclass(frozen=True, slots=True)
class Bad:
    """A row that could not be read: which action, which field, why, and a platform ref."""

    what: str
    field: str
    reason: str
    ref: str
    raw: Any = None


R = TypeVar("R", bound="Row")


def _ref(what: str, row: list[JsValue]) -> str:
    return f"{what}:{row[0]}" if row else f"{what}:?"


class Row:
    """Base of row types: ``_SPEC`` = (field, position, kind) with kinds ``int``, ``num``,
    ``str``, ``date``, ``any``; a trailing ``?`` allows ``null``."""

    _SPEC: ClassVar[tuple[tuple[str, int, str], ...]]
    #: ``_SPEC`` with each kind split once: (field, position, kind, nullable, base kind).
    _PLAN: ClassVar[tuple[tuple[str, int, str, bool, str], ...]]
    _WIDTH: ClassVar[int]  # positions the note documents (more = drift)
    #: A reader of the usual row (exact types, no drift) written from ``_SPEC`` once per class;
    #: ``None`` for anything else, which :meth:`from_row`'s general reading then decides.
    _FAST: ClassVar[Any]

    @classmethod
    def from_row(cls: type[R], row: JsValue, what: str) -> R | Bad:
        done = cls._FAST(row)
        if done is not None:
            return done  # type: ignore[no-any-return]
        if not isinstance(row, list):
            return Bad(what, "row", "a row is not an array", f"{what}:?", row)
        # Kinds split once per class (_PLAN): this runs once per record.
        size = len(row)
        values: dict[str, Any] = {}
        for name, pos, kind, nullable, base in cls._PLAN:
            if pos >= size:
                return Bad(what, name, f"row has no position {pos}", _ref(what, row), row)
            value = row[pos]
            if value is None:
                if not nullable:
                    return Bad(what, name, f"position {pos} is not {kind}", _ref(what, row), row)
            elif base == "int":
                if not isinstance(value, int) or isinstance(value, bool):
                    return Bad(what, name, f"position {pos} is not {kind}", _ref(what, row), row)
            elif base == "str":
                if not isinstance(value, str):
                    return Bad(what, name, f"position {pos} is not {kind}", _ref(what, row), row)
            elif base == "num":
                if not isinstance(value, int | float) or isinstance(value, bool):
                    return Bad(what, name, f"position {pos} is not {kind}", _ref(what, row), row)
                try:
                    value = float(value)
                except OverflowError:  # an int literal of 400 digits (found by fuzzing)
                    why = f"position {pos} is out of range"
                    return Bad(what, name, why, _ref(what, row), row)
            elif base == "date":
                if not isinstance(value, date):
                    return Bad(what, name, f"position {pos} is not {kind}", _ref(what, row), row)
                if isinstance(value, datetime):
                    value = value.date()
            values[name] = value
        if len(row) > cls._WIDTH and (what, len(row)) not in _reported:
            _reported.add((what, len(row)))
            _log.warning("avers schema drift", action=what, width=len(row), known=cls._WIDTH)
        return cls(**values)

    def __init__(self, **_: Any) -> None:  # replaced by @dataclass on subclasses
        raise NotImplementedError


#: What :func:`parse_rows` read of a row array of an earlier answer, by the array's ``id``
#: (the array kept with it, so that the id stays its own): one memo per row type and action.
RowMemo: TypeAlias = Recent[int, tuple[JsValue, Any]]


def parse_rows(
    cls: type[R], data: JsValue, what: str, memo: RowMemo | None = None
) -> list[R | Bad]:
    """Rows of one payload; a payload that is not an array of rows is a broken contract.

    ``memo``: the rows read before, for answers whose row arrays are shared with earlier ones
    (:func:`connectors.avers.jsarray.parse`'s ``lines``): an array read before gives the same
    row object again (rows are frozen; a row's reading depends on its array alone)."""
    if not isinstance(data, list):
        raise ContractError(f"avers {what}: the answer is not an array")
    if memo is None:
        return [cls.from_row(row, what) for row in data]
    out: list[R | Bad] = []
    add, read = out.append, cls.from_row
    for row in data:
        hit = memo.get(id(row))
        if hit is not None and hit[0] is row:
            add(hit[1])
            continue
        done = read(row, what)
        memo.put(id(row), (row, done))
        add(done)
    return out


def single_row(cls: type[R], data: JsValue, what: str) -> R:
    """The one row of a bootstrap answer (login, user data, class): a bad one is fatal."""
    rows = parse_rows(cls, data, what)
    if not rows:
        raise ContractError(f"avers {what}: the answer has no row")
    row = rows[0]
    if isinstance(row, Bad):
        raise ContractError(f"avers {what}: {row.field}: {row.reason}")
    return row


#: The fast reader's test that a cell is *not* of a kind (exact types only: ``bool`` is not an
#: ``int`` here, a ``datetime`` is not a ``date``, an ``int`` weight is left to the general
#: reading, which converts it).
_NOT_KIND = {
    "int": "type({v}) is not int",
    "str": "type({v}) is not str",
    "date": "type({v}) is not date",
    "num": "type({v}) is not float",
    "any": "{v} is None",
}


def _fast_reader(cls: type[Row], spec: tuple[tuple[str, int, str], ...], width: int) -> Any:
    """``row → cls | None``: the usual row read without the general loop (one compiled test per
    position); same result as :meth:`Row.from_row` wherever it answers."""
    need = max(pos for _, pos, _ in spec) + 1
    lines = [
        "def fast(row):",
        f"    if type(row) is not list or not {need} <= len(row) <= {width}:",
        "        return None",
    ]
    names = {}
    for name, pos, kind in spec:
        v = names[name] = f"v{pos}"
        test = _NOT_KIND[kind.rstrip("?")].format(v=v)
        if kind.endswith("?"):
            test = f"{v} is not None and {test}"
        lines += [f"    {v} = row[{pos}]", f"    if {test}:", "        return None"]
    args = ", ".join(names[f.name] for f in fields(cls))  # type: ignore[arg-type]
    lines.append(f"    return cls({args})")
    scope: dict[str, Any] = {"cls": cls, "date": date}
    exec("\n".join(lines), scope)  # the code is written here from the class's own spec
    return scope["fast"]


def _spec(*spec: tuple[str, int, str], width: int) -> Any:
    def deco(cls: type[R]) -> type[R]:
        cls._SPEC = spec
        cls._PLAN = tuple((n, p, k, k.endswith("?"), k.rstrip("?")) for n, p, k in spec)
        cls._WIDTH = width
        assert {f.name for f in fields(cls)} == {s[0] for s in spec}  # type: ignore[arg-type]
        cls._FAST = staticmethod(_fast_reader(cls, spec, width))
        return cls

    return deco


@_spec(("user_id", 0, "int"), ("user_type", 1, "int"), ("name", 5, "str?"),
       ("id6", 6, "int?"), ("id7", 7, "int?"), ("id8", 8, "int?"), width=9)  # fmt: skip
@dataclass(frozen=True, slots=True)
class LoginRow(Row):
    """``POST /login``: ``[user_id, user_type, null, null, null, "ФИО", id6, id7, id8]``."""

    user_id: int
    user_type: int
    name: str | None
    id6: int | None
    id7: int | None
    id8: int | None


@_spec(("last_name", 0, "str"), ("first_initial", 1, "str?"), ("middle_initial", 2, "str?"),
       ("school_name", 3, "str"), ("uch_id", 4, "int"), ("max_mark", 5, "int?"),
       width=6)  # fmt: skip
@dataclass(frozen=True, slots=True)
class UserData(Row):
    """``get_user_data``."""

    last_name: str
    first_initial: str | None
    middle_initial: str | None
    school_name: str
    uch_id: int
    max_mark: int | None


@_spec(("cls", 0, "int"), ("parallel", 1, "int"), ("letter", 2, "str"), width=3)
@dataclass(frozen=True, slots=True)
class StudentClass(Row):
    """``GET_STUDENT_CLASS``: ``[classId, parallel, "letter␠␠␠…"]`` (letter padded)."""

    cls: int
    parallel: int
    letter: str


@_spec(("id", 0, "int"), ("name", 1, "str"), width=2)
@dataclass(frozen=True, slots=True)
class PeriodName(Row):
    """``GET_PERIODS``: the period dictionary."""

    id: int
    name: str


@_spec(("id", 0, "int"), ("start", 1, "date"), ("end", 2, "date"), width=3)
@dataclass(frozen=True, slots=True)
class PeriodDates(Row):
    """``GET_JOURNAL_PERIODS_INFO``; also the rows of ``GET_CLASS_PER_SP`` (first position)."""

    id: int
    start: date
    end: date


@_spec(("id", 0, "int"), ("name", 1, "str"), width=2)
@dataclass(frozen=True, slots=True)
class SubjectRow(Row):
    """``GET_DAIRY_CLASS_SUBJECTS``."""

    id: int
    name: str


@_spec(("ref", 0, "any"), ("subject_id", 1, "int"), ("group_no", 2, "int"), width=3)
@dataclass(frozen=True, slots=True)
class StudentGroup(Row):
    """``GET_STUDENT_GROUPS``: the student's subgroup of a split subject."""

    ref: Any
    subject_id: int
    group_no: int


@_spec(("id", 0, "int"), ("name", 1, "str"), width=2)
@dataclass(frozen=True, slots=True)
class TeacherRow(Row):
    """``GET_SUBS_PERSONS_STORE_DATA``: the teachers dictionary."""

    id: int
    name: str


@_spec(("column_id", 0, "int"), ("pupil_id", 1, "int"), ("value", 2, "str"), ("day", 3, "date"),
       ("subject_id", 4, "int"), ("code", 6, "int"), ("comment", 8, "str?"), width=9)  # fmt: skip
@dataclass(frozen=True, slots=True)
class JournalRow(Row):
    """``GET_STUDENT_JOURNAL_DATA``: one mark or attendance entry of the whole year."""

    column_id: int
    pupil_id: int
    value: str
    day: date
    subject_id: int
    code: int
    comment: str | None


@_spec(("day", 0, "date"), ("column_id", 1, "int"), ("subject_id", 2, "int"), ("theme", 3, "str?"),
       ("homework", 4, "str?"), ("mark", 5, "str?"), ("group_no", 6, "int?"),
       ("main_id", 7, "int?"), ("teacher_id", 9, "int?"), width=12)  # fmt: skip
@dataclass(frozen=True, slots=True)
class DiaryRow(Row):
    """``GET_STUDENT_DAIRY``: one journal column of a lesson (``main_id`` = the lesson's main
    column for a second column of the same lesson)."""

    day: date
    column_id: int
    subject_id: int
    theme: str | None
    homework: str | None
    mark: str | None
    group_no: int | None
    main_id: int | None
    teacher_id: int | None


@_spec(("column_id", 0, "int"), ("work_type", 1, "str?"), ("weight", 3, "num?"), width=10)
@dataclass(frozen=True, slots=True)
class LessonRow(Row):
    """``GET_STUDENT_LESSONS``: a column's type of work and weight."""

    column_id: int
    work_type: str | None
    weight: float | None


@_spec(("id", 0, "int"), ("class_key", 1, "int"), ("subject_id", 2, "int"), ("group_no", 3, "int?"),
       ("weekday", 5, "int"), ("lesson_no", 6, "int"), ("shift", 7, "int?"), ("room", 8, "str?"),
       width=11)  # fmt: skip
@dataclass(frozen=True, slots=True)
class TimetableRow(Row):
    """``GET_TIMETABLE``: one slot of the whole school's week."""

    id: int
    class_key: int
    subject_id: int
    group_no: int | None
    weekday: int
    lesson_no: int
    shift: int | None
    room: str | None


@_spec(("group_no", 0, "int?"), ("period_id", 1, "int"), ("pupil_id", 2, "int"),
       ("value", 3, "str"), ("subject_id", 4, "int"), ("cls", 5, "int?"), width=6)  # fmt: skip
@dataclass(frozen=True, slots=True)
class DirectorRow(Row):
    """``GET_STUDENT_DIRECTOR_DATA``: a period (final) mark, value right-padded."""

    group_no: int | None
    period_id: int
    pupil_id: int
    value: str
    subject_id: int
    cls: int | None
