"""Writing a school's worklists as files (XLSX, PDF and the JSON twin) and issuing them."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from core.files import private_dir, write_private
from core.store import Store
from core.worklist._build import build_worklists, issue_worklists
from core.worklist._model import to_json
from core.worklist._render import file_stem, write_pdf, write_xlsx

__all__ = ["write_worklists"]


def write_worklists(
    store: Store,
    school: str,
    platform: str,
    out: Path,
    timezone: str = "Europe/Moscow",
) -> list[Path]:
    """Build, write and issue the worklists (times in ``timezone``); returns the files written."""
    lists = [replace(wl, timezone=timezone) for wl in build_worklists(store, school, platform)]
    private_dir(out)
    written: list[Path] = []
    used: set[str] = set()
    for wl in lists:
        stem = file_stem(wl)
        n = 1
        while stem in used:  # two teachers with the same short name
            n += 1
            stem = f"{file_stem(wl)}_{n}"
        used.add(stem)
        data = json.dumps(to_json(wl), ensure_ascii=False, indent=2)
        json_path = out / f"{stem}.json"
        write_private(json_path, data + "\n")
        written += [write_xlsx(wl, out / f"{stem}.xlsx"), write_pdf(wl, out / f"{stem}.pdf")]
        written.append(json_path)
    issue_worklists(store, school, platform, lists)
    return written
