"""АВЕРС «Электронный классный журнал» connector (per-school servers, e.g. Киров).

Layers: :mod:`.jsarray` (the JS-literal bodies), :mod:`.client` (login, ``ys-*`` cookies, broker
calls), :mod:`.schema` (positional rows), :mod:`.mapping` and ``_journal`` (to the canonical
model), :mod:`.connector` (pull). The emulator serving the same wire contract (WIRE.md) lives
beside them.
"""

from __future__ import annotations

from .connector import AversConnector

__all__ = ["AversConnector"]
