"""``make soak``: every fault class × pull / reconcile / push on all five emulators, and SIGKILL
at random moments of real ``journalsync pull|push|import`` processes — then the table.

Loopback only; every loop bounded in count and time. The machine may be shared: the closing line
gives the CPU time of all the soak's processes besides the wall time. The fault matrix of each
platform runs in a child process (``python -m bench.soak matrix PLATFORM ROUNDS``), two at a
time; the kill points run after it, two children at a time. Exits 1 when a record was lost or
doubled, a push applied twice, or fewer than the target faults / kill points were reached.
``--quick`` runs small counts (a smoke test, not figures).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench._machine import describe

TARGET_FAULTS = 10_000
TARGET_KILLS = 200


def _matrix_child(platform: str, rounds: int) -> list[dict[str, Any]]:
    cmd = [sys.executable, "-m", "bench.soak", "matrix", platform, str(rounds)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-5:]
        raise SystemExit(f"soak matrix for {platform} failed: {tail}")
    rows: list[dict[str, Any]] = json.loads(out.stdout.strip().splitlines()[-1])
    return rows


def _matrix(platform: str, rounds: int) -> None:
    from bench.soak._matrix import run_platform
    from connectors.conformance.harness import harnesses
    from core.logging import configure_logging

    configure_logging(level="CRITICAL")
    [harness] = harnesses([platform])
    cells = run_platform(harness, rounds=rounds)
    print(json.dumps([asdict(c) for c in cells]))


def _sum(rows: list[dict[str, Any]], key: str) -> int:
    return sum(int(r[key]) for r in rows)


def main() -> int:
    if len(sys.argv) >= 4 and sys.argv[1] == "matrix":
        _matrix(sys.argv[2], int(sys.argv[3]))
        return 0
    quick = "--quick" in sys.argv
    rounds, kills, seeds = (1, 9, 2) if quick else (2, 210, 4)
    from bench.soak._kills import KIND_NAMES, run_kills
    from connectors.conformance.harness import harnesses
    from core.logging import configure_logging

    configure_logging(level="CRITICAL")
    platforms = sorted(h.platform for h in harnesses())
    print("journalsync soak: faults and crashes" + (" (quick: not figures)" if quick else ""))
    print(describe(), flush=True)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        cells = [
            c for rows in pool.map(lambda p: _matrix_child(p, rounds), platforms) for c in rows
        ]
    matrix_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="jssoak-kill-") as tmp:
        t1 = time.perf_counter()
        killed = run_kills(Path(tmp), kills=kills, seeds=seeds)
        kill_s = time.perf_counter() - t1

    print(f"\nfaults × pull / reconcile / push × {len(platforms)} emulators on loopback "
          f"({matrix_s:.0f} s)")  # fmt: skip
    print(_table(_MATRIX_HEAD, [_matrix_row(name, [c for c in cells if c["fault"] == name])
                                for name in dict.fromkeys(c["fault"] for c in cells)]
                 + [_matrix_row("total", cells)]))  # fmt: skip
    print("\n  faults injected per platform (pull / reconcile / push):")
    for platform in platforms:
        mine = [c for c in cells if c["platform"] == platform]
        per_op = [_sum([c for c in mine if c["operation"] == op], "injected") for op in _OPS]
        print(f"    {platform:<10} {' / '.join(f'{n:,}' for n in per_op)}")
    for c in cells:
        if c["same_digest"] < c["rounds"]:
            print(f"  {c['platform']} {c['operation']}, {c['fault']}: "
                  f"{c['rounds'] - c['same_digest']} of {c['rounds']} rounds differ from the "
                  f"fault-free run in: {', '.join(c['parts'])}")  # fmt: skip

    print(f"\nSIGKILL at random moments of real journalsync processes, netschool emulator, "
          f"{seeds} seeds ({kill_s:.0f} s)")  # fmt: skip
    print(_table(_KILL_HEAD, [_kill_row(killed[k]) for k in KIND_NAMES]))
    for k in KIND_NAMES:
        if killed[k].parts:
            print(f"  {k}: parts differing from the crash-free run: {', '.join(killed[k].parts)}")

    kill_points = sum(r.killed for r in killed.values())
    lost = _sum(cells, "lost") + sum(r.lost for r in killed.values())
    doubled = _sum(cells, "duplicated") + sum(r.duplicated for r in killed.values())
    twice = _sum(cells, "applied_twice") + sum(r.applied_twice for r in killed.values())
    injected = _sum(cells, "injected")
    print(f"\nfaults injected {injected:,} (target ≥ {TARGET_FAULTS:,}); kill points "
          f"{kill_points} (target ≥ {TARGET_KILLS}); records lost {lost}, duplicated {doubled}; "
          f"pushes applied twice {twice}")  # fmt: skip
    failed = lost + doubled + twice > 0
    if not quick and (injected < TARGET_FAULTS or kill_points < TARGET_KILLS):
        failed = True
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    print(f"time: wall {time.perf_counter() - t0:.0f} s, CPU {cpu:.0f} s (all processes)")
    print("SOAK FAILED" if failed else "soak passed")
    return 1 if failed else 0


_OPS = ("pull", "reconcile", "push")
_MATRIX_HEAD = ("fault class", "injected", "rounds", "failed runs", "recovered", "same digest",
                "lost", "duplicated", "differing", "pushes applied twice")  # fmt: skip
_KILL_HEAD = ("command", "trials", "kill points", "finished first", "recovered", "lost",
              "duplicated", "differing", "pushes applied twice", "write log differs")  # fmt: skip


def _matrix_row(name: str, rows: list[dict[str, Any]]) -> list[str]:
    keys = ("injected", "rounds", "failed_runs", "recovered", "same_digest", "lost",
            "duplicated", "differing", "applied_twice")  # fmt: skip
    return [name, *(f"{_sum(rows, k):,}" for k in keys)]


def _kill_row(r: Any) -> list[str]:
    keys = ("trials", "killed", "finished_first", "recovered", "lost", "duplicated",
            "differing", "applied_twice", "write_log_differs")  # fmt: skip
    return [r.kind, *(str(getattr(r, k)) for k in keys)]


def _table(head: tuple[str, ...], rows: list[list[str]]) -> str:
    widths = [max(len(x[i]) for x in [list(head), *rows]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return (
            "  | "
            + " | ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
            + " |"
        )

    sep = "  |" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(list(head)), sep, *(line(r) for r in rows)])


if __name__ == "__main__":
    raise SystemExit(main())
