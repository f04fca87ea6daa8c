"""КИАСУО tokens: refresh, rotation, persistence, expiry, dead tokens — against the emulator."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from connectors.kiasuo import KiasuoConnector
from connectors.kiasuo.emulator import KiasuoEmulator, KiasuoEmulatorOptions, create_app
from connectors.kiasuo.harness import family_accounts
from connectors.sandbox.world import World, WorldSize
from core.connector import Credentials, SchoolTarget
from core.errors import AuthError
from core.http import HttpSettings

SLUG = "school-1"
SIZE = WorldSize(grades=(5,), letters=1, students_per_class=3, weeks=1)
BASE = "http://kiasuo.test"
_FAST = HttpSettings(backoff_initial=0.0, backoff_max=0.0, max_retry_after=0.0)


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world() -> World:
    return World.generate(3, SIZE)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(world: World, clock: Clock) -> KiasuoEmulator:
    return create_app(world, options=KiasuoEmulatorOptions(clock=clock))


class Saved:
    """What the engine's store would keep: every state handed to ``save_state``."""

    def __init__(self) -> None:
        self.versions: list[dict[str, Any]] = []

    def __call__(self, state: Mapping[str, Any]) -> None:
        self.versions.append(dict(state))

    @property
    def last(self) -> dict[str, Any]:
        return self.versions[-1] if self.versions else {}


def _target(world: World, accounts: list[Credentials]) -> SchoolTarget:
    return SchoolTarget(
        school=SLUG,
        platform="kiasuo",
        base_url=BASE,
        credentials=accounts[0],
        accounts=tuple(accounts[1:]),
        platform_school="МБОУ СОШ № 1",
    )


def _connector(
    app: KiasuoEmulator,
    target: SchoolTarget,
    saved: Saved,
    state: Mapping[str, Any] | None = None,
    clock: Callable[[], float] | None = None,
) -> KiasuoConnector:
    return KiasuoConnector(
        target,
        transport=httpx.ASGITransport(app=app),
        state=state if state is not None else saved.last,
        save_state=saved,
        today=app.world.today,
        http=_FAST,
        clock=clock,
    )


async def _refresh(app: KiasuoEmulator, **kw: Any) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        return await c.post("/diary/refresh", **kw)


async def test_refresh_rotates_and_a_reused_token_is_rejected(
    app: KiasuoEmulator, world: World
) -> None:
    first = family_accounts(world, SLUG)[0].token
    ok = await _refresh(app, data={"refresh-token": first})
    assert ok.status_code == 200
    pair = ok.json()
    assert set(pair) == {"accessToken", "refreshToken"}
    assert pair["refreshToken"] != first and len(pair["refreshToken"]) == 32
    again = await _refresh(app, data={"refresh-token": first})
    assert again.status_code == 401 and again.json()["msg"]
    # The successor works, in the JSON variant too (K4).
    nxt = await _refresh(app, json={"refresh-token": pair["refreshToken"]})
    assert nxt.status_code == 200


async def test_every_rotation_is_persisted_at_once(app: KiasuoEmulator, world: World) -> None:
    accounts = family_accounts(world, SLUG)
    saved = Saved()
    async with _connector(app, _target(world, accounts), saved) as c:
        await c.login()
        saves_after_login = len(saved.versions)
        app.expire_access_tokens()
        await c.login()  # every account gets a 401, refreshes and replays
    assert saves_after_login == len(accounts) == app.tokens.refreshes // 2
    assert len(saved.versions) == app.tokens.refreshes
    chains = saved.last["refresh_tokens"]
    for acc in world.accounts(SLUG, "guardian"):
        assert chains[acc.login]["token"] in app.tokens.refresh_token_of(acc.person_id)


async def test_a_new_process_continues_the_chain_from_state(
    app: KiasuoEmulator, world: World
) -> None:
    accounts = family_accounts(world, SLUG)
    saved = Saved()
    async with _connector(app, _target(world, accounts), saved) as c:
        await c.login()
    # The configured (initial) tokens are dead now; only the state can log in.
    async with _connector(app, _target(world, accounts), saved, state={}) as c:
        with pytest.raises(AuthError):
            await c.login()
    async with _connector(app, _target(world, accounts), saved) as c:
        await c.login()


async def test_a_newly_configured_token_wins_over_the_old_chain(
    app: KiasuoEmulator, world: World
) -> None:
    accounts = family_accounts(world, SLUG)[:1]
    saved = Saved()
    async with _connector(app, _target(world, accounts), saved) as c:
        await c.login()
    stale = saved.last
    # The chain in state dies (e.g. someone used it elsewhere); the user logs in again.
    person = world.accounts(SLUG, "guardian")[0].person_id
    dead = app.tokens.refresh_token_of(person)[0]
    fresh = (await _refresh(app, data={"refresh-token": dead})).json()["refreshToken"]
    renewed = [Credentials(login=accounts[0].login, token=fresh)]
    async with _connector(app, _target(world, renewed), saved, state=stale) as c:
        await c.login()


