"""Ruobr header credentials and the anti-bot User-Agent, against the emulator over ASGI."""

from __future__ import annotations

import base64

import httpx
import pytest
from pydantic import ValidationError
from structlog.testing import capture_logs

from connectors.ruobr._auth import DEFAULT_BROWSER_UA, BrowserUserAgent, HeaderCredentials
from connectors.ruobr.client import RuobrClient
from connectors.ruobr.emulator import create_app
from connectors.ruobr.options import RuobrOptions
from connectors.sandbox.world import World, WorldSize
from core.connector import Credentials
from core.errors import AuthError
from core.http import HttpSettings
from core.logging import redact

SIZE = WorldSize(grades=(5,), letters=1, students_per_class=3, weeks=1)
FAST = HttpSettings(backoff_initial=0.0, backoff_max=0.0, max_retry_after=0.0)
BASE = "http://ruobr.test"


def _unb64(value: str) -> str:
    return base64.b64decode(value).decode("utf-8")


def test_login_is_upper_cased_before_base64_and_cyrillic_is_utf8() -> None:
    creds = HeaderCredentials("иванова.ёлка", "Пароль-1")
    headers = creds.headers()
    assert _unb64(headers["username"]) == "ИВАНОВА.ЁЛКА"
    assert headers["username"] == base64.b64encode("ИВАНОВА.ЁЛКА".encode()).decode()
    # The password keeps its case.
    assert _unb64(headers["password"]) == "Пароль-1"
    assert "Пароль" not in repr(creds)


def test_missing_password_is_an_auth_error_naming_the_account_not_the_login() -> None:
    with pytest.raises(AuthError) as err:
        HeaderCredentials.of(Credentials(login="petrov.a1", password=""), account=2)
    assert "#3" in str(err.value) and "petrov" not in str(err.value)


def test_password_and_header_values_are_registered_as_secrets() -> None:
    creds = HeaderCredentials("sidorov.b77", "Секрет-2026")
    creds.register_secrets()
    line = f"{creds.password} {creds.password_header} {creds.username_header}"
    masked = redact(line)
    for value in (creds.password, creds.password_header, creds.username_header):
        assert value not in masked


def test_user_agent_strategy_defaults_to_a_browser_and_can_be_overridden() -> None:
    assert BrowserUserAgent().headers() == {"User-Agent": DEFAULT_BROWSER_UA}
    assert DEFAULT_BROWSER_UA.startswith("Mozilla/")
    custom = BrowserUserAgent.of("Mozilla/5.0 (X11) Firefox/130.0")
    assert custom.value == "Mozilla/5.0 (X11) Firefox/130.0"
    assert BrowserUserAgent.of(" ").value == DEFAULT_BROWSER_UA
    assert BrowserUserAgent.of(None).value == DEFAULT_BROWSER_UA
    # A blank one in the config is refused there, with the key named.
    with pytest.raises(ValidationError, match="user_agent"):
        RuobrOptions(user_agent=" ")


async def test_default_httpx_user_agent_gets_the_qrator_403_page() -> None:
    world = World.generate(3, SIZE)
    guardian = world.accounts("school-1", "guardian")[0]
    creds = HeaderCredentials(guardian.login, guardian.password)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(world)), base_url=BASE
    ) as client:
        blocked = await client.get("/user/", headers=creds.headers())
        assert blocked.status_code == 403
        assert "text/html" in blocked.headers["content-type"]
        assert "QRATOR" in blocked.text
        passed = await client.get(
            "/user/", headers={**creds.headers(), **BrowserUserAgent().headers()}
        )
    assert passed.status_code == 200
    assert passed.json()["status"] == "applicant"


async def test_connector_client_passes_the_anti_bot_layer() -> None:
    world = World.generate(3, SIZE)
    guardian = world.accounts("school-1", "guardian")[0]
    client = RuobrClient(
        BASE,
        [Credentials(login=guardian.login, password=guardian.password)],
        transport=httpx.ASGITransport(app=create_app(world)),
        settings=FAST,
    )
    try:
        children = await client.user(0)
    finally:
        await client.aclose()
    assert [getattr(c, "id", None) for c in children] == world.persons[guardian.person_id].children


async def test_cyrillic_login_round_trip_with_any_case() -> None:
    world = World.generate(3, SIZE)
    guardian = world.accounts("school-1", "guardian")[0]
    world.persons[guardian.person_id].login = "Петрова.Ёлка"
    world.persons[guardian.person_id].password = "Пароль-Ё1"
    app = create_app(world)
    for login in ("петрова.ёлка", "ПЕТРОВА.ЁЛКА"):
        client = RuobrClient(
            BASE,
            [Credentials(login=login, password="Пароль-Ё1")],
            transport=httpx.ASGITransport(app=app),
            settings=FAST,
        )
        try:
            assert len(await client.user(0)) == 1
        finally:
            await client.aclose()


async def test_wrong_password_is_an_auth_error_with_no_secret_in_message_or_logs() -> None:
    world = World.generate(3, SIZE)
    guardian = world.accounts("school-1", "guardian")[0]
    wrong = guardian.password + "-wrong"
    client = RuobrClient(
        BASE,
        [Credentials(login=guardian.login, password=wrong)],
        transport=httpx.ASGITransport(app=create_app(world)),
        settings=FAST,
    )
    try:
        with capture_logs() as logs, pytest.raises(AuthError) as err:
            await client.user(0)
    finally:
        await client.aclose()
    assert "account #1 of 1" in str(err.value)
    text = str(err.value) + repr(logs)
    assert wrong not in text and guardian.login not in text
