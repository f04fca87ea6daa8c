"""Where a secret lives (an environment variable, or a key of the TOML secrets file)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError
from core.logging import register_secret

__all__ = ["SecretRef"]


#: Each secrets file as last parsed, by path, with the stat it had then: a
#: family-account school names one file once per account, and parsing a 1,100-account file
#: 1,100 times took 10 s of a 15 s pull. A changed file is read again.
_parsed: dict[Path, tuple[tuple[int, ...], dict[str, object]]] = {}


def _read(path: Path) -> dict[str, object]:
    info = path.stat()
    stamp = (info.st_ino, info.st_mtime_ns, info.st_ctime_ns, info.st_size)
    known = _parsed.get(path)
    if known is not None and known[0] == stamp:
        return known[1]
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    _parsed[path] = (stamp, data)
    return data


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
                data = _read(self.file)
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
