"""The records and quarantine entries a connector collects for one page."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.connector import Quarantined
from core.errors import Skippable
from core.model import Record

from ._schema import Bad

__all__ = ["Batch", "PageBatch"]


@dataclass(slots=True)
class PageBatch:
    """Records and quarantine entries collected for one page.

    Every quarantine entry goes through :meth:`_add`, so a connector that sees one record
    several times (through several accounts) can override it to keep one entry per record.
    """

    records: list[Record] = field(default_factory=list)
    quarantine: list[Quarantined] = field(default_factory=list)

    def skip(self, exc: Skippable, entity: str, record: str, payload: Any = None) -> None:
        """Quarantine a record the mapping refused (the exception's own names win)."""
        self._add(
            Quarantined(
                entity=exc.entity or entity,
                record=exc.record or record,
                field=exc.field,
                reason=exc.message,
                payload=payload,
            )
        )

    def _add(self, q: Quarantined) -> None:
        self.quarantine.append(q)


@dataclass(slots=True)
class Batch(PageBatch):
    """A :class:`PageBatch` that also quarantines payload items that failed validation."""

    def bad(self, bad: Bad, entity: str, record: str) -> None:
        """Quarantine a :class:`Bad` placeholder as ``record`` of ``entity``."""
        self._add(
            Quarantined(
                entity=entity,
                record=record,
                field=bad.field,
                reason=f"malformed {bad.model}: {bad.reason}",
                payload=bad.raw,
            )
        )
