"""Lookups an emulator works out from a :class:`~connectors.sandbox.World` once and keeps while
the World stays as it is."""

from __future__ import annotations

from datetime import date
from typing import Any

from .world import World

__all__ = ["Derived"]


class Derived:
    """Base of an emulator's index over a World (a pupil's lessons, a lesson's cells, …).

    :meth:`fresh` empties every table made by :meth:`table` once the World changed — every change
    goes through its methods, each of which bumps :attr:`World.version` — or its ``today`` moved.
    An index built so answers as a scan of the World would, byte for byte; call :meth:`fresh`
    before reading a table."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._stamp: tuple[int, date] | None = None
        self._tables: list[dict[Any, Any]] = []

    def table(self) -> dict[Any, Any]:
        """A new table, emptied with the others whenever the World changes."""
        made: dict[Any, Any] = {}
        self._tables.append(made)
        return made

    def fresh(self) -> None:
        stamp = (self.world.version, self.world.today)
        if stamp != self._stamp:
            self._stamp = stamp
            for made in self._tables:
                made.clear()
