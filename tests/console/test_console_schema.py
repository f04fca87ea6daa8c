"""Schemathesis against the console's published OpenAPI schema, over real HTTP: generated
requests to every operation (as an administrator) never get a server error, and every answer
matches the schema's status codes and the one error shape."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.console_migration import world_plans
from tests.support.console_world import ConsoleWorld, console_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleWorld]:
    with console_world(tmp_path_factory.mktemp("schema")) as w:
        own = (w.drift_school, w.plan.school(w.drift_school).platform)
        other = (w.held_school, w.plan.school(w.held_school).platform)
        world_plans(w.store, own, other)  # the migration lists have something to page
        yield w


@pytest.mark.slow
def test_no_server_error_on_generated_requests(world: ConsoleWorld) -> None:
    import hypothesis
    import schemathesis

    schema = schemathesis.openapi.from_url(world.base_url + "/openapi.json")
    headers = {"Authorization": f"Bearer {world.tokens['admin']}"}
    seen: list[str] = []
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @hypothesis.settings(
            max_examples=10,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        @hypothesis.given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers=headers, timeout=60)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")
            if (
                response.status_code >= 400
                and "json" in response.headers.get("content-type", [""])[0]
            ):
                body = response.json()
                assert set(body) == {"error"}, body

        check()
        seen.append(f"{operation.method.upper()} {operation.path}")
    assert len(seen) >= 15, seen
    assert {"GET /api/migrations", "POST /api/migrations/{plan_id}/approve"} <= set(seen)
    assert not failures, failures
