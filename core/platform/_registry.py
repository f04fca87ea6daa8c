"""The installed platforms: entry point group ``journalsync.platforms``, one :class:`Platform`
each (``name = "package:PLATFORM"``). Nothing else in journalsync lists platforms."""

from __future__ import annotations

import functools
import sys
from importlib.metadata import EntryPoint, entry_points

from core.connector import Connector
from core.errors import ConfigError

from ._descriptor import Platform

__all__ = ["GROUP", "connector_class", "get_platform", "installed", "platform_title", "platforms"]

GROUP = "journalsync.platforms"


@functools.lru_cache(maxsize=8)
def _scan(path: tuple[str, ...]) -> tuple[EntryPoint, ...]:
    """The group's entry points as seen on ``path``: reading every distribution's metadata
    takes milliseconds, and a page names a platform per row."""
    return tuple(entry_points(group=GROUP))


def _group() -> tuple[EntryPoint, ...]:
    return _scan(tuple(sys.path))


def platforms() -> dict[str, Platform]:
    """Every installed platform by name, in name order."""
    found: dict[str, Platform] = {}
    for ep in sorted(_group(), key=lambda e: e.name):
        if ep.name not in found:  # the same distribution may be seen twice on the path
            found[ep.name] = _loaded(ep)
    return found


def installed() -> list[str]:
    """The installed platforms' names, without importing any of them."""
    return sorted({ep.name for ep in _group()})


def get_platform(name: str) -> Platform:
    """The installed platform ``name`` (only its package is imported); a :class:`ConfigError`
    lists the installed ones."""
    for ep in _group():
        if ep.name == name:
            return _loaded(ep)
    raise ConfigError(f"unknown platform {name!r}; installed: {', '.join(installed()) or 'none'}")


def _loaded(ep: EntryPoint) -> Platform:
    try:
        obj = ep.load()
    except Exception as exc:  # a broken plugin: say which, never a traceback
        raise ConfigError(
            f"platform {ep.name}: cannot load {ep.value}: {type(exc).__name__}: {exc}",
            hint="reinstall the package that provides it, or uninstall it",
        ) from None
    if not isinstance(obj, Platform):
        raise ConfigError(f"entry point {GROUP}:{ep.name} ({ep.value}) is not a Platform")
    if obj.name != ep.name:
        raise ConfigError(f"entry point {GROUP}:{ep.name} describes platform {obj.name!r}")
    return obj


def connector_class(name: str) -> type[Connector]:
    return get_platform(name).connector


def platform_title(name: str) -> str:
    """The platform's own name for documents; the bare name when it is not installed."""
    try:
        return get_platform(name).title
    except ConfigError:
        return name
