"""АВЕРС JS-literal parser throughput: MB/s over large synthetic bodies, one core.

Two bodies of about 5 MB each, written with :func:`connectors.avers.jsarray.render` in the
server's layout: a whole-school timetable (small ints, ``null``, short room strings, some with
``\\n``) and a year of journal rows (``new Date(...)`` literals, Cyrillic values, escaped quotes
in comments). The figure is the best of a few runs (parsing only; the body is already in memory).
"""

from __future__ import annotations

import random
import time
from datetime import date, timedelta
from typing import Any

from connectors.avers.jsarray import parse, render

_ROOMS = ("214", "Спортзал\n", "Акт. зал", 'каб. "Б"', "101а")
_VALUES = (("5", 5), ("4", 4), ("3", 3), ("Н", 103), ("Б", 102), ("ЗАЧТ", 106))


def _timetable(target_bytes: int, rng: random.Random) -> str:
    rows: list[object] = []
    size = 0
    n = 0
    while size < target_bytes:
        n += 1
        row = [n, 600 + n % 70, n % 30, 1 + n % 2, None, 1 + n % 6, n % 8, 1 if n % 3 else None,
               rng.choice(_ROOMS), None, None]  # fmt: skip
        rows.append(row)
        size += 48
    return render(rows)


def _journal(target_bytes: int, rng: random.Random) -> str:
    rows: list[object] = []
    size = 0
    start = date(2026, 9, 1)
    while size < target_bytes:
        value, code = rng.choice(_VALUES)
        comment = rng.choice((None, None, 'Работа в "тетради"', "Устный ответ\nу доски"))
        rows.append([1_300_000 + len(rows), 4028, value, start + timedelta(days=len(rows) % 270),
                     rng.randrange(1, 30), None, code, 0, comment])  # fmt: skip
        size += 80
    return render(rows)


def _best(body: str, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        parse(body)
        best = min(best, time.perf_counter() - t0)
    return best


def run(quick: bool = False) -> dict[str, Any]:
    rng = random.Random(2026)
    target = 200_000 if quick else 5_000_000
    out: dict[str, Any] = {}
    for name, body in (("timetable", _timetable(target, rng)), ("journal", _journal(target, rng))):
        size = len(body.encode("utf-8"))
        seconds = _best(body, 2 if quick else 3)
        out[f"{name}_mb"] = round(size / 1e6, 2)
        out[f"{name}_seconds"] = round(seconds, 3)
        out[f"{name}_mb_per_s"] = round(size / 1e6 / seconds, 2)
    return out


if __name__ == "__main__":
    print(run())
