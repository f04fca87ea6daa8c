"""Shared emulator toolkit: the deterministic world, fault injection, a loopback server."""

from connectors.sandbox._names import BELLS
from connectors.sandbox.world import Account, World, WorldSize

__all__ = ["BELLS", "Account", "World", "WorldSize"]
