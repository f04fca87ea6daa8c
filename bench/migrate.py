"""A 1,000-student school moved АВЕРС → NetSchool through the api channel (issue 15), timed.

Both emulators run in their own processes on loopback TCP ports (:mod:`bench.emulator`) and
answer every request after ``latency`` seconds (30 ms: a regional server): АВЕРС with the
school's journal, NetSchool with the same school (same seed) and an empty journal, as
``journalsync sandbox serve --journal empty`` serves it. A config names the school's two
bindings; then the real CLI runs each step in a child process, as an operator would:
``migrate plan`` (both pulls, matching, the plan's files), the operator's decisions on the review
file when the plan leaves pupils to them (АВЕРС shows «Фамилия И. О.»; untimed, see
:func:`decide_as_operator`) and ``plan --no-pull --review`` again, ``approve``,
``apply`` and ``verify``. Each step's wall time is printed; the whole migration is their sum.

The certificate's ``complete`` and unexplained count, and the NetSchool emulator's write log
(written when it stops) checked for any write seen twice, come with the figures.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from bench._util import serve_emulator, stop
from bench.pull import SEED, size_of
from connectors.avers import PLATFORM as _AVERS
from connectors.netschool import PLATFORM as _NETSCHOOL
from connectors.perm import PLATFORM as _PERM
from connectors.sandbox import World
from tests.support.migrate_config import write_migration_config

__all__ = ["HAND_ENTRY_PAIR", "LATENCY", "SOURCE", "TARGET", "decide_as_operator", "run"]

#: The moves issue 15 asks to be timed: АВЕРС (family accounts) → NetSchool (a write API), and
#: NetSchool → ЭПОС (hand entry). A benchmark of given platforms imports their packages (nothing
#: outside a platform's package names it).
SOURCE, TARGET = _AVERS.name, _NETSCHOOL.name
HAND_ENTRY_PAIR = f"{_NETSCHOOL.name}:{_PERM.name}"
#: Seconds each emulator waits before answering (a regional server 30 ms away).
LATENCY = 0.03


def _cli(*args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "journalsync", "migrate", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "JOURNALSYNC_LOCK_WAIT": "30"},
    )
    seconds = time.perf_counter() - t0
    print(f"  migrate {args[0]}: {seconds:.1f} s", file=sys.stderr, flush=True)
    return seconds, out


def _killed(step: str, after: float, *args: str) -> float:
    """``migrate STEP`` SIGKILLed ``after`` seconds in (a crash mid-apply); its wall seconds."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "journalsync", "migrate", step, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "JOURNALSYNC_LOCK_WAIT": "30"},
    )
    try:
        proc.wait(after)
        raise SystemExit(f"migrate {step} finished before it was killed ({after} s)")
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    seconds = time.perf_counter() - t0
    print(f"  migrate {step}: killed after {seconds:.1f} s", file=sys.stderr, flush=True)
    return seconds


def _ok(step: str, out: subprocess.CompletedProcess[str], codes: tuple[int, ...] = (0,)) -> None:
    if out.returncode not in codes:
        tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
        raise SystemExit(f"migrate {step} exited {out.returncode}: {' | '.join(tail)}")


def _plan_id(out: subprocess.CompletedProcess[str]) -> str:
    words = out.stdout.split()
    return words[words.index("plan") + 1]


def _beyond_plan(log: list[list[Any]], plan_file: Path, store: Path, target: str) -> int:
    """Write-log entries beyond what the plan writes: the same (kind, lesson, pupil, work type,
    value) more often in the log than in the plan (two marks of one type and value on a lesson
    are two writes of the plan; a third would be one too many)."""
    plan = json.loads(plan_file.read_text(encoding="utf-8"))
    con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        ids = {
            rid: json.loads(prov).get("external_ids", {})
            for rid, prov in con.execute(
                "SELECT id, provenance FROM remote_records WHERE platform = ? "
                "AND entity IN ('lesson', 'person') AND provenance IS NOT NULL",
                (target,),
            )
        }
    finally:
        con.close()
    planned: Counter[tuple[str, ...]] = Counter()
    for item in plan["items"]:
        record = item["record"]
        if item["op"] != "add" or item["entity"] not in ("mark", "attendance") or not record:
            continue
        lesson = ids.get(record["lesson_id"], {}).get("cmId", "?")
        pupil = ids.get(record["student_id"], {}).get("userId", "?")
        kind, what = (
            ("mark", record["work_type"]) if item["entity"] == "mark" else ("attendance", "")
        )
        value = record["value"] if kind == "mark" else record["code"]
        planned[(kind, str(lesson), str(pupil), what, str(value))] += 1
    seen = Counter(tuple(str(v) for v in entry) for entry in log)
    return sum(max(0, n - planned[key]) for key, n in seen.items())


