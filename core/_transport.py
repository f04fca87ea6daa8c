"""The TCP transport under :class:`core.http.HttpClient`: httpx's client API over aiohttp's
connection pool and C HTTP parser.

httpx stays the client (cookies, URL joining, redirects, decoding, the transports tests inject);
only the wire is aiohttp's. A family-account pull is thousands of small requests, and on this
path httpx's own transport (httpcore + h11, pure Python) cost about three times the CPU per
request of aiohttp's, more as requests wait in flight on a distant server (``make bench``).

Behaviour kept from httpx's transport: its TLS context (:func:`httpx.create_ssl_context`), its
per-request timeouts (connect, read), its pool limits and keep-alive expiry, the body left
encoded for httpx to decode, no cookies or redirects handled here (httpx does both), and its
exception types, so :class:`core.http.HttpClient` maps failures as before.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import aiohttp
import httpx
from yarl import URL

__all__ = ["AiohttpTransport", "ProxyRouting"]

#: A header line or field longer than this is refused (h11's whole-head limit is 16 KiB).
_MAX_HEADER = 16 * 1024


@functools.cache
def _tls(verify: bool) -> ssl.SSLContext:
    """httpx's TLS context, made once per process: loading the CA bundle costs about 0.1 s,
    and a family-account school may open a client per account."""
    return httpx.create_ssl_context(verify=verify)


@contextmanager
def _as_httpx(request: httpx.Request) -> Iterator[None]:
    """aiohttp's failures as the httpx exceptions httpx's own transport raises."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:
        raise httpx.ConnectTimeout(str(exc) or "connect timed out", request=request) from exc
    except aiohttp.ServerTimeoutError as exc:  # the socket read timeout, or any other
        raise httpx.ReadTimeout(str(exc) or "read timed out", request=request) from exc
    except aiohttp.ClientConnectorError as exc:  # refused, unreachable, TLS refused
        raise httpx.ConnectError(str(exc), request=request) from exc
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
        raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__, request=request) from exc
    except aiohttp.ClientResponseError as exc:  # an answer that is not HTTP
        raise httpx.RemoteProtocolError(exc.message or str(exc), request=request) from exc
    except aiohttp.ClientError as exc:  # ClientOSError (reset, broken pipe) and the rest
        raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc


class _Body(httpx.AsyncByteStream):
    """The answer's body as aiohttp receives it; closing it returns the connection."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx(self._request):
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        self._response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An httpx transport over one aiohttp session (module doc). The session is made on the
    first request, in the running event loop (aiohttp binds it there); a request from another
    loop gets a new session."""

    def __init__(
        self,
        *,
        verify: bool = True,
        max_connections: int = 100,
        keepalive_expiry: float = 5.0,
    ) -> None:
        self._ssl = _tls(verify)
        self._max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _session_here(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            self._loop = loop
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._max_connections,
                    limit_per_host=0,
                    keepalive_timeout=self._keepalive_expiry,
                    ssl=self._ssl,
                ),
                cookie_jar=aiohttp.DummyCookieJar(),  # httpx keeps the cookies
                auto_decompress=False,  # httpx decodes the body by its Content-Encoding
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
                raise_for_status=False,
                trust_env=False,  # proxies: ProxyRouting (below) routes by the environment
                max_line_size=_MAX_HEADER,
                max_field_size=_MAX_HEADER,
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{request.url.scheme}://'.",
                request=request,
            )
        timeouts = request.extensions.get("timeout", {})
        body = await request.aread()
        session = self._session_here()
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        with _as_httpx(request):
            response = await session.request(
                request.method,
                URL(str(request.url), encoded=True),
                headers=headers,
                data=body or None,
                allow_redirects=False,
                compress=None,
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    sock_connect=timeouts.get("connect"),
                    sock_read=timeouts.get("read"),
                ),
            )
        version = response.version
        return httpx.Response(
            status_code=response.status,
            headers=list(response.raw_headers),
            stream=_Body(response, request),
            extensions={
                "http_version": f"HTTP/{version.major}.{version.minor}".encode()
                if version is not None
                else b"HTTP/1.1",
                "reason_phrase": (response.reason or "").encode("latin-1", "replace"),
            },
        )

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


class ProxyRouting(httpx.AsyncBaseTransport):
    """Each request through the proxy the environment names for its scheme (``HTTP_PROXY``,
    ``HTTPS_PROXY``, ``ALL_PROXY``) by httpx's own proxy transport, or by ``direct`` where
    ``NO_PROXY`` exempts its host — as httpx routes by the environment when it makes its own
    transports (it ignores the environment once it is given one)."""

    def __init__(
        self, direct: httpx.AsyncBaseTransport, proxies: dict[str, str], *, verify: bool
    ) -> None:
        self._direct = direct
        self._proxies = proxies
        self._verify = verify
        self._via: dict[str, httpx.AsyncHTTPTransport] = {}

    def _route(self, url: httpx.URL) -> httpx.AsyncBaseTransport:
        proxy = self._proxies.get(url.scheme) or self._proxies.get("all")
        if not proxy or urllib.request.proxy_bypass(url.host):  # NO_PROXY
            return self._direct
        via = self._via.get(proxy)
        if via is None:
            via = self._via[proxy] = httpx.AsyncHTTPTransport(
                verify=_tls(self._verify), proxy=proxy
            )
        return via

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._route(request.url).handle_async_request(request)

    async def aclose(self) -> None:
        await self._direct.aclose()
        for via in self._via.values():
            await via.aclose()