async def test_dead_refresh_token_names_school_and_account_not_the_token(
    app: KiasuoEmulator, world: World
) -> None:
    dead = "0123456789abcdef0123456789abcdef"
    accounts = [Credentials(login="mama-petrova", token=dead)]
    with capture_logs() as logs:
        async with _connector(app, _target(world, accounts), Saved()) as c:
            with pytest.raises(AuthError) as err:
                await c.login()
    text = str(err.value)
    assert "Госуслуги" in text and "mama-petrova" in text and "МБОУ СОШ № 1" in text
    assert dead not in text and dead not in repr(logs)


async def test_not_a_refresh_token_fails_before_any_request(
    app: KiasuoEmulator, world: World
) -> None:
    accounts = [Credentials(login="papa", token="eyJhbGciOi.not-a-refresh-token")]
    async with _connector(app, _target(world, accounts), Saved()) as c:
        with pytest.raises(AuthError, match="32 hex"):
            await c.login()
    assert app.calls.get("refresh", 0) == 0


async def test_expired_access_token_is_refreshed_and_the_call_replayed(
    app: KiasuoEmulator, world: World, clock: Clock
) -> None:
    accounts = family_accounts(world, SLUG)[:1]
    saved = Saved()
    async with _connector(app, _target(world, accounts), saved) as c:
        await c.login()
        before = app.tokens.refreshes
        clock.now += 3601  # the server's clock passes exp; ours has not noticed
        await c.login()
        assert app.tokens.refreshes == before + 1
        assert app.calls["user"] == 3  # the rejected call, then its replay


async def test_token_past_exp_is_refreshed_before_the_call(
    app: KiasuoEmulator, world: World
) -> None:
    accounts = family_accounts(world, SLUG)[:1]
    ours = Clock()
    saved = Saved()
    async with _connector(app, _target(world, accounts), saved, clock=ours) as c:
        await c.login()
        calls = dict(app.calls)
        ours.now += 3600  # K1: refresh before the request once exp has passed
        await c.login()
    assert app.calls["refresh"] == calls["refresh"] + 1
    assert app.calls["user"] == calls["user"] + 1  # no 401 round trip


async def test_api_needs_a_bearer_and_an_own_child(app: KiasuoEmulator, world: World) -> None:
    acc = world.accounts(SLUG, "guardian")[0]
    token = family_accounts(world, SLUG)[0].token
    access = (await _refresh(app, data={"refresh-token": token})).json()["accessToken"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        assert (await c.get("/diary/api/user", params={"id": 0})).status_code == 401
        garbage = {"Authorization": "Bearer a.b.c"}
        assert (await c.get("/diary/api/user", headers=garbage)).status_code == 401
        auth = {"Authorization": f"Bearer {access}"}
        child = world.persons[acc.person_id].children[0]
        own = await c.get("/diary/api/study_periods", params={"id": child}, headers=auth)
        assert own.status_code == 200
        class_id = world.persons[child].class_id
        assert class_id is not None
        other = next(s for s in world.classes[class_id].student_ids if s != child)
        foreign = await c.get("/diary/api/study_periods", params={"id": other}, headers=auth)
        assert foreign.status_code == 403
        out = await c.delete("/diary/pwa_logout", params={"id": child}, headers=auth)
        assert out.status_code == 204
        assert (await c.get("/diary/api/user", headers=auth)).status_code == 401


async def test_no_refresh_while_the_saved_access_token_is_valid(
    app: KiasuoEmulator, world: World, clock: Clock
) -> None:
    """A second run within the access token's life logs in without a refresh (issue 13 item 6:
    no login while the session is valid); past its ``exp`` each account refreshes once."""
    accounts = family_accounts(world, SLUG)
    saved = Saved()
    async with _connector(app, _target(world, accounts), saved, clock=clock) as c:
        await c.login()
    first = app.tokens.refreshes
    assert first == len(accounts)
    clock.now += 600  # ten minutes later: the access tokens (1 h) are still valid
    async with _connector(app, _target(world, accounts), saved, clock=clock) as c:
        await c.login()
    assert app.tokens.refreshes == first
    clock.now += 3600  # past exp: one refresh per account, before its first call
    async with _connector(app, _target(world, accounts), saved, clock=clock) as c:
        await c.login()
    assert app.tokens.refreshes == 2 * first
