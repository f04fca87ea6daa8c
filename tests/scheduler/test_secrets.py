"""A secret named by a key of the TOML secrets file: read once per file and change, not once per
account (a family-account school names the file a thousand times), and read again when the file
changes."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from core.errors import ConfigError
from scheduler import SecretRef


def test_many_accounts_parse_the_file_once_and_a_change_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "secrets.toml"
    path.write_text("".join(f'"s.family-{n}.password" = "pw-{n}"\n' for n in range(300)))
    parsed = 0
    loads = tomllib.loads

    def counting(text: str) -> dict[str, object]:
        nonlocal parsed
        parsed += 1
        return loads(text)

    monkeypatch.setattr(tomllib, "loads", counting)
    refs = [SecretRef(file=path, key=f"s.family-{n}.password") for n in range(300)]
    assert [ref.resolve() for ref in refs] == [f"pw-{n}" for n in range(300)]
    assert parsed == 1

    # Rewritten in place with a value of the same length, its time stamp kept: still seen.
    stat = path.stat()
    path.write_text(path.read_text().replace('"pw-7"', '"pw-X"'))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert refs[7].resolve() == "pw-X"
    assert parsed == 2

    path.write_text('"other" = "x"\n')
    with pytest.raises(ConfigError, match=r"has no key 's\.family-7\.password'"):
        refs[7].resolve()
