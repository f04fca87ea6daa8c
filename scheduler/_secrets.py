"""Where a secret lives (an environment variable, or a key of the TOML secrets file)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError
from core.logging import register_secret

__all__ = ["SecretRef"]


@dataclass(frozen=True, slots=True)
class SecretRef:
    """Where a password lives: an environment variable, or a key of a TOML secrets file."""

    env: str | None = None
    file: Path | None = None
    key: str | None = None

    def describe(self) -> str:
        return f"environment variable {self.env}" if self.env else f"{self.file} [{self.key}]"

    def resolve(self) -> str:
        """The secret itself (registered for log redaction); ``ConfigError`` when it is absent."""
        if self.env:
            value = os.environ.get(self.env, "")
            if not value:
                raise ConfigError(
                    f"no password: environment variable {self.env} is empty",
                    hint=f"export {self.env}=… before starting journalsync",
                )
        else:
            assert self.file is not None and self.key is not None
            try:
                data = tomllib.loads(self.file.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(
                    f"cannot read the secrets file {self.file}: {type(exc).__name__}",
                    hint='check the path and that the file is valid TOML (key = "password")',
                ) from None
            raw = data.get(self.key)
            value = raw if isinstance(raw, str) else ""
            if not value:
                raise ConfigError(f"the secrets file {self.file} has no key {self.key!r}")
        register_secret(value)
        return value
