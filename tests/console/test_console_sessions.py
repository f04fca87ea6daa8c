"""Cookie sessions live in the store: a login made on one console process works on another over
the same store and after a restart; logging out or revoking the token ends it everywhere; the
store keeps the session id's hash only. Real HTTP on loopback, a real SQLite file."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from connectors.sandbox.server import serve_in_thread
from console import create_app, create_token, revoke_token
from console._tokens import web_sessions
from core.store import Store


@contextmanager
def _console(url: str) -> Iterator[str]:
    """A console process's worth: its own Store (engine) and app, on a free port."""
    store = Store.open(url)
    try:
        with serve_in_thread(create_app(None, store, warm_scores=False)) as server:
            yield server.base_url
    finally:
        store.close()


def _login(base: str, token: str) -> tuple[str, str]:
    """(session cookie, the pages' CSRF token)."""
    with httpx.Client(base_url=base, timeout=30) as c:
        page = c.get("/login")
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found is not None
        r = c.post("/login", data={"token": token, "csrf": found.group(1)})
        assert r.status_code == 303, r.text
        sid = r.cookies["js_session"]
        home = c.get("/", headers={"Cookie": f"js_session={sid}"})
        assert home.status_code == 200
        csrf = re.search(r'name="csrf" value="([^"]+)"', home.text)
        assert csrf is not None
        return sid, csrf.group(1)


def _home(base: str, sid: str) -> httpx.Response:
    return httpx.get(base + "/", headers={"Cookie": f"js_session={sid}"}, timeout=30)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'console.db'}"


def test_a_login_survives_a_restart_and_works_on_a_second_process(url: str) -> None:
    store = Store.open(url)
    token, _ = create_token(store, role="admin", name="Петрова")
    store.close()
    with _console(url) as first:
        sid, _csrf = _login(first, token)
        with _console(url) as second:
            r = _home(second, sid)
            assert r.status_code == 200 and "Обзор" in r.text
            # the API takes the same cookie on the other process
            api = httpx.get(
                second + "/api/schools", headers={"Cookie": f"js_session={sid}"}, timeout=30
            )
            assert api.status_code == 200
    with _console(url) as restarted:
        assert _home(restarted, sid).status_code == 200
        # an unknown cookie is no session: to the login page
        assert _home(restarted, sid[:-2] + "xx").status_code == 303
    # the store holds the id's SHA-256, never the id
    store = Store.open(url)
    with store.engine.connect() as conn:
        rows = conn.execute(select(web_sessions)).all()
    store.close()
    assert len(rows) == 1 and sid not in repr(rows[0]) and len(rows[0].id_hash) == 64


def test_logout_on_one_process_ends_the_session_on_the_other(url: str) -> None:
    store = Store.open(url)
    token, _ = create_token(store, role="admin", name="Петрова")
    store.close()
    with _console(url) as first, _console(url) as second:
        sid, csrf = _login(first, token)
        out = httpx.post(
            second + "/logout",
            data={"csrf": csrf},
            headers={"Cookie": f"js_session={sid}"},
            timeout=30,
        )
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert _home(first, sid).status_code == 303
        assert _home(second, sid).status_code == 303


def test_revoking_the_token_ends_its_sessions_in_every_process(url: str) -> None:
    store = Store.open(url)
    token, info = create_token(store, role="school", name="Школа 1", schools=["school-1"])
    other, _ = create_token(store, role="admin", name="Иванов")
    with _console(url) as first, _console(url) as second:
        sid, _ = _login(first, token)
        kept, _ = _login(second, other)
        assert _home(second, sid).status_code == 200
        revoke_token(store, info.id)  # as `journalsync tokens revoke` does, from outside
        assert _home(first, sid).status_code == 303
        assert _home(second, sid).status_code == 303
        api = httpx.get(first + "/api/schools", headers={"Cookie": f"js_session={sid}"}, timeout=30)
        assert api.status_code == 401
        assert _home(first, kept).status_code == 200  # another token's session stays
        with store.engine.connect() as conn:
            left = conn.execute(select(web_sessions.c.token_id)).scalars().all()
        assert info.id not in left
    store.close()


def test_an_idle_session_expires(url: str) -> None:
    store = Store.open(url)
    token, _ = create_token(store, role="admin", name="Петрова")
    with _console(url) as base:
        sid, _ = _login(base, token)
        with store.engine.begin() as conn:
            conn.execute(web_sessions.update().values(expires_at=datetime.now(UTC)))
        assert _home(base, sid).status_code == 303
        with store.engine.connect() as conn:
            assert conn.execute(select(web_sessions)).all() == []  # and is gone
    store.close()
