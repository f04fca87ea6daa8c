"""Who is asking: a bearer token (the API), or a cookie session made by logging in with a token
(the pages). Sessions live in the store (``web_sessions``, migration 0012), so a restart or a
second console process on the same store keeps people logged in; the store keeps the SHA-256 of
each session id, never the id. Each request checks that the session's token is still live (one
query for both), and revoking a token deletes its sessions, so revoking ends them at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from sqlalchemy import select

from console._tokens import Principal, find_token, web_sessions, web_tokens
from core.store import Store, utcnow

__all__ = ["IDLE_SECONDS", "SESSION_COOKIE", "Session", "Sessions"]

SESSION_COOKIE = "js_session"
#: A session ends after this many seconds without a request.
IDLE_SECONDS = 8 * 3600
#: A request moves the session's expiry on at most this often (not a write per request).
_TOUCH_SECONDS = 60

_s = web_sessions.c
_t = web_tokens.c


@dataclass(slots=True)
class Session:
    token_id: str
    csrf: str
    expires_at: datetime


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


class Sessions:
    def __init__(self, store: Store) -> None:
        self._store = store

    def login(self, token: str) -> tuple[str, Session] | None:
        who = find_token(self._store, token.strip())
        if who is None:
            return None
        sid = secrets.token_urlsafe(32)
        now = utcnow()
        sess = Session(
            who.token_id, secrets.token_urlsafe(24), now + timedelta(seconds=IDLE_SECONDS)
        )
        with self._store.engine.begin() as conn:
            conn.execute(web_sessions.delete().where(_s.expires_at < now))
            conn.execute(
                web_sessions.insert().values(
                    id_hash=_hash(sid),
                    token_id=sess.token_id,
                    csrf=sess.csrf,
                    created_at=now,
                    expires_at=sess.expires_at,
                )
            )
        return sid, sess

    def get(self, sid: str | None) -> tuple[Session, Principal] | None:
        """The live session and its token's principal; ``None`` for an unknown, expired or
        logged-out session and for one whose token was revoked."""
        if not sid or len(sid) > 200:
            return None
        key = _hash(sid)
        stmt = (
            select(_s.csrf, _s.expires_at, _t.id, _t.name, _t.role, _t.schools, _t.revoked_at)
            .select_from(web_sessions.join(web_tokens, _t.id == _s.token_id))
            .where(_s.id_hash == key)
        )
        with self._store.engine.connect() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            return None
        now = utcnow()
        if row.revoked_at is not None or row.expires_at <= now:
            with self._store.engine.begin() as conn:
                conn.execute(web_sessions.delete().where(_s.id_hash == key))
            return None
        expires = row.expires_at
        fresh = now + timedelta(seconds=IDLE_SECONDS)
        if fresh - expires > timedelta(seconds=_TOUCH_SECONDS):
            with self._store.engine.begin() as conn:
                conn.execute(
                    web_sessions.update().where(_s.id_hash == key).values(expires_at=fresh)
                )
            expires = fresh
        who = Principal(row.id, row.name, row.role, frozenset(orjson.loads(row.schools)))
        return Session(row.id, row.csrf, expires), who

    def logout(self, sid: str | None) -> None:
        if sid and len(sid) <= 200:
            with self._store.engine.begin() as conn:
                conn.execute(web_sessions.delete().where(_s.id_hash == _hash(sid)))

    @staticmethod
    def csrf_ok(sess: Session, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(sess.csrf, given or "")
