"""The console's overview of a school bound to two platforms: a row per binding."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from console import overview
from core.store import RunState, Store
from scheduler import Plan, SchoolPlan


def _binding(platform: str, name: str, effective: date | None) -> SchoolPlan:
    return SchoolPlan(
        slug="s-1",
        name="Школа 1",
        platform=platform,
        base_url=f"http://{platform}.invalid",
        platform_school="",
        login="admin",
        password=None,
        timezone="Asia/Barnaul",
        compliance_profile="default",
        binding=name,
        effective=effective,
    )


def test_overview_has_a_row_per_binding(tmp_path: Path) -> None:
    plan = Plan(
        municipality="M",
        timezone="Asia/Barnaul",
        store_url=f"sqlite:///{tmp_path / 'm.db'}",
        schools=(_binding("netschool", "sgo", None), _binding("perm", "epos", date(2020, 1, 1))),
    )
    store = Store.open(plan.store_url)
    try:
        for platform in ("netschool", "perm"):
            run = store.start_run(f"s-1:{platform}:pull:1", "s-1", platform, "pull")
            store.transition(run.id, RunState.PULLING)
            store.transition(run.id, RunState.DONE, counts={"records": 10})
        rows = overview(plan, store)
    finally:
        store.close()
    assert sorted((r.slug, r.platform, r.name, r.in_plan) for r in rows) == [
        ("s-1", "netschool", "Школа 1", True),  # both bindings are the plan's, not strays
        ("s-1", "perm", "Школа 1", True),
    ]
