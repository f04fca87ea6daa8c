"""КИАСУО («Электронный журнал и дневник», Красноярский край) connector.

Layers: :mod:`.client` (token refresh with rotation, endpoint calls over ``core.http``),
:mod:`.schema` (the platform's payloads), :mod:`.mapping` (to the canonical model),
:mod:`.connector` (the school pull merged from many family accounts). The emulator serving the
same wire contract (WIRE.md) lives beside them.
"""

from __future__ import annotations

from core.platform import Platform

from ._howto import HOW_TO_GET_TOKEN
from .connector import KiasuoConnector

__all__ = ["HOW_TO_GET_TOKEN", "PLATFORM", "KiasuoConnector"]

#: What the rest of journalsync knows of the platform (entry point group ``journalsync.platforms``).
PLATFORM = Platform(
    name="kiasuo",
    title="ЭЖД КИАСУО",
    connector=KiasuoConnector,
    emulator="connectors.kiasuo.emulator:create_app",
    harness="connectors.kiasuo.harness:HARNESS",
    per_family=True,
    how_to=HOW_TO_GET_TOKEN,
)
