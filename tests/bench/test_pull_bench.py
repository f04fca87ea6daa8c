"""The pull benchmark's modes on the quick school: in-process, and with the emulator in its own
process over loopback TCP, answering after a delay or at once (the client's CPU alone). Figures
are not checked (speed is measured by ``make bench`` only): what is checked is that the modes
pull the same records with the same requests, and that the raw upsert rate is measured on those
rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.pull import run
from core.platform import platforms

pytestmark = pytest.mark.slow


def _family_platform() -> str:
    return next(name for name, p in platforms().items() if p.per_family)


def test_both_modes_pull_the_same_school_and_count_requests(tmp_path: Path) -> None:
    platform = _family_platform()
    local = run(f"sqlite:///{tmp_path}/a.db", platform=platform, quick=True)
    remote = run(
        f"sqlite:///{tmp_path}/b.db", platform=platform, quick=True, latency=0.002, concurrency=3
    )
    assert local["records"] == remote["records"] > 0
    assert local["requests"] == remote["requests"] > local["students"]
    assert remote["concurrency"] == 3 and remote["latency_ms"] == 2
    assert remote["peak_concurrency"] == 3  # the ceiling (below the start) holds it
    assert remote["server_cpu_seconds"] > 0 and local["server_cpu_seconds"] is None
    for r in (local, remote):
        assert r["raw_rows"] == r["records"]
        assert r["raw_rows_per_cpu_s"] > 0
        assert r["raw_ratio"] == pytest.approx(r["records_per_cpu_s"] / r["raw_rows_per_cpu_s"])


def test_the_client_alone_mode_runs_the_emulator_apart_without_latency(tmp_path: Path) -> None:
    platform = _family_platform()
    local = run(f"sqlite:///{tmp_path}/a.db", platform=platform, quick=True)
    alone = run(f"sqlite:///{tmp_path}/b.db", platform=platform, quick=True, remote=True)
    assert alone["remote"] is True and local["remote"] is False
    assert alone["latency_ms"] == 0
    assert alone["server_cpu_seconds"] > 0  # the emulator ran in its own process
    assert (alone["records"], alone["requests"]) == (local["records"], local["requests"])
