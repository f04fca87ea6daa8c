"""The one object a platform exports: :class:`Platform` (``connectors/<name>/__init__.py``).

Everything outside a platform's own package learns about it here — its Russian title for
documents, its connector and options, its emulator and conformance harness, how to obtain a first
token, its default time zone, whether it reads one family per account. Emulator and harness are
named by ``"module:attribute"`` and imported only when asked for: a pull never loads them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from core.connector import Connector, PlatformOptions
from core.errors import ConfigError

__all__ = ["Platform"]


@dataclass(frozen=True, slots=True)
class Platform:
    #: The name configs, stores and entry points use (``[a-z0-9_]+``); the connector's too.
    name: str
    #: The platform's own name as documents for schools print it (Russian).
    title: str
    connector: type[Connector]
    #: ``"module:attribute"`` of the emulator's ``create_app(world, faults=None, options=None)``.
    emulator: str
    #: ``"module:attribute"`` of its conformance-suite entry (``connectors.conformance.Harness``).
    harness: str
    #: One family (or pupil) per account: a school is read through many accounts.
    per_family: bool
    #: How to obtain a first token where the first login needs a person at a browser (printed
    #: by ``journalsync credentials how``); empty: the platform logs in with a password.
    how_to: str = ""

    def __post_init__(self) -> None:
        if self.connector.platform != self.name:
            raise TypeError(
                f"platform {self.name!r}: its connector says it is {self.connector.platform!r}"
            )

    @property
    def options(self) -> type[PlatformOptions]:
        """The typed options model of a school's ``options`` table (``extra="forbid"``)."""
        return self.connector.options_model

    @property
    def timezone(self) -> str:
        """The zone of the platform's schools when the config names none."""
        return self.connector.default_timezone

    def create_app(self) -> Callable[..., Any]:
        """The emulator's app factory."""
        factory = _load(self.emulator, self.name)
        if not callable(factory):
            raise ConfigError(f"{self.name}: emulator {self.emulator} is not callable")
        return factory  # type: ignore[no-any-return]

    def load_harness(self) -> Any:
        """The conformance harness (a ``connectors.conformance.Harness``)."""
        return _load(self.harness, self.name)


def _load(ref: str, platform: str) -> Any:
    module, _, attr = ref.partition(":")
    try:
        return getattr(import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{platform}: cannot load {ref}: {exc}") from None
