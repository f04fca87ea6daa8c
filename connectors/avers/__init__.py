"""АВЕРС «Электронный классный журнал» connector (per-school servers, e.g. Киров).

Layers: :mod:`.jsarray` (the JS-literal bodies), :mod:`.client` (login, ``ys-*`` cookies, broker
calls), :mod:`.schema` (positional rows), :mod:`.mapping` and ``_journal`` (to the canonical
model), :mod:`.connector` (pull). The emulator serving the same wire contract (WIRE.md) lives
beside them.
"""

from __future__ import annotations

from core.platform import Platform

from .connector import AversConnector

__all__ = ["PLATFORM", "AversConnector"]

#: What the rest of journalsync knows of the platform (entry point group ``journalsync.platforms``).
PLATFORM = Platform(
    name="avers",
    title="«АВЕРС: Электронный классный журнал»",
    connector=AversConnector,
    emulator="connectors.avers.emulator:create_app",
    harness="connectors.avers.harness:HARNESS",
    per_family=True,
)
