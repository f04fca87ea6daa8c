"""`accounts list` shows every state a family account can be in — ok, expired, rejected, never
used — from real pulls (`pull -c … --school`) against the ЭПОС and КИАСУО emulators over real
HTTP: a login that worked and whose token the platform now refuses is ``expired`` (КИАСУО: 401 on
``/diary/refresh``; ЭПОС: 401 on ``/authenticate`` for the rotated mobile token), a token that
never worked is ``rejected``. The pupils of the expired accounts are named as not read.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from connectors.conformance.harness import Harness, harnesses
from connectors.sandbox import World, WorldSize
from connectors.sandbox.server import serve_in_thread
from journalsync.cli import app
from journalsync.sandbox_cmd import accounts_line

SIZE = WorldSize(grades=(5,), letters=1, students_per_class=3, weeks=1)
SLUG = "family-school"
#: A token each platform refuses outright (never worked): ``rejected``.
BAD_TOKEN = {"perm": "0" * 40, "kiasuo": "not-a-refresh-token"}


def _harness(platform: str) -> Harness:
    found = next((h for h in harnesses() if h.platform == platform), None)
    if found is None:
        pytest.skip(f"{platform}: no conformance harness installed")
    return found


def _invoke(*args: str) -> tuple[int, str]:
    out = CliRunner().invoke(app, list(args))
    return out.exit_code, out.output


def _person(world: World, login: str) -> int:
    person = world.account(login)
    if person is not None:
        return person.ext_id
    _, _, number = login.rpartition("-")  # ЭПОС sandbox labels: student-1020, guardian-1021
    return int(number)


def _spend_live_token(platform: str, emulator: Any, person_id: int) -> None:
    """Use the account's current token elsewhere (another device): the platform rotates it, so
    the one the pull saved is dead — as after the login ran out. On КИАСУО the pull keeps the
    access token while it is valid, so the dead refresh token shows once the access tokens
    have expired too."""
    if platform == "perm":
        live = emulator.mobile_token(person_id)
        assert live is not None
        emulator.state.rotate(live)
    else:
        (live,) = emulator.tokens.refresh_token_of(person_id)
        assert emulator.tokens.rotate(live) is not None
        emulator.expire_access_tokens()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("JOURNALSYNC_SECRET_KEY_FILE", str(tmp_path / "key"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("JS_UNUSED", "f" * 32)
    yield


@pytest.mark.parametrize("platform", ["perm", "kiasuo"])
def test_list_shows_expired_rejected_never_used_and_ok_after_real_pulls(
    platform: str, tmp_path: Path, env: None
) -> None:
    h = _harness(platform)
    world = World.generate(5, SIZE)
    emulator = h.app(world)
    server = serve_in_thread(emulator)
    try:
        line = accounts_line(world, server.base_url, None, platform)
        accounts: list[dict[str, str]] = line["accounts"]
        first = accounts[0]
        options = ", ".join(f"{k} = {json.dumps(v)}" for k, v in sorted(line["options"].items()))
        config = tmp_path / "journalsync.toml"
        config.write_text(
            f"""[municipality]
name = "Test"
timezone = "Asia/Novosibirsk"

[store]
url = "sqlite:///{tmp_path}/store.db"

[[schools]]
slug = "{SLUG}"
name = "Школа семей"
platform = "{platform}"
base_url = "{server.base_url}"
login = "{first["login"]}"
token = {{ file = "secrets.toml", key = "{SLUG}.{first["login"]}.token" }}
options = {{ {options} }}
""",
            encoding="utf-8",
        )
        bad = {"login": "bad.token", "token": BAD_TOKEN[platform], "pupil": "", "class": ""}
        rows = [*accounts, bad]
        file = tmp_path / "families.csv"
        with file.open("w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(["login", "token", "pupil", "class"])
            out.writerows([a["login"], a["token"], a["pupil"], a["class"]] for a in rows)
        code, out = _invoke("accounts", "import", str(file), "--school", SLUG, "-c", str(config))
        assert code == 0, out
        code, out = _invoke("pull", "-c", str(config), "--school", SLUG)
        assert code == 0, out
        states = {a["login"]: a for a in json.loads(_list(config))}
        assert states["bad.token"]["state"] == "rejected"
        assert all(states[a["login"]]["state"] == "ok" for a in accounts), states

        # Every account of one pupil (not the school's own) has its login run out.
        first_person = _person(world, first["login"])
        shows = {
            a["login"]: {_person(world, a["login"])}
            | set(world.persons[_person(world, a["login"])].children)
            for a in accounts
        }
        pupil = next(
            p
            for p in world.persons.values()
            if p.role == "student" and p.school == line["school_slug"]
            and p.ext_id not in shows[first["login"]]
        )  # fmt: skip
        expired = [login for login, seen in shows.items() if pupil.ext_id in seen]
        assert expired and first["login"] not in expired and first_person != pupil.ext_id
        for login in expired:
            _spend_live_token(platform, emulator, _person(world, login))

        code, out = _invoke("pull", "-c", str(config), "--school", SLUG)
        assert code == 6, out  # partial: a pupil of the roster not read
        # One more family's account in the config that no pull has used yet.
        text = config.read_text(encoding="utf-8").replace(
            "accounts = [",
            'accounts = [\n    { login = "later.family", token = { env = "JS_UNUSED" } },',
        )
        config.write_text(text, encoding="utf-8")
        listed = json.loads(_list(config))
        states = {a["login"]: a for a in listed}
        for login in expired:
            assert states[login]["state"] == "expired", states[login]
        # What they showed when they last worked (a pupil two accounts show counts once).
        assert sum(states[login]["pupils"] or 0 for login in expired) >= 1
        assert states["bad.token"]["state"] == "rejected"
        assert states["later.family"]["state"] == "never used"
        assert {a["state"] for a in listed} == {"ok", "expired", "rejected", "never used"}
        code, out = _invoke("accounts", "list", "--school", SLUG, "-c", str(config))
        assert code == 0, out
        assert f"{len(expired)} expired" in out and "1 rejected" in out
        assert f"not read in {world.classes[pupil.class_id].name}" in out  # type: ignore[index]
        assert pupil.last_name in out
        secrets = [a["token"] for a in rows]
        assert not any(s in out for s in secrets)

        # The school's own login runs out: the run stops (exit 3), its state is still shown.
        _spend_live_token(platform, emulator, first_person)
        code, out = _invoke("pull", "-c", str(config), "--school", SLUG)
        assert code == 3, out
        assert {a["login"]: a for a in json.loads(_list(config))}[first["login"]]["state"] == (
            "expired"
        )
    finally:
        server.stop()


def _list(config: Path) -> str:
    code, out = _invoke("accounts", "list", "--school", SLUG, "-c", str(config), "--json")
    assert code == 0, out
    return out
