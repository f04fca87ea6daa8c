"""Owner-only files: what journalsync writes holds minors' journal data or credentials.

Every file the project creates (the SQLite store, reports, worklists, packages, the secrets
file) is created with mode 0600 and every folder it creates with 0700, whatever the process
umask — so a library user, a test or the scheduler calling ``core`` directly gets the same
modes as the CLI (which also sets ``umask 077`` at start for what third-party code creates).
Existing folders are left as they are: a report written into ``/tmp`` or a shared folder the
operator chose must not change that folder's mode.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["DIR_MODE", "FILE_MODE", "private_dir", "write_private"]

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: str | Path) -> Path:
    """Create ``path`` and its missing parents with mode 0700 (existing ones are left alone)."""
    target = Path(path)
    missing: list[Path] = []
    p = target
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # created meanwhile by someone else: not ours to change
        os.chmod(folder, DIR_MODE)  # mkdir's mode is filtered by the umask
    return target


def write_private(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` (mode 0600), creating missing folders 0700.

    The file is written under a fresh random temporary name created with
    ``O_CREAT|O_EXCL|O_NOFOLLOW`` (0600) and renamed over ``path``: a reader never sees half a
    file, and a symlink planted at ``path`` is replaced, never followed.
    """
    out = Path(path)
    private_dir(out.parent)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_BINARY", 0)
    for _ in range(8):
        # A fresh unguessable name each time: nothing can be planted there in advance, and
        # two writers of the same file never share one. O_EXCL|O_NOFOLLOW: never an existing
        # file, never through a link.
        tmp = out.with_name(f".{out.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, flags, FILE_MODE)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(f"no free temporary name next to {out}")
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), FILE_MODE)  # O_CREAT's mode is filtered by the umask
            fh.write(raw)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out
