"""NetSchool's salted password hash (note §2.2 step 3).

The login form never carries the password: it carries ``pw2 = md5hex(salt + md5hex(cp1251(pw)))``
and ``PW = pw2[:len(pw)]``. The inner digest is over **windows-1251** bytes: hashing UTF-8 works
for ASCII passwords only and silently breaks Cyrillic ones (lentryd#19), so the encoding is part
of the quirk, not a detail.
"""

from __future__ import annotations

from hashlib import md5

from core.errors import AuthError

__all__ = ["SaltedPasswordHash"]


class SaltedPasswordHash:
    """Holds only the unsalted digest and the length, so the plain password need not be kept.

    The salt is single-use on the server, hence a fresh :meth:`form_fields` per login attempt.
    """

    __slots__ = ("_digest", "_length")

    def __init__(self, password: str) -> None:
        try:
            raw = password.encode("cp1251")
        except UnicodeEncodeError:
            # The platform cannot have stored such a password; say so instead of sending garbage.
            raise AuthError(
                "the password contains characters that windows-1251 cannot encode; "
                "NetSchool cannot accept it",
            ) from None
        self._digest = md5(raw).hexdigest()
        self._length = len(password)

    def __repr__(self) -> str:
        return "SaltedPasswordHash(<hidden>)"

    def pw2(self, salt: str) -> str:
        """The full salted hash sent as ``pw2``."""
        return md5((salt + self._digest).encode("utf-8")).hexdigest()

    def pw(self, salt: str) -> str:
        """The truncated hash sent as ``PW`` (as long as the plain password, in characters)."""
        return self.pw2(salt)[: self._length]

    def form_fields(self, salt: str) -> dict[str, str]:
        full = self.pw2(salt)
        return {"pw2": full, "PW": full[: self._length]}
