"""The schema drift a connector meets during a pull is saved when the pull ends, either way."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Concatenate, ParamSpec, TypeVar

from core.connector import Connector
from core.logging import get_logger
from core.store import Store

__all__ = ["save_schema_drift", "saves_schema_drift"]

log = get_logger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def save_schema_drift(store: Store, connector: Connector) -> int:
    """Move the connector's drift events into the store (each is saved once). A store error
    here is logged, not raised: it must not hide the pull's own outcome."""
    events = connector.schema_drift(clear=True)
    if not events:
        return 0
    try:
        n = store.record_schema_drift(connector.target.school, events)
    except Exception as exc:  # reported, and the pull's own result stands
        log.error("schema drift not saved", error=type(exc).__name__, events=len(events))
        return 0
    log.warning(
        "schema drift recorded",
        fields=sorted({f"{e.model}.{e.field} ({e.kind})" for e in events})[:10],
    )
    return n


def saves_schema_drift(
    fn: Callable[Concatenate[Store, Connector, P], Awaitable[R]],
) -> Callable[Concatenate[Store, Connector, P], Awaitable[R]]:
    """Run a pull with the connector's drift collected, and save it when the pull ends."""

    @functools.wraps(fn)
    async def wrapper(store: Store, connector: Connector, /, *args: P.args, **kw: P.kwargs) -> R:
        try:
            with connector.drift_scope():
                return await fn(store, connector, *args, **kw)
        finally:
            save_schema_drift(store, connector)

    return wrapper
