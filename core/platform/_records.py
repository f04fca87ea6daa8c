"""Small helpers every connector's mapping needs to build canonical records."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache

from core.errors import MalformedRecord
from core.model import Provenance, record_id

__all__ = ["person_id", "person_key", "provenance", "split_full_name"]


def provenance(
    platform: str,
    ids: Mapping[str, object],
    *,
    fetched_at: datetime | None,
    updated_at: datetime | None = None,
) -> Provenance:
    """Provenance from the platform's own ids; ``None`` ids are left out (a record that lacks
    one is still the same record), the others kept as text."""
    return Provenance(
        platform=platform,
        external_ids={k: str(v) for k, v in ids.items() if v is not None},
        fetched_at=fetched_at,
        updated_at=updated_at,
    )


def person_key(platform: str, platform_id: int | str) -> str:
    """The canonical person key: the platform's own person id, namespaced by platform, so the
    same number on two platforms is two people until identity matching says otherwise."""
    return f"{platform}:{platform_id}"


@lru_cache(maxsize=1 << 16)
def person_id(platform: str, school: str, platform_id: int | str) -> str:
    """The canonical id of a person from the platform id alone (no roster needed; cached: a
    page of marks names the same few dozen pupils again and again)."""
    return record_id("person", school, person_key(platform, platform_id))


def split_full_name(
    full_name: str,
    *,
    field: str,
    message: str = "a full name needs at least a last and a first name",
) -> tuple[str, str, str]:
    """«Фамилия Имя Отчество» → (last, first, middle); a compound patronymic («Ахмед оглы»)
    stays whole. Fewer than two words is a malformed record (``message``, ``field``)."""
    parts = full_name.split()
    if len(parts) < 2:
        raise MalformedRecord(message, field=field)
    return parts[0], parts[1], " ".join(parts[2:])
