"""Fixtures of the conformance suite: one emulator world per test, over ASGITransport."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from connectors.conformance.harness import BASE_URL, Harness, harnesses
from connectors.sandbox import World
from connectors.sandbox.faults import Faults
from core.connector import Capabilities, Connector
from core.store import Store


@dataclass
class Env:
    harness: Harness
    world: World
    faults: Faults
    app: Any
    store: Store
    school: str
    #: What connectors saved through ``persist_state`` (as the store would keep it), so a new
    #: connector — a new process — starts from it.
    saved_state: dict[str, Any] = field(default_factory=dict)

    def _save(self, state: Mapping[str, Any]) -> None:
        self.saved_state = dict(state)

    @property
    def platform(self) -> str:
        return self.harness.platform

    @property
    def caps(self) -> Capabilities:
        return self.harness.connector.capabilities

    @property
    def password(self) -> str:
        """The good secret: the password, or the token for token-only platforms."""
        creds = self.harness.target(self.world, BASE_URL, self.school, True).credentials
        return creds.password or creds.token

    def connector(self, good: bool = True) -> Connector:
        target = self.harness.target(self.world, BASE_URL, self.school, good)
        return self.harness.connect(
            self.world,
            target,
            transport=httpx.ASGITransport(app=self.app),
            state=self.saved_state,
            save_state=self._save,
        )


@pytest.fixture(params=harnesses(), ids=lambda h: h.platform)
def harness(request: pytest.FixtureRequest) -> Harness:
    h: Harness = request.param
    return h


@pytest.fixture
def env(harness: Harness, tmp_path: Any) -> Iterator[Env]:
    world = World.generate(harness.seed, harness.size)
    faults = Faults()
    store = Store.open(f"sqlite:///{tmp_path}/conformance.db")
    try:
        yield Env(
            harness=harness,
            world=world,
            faults=faults,
            app=harness.app(world, faults),
            store=store,
            school=next(iter(world.schools)),
        )
    finally:
        store.close()
