"""The conformance suite every connector passes (DESIGN.md §5).

A platform joins by exposing a :class:`Harness` under the entry point group
``journalsync.harnesses``; ``pytest connectors/conformance`` then runs every case on it.
"""

from connectors.conformance.harness import Harness, harnesses

__all__ = ["Harness", "harnesses"]
