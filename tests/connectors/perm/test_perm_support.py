"""Helpers shared by the ЭПОС tests: a small world, its emulator and a connector over it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from connectors.conformance.compare import differences, project
from connectors.perm import PermConnector
from connectors.perm.emulator import PermEmulator, PermEmulatorOptions, create_app
from connectors.perm.harness import accounts, expected
from connectors.sandbox import World, WorldSize
from connectors.sandbox.faults import Faults
from core.connector import Credentials, SchoolTarget
from core.http import HttpSettings
from core.store import Store
from core.sync import PullResult, pull

BASE_URL = "http://epos.test"
FAST = HttpSettings(backoff_initial=0.0, backoff_max=0.0, max_retry_after=0.0)
#: Grade 5 has subgroups (English); nine weeks close the first quarter, so there are finals.
SIZE = WorldSize(grades=(5,), letters=1, students_per_class=4, weeks=2)
LONG = WorldSize(grades=(5,), letters=1, students_per_class=3, weeks=9)


@dataclass
class PermEnv:
    world: World
    app: PermEmulator
    store: Store
    school: str
    options: dict[str, Any] = field(default_factory=dict)
    saved: dict[str, Any] = field(default_factory=dict)
    saves: int = 0

    @property
    def faults(self) -> Faults:
        return self.app.faults

    def save(self, state: Mapping[str, Any]) -> None:
        self.saved = dict(state)
        self.saves += 1

    def target(self, creds: list[Credentials] | None = None, **options: Any) -> SchoolTarget:
        creds = creds or accounts(self.world, self.school)
        return SchoolTarget(
            school=self.school,
            platform="perm",
            base_url=BASE_URL,
            credentials=creds[0],
            accounts=tuple(creds[1:]),
            options={"host": "legacy", **self.options, **options},
        )

    def connector(self, target: SchoolTarget | None = None) -> PermConnector:
        return PermConnector(
            target or self.target(),
            transport=httpx.ASGITransport(app=self.app),
            state=self.saved,
            save_state=self.save,
            today=self.world.today,
            http=FAST,
        )

    async def pull(self, target: SchoolTarget | None = None, **kw: Any) -> PullResult:
        async with self.connector(target) as c:
            return await pull(self.store, c, **kw)

    def differences(self, base_url: str = BASE_URL) -> str:
        caps = PermConnector.capabilities
        actual = project(self.store.remote_records(self.school, "perm"), caps)
        want = project(expected(self.world, self.school, "perm", base_url), caps)
        return differences(actual, want)


def make_env(
    tmp_path: Any, size: WorldSize = SIZE, options: PermEmulatorOptions | None = None
) -> PermEnv:
    world = World.generate(3, size)
    return PermEnv(
        world=world,
        app=create_app(world, options=options),
        store=Store.open(f"sqlite:///{tmp_path}/perm.db"),
        school=next(iter(world.schools)),
    )
