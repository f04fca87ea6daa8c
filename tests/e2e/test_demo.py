"""`journalsync demo` runs to the end, and the demo school's snapshot equals the world."""

from __future__ import annotations

from pathlib import Path

from connectors.conformance.compare import differences, project
from connectors.conformance.harness import harnesses
from connectors.netschool import NetSchoolConnector
from connectors.netschool.harness import HARNESS
from core.store import Store
from journalsync.demo import run_demo


def test_demo_runs_to_the_end_and_its_snapshot_equals_the_world(tmp_path: Path) -> None:
    result = run_demo(tmp_path / "demo", seed=7)
    assert result.exit_code == 0
    s = result.summary
    assert s["pushed"] == s["verified"] == s["imported"] > 0
    assert s["quarantined rows"] == 1
    assert s["drift found"] == 2  # the mark changed and the absence removed on the platform
    caps = NetSchoolConnector.capabilities
    with Store.open(f"sqlite:///{result.db}") as store:
        actual = project(store.remote_records(result.school, "netschool"), caps)
        # The last pull was incremental (the current term), which in the demo is every lesson.
        expected = project(HARNESS.expected(result.world, result.school, "netschool"), caps)
        diff = differences(actual, expected)
        assert not diff, diff
        open_findings = store.findings(result.school, "netschool", status="open")
        assert sorted(f.kind for f in open_findings) == ["mismatch", "missing_on_platform"]
    # Every platform without a write API went round the worklist loop: all hand entries but
    # the one mistyped are verified, and the mistyped one is the only drift.
    others = {r.platform: r for r in result.worklist_platforms}
    assert set(others) == {h.platform for h in harnesses()} - {"netschool"}
    for r in others.values():
        assert not r.error, (r.platform, r.error)
        assert r.awaiting_entry == r.imported > 0 and r.worklists > 0, r
        assert (r.verified, r.drift) == (r.imported - 1, 1), r
