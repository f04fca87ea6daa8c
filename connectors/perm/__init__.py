"""ЭПОС.Школа («Электронная Пермская образовательная система», Пермский край) connector.

Layers: :mod:`.client` (one account's session over ``core.http``, with the auth strategies of
:mod:`._auth`), :mod:`.schema` (the platform's payloads), :mod:`.mapping` (to the canonical model),
:mod:`.connector` (the school pull over every account). The emulator serving the same wire
contract (WIRE.md) lives beside them.
"""

from __future__ import annotations

from core.platform import Platform

from ._howto import HOW_TO_GET_TOKEN
from .connector import PermConnector

__all__ = ["HOW_TO_GET_TOKEN", "PLATFORM", "PermConnector"]

#: What the rest of journalsync knows of the platform (entry point group ``journalsync.platforms``).
PLATFORM = Platform(
    name="perm",
    title="ЭПОС.Школа",
    connector=PermConnector,
    emulator="connectors.perm.emulator:create_app",
    harness="connectors.perm.harness:HARNESS",
    per_family=True,
    how_to=HOW_TO_GET_TOKEN,
)
