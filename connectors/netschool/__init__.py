"""NetSchool («Сетевой город / Сетевой регион. Образование», IRTech) connector.

Layers: :mod:`.client` (login and endpoint calls over ``core.http``), :mod:`.schema` (the
platform's payloads), :mod:`.mapping` (to the canonical model), :mod:`.connector` (pull, push,
read-back). The emulator serving the same wire contract (WIRE.md) lives beside them.
"""

from __future__ import annotations

from .connector import NetSchoolConnector

__all__ = ["NetSchoolConnector"]
