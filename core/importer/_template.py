"""Reading an offline journal made by ``journalsync template`` back into importer rows."""

from __future__ import annotations

from pathlib import Path

from core.importer._read import Table

__all__ = ["is_template", "template_table"]


def is_template(source: Path) -> bool:
    return False


def template_table(source: Path) -> Table:
    raise NotImplementedError
