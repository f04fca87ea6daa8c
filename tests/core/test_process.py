"""core.process: the collector's settings every journalsync process applies at start."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from core.process import GC_GEN0_THRESHOLD, tune_gc


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_tune_gc_collects_less_often_and_freezes_what_is_alive_at_start() -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    tune_gc()
    assert gc.get_threshold()[0] == GC_GEN0_THRESHOLD
    # the imported modules' objects (pytest's and this project's): never walked again
    assert gc.get_freeze_count() > 10_000
