"""ЭПОС authentication: mobile-token rotation, renewal on 400/401, user-supplied tokens."""

from __future__ import annotations

import httpx
import pytest

from connectors.perm.emulator import PermEmulatorOptions, initial_mobile_token
from connectors.perm.harness import accounts
from core.connector import Credentials
from core.errors import AuthError
from core.logging import redact
from tests.connectors.perm.test_perm_support import BASE_URL, make_env


def _first_person(env) -> int:
    return int(accounts(env.world, env.school)[0].login.split("-")[1])


async def test_login_rotates_the_token_and_saves_it_at_once(tmp_path):
    env = make_env(tmp_path)
    person = _first_person(env)
    first = initial_mobile_token(env.world, person)
    async with env.connector() as c:
        await c.login()
        # Saved before any data call: the old token is already dead.
        assert env.saves == 1
        saved = env.saved["mobile_tokens"][f"student-{person}"]
        assert saved["token"] == env.app.mobile_token(person) != first
        assert first not in str(env.saved)


async def test_a_reused_mobile_token_is_rejected(tmp_path):
    env = make_env(tmp_path)
    person = _first_person(env)
    token = initial_mobile_token(env.world, person)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=env.app), base_url=BASE_URL
    ) as http:
        ok = await http.get("/authenticate", headers={"token": token})
        again = await http.get("/authenticate", headers={"token": token})
    assert ok.status_code == 200 and ok.json()["mobile_token"] != token
    assert again.status_code == 401
    # A connector that lost the rotated token cannot log in, and says so without the token.
    with pytest.raises(AuthError) as err:
        async with env.connector() as c:
            await c.login()
    assert token not in str(err.value) and "mobile token" in str(err.value)


async def test_state_survives_a_restart_and_a_new_token_from_config_wins(tmp_path):
    env = make_env(tmp_path)
    await env.pull()
    rotated = dict(env.saved)
    await env.pull()  # a new connector from the saved state
    assert env.saved != rotated and env.differences() == ""
    # The person signs in again: the configured token changes and must win over the saved one.
    person = _first_person(env)
    fresh = env.app.mobile_token(person)
    creds = accounts(env.world, env.school)
    creds[0] = Credentials(login=creds[0].login, token=fresh or "")
    for other in creds[1:]:
        pid = int(other.login.split("-")[1])
        env.saved["mobile_tokens"].pop(other.login)
        creds[creds.index(other)] = Credentials(login=other.login, token=env.app.mobile_token(pid))
    env.saved["mobile_tokens"][creds[0].login]["token"] = "stale-token-from-before"
    await env.pull(env.target(creds))
    assert env.differences() == ""


@pytest.mark.parametrize("status", [401, 400])
async def test_expired_session_is_renewed_once_and_replayed(tmp_path, status):
    env = make_env(tmp_path, options=PermEmulatorOptions(expired_status=status))
    async with env.connector() as c:
        await c.login()
        env.app.expire_sessions()
        await c.sessions[0].academic_years()
        assert c.sessions[0].renewals == 1
    env.app.expire_sessions()

    def expire_every_page(page, result):
        env.app.expire_sessions()

    await env.pull(on_page=expire_every_page, batch_records=1)
    assert env.differences() == ""


async def test_token_life_is_about_an_hour_on_the_emulator_clock(tmp_path):
    now = [0.0]
    env = make_env(tmp_path, options=PermEmulatorOptions(clock=lambda: now[0]))
    async with env.connector() as c:
        await c.login()
        now[0] = 3599.0
        await c.sessions[0].academic_years()
        assert c.sessions[0].renewals == 0
        now[0] = 3601.0
        await c.sessions[0].academic_years()
        assert c.sessions[0].renewals == 1


async def test_user_supplied_auth_token_and_profile(tmp_path):
    env = make_env(tmp_path)
    guardian = next(a for a in env.world.accounts(env.school, "guardian"))
    token = env.app.issue_auth_token(guardian.person_id)
    cred = Credentials(login="parent", token=token, extra={"profile_id": str(guardian.person_id)})
    async with env.connector(env.target([cred])) as c:
        await c.login()
        ident = c.sessions[0].identity
        assert ident is not None and ident.profile.type == "parent"
        assert ident.student_ids == env.world.persons[guardian.person_id].children
        # It cannot be renewed: expiry is a clear AuthError naming the account, not the token.
        env.app.expire_sessions()
        with pytest.raises(AuthError) as err:
            await c.sessions[0].academic_years()
    assert "parent" in str(err.value) and token not in str(err.value)
    assert env.saves == 0  # nothing rotated, nothing to save


async def test_rotated_tokens_are_masked_in_logs(tmp_path):
    env = make_env(tmp_path)
    async with env.connector() as c:
        await c.login()
    person = _first_person(env)
    current = env.app.mobile_token(person)
    assert current is not None
    assert current not in redact(f"token={current}; header {current}")
