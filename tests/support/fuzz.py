"""Hypothesis settings shared by the fuzz tests (``test_fuzz_*.py``).

In CI: reproducible (``derandomize``, no example database), a per-example deadline against
hangs, and few enough examples that the fuzz files run in under a minute together. For a long
local hunt set ``JOURNALSYNC_FUZZ_EXAMPLES=5000``: then the examples are random, not derived
from the test's name, and many more.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings

__all__ = ["fuzz"]


def fuzz(max_examples: int, **kw: Any) -> settings:
    hunt = int(os.environ.get("JOURNALSYNC_FUZZ_EXAMPLES", "0") or 0)
    return settings(
        max_examples=hunt or max_examples,
        deadline=None if hunt else 2000,
        derandomize=not hunt,
        database=None,
        # The seed worlds and stores are made once per module (fixtures), inside the first
        # example's time: not an example's own slowness.
        suppress_health_check=[HealthCheck.too_slow],
        **kw,
    )
