"""The NetSchool salted password hash (note §2.2 step 3)."""

from __future__ import annotations

import hashlib

import pytest

from connectors.netschool._hash import SaltedPasswordHash
from core.errors import AuthError

SALT = "1458933352"  # the salt of the swagger example in the note


def _reference(password: str, salt: str, encoding: str = "cp1251") -> str:
    inner = hashlib.md5(password.encode(encoding)).hexdigest()
    return hashlib.md5((salt + inner).encode()).hexdigest()


def test_ascii_vector_matches_an_independent_computation() -> None:
    expected = hashlib.md5(
        (SALT + hashlib.md5(b"password").hexdigest()).encode("ascii")
    ).hexdigest()
    h = SaltedPasswordHash("password")
    assert h.pw2(SALT) == expected
    assert h.pw2(SALT) == "dd11aeb2acf1e017d27e23489d3a6b71"  # frozen, so a regression shows
    assert h.pw(SALT) == expected[:8]


def test_cyrillic_password_is_hashed_in_windows_1251_not_utf8() -> None:
    h = SaltedPasswordHash("пароль")
    assert h.pw2(SALT) == _reference("пароль", SALT, "cp1251")
    assert h.pw2(SALT) == "86c5bc594ec36f15f30d3663aeb51ebb"
    assert h.pw2(SALT) != _reference("пароль", SALT, "utf-8")
    # PW is as long as the password in characters (6), not in UTF-8 bytes (12).
    assert h.pw(SALT) == h.pw2(SALT)[:6]


def test_each_salt_gives_a_different_hash_and_form_fields_agree() -> None:
    h = SaltedPasswordHash("школа2026")
    a, b = h.form_fields("111"), h.form_fields("222")
    assert a["pw2"] != b["pw2"]
    assert a == {"pw2": _reference("школа2026", "111"), "PW": _reference("школа2026", "111")[:9]}


def test_repr_hides_the_digest_and_unencodable_password_is_an_auth_error() -> None:
    h = SaltedPasswordHash("password")
    assert "5f4dcc3b" not in repr(h)
    with pytest.raises(AuthError) as err:
        SaltedPasswordHash("pass😀word")
    assert "😀" not in str(err.value)
