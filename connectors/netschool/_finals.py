"""Final marks from family accounts' ``studenttotalmarks`` reports (note §4.11, §5.1).

The administrator's journal API carries no final marks; the student-side report
``studenttotalmarks`` does. When the school's config names family (student or parent) accounts
(``SchoolTarget.accounts``; the first credentials stay the administrator's), each is logged in
and its report form lists its pupils (``SID`` items). Per pupil: the class (``PCLID``, from
``v2/reports/studenttotalmarks/initfilters`` for any pupil but the form's default), then the
report is queued, run over the queue hub and downloaded as HTML (``client.run_report``).

The HTML is a table ``[№, subject, term marks…, year, exam, final]`` under a header row naming
the terms. Term columns are matched to the administrator's terms by name; the year, exam and
final columns are not read (the canonical model has no year period from ``terms/search``);
any other column holding a mark is quarantined, as is a mark of a subject or pupil missing
from the administrator's roster, or a value that is no mark. A final's id is the canonical
(pupil, subject, period) one, so a pupil shown by two accounts (a parent's and the pupil's
own) is read once, and a teacher-side source, should one appear, would meet the same records.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import httpx

from core import platform
from core.codes import CodeTable, MarkValue
from core.connector import SchoolTarget
from core.errors import ContractError, MalformedRecord, Skippable
from core.http import HttpSettings
from core.logging import get_logger
from core.model import FinalMark

from . import schema as s
from .client import NetSchoolClient
from .mapping import PLATFORM, Batch, Mapper, person_id

__all__ = ["FinalsReader", "Pupil", "parse_total_marks"]

_log = get_logger(__name__)
REPORT = "studenttotalmarks"
DEFAULT_REPORT_TIMEOUT = 60.0  # S2 waits 60 s for a report (note §7)

# Report cells as the web UI prints them (note §5.1); other text is quarantined.
_VALUES: dict[str, MarkValue] = {
    "1": MarkValue.ONE,
    "2": MarkValue.TWO,
    "3": MarkValue.THREE,
    "4": MarkValue.FOUR,
    "5": MarkValue.FIVE,
    "зач": MarkValue.PASS,
    "зачет": MarkValue.PASS,
    "зачёт": MarkValue.PASS,
    "незач": MarkValue.FAIL,
    "незачет": MarkValue.FAIL,
    "незачёт": MarkValue.FAIL,
    "осв": MarkValue.EXEMPT,
    "осв.": MarkValue.EXEMPT,
    "н/а": MarkValue.NOT_ATTESTED,
    "на": MarkValue.NOT_ATTESTED,
}
# Columns after the terms: not read (no canonical period), and not quarantined either.
_NOT_READ = ("годов", "экзам", "итог")


@dataclass(frozen=True, slots=True)
class Pupil:
    account: int  # index into the family accounts
    user_id: int
    class_value: str | None  # PCLID

    @property
    def scope(self) -> str:
        return f"finals:{self.user_id}"


class FinalsReader:
    """The family accounts of one NetSchool school and their pupils' final marks."""

    def __init__(
        self,
        target: SchoolTarget,
        *,
        transport: httpx.AsyncBaseTransport | None,
        settings: HttpSettings,
        timeout: float = DEFAULT_REPORT_TIMEOUT,
    ) -> None:
        self.clients = [
            NetSchoolClient(
                target.base_url,
                creds,
                target.platform_school,
                transport=transport,
                settings=settings,
            )
            for creds in target.accounts
        ]
        self.timeout = timeout
        self.values = CodeTable("netschool final mark", "mark", _VALUES)

    @property
    def configured(self) -> bool:
        return bool(self.clients)

    async def aclose(self) -> None:
        for c in self.clients:
            await c.aclose()

    async def _client(self, account: int) -> NetSchoolClient:
        c = self.clients[account]
        if c.at is None:
            await c.login()
        return c

    async def pupils(self) -> list[Pupil]:
        """Every pupil the accounts show, once (a parent's and a pupil's account may both)."""
        out: dict[int, Pupil] = {}
        for n in range(len(self.clients)):
            c = await self._client(n)
            form = {f.filterId: f for f in (await c.report_form(REPORT)).filterSources}
            sid = form.get("SID")
            if sid is None or not sid.items:
                _log.warning("netschool family account shows no pupil", account=n + 1)
                continue
            klass = form.get("PCLID")
            for item in sid.items:
                uid = _int(item.value, "SID")
                if uid in out:
                    continue
                value = klass.defaultValue if klass is not None else None
                if item.value != sid.defaultValue:
                    chosen = await c.report_filters(REPORT, {"SID": item.value})
                    value = next(
                        (
                            f.defaultValue
                            for f in chosen
                            if isinstance(f, s.ReportFilter) and f.filterId == "PCLID"
                        ),
                        None,
                    )
                out[uid] = Pupil(n, uid, value)
        if not out:
            _log.warning("netschool family accounts show no pupil: final marks are not read")
        return sorted(out.values(), key=lambda p: p.user_id)

    async def read(
        self,
        pupil: Pupil,
        mapper: Mapper,
        periods: dict[str, str],
        subject_ids: set[str],
        students: set[int],
    ) -> Batch:
        """One pupil's final marks (the page's records and quarantine)."""
        c = await self._client(pupil.account)
        selected = {"SID": str(pupil.user_id)}
        if pupil.class_value:
            selected["PCLID"] = pupil.class_value
        html = await c.run_report(REPORT, selected, timeout=self.timeout)
        header, rows = parse_total_marks(html)
        batch = Batch()
        ref = f"sid:{pupil.user_id}"
        if pupil.user_id not in students:
            batch.skip(
                Skippable(
                    "pupil shown by a family account is not in the administrator's roster",
                    field="SID",
                ),
                "final_mark",
                ref,
            )
            return batch
        columns = {
            i: periods.get(" ".join(name.split()))
            for i, name in enumerate(header)
            if i >= 2 and not name.strip().lower().startswith(_NOT_READ)
        }
        student_id = person_id(mapper.school, pupil.user_id)
        for row in rows:
            if len(row) < 2 or not row[1].strip():
                continue
            subject = mapper.subject(row[1].strip(), None)
            for i, period_id in columns.items():
                raw = row[i].strip() if i < len(row) else ""
                if not raw:
                    continue
                record = f"{ref}/col:{i}/row:{row[0].strip() or '?'}"
                try:
                    if period_id is None:
                        raise MalformedRecord("column names no term of the school", field="term")
                    if subject.id not in subject_ids:
                        raise MalformedRecord("subject not in the roster", field="subject")
                    value = self.values.lookup(raw.lower())
                except Skippable as exc:
                    batch.skip(exc, "final_mark", record)
                    continue
                batch.records.append(
                    FinalMark(
                        school=mapper.school,
                        student_id=student_id,
                        subject_id=subject.id,
                        period_id=period_id,
                        value=value,
                        provenance=platform.provenance(
                            PLATFORM, {"SID": pupil.user_id}, fetched_at=mapper.fetched_at
                        ),
                    )
                )
        return batch


