"""A transport that counts the АВЕРС actions a pull asks (paths lower-cased: the SPA and the
captures spell the actions in both cases)."""

from __future__ import annotations

from collections import Counter

import httpx

__all__ = ["Count"]


class Count(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.paths: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths[request.url.path.lower()] += 1
        return await self.inner.handle_async_request(request)
