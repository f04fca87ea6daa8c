"""The package as a OneRoster 1.2 CSV set (1EdTech OneRoster v1.2 CSV binding).

Mapping (canonical → OneRoster):

* School → ``orgs.csv`` (type ``school``); AcademicYear → ``academicSessions.csv`` type
  ``schoolYear`` (``schoolYear`` = the calendar year the school year ends in), its periods as
  ``gradingPeriod`` (quarter, trimester, module, year) or ``term`` (half-year, semester);
* Subject → ``courses.csv``; Group (class × subject × subgroup) → ``classes.csv`` (scheduled);
* Person (students and teachers only) → ``users.csv`` with names only (no birth date, no
  contacts: the minimum a platform needs to match a person) and ``roles.csv``;
  group membership and teaching → ``enrollments.csv``;
* work types → ``categories.csv`` (weight = the type's default weight); one ``lineItems.csv`` row
  per lesson × work type × ordinal that carries marks (``assignDate = dueDate`` = the lesson
  date); final marks get one line item per group × period (category ``final``);
* Mark / FinalMark → ``results.csv``: ``score`` for 1–5, ``textScore`` for зачёт, незачёт, осв.,
  н/а and «·» (точка); attendance, topics and homework are not OneRoster results and go to the
  per-class journal XLSX.

``sourcedId`` is our canonical id wherever a canonical record exists (school, year, period,
person, subject, group, mark, final mark), a deterministic id over the natural key otherwise
(line items, enrollments, roles) and the work-type code for categories — the same input always
gives the same ids. A migration package (scope ``journal``) is ``bulk`` (status and
dateLastModified left blank, as the binding asks of bulk files); an outbox package is ``delta``
(``active`` / ``tobedeleted``, dateLastModified = the package time).

CSV injection: when the files are written (``_write``), a value that starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return and is not a plain number gets a single quote ``'`` in
front (the OWASP convention), so a topic or a name cannot run as a formula in the spreadsheet an
operator opens the file with; the package README tells the operator. The tables built here keep
the values as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from core.codes import MARK_LABELS, WORK_TYPES, MarkValue, PeriodKind, Role, numeric_mark
from core.errors import Fatal
from core.model import (
    FinalMark,
    Group,
    Lesson,
    Mark,
    Period,
    record_id,
)
from core.package._model import Package, PackageItem

__all__ = [
    "EXTENSIONS",
    "HEADERS",
    "MANIFEST_FILES",
    "REFERENCES",
    "PackageIntegrityError",
    "csv_tables",
    "line_item_id",
    "reference_errors",
    "text_score",
]

HEADERS: Mapping[str, tuple[str, ...]] = {
    "orgs.csv": ("sourcedId", "status", "dateLastModified", "name", "type", "identifier",
                 "parentSourcedId"),
    "academicSessions.csv": ("sourcedId", "status", "dateLastModified", "title", "type",
                             "startDate", "endDate", "parentSourcedId", "schoolYear"),
    "courses.csv": ("sourcedId", "status", "dateLastModified", "schoolYearSourcedId", "title",
                    "courseCode", "grades", "orgSourcedId", "subjects", "subjectCodes"),
    "classes.csv": ("sourcedId", "status", "dateLastModified", "title", "grades",
                    "courseSourcedId", "classCode", "classType", "location", "schoolSourcedId",
                    "termSourcedIds", "subjects", "subjectCodes", "periods"),
    "users.csv": ("sourcedId", "status", "dateLastModified", "enabledUser", "username",
                  "userIds", "givenName", "familyName", "middleName", "identifier", "email",
                  "sms", "phone", "agentSourcedIds", "grades", "password",
                  "userMasterIdentifier", "preferredGivenName", "preferredMiddleName",
                  "preferredFamilyName", "primaryOrgSourcedId", "pronouns"),
    "roles.csv": ("sourcedId", "status", "dateLastModified", "userSourcedId", "roleType",
                  "role", "beginDate", "endDate", "orgSourcedId", "userProfileSourcedId"),
    "enrollments.csv": ("sourcedId", "status", "dateLastModified", "classSourcedId",
                        "schoolSourcedId", "userSourcedId", "role", "primary", "beginDate",
                        "endDate"),
    "categories.csv": ("sourcedId", "status", "dateLastModified", "title", "weight"),
    "lineItems.csv": ("sourcedId", "status", "dateLastModified", "title", "description",
                      "assignDate", "dueDate", "classSourcedId", "categorySourcedId",
                      "academicSessionSourcedId", "resultValueMin", "resultValueMax",
                      "schoolSourcedId"),
    "results.csv": ("sourcedId", "status", "dateLastModified", "lineItemSourcedId",
                    "studentSourcedId", "scoreStatus", "score", "scoreDate", "comment",
                    "textScore", "classSourcedId", "inProgress", "incomplete", "late",
                    "missing"),
}  # fmt: skip

#: Extension columns (CSV binding 1.2 §3: "metadata extension fields … must be added to the right
#: of the defined data fields … as the last set of columns"). OneRoster has no lesson number, no
#: second mark of one work on one lesson and no per-result weight; these carry them so that a
#: package read back (``journalsync import``) gives the same records. Importers that do not know
#: them ignore them, as the binding lets them.
EXTENSIONS: Mapping[str, tuple[str, ...]] = {
    "lineItems.csv": ("metadata.lessonNumber", "metadata.markOrdinal"),
    "results.csv": ("metadata.weight", "metadata.teacherSourcedId"),
}

#: Every reference between the files: (file, column, referenced file, blank allowed, a list).
#: The writer checks them before writing; the reader before reading anything into the store.
REFERENCES: tuple[tuple[str, str, str, bool, bool], ...] = (
    ("academicSessions.csv", "parentSourcedId", "academicSessions.csv", True, False),
    ("courses.csv", "schoolYearSourcedId", "academicSessions.csv", True, False),
    ("courses.csv", "orgSourcedId", "orgs.csv", False, False),
    ("classes.csv", "courseSourcedId", "courses.csv", False, False),
    ("classes.csv", "schoolSourcedId", "orgs.csv", False, False),
    ("classes.csv", "termSourcedIds", "academicSessions.csv", True, True),
    ("users.csv", "primaryOrgSourcedId", "orgs.csv", True, False),
    ("roles.csv", "userSourcedId", "users.csv", False, False),
    ("roles.csv", "orgSourcedId", "orgs.csv", False, False),
    ("enrollments.csv", "classSourcedId", "classes.csv", False, False),
    ("enrollments.csv", "userSourcedId", "users.csv", False, False),
    ("enrollments.csv", "schoolSourcedId", "orgs.csv", False, False),
    ("lineItems.csv", "classSourcedId", "classes.csv", False, False),
    ("lineItems.csv", "categorySourcedId", "categories.csv", False, False),
    ("lineItems.csv", "academicSessionSourcedId", "academicSessions.csv", True, False),
    ("lineItems.csv", "schoolSourcedId", "orgs.csv", True, False),
    ("results.csv", "lineItemSourcedId", "lineItems.csv", False, False),
    ("results.csv", "studentSourcedId", "users.csv", False, False),
    ("results.csv", "classSourcedId", "classes.csv", True, False),
    ("results.csv", "metadata.teacherSourcedId", "users.csv", True, False),
)  # fmt: skip


class PackageIntegrityError(Fatal):
    """The CSV set would refer to records it does not hold; nothing was written."""

    hint = (
        "the records the entries refer to are missing from the platform's snapshot: pull the "
        "school again, then write the package"
    )


def reference_errors(
    tables: Mapping[str, Sequence[tuple[int, Mapping[str, str]]]], limit: int = 50
) -> list[str]:
    """«enrollments.csv, row 7, column userSourcedId: no «u1» in users.csv» for every dangling
    reference and every repeated sourcedId (rows numbered as a spreadsheet shows them, the
    header being row 1); at most ``limit``."""
    errors: list[str] = []
    ids: dict[str, set[str]] = {}
    for name, rows in tables.items():
        seen: dict[str, int] = {}
        for n, row in rows:
            sid = row.get("sourcedId", "")
            if sid in seen and len(errors) < limit:
                errors.append(
                    f"{name}, row {n}, column sourcedId: {sid!r} is also the sourcedId of "
                    f"row {seen[sid]}"
                )
            seen.setdefault(sid, n)
        ids[name] = set(seen)
    for name, column, target, blank_ok, many in REFERENCES:
        if name not in tables:
            continue
        known = ids.get(target, set())
        for n, row in tables[name]:
            text = row.get(column, "")
            values = [v.strip() for v in text.split(",")] if many else [text]
            for value in values:
                if not value:
                    if not blank_ok and len(errors) < limit:
                        errors.append(f"{name}, row {n}, column {column}: empty")
                    continue
                if value not in known and len(errors) < limit:
                    where = target if target in tables else f"{target} (absent)"
                    errors.append(f"{name}, row {n}, column {column}: no {value!r} in {where}")
    return errors


#: Every ``file.*`` entry of a 1.2 manifest, in the binding's order.
MANIFEST_FILES = (
    "academicSessions", "categories", "classes", "classResources", "courses", "courseResources",
    "demographics", "enrollments", "lineItemLearningObjectiveIds", "lineItems",
    "lineItemScoreScales", "orgs", "resources", "resultLearningObjectiveIds", "results",
    "resultScoreScales", "roles", "scoreScales", "userProfiles", "userResources", "users",
)  # fmt: skip

FINAL_CATEGORY = "final"
_SESSION_TYPE: Mapping[PeriodKind, str] = {
    PeriodKind.QUARTER: "gradingPeriod",
    PeriodKind.TRIMESTER: "gradingPeriod",
    PeriodKind.MODULE: "gradingPeriod",
    PeriodKind.YEAR: "gradingPeriod",
    PeriodKind.EXAM: "gradingPeriod",
    PeriodKind.FINAL: "gradingPeriod",
    PeriodKind.HALF_YEAR: "term",
    PeriodKind.SEMESTER: "term",
}
_PERIOD_TITLE: Mapping[PeriodKind, str] = {
    PeriodKind.QUARTER: "четверть",
    PeriodKind.TRIMESTER: "триместр",
    PeriodKind.MODULE: "модуль",
    PeriodKind.HALF_YEAR: "полугодие",
    PeriodKind.SEMESTER: "семестр",
    PeriodKind.YEAR: "год",
    PeriodKind.EXAM: "экзамен",
    PeriodKind.FINAL: "итоговая",
}
#: OneRoster scoreStatus for marks that are not a graded score.
_SCORE_STATUS: Mapping[MarkValue, str] = {MarkValue.EXEMPT: "exempt"}

Row = list[str]


def period_title(p: Period) -> str:
    return p.name or f"{p.ordinal} {_PERIOD_TITLE.get(p.kind, p.kind.value)}"


def text_score(value: MarkValue) -> str:
    """The ``textScore`` of a non-numeric mark (parses back with ``split_mark_text``)."""
    return "" if numeric_mark(value) is not None else MARK_LABELS[value]


def line_item_id(lesson_id: str, work_type: str, ordinal: int) -> str:
    return record_id("oneroster.line_item", lesson_id, work_type, ordinal)


def final_line_item_id(group_id: str, period_id: str) -> str:
    return record_id("oneroster.line_item", group_id, FINAL_CATEGORY, period_id)


def _d(value: date | None) -> str:
    return value.isoformat() if value else ""


def _grade(grade: int) -> str:
    return "KG" if grade == 0 else f"{grade:02d}"


@dataclass(slots=True)
class _Ctx:
    package: Package
    delta: bool
    stamp: str

    def head(self, sourced_id: str, deleted: bool = False) -> Row:
        if not self.delta:
            return [sourced_id, "", ""]
        return [sourced_id, "tobedeleted" if deleted else "active", self.stamp]

    @property
    def org(self) -> str:
        return self.package.school_record.id

    def group_title(self, g: Group) -> tuple[str, str]:
        """(title, class code) of a group: «7А · Математика · подгруппа 1», «7А»."""
        cu = self.package.get_class(g.class_id)
        subject = self.package.subject_name(g.subject_id)
        code = cu.name if cu else "?"
        title = f"{code} · {subject}" + (f" · подгруппа {g.subgroup}" if g.subgroup else "")
        return title, code


def _orgs(c: _Ctx) -> list[Row]:
    s = c.package.school_record
    return [[*c.head(s.id), s.name, "school", s.school, ""]]


def _sessions(c: _Ctx) -> list[Row]:
    rows: list[Row] = []
    end_year = {y.id: str(y.end.year) for y in c.package.years}
    for y in c.package.years:
        rows.append([*c.head(y.id), f"{y.start_year}/{y.start_year + 1} учебный год",
                     "schoolYear", _d(y.start), _d(y.end), "", str(y.end.year)])  # fmt: skip
    for p in c.package.periods:
        rows.append([*c.head(p.id), period_title(p), _SESSION_TYPE[p.kind], _d(p.start),
                     _d(p.end), p.year_id, end_year.get(p.year_id, str(p.end.year))])  # fmt: skip
    return rows


def _year_of_class(c: _Ctx, class_id: str) -> str:
    cu = c.package.get_class(class_id)
    return cu.year_id if cu else ""


def _courses(c: _Ctx) -> list[Row]:
    rows: list[Row] = []
    for s in c.package.subjects:
        groups = [g for g in c.package.groups if g.subject_id == s.id]
        grades = sorted({cu.grade for g in groups if (cu := c.package.get_class(g.class_id))})
        years = sorted({_year_of_class(c, g.class_id) for g in groups} - {""})
        rows.append([*c.head(s.id), years[0] if len(years) == 1 else "", s.name, "",
                     ",".join(_grade(g) for g in grades), c.org, s.name, ""])  # fmt: skip
    return rows


def _classes(c: _Ctx) -> list[Row]:
    rows: list[Row] = []
    for g in c.package.groups:
        title, code = c.group_title(g)
        cu = c.package.get_class(g.class_id)
        grades = _grade(cu.grade) if cu else ""
        term = _year_of_class(c, g.class_id)
        subject = c.package.subject_name(g.subject_id)
        rows.append([*c.head(g.id), title, grades, g.subject_id, code, "scheduled", "", c.org,
                     term, subject, "", ""])  # fmt: skip
    return rows


def _student_grades(c: _Ctx) -> dict[str, str]:
    """Each student's grade: from their latest enrollment, else from their groups' class."""
    pkg = c.package
    out: dict[str, str] = {}
    for g in sorted(pkg.groups, key=lambda g: g.id):
        cu = pkg.get_class(g.class_id)
        for sid in pkg.members.get(g.id, ()):
            if cu:
                out.setdefault(sid, _grade(cu.grade))
    for e in sorted(pkg.enrollments, key=lambda e: (e.begin, e.id)):
        if cu := pkg.get_class(e.class_id):
            out[e.student_id] = _grade(cu.grade)
    return out


def _users(c: _Ctx) -> list[Row]:
    grades = _student_grades(c)
    rows: list[Row] = []
    for p in c.package.persons:
        rows.append([*c.head(p.id), "true", p.id, "", p.first_name, p.last_name, p.middle_name,
                     "", "", "", "", "", grades.get(p.id, ""), "", "", "", "", "", c.org,
                     ""])  # fmt: skip
    return rows


def _roles(c: _Ctx) -> list[Row]:
    rows: list[Row] = []
    for p in c.package.persons:
        for n, role in enumerate(r for r in p.roles if r in (Role.STUDENT, Role.TEACHER)):
            rid = record_id("oneroster.role", p.id, role.value, c.org)
            rows.append([*c.head(rid), p.id, "primary" if n == 0 else "secondary", role.value,
                         "", "", c.org, ""])  # fmt: skip
    return rows


def _enrollments(c: _Ctx) -> list[Row]:
    pkg = c.package
    people = {p.id for p in pkg.persons}
    rows: list[Row] = []
    for g in pkg.groups:
        for n, t in enumerate(g.teacher_ids):
            if t in people:
                eid = record_id("oneroster.enrollment", g.id, t, "teacher")
                rows.append([*c.head(eid), g.id, c.org, t, "teacher",
                             "true" if n == 0 else "false", "", ""])  # fmt: skip
        spans = {
            e.student_id: e
            for e in sorted(pkg.enrollments, key=lambda e: (e.begin, e.id))
            if e.class_id == g.class_id
        }
        for sid in pkg.members.get(g.id, ()):
            if sid not in people:
                continue
            e = spans.get(sid)
            eid = record_id("oneroster.enrollment", g.id, sid, "student")
            rows.append([*c.head(eid), g.id, c.org, sid, "student", "false",
                         _d(e.begin if e else None), _d(e.end if e else None)])  # fmt: skip
    return rows


def _mark_items(c: _Ctx) -> list[tuple[PackageItem, str]]:
    """(item, line item id) of every mark and final mark the package can place."""
    out: list[tuple[PackageItem, str]] = []
    for item in c.package.items:
        rec = item.record
        if isinstance(rec, Mark) and c.package.get(Lesson, rec.lesson_id):
            out.append((item, line_item_id(rec.lesson_id, rec.work_type, rec.ordinal)))
        elif isinstance(rec, FinalMark) and (g := c.package.final_group(rec)):
            out.append((item, final_line_item_id(g.id, rec.period_id)))
    return out


def _categories(c: _Ctx, marks: Sequence[tuple[PackageItem, str]]) -> list[Row]:
    used = {i.record.work_type for i, _ in marks if isinstance(i.record, Mark)}
    rows = [
        [*c.head(code), wt.name if (wt := WORK_TYPES.get(code)) else code,
         f"{wt.default_weight:g}" if wt else "1"]
        for code in sorted(used)
    ]  # fmt: skip
    if any(isinstance(i.record, FinalMark) for i, _ in marks):
        rows.append([*c.head(FINAL_CATEGORY), "Итоговая отметка", ""])
    return rows


def _line_items(c: _Ctx, marks: Sequence[tuple[PackageItem, str]]) -> list[Row]:
    pkg = c.package
    rows: dict[str, Row] = {}
    for item, li in marks:
        rec = item.record
        if li in rows:
            continue
        if isinstance(rec, Mark):
            lesson = pkg.get(Lesson, rec.lesson_id)
            assert lesson is not None  # _mark_items placed it
            group = pkg.get(Group, lesson.group_id)
            title, _ = c.group_title(group) if group else ("?", "")
            wt = WORK_TYPES.get(rec.work_type)
            name = wt.name if wt else rec.work_type
            if rec.ordinal > 1:
                name += f" ({rec.ordinal}-я отметка)"
            desc = f"{title}, {lesson.date:%d.%m.%Y}, урок {lesson.number}; вес {rec.weight:g}"
            period = pkg.period_of(lesson.date)
            session = period.id if period else _year_of_class(c, group.class_id if group else "")
            rows[li] = [*c.head(li), name, desc, _d(lesson.date), _d(lesson.date),
                        lesson.group_id, rec.work_type, session, "1", "5", c.org,
                        str(lesson.number), str(rec.ordinal)]  # fmt: skip
        elif isinstance(rec, FinalMark):
            group = pkg.final_group(rec)
            assert group is not None
            title, _ = c.group_title(group)
            p = pkg.get(Period, rec.period_id)
            pname = period_title(p) if p else "?"
            end = _d(p.end) if p else ""
            rows[li] = [*c.head(li), f"Итоговая отметка: {pname}", title, end, end, group.id,
                        FINAL_CATEGORY, rec.period_id, "1", "5", c.org, "", ""]  # fmt: skip
    return list(rows.values())


def _results(c: _Ctx, marks: Sequence[tuple[PackageItem, str]]) -> list[Row]:
    pkg = c.package
    people = {p.id for p in pkg.persons}
    rows: list[Row] = []
    for item, li in marks:
        rec = item.record
        assert isinstance(rec, Mark | FinalMark)
        teacher = rec.teacher_id if isinstance(rec, Mark) and rec.teacher_id in people else ""
        score = numeric_mark(rec.value)
        comment = ""
        if isinstance(rec, Mark):
            lesson = pkg.get(Lesson, rec.lesson_id)
            day = _d(lesson.date if lesson else None)
            group_id = lesson.group_id if lesson else ""
            comment = rec.comment
        else:
            p = pkg.get(Period, rec.period_id)
            group = pkg.final_group(rec)
            day = _d(p.end if p else None)
            group_id = group.id if group else ""
        rows.append([*c.head(rec.id, item.op == "delete"), li, rec.student_id,
                     _SCORE_STATUS.get(rec.value, "fully graded"),
                     "" if score is None else str(score), day, comment, text_score(rec.value),
                     group_id, "", "", "", "",
                     f"{rec.weight:g}" if isinstance(rec, Mark) else "",
                     teacher or ""])  # fmt: skip
    return rows


def csv_tables(package: Package) -> dict[str, list[Row]]:
    """Every CSV of the set as header + rows (rows sorted by sourcedId), manifest first."""
    c = _Ctx(
        package,
        delta=package.scope == "outbox",
        stamp=package.generated_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    )
    marks = _mark_items(c)
    bodies: dict[str, list[Row]] = {
        "orgs.csv": _orgs(c),
        "academicSessions.csv": _sessions(c),
        "courses.csv": _courses(c),
        "classes.csv": _classes(c),
        "users.csv": _users(c),
        "roles.csv": _roles(c),
        "enrollments.csv": _enrollments(c),
        "categories.csv": _categories(c, marks),
        "lineItems.csv": _line_items(c, marks),
        "results.csv": _results(c, marks),
    }
    mode = "delta" if c.delta else "bulk"
    present = {name.removesuffix(".csv") for name, rows in bodies.items() if rows}
    manifest: list[Row] = [
        ["propertyName", "value"],
        ["manifest.version", "1.0"],
        ["oneroster.version", "1.2"],
        *([f"file.{f}", mode if f in present else "absent"] for f in MANIFEST_FILES),
        ["source.systemName", "journalsync"],
        ["source.systemCode", package.platform],
    ]
    out: dict[str, list[Row]] = {"manifest.csv": manifest}
    for name, rows in bodies.items():
        if rows:
            head = [*HEADERS[name], *EXTENSIONS.get(name, ())]
            out[name] = [head, *sorted(rows, key=lambda r: r[0])]
    errors = reference_errors(
        {
            name: [(n, dict(zip(t[0], r, strict=True))) for n, r in enumerate(t[1:], start=2)]
            for name, t in out.items()
            if name != "manifest.csv"
        }
    )
    if errors:
        more = "" if len(errors) < 50 else "\n…"
        raise PackageIntegrityError(
            "the OneRoster set would not hold together:\n" + "\n".join(errors) + more
        )
    return out