def _int(value: str, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ContractError(f"netschool report filter {what} value is not an id") from None


class _Tables(HTMLParser):
    """Rows of cell texts (``colspan`` expanded) of the page's first table."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[tuple[bool, list[str]]] = []  # (has header cells, cells)
        self._depth = 0
        self._done = False
        self._row: list[str] | None = None
        self._th = False
        self._cell: list[str] | None = None
        self._span = 1

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._done:
            return
        if tag == "table":
            self._depth += 1
        elif self._depth == 1 and tag == "tr":
            self._row, self._th = [], False
        elif self._depth == 1 and tag in ("td", "th") and self._row is not None:
            self._cell = []
            self._th = self._th or tag == "th"
            span = dict(attrs).get("colspan") or "1"
            self._span = int(span) if span.isdigit() and 0 < int(span) < 100 else 1

    def handle_endtag(self, tag: str) -> None:
        if self._done:
            return
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            text = " ".join("".join(self._cell).split())
            self._row += [text] * self._span
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append((self._th, self._row))
            self._row = None
        elif tag == "table":
            self._depth -= 1
            self._done = self._depth == 0

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse_total_marks(html: str) -> tuple[list[str], list[list[str]]]:
    """The header (cell texts; ``[№, Предмет, terms…, …]``) and the data rows of a
    ``studenttotalmarks`` report; :class:`ContractError` when it holds no such table."""
    p = _Tables()
    try:
        p.feed(html)
        p.close()
    except (ValueError, AssertionError):
        raise ContractError("netschool studenttotalmarks report is not readable HTML") from None
    rows: list[Any] = p.rows
    head = next(
        (
            i
            for i, (th, cells) in enumerate(rows)
            if th and any("предмет" in c.lower() for c in cells)
        ),
        None,
    )
    if head is None:
        raise ContractError(
            "netschool studenttotalmarks report has no header row naming «Предмет»",
            hint="the report's layout changed; final marks were not read",
        )
    header = rows[head][1]
    data = [cells for th, cells in rows[head + 1 :] if not th]
    return header, data
