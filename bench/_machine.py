"""What machine a figure was measured on: printed at the top of every benchmark run."""

from __future__ import annotations

import os
import platform
import sqlite3
from pathlib import Path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def describe(pg_version: str | None = None) -> str:
    parts = [
        f"cpu: {_cpu_model()} × {os.cpu_count()} cores",
        f"memory: {_memory_gib()}",
        f"os: {platform.system()} {platform.release()}",
        f"python: {platform.python_version()}",
        f"sqlite: {sqlite3.sqlite_version}",
    ]
    if pg_version:
        parts.append(f"postgresql: {pg_version}")
    return "\n".join(f"  {p}" for p in parts)
