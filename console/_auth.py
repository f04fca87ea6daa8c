"""Who is asking: a bearer token (the API), or a cookie session made by logging in with a token
(the pages). Sessions live in the process (a restart logs everyone out); each request checks
that the session's token is still live, so revoking a token ends its sessions at once.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import select

from console._tokens import Principal, find_token, web_tokens
from core.store import Store

__all__ = ["SESSION_COOKIE", "Session", "Sessions", "principal_by_id"]

SESSION_COOKIE = "js_session"
#: A session ends after this many seconds without a request.
IDLE_SECONDS = 8 * 3600


@dataclass(slots=True)
class Session:
    token_id: str
    csrf: str
    seen: float


def principal_by_id(store: Store, token_id: str) -> Principal | None:
    import orjson

    t = web_tokens.c
    with store.engine.connect() as conn:
        row = conn.execute(select(web_tokens).where(t.id == token_id)).first()
    if row is None or row.revoked_at is not None:
        return None
    return Principal(row.id, row.name, row.role, frozenset(orjson.loads(row.schools)))


class Sessions:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._by_id: dict[str, Session] = {}

    def login(self, token: str) -> tuple[str, Session] | None:
        who = find_token(self._store, token.strip())
        if who is None:
            return None
        sid = secrets.token_urlsafe(32)
        sess = Session(who.token_id, secrets.token_urlsafe(24), time.monotonic())
        self._by_id[sid] = sess
        return sid, sess

    def get(self, sid: str | None) -> tuple[Session, Principal] | None:
        if not sid:
            return None
        sess = self._by_id.get(sid)
        if sess is None:
            return None
        now = time.monotonic()
        if now - sess.seen > IDLE_SECONDS:
            self._by_id.pop(sid, None)
            return None
        who = principal_by_id(self._store, sess.token_id)
        if who is None:
            self._by_id.pop(sid, None)
            return None
        sess.seen = now
        return sess, who

    def logout(self, sid: str | None) -> None:
        if sid:
            self._by_id.pop(sid, None)

    @staticmethod
    def csrf_ok(sess: Session, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(sess.csrf, given or "")
