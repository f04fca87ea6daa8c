"""The ``journalsync status`` table, readable in the terminal it is printed in.

Columns have priorities: at the console's width the table keeps the most important ones that fit
whole — a kept column is never narrower than its header or its widest short value, so nothing is
cut to "scho…" — and the long texts (held runs' reasons, errors) follow the table as wrapped
lines. Hidden columns are named under the table; ``--wide`` shows every column, ``--json``
everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table
from rich.text import Text

from scheduler import SchoolStatus

__all__ = ["StatusColumn", "render_status"]


@dataclass(frozen=True, slots=True)
class StatusColumn:
    header: str
    #: 0 is kept first; higher numbers are dropped first when the table does not fit.
    priority: int
    #: Long text that may wrap (its column may be narrower than its longest value).
    wraps: bool = False
    justify: str = "left"


COLUMNS: tuple[StatusColumn, ...] = (
    StatusColumn("school", 0),
    StatusColumn("platform", 1),
    StatusColumn("last run", 3),
    StatusColumn("state", 0),
    StatusColumn("pupils", 2, justify="right"),
    StatusColumn("pulled", 5, justify="right"),
    StatusColumn("pushed", 5, justify="right"),
    StatusColumn("drift", 2, justify="right"),
    StatusColumn("records", 7, justify="right"),
    StatusColumn("quarantined", 6, justify="right"),
    StatusColumn("stale", 6, justify="right"),
    StatusColumn("schema drift", 8, wraps=True),
    StatusColumn("next slot", 4),
    StatusColumn("holds", 2),
    StatusColumn("error", 9, wraps=True),
)

#: A wrapping column is given at least this many cells (or its longest value, if shorter).
_WRAP_MIN = 18
#: Cells a column costs besides its content: a space each side and the border on its left.
_EDGE = 3


def _cells(r: SchoolStatus) -> list[str]:
    nxt = f"{r.next_operation} {r.next_slot:%m-%d %H:%M %Z}" if r.next_slot else ""
    last = f"{r.last_operation} {r.updated_at:%m-%d %H:%M}" if r.updated_at else "never"
    fields = r.drifted_fields
    drift = ", ".join(fields[:2]) + (f" (+{len(fields) - 2} more)" if len(fields) > 2 else "")
    platform = r.platform
    if r.bindings > 1:  # a school moving between platforms: which binding, and the one in use
        platform = f"{r.platform} ({r.binding}{'' if r.in_effect else ', pull only'})"
    return [
        r.school,
        platform,
        last,
        r.state or "",
        f"{r.pupils[0]} / {r.pupils[1]}" if r.pupils is not None else "",
        str(r.pulled),
        str(r.pushed),
        str(r.drift),
        str(sum(r.records.values())),
        str(sum(r.quarantined.values())),
        str(sum(r.stale.values())),
        drift,
        nxt,
        " ".join(rid[:8] for rid, _ in r.holds),
        r.error or "",
    ]


def _widths(rows: Sequence[list[str]]) -> list[tuple[int, int]]:
    """(minimum, natural) width of each column's content."""
    out = []
    for i, col in enumerate(COLUMNS):
        longest = max([Text(row[i]).cell_len for row in rows] or [0])
        if col.wraps:
            head = max(Text(w).cell_len for w in col.header.split())
            natural = max(Text(col.header).cell_len, longest)
            out.append((max(head, min(longest, _WRAP_MIN)), natural))
        else:
            natural = max(Text(col.header).cell_len, longest)
            out.append((natural, natural))
    return out


def choose_columns(rows: Sequence[list[str]], width: int, *, wide: bool) -> list[int]:
    """The columns shown (in table order): by priority, as many as fit ``width``."""
    widths = _widths(rows)
    if wide:
        return list(range(len(COLUMNS)))
    used = 1  # the table's right border
    chosen: set[int] = set()
    for i in sorted(range(len(COLUMNS)), key=lambda i: (COLUMNS[i].priority, i)):
        need = widths[i][0] + _EDGE
        if used + need <= width or not chosen:
            chosen.add(i)
            used += need
    return sorted(chosen)


def render_status(
    console: Console, rows: Sequence[SchoolStatus], *, title: str, wide: bool = False
) -> None:
    cells = [_cells(r) for r in rows]
    shown = choose_columns(cells, console.width, wide=wide)
    widths = _widths(cells)
    out = console
    if wide:
        need = 1 + sum(widths[i][1] + _EDGE for i in shown)
        out = Console(width=max(console.width, need), file=console.file, no_color=console.no_color)
    table = Table(title=title)
    for i in shown:
        col = COLUMNS[i]
        minimum = widths[i][0]
        table.add_column(
            col.header,
            justify=col.justify,  # type: ignore[arg-type]
            min_width=minimum,
            overflow="fold",
            no_wrap=not col.wraps,
        )
    for row in cells:
        table.add_row(*(Text(row[i]) for i in shown))
    out.print(table)
    hidden = [COLUMNS[i].header for i in range(len(COLUMNS)) if i not in shown]
    if hidden:
        out.print(
            f"not shown at {console.width} columns: {', '.join(hidden)} "
            "(--wide shows every column, --json everything)",
            highlight=False,
        )
    for r in rows:
        for rid, why in r.holds:
            out.print(
                Text(f"held  {r.school} ({r.platform}) run {rid[:8]}: {why or 'held'}"),
            )
        if r.error:
            out.print(Text(f"error {r.school} ({r.platform}): {r.error}"))
