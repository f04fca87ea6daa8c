"""The three ``ys-*`` credential cookies (platform note §2) and their encoding strategies.

The SPA writes the cookies itself (``Ext.state.CookieProvider``) with JavaScript's ``escape()``:
``%XX`` below U+0100, ``%uXXXX`` above, and ``A–Z a–z 0–9 @ * _ + - . /`` kept. The server
compares the escaped strings, so UTF-8 percent-encoding of a Cyrillic login is *rejected*
(``/act/*`` answers ``[]``). Each encoding is a small strategy object so the connector uses the
right one and tests can send the wrong one on purpose.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

__all__ = [
    "CookieEncoding",
    "JsEscape",
    "Utf8Percent",
    "YsCookies",
    "js_escape",
    "js_unescape",
    "sha1_hex",
]

_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@*_+-./")


def sha1_hex(password: str) -> str:
    """``p`` of ``POST /login``: lowercase hex SHA-1 of the UTF-8 password."""
    return hashlib.sha1(password.encode("utf-8")).hexdigest()


def js_escape(text: str) -> str:
    """JavaScript ``escape()``: UTF-16 code units ≥ 256 → ``%uXXXX``, others → ``%XX``."""
    out: list[str] = []
    for ch in text:
        if ch in _SAFE:
            out.append(ch)
            continue
        code = ord(ch)
        if code < 0x100:
            out.append(f"%{code:02X}")
        elif code < 0x10000:
            out.append(f"%u{code:04X}")
        else:  # astral: two UTF-16 surrogates, as JavaScript strings hold them
            code -= 0x10000
            out.append(f"%u{0xD800 + (code >> 10):04X}%u{0xDC00 + (code & 0x3FF):04X}")
    return "".join(out)


def js_unescape(text: str) -> str:
    """JavaScript ``unescape()`` (the emulator reads cookies with it)."""
    units: list[int] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "%" and text[i + 1 : i + 2] == "u" and _is_hex(text[i + 2 : i + 6], 4):
            units.append(int(text[i + 2 : i + 6], 16))
            i += 6
        elif ch == "%" and _is_hex(text[i + 1 : i + 3], 2):
            units.append(int(text[i + 1 : i + 3], 16))
            i += 3
        else:
            units.extend(_utf16(ch))
            i += 1
    raw = b"".join(u.to_bytes(2, "little") for u in units)
    return raw.decode("utf-16-le", "surrogatepass")


def _is_hex(s: str, length: int) -> bool:
    return len(s) == length and all(c in "0123456789abcdefABCDEF" for c in s)


def _utf16(ch: str) -> list[int]:
    data = ch.encode("utf-16-le", "surrogatepass")
    return [int.from_bytes(data[k : k + 2], "little") for k in range(0, len(data), 2)]


class CookieEncoding(Protocol):
    """How a cookie value is written into the ``Cookie`` header."""

    def encode(self, value: str) -> str: ...


class JsEscape:
    """What the SPA does, and what the server accepts."""

    def encode(self, value: str) -> str:
        return js_escape(value)


class Utf8Percent:
    """RFC 3986 percent-encoding of UTF-8 — what a naive client does; the server rejects it."""

    def encode(self, value: str) -> str:
        return quote(value, safe="")


@dataclass(frozen=True, slots=True)
class YsCookies:
    """``ys-user = s:<login>``, ``ys-password = s:<sha1>``, ``ys-userId = n:<user id>``."""

    login: str
    password_sha1: str
    user_id: int

    def values(self) -> dict[str, str]:
        return {
            "ys-user": f"s:{self.login}",
            "ys-password": f"s:{self.password_sha1}",
            "ys-userId": f"n:{self.user_id}",
        }

    def header(self, encoding: CookieEncoding | None = None) -> str:
        """The ``Cookie`` header value (the client sets it directly: the server never sends
        ``Set-Cookie`` and a cookie jar might re-quote the ``%`` signs)."""
        enc = encoding or JsEscape()
        return "; ".join(f"{k}={enc.encode(v)}" for k, v in self.values().items())
