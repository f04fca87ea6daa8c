"""API tokens with roles, stored hashed, and the audit log (migration 0007).

A token is 32 random bytes shown once (``js_`` + URL-safe base64); the store keeps its SHA-256
only, so a copy of the database gives nobody a way in. Roles:

* ``admin`` — everything, including the audit log;
* ``school`` — the schools named on the token only (another school is "not found");
* ``auditor`` — read-only, every school, pupils' names as initials only.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, select

from core.errors import ConfigError
from core.store import NAMING_CONVENTION, Store, UTCDateTime, utcnow

__all__ = [
    "ROLES",
    "AuditEntry",
    "Principal",
    "Role",
    "TokenInfo",
    "audit",
    "audit_entries",
    "audit_log",
    "create_token",
    "find_token",
    "list_tokens",
    "revoke_token",
    "web_sessions",
    "web_tokens",
]

Role = Literal["admin", "school", "auditor"]
ROLES: tuple[Role, ...] = ("admin", "school", "auditor")

#: The console's tables (created by migration 0007; kept apart from the sync store's metadata).
web_metadata = MetaData(naming_convention=NAMING_CONVENTION)

web_tokens = Table(
    "web_tokens",
    web_metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("schools", Text, nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    Column("last_used_at", UTCDateTime),
)

#: The console's logins (migration 0012): the SHA-256 of the session id, never the id.
web_sessions = Table(
    "web_sessions",
    web_metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("token_id", String(32), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)

audit_log = Table(
    "audit_log",
    web_metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("action", String(64), nullable=False),
    Column("school", String(64)),
    Column("target", String(255), nullable=False, server_default=""),
    Column("detail", Text, nullable=False, server_default=""),
)

_t = web_tokens.c
_a = audit_log.c


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: str
    name: str
    role: Role
    schools: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "schools": list(self.schools),
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
        }


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: the token's id, name, role and schools."""

    token_id: str
    name: str
    role: Role
    schools: frozenset[str]

    @property
    def can_write(self) -> bool:
        return self.role in ("admin", "school")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def masks_names(self) -> bool:
        return self.role == "auditor"

    def sees(self, school: str) -> bool:
        return self.role != "school" or school in self.schools


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    school: str | None
    target: str
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "role": self.role,
            "action": self.action,
            "school": self.school,
            "target": self.target,
            "detail": self.detail,
        }


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _info(row: Any) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        name=row.name,
        role=row.role,
        schools=tuple(orjson.loads(row.schools)),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def create_token(
    store: Store, *, role: str, name: str, schools: Sequence[str] = ()
) -> tuple[str, TokenInfo]:
    """A new token: returns the token itself (shown once, never stored) and its record."""
    if role not in ROLES:
        raise ConfigError(f"--role {role!r}: use admin, school or auditor")
    if not name.strip():
        raise ConfigError("--name must not be empty: it says who did what in the audit log")
    wanted = tuple(dict.fromkeys(s.strip() for s in schools if s.strip()))
    if role == "school" and not wanted:
        raise ConfigError("a school token needs at least one --school SLUG")
    if role != "school" and wanted:
        raise ConfigError(f"--school is for school tokens; an {role} token sees every school")
    token = "js_" + secrets.token_urlsafe(32)
    tid = secrets.token_hex(8)
    now = utcnow()
    with store.engine.begin() as conn:
        conn.execute(
            web_tokens.insert().values(
                id=tid,
                name=name.strip(),
                role=role,
                schools=orjson.dumps(list(wanted)).decode(),
                token_hash=_hash(token),
                created_at=now,
            )
        )
        row = conn.execute(select(web_tokens).where(_t.id == tid)).one()
    return token, _info(row)


def list_tokens(store: Store) -> list[TokenInfo]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(web_tokens).order_by(_t.created_at, _t.id))
        return [_info(r) for r in rows]


def revoke_token(store: Store, ref: str) -> TokenInfo:
    """Revoke by id or by name (a name must be unambiguous among live tokens)."""
    live = [t for t in list_tokens(store) if t.revoked_at is None]
    found = [t for t in live if t.id == ref] or [t for t in live if t.name == ref]
    if not found:
        raise ConfigError(f"no live token {ref!r}", hint="`journalsync tokens list` shows them")
    if len(found) > 1:
        raise ConfigError(f"{len(found)} live tokens are named {ref!r}: give the id")
    with store.engine.begin() as conn:
        conn.execute(web_tokens.update().where(_t.id == found[0].id).values(revoked_at=utcnow()))
        # its logins end with it, in every console process on this store
        conn.execute(web_sessions.delete().where(web_sessions.c.token_id == found[0].id))
        row = conn.execute(select(web_tokens).where(_t.id == found[0].id)).one()
    return _info(row)


def find_token(store: Store, token: str) -> Principal | None:
    """The live token's principal, or ``None`` (unknown or revoked)."""
    if not token or len(token) > 200:
        return None
    with store.engine.connect() as conn:
        row = conn.execute(select(web_tokens).where(_t.token_hash == _hash(token))).first()
    if row is None or row.revoked_at is not None:
        return None
    info = _info(row)
    return Principal(info.id, info.name, info.role, frozenset(info.schools))


def audit(
    store: Store,
    who: Principal,
    action: str,
    *,
    school: str | None = None,
    target: str = "",
    detail: str = "",
) -> None:
    """Record what a person did (who, what, to which school, when)."""
    with store.engine.begin() as conn:
        conn.execute(
            audit_log.insert().values(
                at=utcnow(),
                actor=who.name,
                role=who.role,
                action=action,
                school=school,
                target=target[:255],
                detail=detail,
            )
        )


def audit_entries(
    store: Store, *, before: int | None = None, limit: int = 100, schools: Iterable[str] = ()
) -> list[AuditEntry]:
    """The newest entries first; ``before``: entries older than this sequence number."""
    stmt = select(audit_log).order_by(_a.seq.desc()).limit(limit)
    if before is not None:
        stmt = stmt.where(_a.seq < before)
    wanted = list(schools)
    if wanted:
        stmt = stmt.where(_a.school.in_(wanted))
    with store.engine.connect() as conn:
        return [
            AuditEntry(r.seq, r.at, r.actor, r.role, r.action, r.school, r.target, r.detail)
            for r in conn.execute(stmt)
        ]
