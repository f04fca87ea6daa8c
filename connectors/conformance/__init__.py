"""The conformance suite every connector passes (DESIGN.md §5).

A platform joins by naming a :class:`Harness` in its :class:`core.platform.Platform`
descriptor (``harness="connectors.<name>.harness:HARNESS"``); ``pytest connectors/conformance``
then runs every case on every installed platform.
"""

from connectors.conformance.harness import Harness, harnesses

__all__ = ["Harness", "harnesses"]
