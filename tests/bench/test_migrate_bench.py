"""The migration benchmark on the quick school: the emulators in their own processes answering
after a short delay, the real CLI for each step. Figures are not checked (``make bench`` only);
what is checked is that the migration ends complete, with nothing unexplained, no write seen
twice, and fewer requests than writes (NetSchool's writes are batched)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.migrate import TARGET, run

pytestmark = pytest.mark.slow


def test_the_quick_school_moves_completely_with_each_write_once(tmp_path: Path) -> None:
    r = run(quick=True, latency=0.002, keep=tmp_path)
    assert r["complete"] is True and r["unexplained"] == 0, r
    assert r["writes"] > 0 and 0 < r["write_log"] <= r["writes"]
    assert r["write_log_twice"] == 0
    assert 0 < r["apply_requests"] < r["writes"], r
    assert r["total_seconds"] >= r["plan_seconds"] + r["apply_seconds"] > 0
    assert (tmp_path / "plan" / "certificate.json").exists()


def test_a_hand_entry_target_leaves_the_writes_awaited(tmp_path: Path) -> None:
    """NetSchool → ЭПОС, as the bench's second line: apply writes worklists, nothing is sent."""
    r = run(quick=True, latency=0, keep=tmp_path, source=TARGET, target="perm")
    assert r["complete"] is False and r["unexplained"] == 0, r
    assert r["awaited"] > 0 and r["apply_requests"] == 0 and r["write_log"] == 0
    assert list((tmp_path / "plan" / "worklists").glob("*.pdf"))
