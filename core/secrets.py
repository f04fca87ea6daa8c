"""Encryption at rest for connector state (rotated refresh tokens, mobile tokens).

The key is a Fernet key (32 url-safe base64 bytes) taken from ``$JOURNALSYNC_SECRET_KEY``, or from
the file named by ``$JOURNALSYNC_SECRET_KEY_FILE`` (default ``~/.config/journalsync/secret.key``),
which is created with mode 0600 on first use. Losing the key loses the stored tokens (the schools
log in again), never the journal data.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from core.errors import ConfigError
from core.files import FILE_MODE, private_dir

__all__ = ["Cipher"]

DEFAULT_KEY_FILE = Path.home() / ".config" / "journalsync" / "secret.key"


class Cipher:
    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError:
            raise ConfigError(
                "the secret key is not a valid Fernet key",
                hint="generate one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'",
            ) from None

    @classmethod
    def from_env(cls) -> Cipher:
        key = os.environ.get("JOURNALSYNC_SECRET_KEY")
        if key:
            return cls(key.encode())
        path = Path(os.environ.get("JOURNALSYNC_SECRET_KEY_FILE") or DEFAULT_KEY_FILE)
        if not path.exists():
            private_dir(path.parent)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
            with os.fdopen(fd, "wb") as fh:
                fh.write(Fernet.generate_key())
        return cls(path.read_bytes().strip())

    def encrypt(self, plain: bytes) -> str:
        return self._fernet.encrypt(plain).decode()

    def decrypt(self, token: str) -> bytes:
        try:
            return self._fernet.decrypt(token.encode())
        except InvalidToken:
            raise ConfigError(
                "stored connector state cannot be decrypted with this secret key",
                hint="use the key the state was written with, or set the credentials again",
            ) from None