def _requests(port: int) -> int:
    """Requests the emulator on ``port`` has served (:mod:`bench.emulator`)."""
    return int(httpx.get(f"http://127.0.0.1:{port}/_bench/requests", timeout=30).text)


def decide_as_operator(
    review: Path, store: Path, source: str = SOURCE, target: str = TARGET
) -> int:
    """What the operator does with the review file: for each pupil, the candidate who is that
    pupil. The operator knows the school's pupils; the bench knows that the sandbox gives a
    pupil the same number on every platform (the source record's platform id is the right
    candidate's). Returns how many rows were decided; the rest stay undecided."""
    con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        number = {
            (platform, rid): next(iter(json.loads(prov or "{}").get("external_ids", {}).values()))
            for platform, rid, prov in con.execute(
                "SELECT platform, id, provenance FROM remote_records WHERE entity = 'person' "
                "AND platform IN (?, ?) AND provenance IS NOT NULL",
                (source, target),
            )
        }
    finally:
        con.close()
    with review.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    decision, code = rows[0].index("Решение"), rows[0].index("Код строки (не изменять)")
    decided = 0
    for row in rows[1:]:
        _, mine, candidates = row[code].split("|")
        who = number.get((source, mine))
        fits = [
            n
            for n, c in enumerate(candidates.split(","), start=1)
            if who is not None and number.get((target, c)) == who
        ]
        if len(fits) == 1:
            row[decision] = f"выбрать {fits[0]}"
            decided += 1
    with review.open("w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f, delimiter=";").writerows(rows)
    return decided


def run(
    *,
    quick: bool,
    latency: float = LATENCY,
    keep: Path | None = None,
    source: str = SOURCE,
    target: str = TARGET,
    concurrency: int | None = None,
    kill_apply_after: float | None = None,
) -> dict[str, Any]:
    """The migration (module doc); wall seconds per step and the certificate's result.
    ``keep``: work there (config, store, plan files) and leave it for a look afterwards.
    ``source``/``target``: another pair (a hand-entry target's apply writes worklists; its
    certificate counts what is awaited). ``concurrency``: requests in flight per host (the
    config's ``[hosts]`` entry for each emulator; default: the default per-host limit).
    ``kill_apply_after``: SIGKILL the first ``apply`` after that many seconds and run it again
    (the write log then shows whether the resumed apply wrote anything twice)."""
    size = size_of(quick)
    world = World.generate(SEED, size)
    with tempfile.TemporaryDirectory(prefix="jsbench-migrate-") as tmp_name:
        tmp = keep or Path(tmp_name)
        tmp.mkdir(parents=True, exist_ok=True)
        log_path = tmp / "write-log.json"
        src, src_port = serve_emulator(source, quick, latency)
        try:
            tgt, tgt_port = serve_emulator(
                target, quick, latency, journal="empty", write_log=str(log_path)
            )
        except BaseException:
            stop(src)
            raise
        try:
            steps = _steps(
                tmp, world, (source, src_port), (target, tgt_port), concurrency, kill_apply_after
            )
        finally:
            stop(src)
            stop(tgt)
        log = json.loads(log_path.read_text(encoding="utf-8")) if log_path.exists() else []
        twice = _beyond_plan(log, tmp / "plan" / "plan.json", tmp / "store.db", target)
    students = len(world.accounts(next(iter(world.schools)), "student"))
    steps.update(
        students=students,
        weeks=size.weeks,
        latency_ms=round(latency * 1000),
        concurrency=concurrency,
        write_log=len(log),
        write_log_twice=twice,
    )
    return steps


def _steps(
    tmp: Path,
    world: World,
    src: tuple[str, int],
    tgt: tuple[str, int],
    concurrency: int | None,
    kill_apply_after: float | None = None,
) -> dict[str, Any]:
    (source, src_port), (target, tgt_port) = src, tgt
    cfg, out_dir = tmp / "m.toml", tmp / "plan"
    [slug] = write_migration_config(
        cfg,
        world,
        {
            "old": (source, f"http://127.0.0.1:{src_port}"),
            "new": (target, f"http://127.0.0.1:{tgt_port}"),
        },
        store_url=f"sqlite:///{tmp / 'store.db'}",
    )
    if concurrency is not None:
        with cfg.open("a", encoding="utf-8") as f:
            for port in (src_port, tgt_port):
                f.write(f'[hosts."127.0.0.1:{port}"]\nconcurrency = {concurrency}\n')
    base = ["-c", str(cfg), "--school", slug, "--from", "old", "--to", "new"]
    base += ["--out", str(out_dir)]
    plan_s, planned = _cli("plan", *base)
    _ok("plan", planned)
    replan_s = 0.0
    plan = json.loads((out_dir / "plan.json").read_text(encoding="utf-8"))
    pending = plan["pending_review"]
    if pending:
        review = out_dir / "сопоставление.csv"
        decide_as_operator(review, tmp / "store.db", source, target)
        replan_s, planned = _cli("plan", *base, "--review", str(review), "--no-pull")
        _ok("plan --review", planned)
        plan = json.loads((out_dir / "plan.json").read_text(encoding="utf-8"))
    plan_id = _plan_id(planned)
    approve_s, approved = _cli("approve", plan_id, "-c", str(cfg))
    _ok("approve", approved)
    before = _requests(tgt_port)
    killed_s = 0.0
    if kill_apply_after is not None:
        killed_s = _killed("apply", kill_apply_after, "-c", str(cfg), plan_id)
    apply_s, applied = _cli("apply", "-c", str(cfg), plan_id)
    apply_s += killed_s
    apply_requests = _requests(tgt_port) - before
    _ok("apply", applied)
    verify_s, verified = _cli("verify", "-c", str(cfg), plan_id)
    _ok("verify", verified, (0, 1))
    cert = json.loads((out_dir / "certificate.json").read_text(encoding="utf-8"))
    writes = sum(
        plan["counts"][e]["add"] + plan["counts"][e]["update"]
        for e in ("mark", "attendance", "lesson")
        if e in plan["counts"]
    )
    return {
        "plan_seconds": round(plan_s, 2),
        "replan_seconds": round(replan_s, 2),
        "approve_seconds": round(approve_s, 2),
        "apply_seconds": round(apply_s, 2),
        "verify_seconds": round(verify_s, 2),
        "total_seconds": round(plan_s + replan_s + approve_s + apply_s + verify_s, 2),
        "apply_killed_after": kill_apply_after,
        "review_rows": pending,
        "writes": writes,
        "apply_requests": apply_requests,
        "left_pending": plan["pending_review"],
        "complete": cert["complete"],
        "unexplained": sum(e["unexplained"] for e in cert["entities"].values()),
        "awaited": sum(e.get("awaited", 0) for e in cert["entities"].values()),
    }


def main() -> None:
    """``python -m bench.migrate [--quick] [--latency S] [--keep DIR] [--pair SOURCE:TARGET]
    [--concurrency N] [--kill-apply-after S]``: one migration, its figures as one JSON line."""
    args = sys.argv[1:]

    def option(name: str) -> str | None:
        return args[args.index(name) + 1] if name in args else None

    source, _, target = (option("--pair") or f"{SOURCE}:{TARGET}").partition(":")
    keep = option("--keep")
    result = run(
        quick="--quick" in args,
        latency=float(option("--latency") or LATENCY),
        keep=Path(keep) if keep else None,
        source=source,
        target=target,
        concurrency=int(option("--concurrency") or 0) or None,
        kill_apply_after=float(kill) if (kill := option("--kill-apply-after")) else None,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
