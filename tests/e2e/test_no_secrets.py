"""No password, token or cookie reaches anything journalsync writes — at debug level, in both log
formats.

The whole demo (``journalsync -v demo``, and again with ``--json-logs``) runs against every
platform's emulator on loopback. The emulators record every credential that crossed them — each
Set-Cookie value, each token issued, each password or hash sent (``connectors/sandbox/_issued``)
— and the test adds every account password of the demo's worlds. Then it searches all the run
wrote: the work folder (SQLite stores, CSVs, XLSX unzipped, PDF text), stdout and stderr.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import stat
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from connectors.sandbox import World
from connectors.sandbox._issued import ENV
from journalsync.demo import DEMO_SIZE
from journalsync.demo_worklist import WORKLIST_SIZE

SEED = 7
MODES = {"console": ["-v"], "json": ["-v", "--json-logs"]}


def _world_passwords() -> set[str]:
    out: set[str] = set()
    for size in (DEMO_SIZE, WORKLIST_SIZE):
        world = World.generate(SEED, size)
        out |= {a.password for a in world.accounts() if a.password}
    return out


def _needles(values: set[str]) -> set[bytes]:
    """Each value as it could be written: plain and URL-encoded (httpx logs encoded URLs)."""
    forms = {f for v in values for f in (v, quote(v, safe=""), quote_plus(v))}
    return {f.encode("utf-8") for f in forms}


def _blobs(path: Path) -> Iterator[tuple[str, bytes]]:
    """The file's bytes, and what is inside: zip members (XLSX, packages) and PDF text."""
    data = path.read_bytes()
    yield str(path), data
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for name in zf.namelist():
                yield f"{path}!{name}", zf.read(name)
    if data[:5] == b"%PDF-":
        text = subprocess.run(
            ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True
        ).stdout
        yield f"{path} (text)", text


class _Finder:
    """Which needles occur in a text, fast on tens of megabytes of logs and exact.

    Every byte no needle contains is a delimiter, so an occurrence of a needle lies inside one
    run of non-delimiters at least as long as the shortest needle; the logs repeat themselves, so
    the distinct runs are a few megabytes, searched once per needle.
    """

    def __init__(self, needles: set[bytes]) -> None:
        self.needles = needles
        alphabet = set().union(*(set(n) for n in needles))
        delimiters = b"".join(re.escape(bytes([b])) for b in range(256) if b not in alphabet)
        shortest = min(len(n) for n in needles)
        self._runs = re.compile(b"[^" + delimiters + b"]{%d,}" % shortest)

    def hits(self, name: str, data: bytes) -> list[str]:
        runs = b"\n".join(set(self._runs.findall(data)))  # "\n" is a delimiter
        return [f"{name}: {n[:4].decode(errors='replace')}…" for n in self.needles if n in runs]


@pytest.mark.slow
def test_the_demo_writes_no_secret_anywhere(tmp_path: Path) -> None:
    if subprocess.run(["which", "pdftotext"], capture_output=True).returncode != 0:
        pytest.skip("pdftotext (poppler-utils) is not installed: PDF text cannot be searched")
    procs = {}
    with contextlib.ExitStack() as files:
        for mode, flags in MODES.items():
            run_dir = tmp_path / mode
            run_dir.mkdir()
            env = {
                **os.environ,
                ENV: str(run_dir / "issued.jsonl"),
                "PYTHONPATH": os.pathsep.join(sys.path),
                "COLUMNS": "200",
            }
            # The two runs share nothing but the machine: run them side by side.
            procs[mode] = subprocess.Popen(
                [sys.executable, "-m", "journalsync", *flags, "demo", "--workdir",
                 str(run_dir / "work"), "--seed", str(SEED)],
                cwd=run_dir, env=env, umask=0o022,
                stdout=files.enter_context((run_dir / "stdout.txt").open("wb")),
                stderr=files.enter_context((run_dir / "stderr.txt").open("wb")),
            )  # fmt: skip
        codes = {mode: proc.wait(timeout=900) for mode, proc in procs.items()}
    for mode, code in codes.items():
        assert code == 0, (mode, (tmp_path / mode / "stderr.txt").read_bytes()[-3000:])

    issued: set[str] = set()
    for mode in MODES:
        lines = (tmp_path / mode / "issued.jsonl").read_text(encoding="utf-8").splitlines()
        issued |= {json.loads(line) for line in lines if line}
    # The record is not empty and holds what matters: cookies (NetSchool's ESRNSec is 48 hex
    # characters), tokens, password hashes.
    assert len(issued) > 200, len(issued)
    assert any(len(v) == 48 and all(c in "0123456789abcdef" for c in v) for v in issued)
    finder = _Finder(_needles(issued | _world_passwords()))

    hits: list[str] = []
    for mode in MODES:
        run_dir = tmp_path / mode
        stderr = (run_dir / "stderr.txt").read_bytes()
        # The run logged at DEBUG: every request's line is there (httpcore's header lines, which
        # once leaked cookies, are tested in tests/core/test_logging.py: the default transport,
        # core._transport's, logs no headers).
        assert b"http.request" in stderr, mode
        if mode == "json":
            first = stderr.splitlines()[0]
            assert json.loads(first)["event"], first
        for name in ("stdout.txt", "stderr.txt"):
            hits += finder.hits(f"{mode}/{name}", (run_dir / name).read_bytes())
        work = run_dir / "work"
        files = sorted(p for p in work.rglob("*") if p.is_file())
        assert any(p.suffix == ".db" for p in files) and any(p.suffix == ".pdf" for p in files)
        for path in files:
            for name, data in _blobs(path):
                hits += finder.hits(name, data)
        # and the demo's files are owner-only, though the umask was 022
        loose = [str(p) for p in files if stat.S_IMODE(p.stat().st_mode) != 0o600]
        assert not loose, loose
        assert stat.S_IMODE(work.stat().st_mode) == 0o700
    assert not hits, hits[:20]
