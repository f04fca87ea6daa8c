"""`journalsync demo` runs to the end, and the demo school's snapshot equals the world."""

from __future__ import annotations

from pathlib import Path

from connectors.conformance.compare import differences, project
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
