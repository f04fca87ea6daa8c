"""Everything under tests/e2e/ is an end-to-end test: marked slow (``make test-fast`` skips it)."""

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/tests/e2e/" in item.path.as_posix():
            item.add_marker(pytest.mark.slow)
