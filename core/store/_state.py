"""Connector state between runs (rotated refresh tokens, mobile tokens), encrypted at rest."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import select

from core.secrets import Cipher
from core.store._base import StoreBase, utcnow
from core.store._schema import connector_state

__all__ = ["StateStore"]

_s = connector_state.c


class StateStore(StoreBase):
    _cipher: Cipher | None = None

    def _get_cipher(self) -> Cipher:
        # Resolved on first use: a store that never keeps tokens needs no key.
        if self._cipher is None:
            self._cipher = Cipher.from_env()
        return self._cipher

    def load_state(self, school: str, platform: str) -> dict[str, Any]:
        with self._read() as conn:
            token = conn.execute(
                select(_s.state).where(_s.school == school, _s.platform == platform)
            ).scalar()
        if token is None:
            return {}
        state: dict[str, Any] = orjson.loads(self._get_cipher().decrypt(token))
        return state

    def save_state(self, school: str, platform: str, state: Mapping[str, Any]) -> None:
        """Replace the state (committed at once: a rotated token must survive a crash)."""
        token = self._get_cipher().encrypt(orjson.dumps(dict(state)))
        ins = self._upsert(connector_state).values(
            school=school, platform=platform, state=token, updated_at=utcnow()
        )
        with self._write() as conn:
            conn.execute(
                ins.on_conflict_do_update(
                    index_elements=[_s.school, _s.platform],
                    set_={"state": ins.excluded.state, "updated_at": ins.excluded.updated_at},
                )
            )
