"""Helpers the tests share (not tests themselves)."""

from pathlib import Path

__all__ = ["REPO_ROOT"]

#: The repository's root folder.
REPO_ROOT = Path(__file__).resolve().parents[2]
