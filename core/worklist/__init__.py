"""The worklist push channel: per-teacher lists of journal entries to make by hand.

For platforms with no known write API, the outbox's ``worklist`` items become one worklist per
teacher — grouped by date → lesson (class, subject, lesson number), students by name — printed as
XLSX and PDF in Russian, with a JSON twin a program can read::

    lists = build_worklists(store, "school-1", "kiasuo")
    for wl in lists:
        write_xlsx(wl, out / f"{file_stem(wl)}.xlsx")
        write_pdf(wl, out / f"{file_stem(wl)}.pdf")
        write_private(out / f"{file_stem(wl)}.json", json.dumps(to_json(wl)))  # core.files
    issue_worklists(store, "school-1", "kiasuo", lists)  # pending → awaiting_entry

Reconcile verifies an ``awaiting_entry`` item once a pull shows the value; a value entered wrong
shows as a mismatch finding and the item stays unverified (a corrected entry is queued anew).
"""

from core.worklist._build import OPEN_STATUSES, build_worklists, issue_worklists
from core.worklist._files import write_worklists
from core.worklist._model import FORMAT, Block, Entry, Worklist, from_json, to_json
from core.worklist._render import file_stem, to_document, write_pdf, write_xlsx

__all__ = [
    "FORMAT",
    "OPEN_STATUSES",
    "Block",
    "Entry",
    "Worklist",
    "build_worklists",
    "file_stem",
    "from_json",
    "issue_worklists",
    "to_document",
    "to_json",
    "write_pdf",
    "write_worklists",
    "write_xlsx",
]
