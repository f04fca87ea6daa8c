"""The canonical journal model (DESIGN.md §3).

Thirteen frozen pydantic models. Every record has

* a **natural key** (``KEY``: the fields that identify it),
* a **deterministic id** (:attr:`Record.id`, UUIDv5 over the entity name and the natural key;
  never random, so the same lesson pulled twice, or from the world and from a platform, has the
  same id),
* a **content hash** (:attr:`Record.content_hash`) over every field except ``provenance``,
* **provenance** (platform, external ids, fetched-at, the platform's created/updated-at), which
  is carried along but is not part of the content.

Records refer to each other by id (``student_id``, ``lesson_id`` …). ``PARENT`` names the field
that scopes a record for drift: a remote mark counts as *extra on the platform* only when the
school keeps local records under the same lesson.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from hashlib import blake2b
from typing import Any, ClassVar, Generic, Self, TypeVar, overload

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.codes import AttendanceCode, MarkValue, MovementKind, PeriodKind, Role

__all__ = [
    "ENTITIES",
    "AcademicYear",
    "Attachment",
    "Attendance",
    "ClassUnit",
    "Enrollment",
    "FinalMark",
    "Group",
    "Homework",
    "Lesson",
    "Mark",
    "Period",
    "Person",
    "Provenance",
    "Record",
    "School",
    "Subject",
    "normalise_class_name",
    "normalise_subject_name",
    "record_from_data",
    "record_id",
]


def record_id(entity: str, *key: object) -> str:
    """The deterministic id of a record of ``entity`` with natural key ``key``.

    A 128-bit BLAKE2b hash over the entity name and the normalised key, as 32 hex digits: the
    same key always gives the same id, on every machine and platform. (UUIDv5 would do too, but
    SHA-1 plus a UUID object per id costs a tenth of a pull's time.)
    """
    h = _ID_HASH.copy()
    h.update("|".join([entity, *map(_key_part, key)]).encode())
    return h.hexdigest()


#: The id and content hashers, set up once and copied per use: a copy costs half of a new
#: ``blake2b(…, digest_size=16)``, whose keyword parsing showed in a pull's profile.
_ID_HASH = blake2b(digest_size=16, person=b"journalsync-id")
_CONTENT_HASH = blake2b(digest_size=16)


_T = TypeVar("_T")


class _cached(Generic[_T]):
    """``functools.cached_property`` without the lock Python 3.11 takes on every first access.

    Computed once per instance and kept in the instance ``__dict__``, where later reads find it
    without calling the descriptor. A race between threads at worst computes the same
    (deterministic) value twice; the lock showed as several per cent of a pull's profile.
    """

    def __init__(self, func: Callable[[Any], _T]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Self: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> _T: ...
    def __get__(self, obj: object | None, owner: type | None = None) -> Self | _T:
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.func(obj)
        return value


def _key_part(value: object) -> str:
    if type(value) is str:  # the usual key part: ids and codes
        return value
    if isinstance(value, date | time):  # datetime is a date
        return value.isoformat()
    return str(value)


class Provenance(BaseModel):
    """Where a record came from. Not part of the content hash."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    platform: str
    external_ids: Mapping[str, str] = Field(default_factory=dict)
    fetched_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def to_json(self) -> bytes:
        """``model_dump(mode="json")`` as JSON, written by orjson straight from the fields
        (the same bytes: UTC as ``Z``, offsets and microseconds as pydantic writes them)."""
        return orjson.dumps(self.__dict__, option=orjson.OPT_UTC_Z)


class Record(BaseModel):
    """Base of every canonical record."""

    model_config = ConfigDict(frozen=True, extra="forbid", ignored_types=(_cached,))

    ENTITY: ClassVar[str]
    KEY: ClassVar[tuple[str, ...]]
    PARENT: ClassVar[str | None] = None
    _CONTENT_FIELDS: ClassVar[tuple[str, ...]] = ("school",)

    school: str
    provenance: Provenance | None = Field(default=None, repr=False)

    @_cached
    def id(self) -> str:
        values = self.__dict__
        return record_id(self.ENTITY, *[values[k] for k in self.KEY])

    @_cached
    def parent_id(self) -> str | None:
        return getattr(self, self.PARENT) if self.PARENT else None

    def data(self) -> dict[str, Any]:
        """The content as JSON-ready primitives (no provenance)."""
        return self.model_dump(mode="json", exclude={"provenance"})

    @_cached
    def content_json(self) -> bytes:
        """:meth:`data` as sorted-key JSON, byte for byte, without building the dict through
        pydantic's serializer: the field values are primitives orjson writes the same way
        (``str``/``StrEnum``, ``int``, ``float``, ``date``, ``time``, tuples, ``None``), and the
        one nested model, :class:`Attachment`, goes through :func:`_json_default`."""
        values = self.__dict__
        return orjson.dumps(
            {name: values[name] for name in self._CONTENT_FIELDS},
            default=_json_default,
            option=orjson.OPT_SORT_KEYS,
        )

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._CONTENT_FIELDS = tuple(name for name in cls.model_fields if name != "provenance")

    @_cached
    def content_hash(self) -> str:
        h = _CONTENT_HASH.copy()
        h.update(self.content_json)
        return h.hexdigest()

    def natural_key(self) -> tuple[Any, ...]:
        return tuple(getattr(self, k) for k in self.KEY)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with ``update`` applied; its id and hashes are computed afresh.

        pydantic copies the instance ``__dict__``, where the cached id and hashes live: without
        dropping them, a copy with another natural key would keep the original's id.
        """
        copy = super().model_copy(update=update, deep=deep)
        for name in _CACHED:
            copy.__dict__.pop(name, None)
        return copy


_CACHED = ("id", "parent_id", "content_json", "content_hash")


def _json_default(value: object) -> object:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class School(Record):
    ENTITY = "school"
    KEY = ("school",)

    name: str
    region: str = ""
    inn: str | None = None
    ogrn: str | None = None


class AcademicYear(Record):
    ENTITY = "academic_year"
    KEY = ("school", "start_year")

    start_year: int
    start: date
    end: date


class Period(Record):
    ENTITY = "period"
    KEY = ("year_id", "kind", "ordinal")
    PARENT = "year_id"

    year_id: str
    kind: PeriodKind
    ordinal: int
    start: date
    end: date
    name: str = ""


class Person(Record):
    """A student, teacher or guardian. ``key`` is the canonical person key (``platform:id``)."""

    ENTITY = "person"
    KEY = ("school", "key")

    key: str
    last_name: str
    first_name: str
    middle_name: str = ""
    birth_date: date | None = None
    roles: tuple[Role, ...]

    @property
    def short_name(self) -> str:
        """«Иванов И. И.»"""
        initials = "".join(f" {n[0]}." for n in (self.first_name, self.middle_name) if n)
        return f"{self.last_name}{initials}"


_CLASS_RE = re.compile(r"^\s*(\d{1,2})\s*[-\s]?\s*([A-Za-zА-Яа-яЁё]?)\s*$")
_LATIN_TO_CYRILLIC = str.maketrans("ABEKMHOPCTXY", "АВЕКМНОРСТХУ")


def normalise_class_name(name: str) -> tuple[int, str]:
    """«7а », «7 А», «07-A» → (7, «А»): trim padding, upper-case, Latin look-alikes to Cyrillic."""
    m = _CLASS_RE.match(name)
    if not m:
        raise ValueError(f"not a class name: {name!r}")
    grade = int(m.group(1))
    letter = m.group(2).upper().translate(_LATIN_TO_CYRILLIC).replace("Ё", "Е")
    return grade, letter


def normalise_subject_name(name: str) -> str:
    """Collapse spaces and use «е» for «ё»; case is kept (subject names are proper names)."""
    return " ".join(name.replace("ё", "е").replace("Ё", "Е").split())


class ClassUnit(Record):
    ENTITY = "class_unit"
    KEY = ("year_id", "grade", "letter")
    PARENT = "year_id"

    year_id: str
    grade: int = Field(ge=0, le=12)
    letter: str

    @field_validator("letter")
    @classmethod
    def _letter(cls, v: str) -> str:
        return v.strip().upper().translate(_LATIN_TO_CYRILLIC).replace("Ё", "Е")

    @property
    def name(self) -> str:
        return f"{self.grade}{self.letter}"


class Subject(Record):
    ENTITY = "subject"
    KEY = ("school", "name")

    name: str

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return normalise_subject_name(v)


class Group(Record):
    """A class × subject (× subgroup) teaching group. ``member_ids`` empty = the whole class."""

    ENTITY = "group"
    KEY = ("class_id", "subject_id", "subgroup")
    PARENT = "class_id"

    class_id: str
    subject_id: str
    subgroup: int = 0
    teacher_ids: tuple[str, ...] = ()
    member_ids: tuple[str, ...] = ()


class Enrollment(Record):
    ENTITY = "enrollment"
    KEY = ("student_id", "class_id", "begin")
    PARENT = "class_id"

    student_id: str
    class_id: str
    begin: date
    end: date | None = None
    movement: MovementKind = MovementKind.ENROLLED


class Lesson(Record):
    ENTITY = "lesson"
    KEY = ("group_id", "date", "number")
    PARENT = "group_id"

    group_id: str
    date: date
    number: int
    topic: str = ""
    teacher_id: str | None = None
    kind: str = "lesson"
    shift: int = 1
    substitute_teacher_id: str | None = None
    start_time: time | None = None
    end_time: time | None = None


class Attachment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    url: str = ""
    size: int | None = None
    hash: str | None = None


class Homework(Record):
    ENTITY = "homework"
    KEY = ("lesson_id", "ordinal")
    PARENT = "lesson_id"

    lesson_id: str
    ordinal: int = 1
    text: str
    due_date: date | None = None
    attachments: tuple[Attachment, ...] = ()
    student_ids: tuple[str, ...] = ()  # empty = the whole group


class Mark(Record):
    """One mark. «4/5» in one cell is two marks, ordinals 1 and 2, of the same work type."""

    ENTITY = "mark"
    KEY = ("student_id", "lesson_id", "work_type", "ordinal")
    PARENT = "lesson_id"

    student_id: str
    lesson_id: str
    work_type: str
    ordinal: int = 1
    value: MarkValue
    weight: float = 1.0
    comment: str = ""
    teacher_id: str | None = None


class Attendance(Record):
    ENTITY = "attendance"
    KEY = ("student_id", "lesson_id")
    PARENT = "lesson_id"

    student_id: str
    lesson_id: str
    code: AttendanceCode
    minutes_late: int | None = None
    note: str = ""


class FinalMark(Record):
    ENTITY = "final_mark"
    KEY = ("student_id", "subject_id", "period_id")
    PARENT = "period_id"

    student_id: str
    subject_id: str
    period_id: str
    value: MarkValue


ENTITIES: Mapping[str, type[Record]] = {
    cls.ENTITY: cls
    for cls in (
        School,
        AcademicYear,
        Period,
        Person,
        ClassUnit,
        Subject,
        Group,
        Enrollment,
        Lesson,
        Homework,
        Mark,
        Attendance,
        FinalMark,
    )
}


def record_from_data(
    entity: str, data: Mapping[str, Any], provenance: Mapping[str, Any] | None = None
) -> Record:
    """Rebuild a record from :meth:`Record.data` output (as stored)."""
    cls = ENTITIES[entity]
    if provenance is not None:
        return cls.model_validate({**data, "provenance": provenance})
    return cls.model_validate(data)
