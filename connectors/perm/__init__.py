"""ЭПОС.Школа («Электронная Пермская образовательная система», Пермский край) connector.

Layers: :mod:`.client` (one account's session over ``core.http``, with the auth strategies of
:mod:`._auth`), :mod:`.schema` (the platform's payloads), :mod:`.mapping` (to the canonical model),
:mod:`.connector` (the school pull over every account). The emulator serving the same wire
contract (WIRE.md) lives beside them.
"""

from __future__ import annotations

from .connector import PermConnector

__all__ = ["PermConnector"]
