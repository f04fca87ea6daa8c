"""Ruobr («Электронная школа 2.0», Кузбасс) connector.

Layers: :mod:`._auth` (header credentials, browser User-Agent), :mod:`.client` (api3d calls and
the ``success`` envelope over ``core.http``), :mod:`.schema` (the platform's payloads),
:mod:`.mapping` and :mod:`._journal` (to the canonical model), :mod:`.connector` (pages and
cursors). The emulator serving the same wire contract (WIRE.md) lives beside them.
"""

from __future__ import annotations

from core.platform import Platform

from .connector import RuobrConnector

__all__ = ["PLATFORM", "RuobrConnector"]

#: What the rest of journalsync knows of the platform (entry point group ``journalsync.platforms``).
PLATFORM = Platform(
    name="ruobr",
    title="«Электронная школа 2.0»",
    connector=RuobrConnector,
    emulator="connectors.ruobr.emulator:create_app",
    harness="connectors.ruobr.harness:HARNESS",
    per_family=True,
)
