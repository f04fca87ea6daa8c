"""Compare a pulled snapshot with the world on the fields a platform carries."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from core.connector import Capabilities
from core.model import Record

__all__ = ["Projection", "differences", "project"]

Projection = dict[str, tuple[str, dict[str, Any]]]


def project(records: Iterable[Record], caps: Capabilities) -> Projection:
    """id → (entity, data without the fields the platform cannot carry), entities it reads."""
    out: Projection = {}
    for r in records:
        if r.ENTITY not in caps.reads:
            continue
        drop = caps.fields_not_carried.get(r.ENTITY, frozenset())
        out[r.id] = (r.ENTITY, {k: v for k, v in r.data().items() if k not in drop})
    return out


def differences(actual: Projection, expected: Projection) -> str:
    """'' when equal; else a summary naming entities, ids and fields — never values."""
    if actual == expected:
        return ""
    missing = Counter(expected[k][0] for k in expected.keys() - actual.keys())
    extra = Counter(actual[k][0] for k in actual.keys() - expected.keys())
    differ = [
        (
            expected[k][0],
            k,
            sorted(f for f, v in expected[k][1].items() if actual[k][1].get(f) != v),
        )
        for k in expected.keys() & actual.keys()
        if actual[k] != expected[k]
    ]
    return f"missing {dict(missing)}, extra {dict(extra)}, {len(differ)} differ, e.g. {differ[:5]}"
