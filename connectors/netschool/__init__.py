"""NetSchool («Сетевой город / Сетевой регион. Образование», IRTech) connector.

Layers: :mod:`.client` (login and endpoint calls over ``core.http``), :mod:`.schema` (the
platform's payloads), :mod:`.mapping` (to the canonical model), :mod:`.connector` (pull, push,
read-back). The emulator serving the same wire contract (WIRE.md) lives beside them.
"""

from __future__ import annotations

from core.platform import Platform

from .connector import NetSchoolConnector

__all__ = ["PLATFORM", "NetSchoolConnector"]

#: What the rest of journalsync knows of the platform (entry point group ``journalsync.platforms``).
PLATFORM = Platform(
    name="netschool",
    title="«Сетевой город. Образование»",
    connector=NetSchoolConnector,
    emulator="connectors.netschool.emulator:create_app",
    harness="connectors.netschool.harness:HARNESS",
    per_family=False,
)
