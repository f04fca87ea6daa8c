"""Shared emulator toolkit: the deterministic world, fault injection, a loopback server."""

from connectors.sandbox.world import Account, World, WorldSize

__all__ = ["Account", "World", "WorldSize"]
