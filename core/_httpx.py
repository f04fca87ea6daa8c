"""The ``httpx.AsyncClient`` under :class:`core.http.HttpClient`, with httpx's per-request work
cut to what a connector's requests need.

A family-account pull is thousands of small requests, and httpx spends more CPU building and
sending each than the connector spends on its answer (``make bench``, py-spy): it parses every
URL with a query anew (about 0.1 ms here), copies the cookie jar and asks
:mod:`http.cookiejar` for the ``Cookie`` header on every request (about 0.3 ms with one cookie),
and runs its auth and redirect machinery for clients that have neither. This client gives the
same requests for less:

* a URL is parsed (a relative one joined with the base URL) once per path, and a query made of
  characters that need no escaping is put on that parsed path as it is (what httpx's parser
  would give: it leaves such a query alone);
* the ``Cookie`` header is worked out by :mod:`http.cookiejar` once per (scheme, host, port,
  path) and jar content, and reused until the jar changes or one of its cookies expires;
* a request with no body (a GET) is built without httpx's body encoding, and its headers
  (the client's merged with the request's own, and the ``Host`` httpx adds) are worked out
  once per (method, host, request headers) and client headers;
* :meth:`send` of a streamed request with no auth and no redirect to follow goes straight to
  the transport, with what httpx's own send does around it (timeout, cookies taken from the
  answer, response hooks, the body's timer, its log line).

Anything else (files, per-call cookies or auth, redirects, request hooks, a base URL with a
query) goes through httpx's own code. It reads a few of httpx's private names (pinned in
``requirements.lock``); ``tests/core/test_httpx.py`` checks the results against httpx's own.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Mapping
from typing import Any

import httpx
from httpx._client import BoundAsyncStream
from httpx._content import ByteStream
from httpx._exceptions import request_context

__all__ = ["AsyncClient", "Cookies", "query_text"]

#: httpx's own logger: its line for each request is kept.
_log = logging.getLogger("httpx")

#: Parsed URLs (the part before the query) a client remembers: a few dozen paths in practice;
#: paths with ids in them are forgotten all at once when there are more.
_MERGED_URLS = 512
#: (scheme, host, port, path) → ``Cookie`` header a client remembers for one jar content.
_COOKIE_HEADERS = 256
#: (method, host, request headers) → a body-less request's headers a client remembers (a
#: family-account pull sends each account's own two headers: a thousand keys).
_REQUEST_HEADERS = 4096
#: Methods httpx gives ``Content-Length: 0`` when they have no body.
_LENGTH_ZERO = frozenset({"POST", "PUT", "PATCH"})

#: A query httpx's parser leaves as it is: printable ASCII but space, ``"``, ``#``, ``<``, ``>``
#: (httpx's ``QUERY_SAFE``; ``%`` stays, escaped or not).
_PLAIN_QUERY = re.compile(r"[!$-;=?-~]*")
#: Characters a query's names and values keep as they are (RFC 3986 unreserved).
_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]*")


class Cookies(httpx.Cookies):
    """httpx's cookie store, which reads a response's cookies only when it sets any: httpx
    otherwise builds urllib request and response stand-ins for every response."""

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers:
            super().extract_cookies(response)


def _is_relative(path: str) -> bool:
    """A URL's part before its query with no scheme and no authority (``http://…``,
    ``//host/…``): joined under the base URL."""
    return ":" not in path and not path.startswith("//")


def query_text(params: Mapping[str, Any] | list[tuple[str, Any]]) -> str:
    """``str(httpx.QueryParams(params))``, without building it where every name is a string and
    every value a string or an integer (not a bool) of unreserved characters: the usual query
    of ids and dates, which encoding leaves as it is."""
    items = params.items() if isinstance(params, Mapping) else params
    parts = []
    for key, value in items:
        kind = type(value)
        text = value if kind is str else str(value) if kind is int else None
        if text is None or type(key) is not str:
            return str(httpx.QueryParams(params))
        if not (_UNRESERVED.fullmatch(key) and _UNRESERVED.fullmatch(text)):
            return str(httpx.QueryParams(params))
        parts.append(f"{key}={text}")
    return "&".join(parts)


def _with_query(url: httpx.URL, query: str) -> httpx.URL:
    """``url`` (which has no query) with ``query``, a query httpx's parser would leave as it is
    (:data:`_PLAIN_QUERY`): the parsed parts of ``url`` with the query put in, as httpx's own
    ``URL(f"{url}?{query}")`` gives them."""
    out = httpx.URL.__new__(httpx.URL)
    out._uri_reference = url._uri_reference._replace(query=query)
    return out


class AsyncClient(httpx.AsyncClient):
    """``httpx.AsyncClient`` with the cheaper per-request paths of the module doc, and
    :class:`Cookies` as its cookie store (also after ``client.cookies = …``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._cookies = Cookies(self._cookies.jar)
        self._merged: dict[str, httpx.URL] = {}
        self._merged_base: httpx.URL | None = None
        self._base_text: str | None = None
        self._cookie_state: tuple[Any, ...] | None = None
        self._cookie_until = 0.0
        self._cookie_headers: dict[tuple[str, str, int | None, str], str] = {}
        self._request_headers: dict[tuple[Any, ...], list[tuple[bytes, bytes, bytes]]] = {}
        self._request_headers_of: list[tuple[bytes, bytes, bytes]] | None = None

    @property
    def cookies(self) -> httpx.Cookies:
        return self._cookies

    @cookies.setter
    def cookies(self, cookies: httpx._types.CookieTypes) -> None:
        self._cookies = Cookies(cookies)

    # -- building a request ------------------------------------------------------------------

    def build_request(
        self,
        method: str,
        url: httpx.URL | str,
        *,
        content: Any = None,
        data: Any = None,
        files: Any = None,
        json: Any = None,
        params: Any = None,
        headers: Any = None,
        cookies: Any = None,
        timeout: Any = httpx.USE_CLIENT_DEFAULT,
        extensions: Any = None,
    ) -> httpx.Request:
        if (
            files is not None
            or cookies is not None
            or extensions is not None
            or timeout is not httpx.USE_CLIENT_DEFAULT
            or self.params
        ):
            return super().build_request(
                method,
                url,
                content=content,
                data=data,
                files=files,
                json=json,
                params=params,
                headers=headers,
                cookies=cookies,
                timeout=timeout,
                extensions=extensions,
            )
        if content is None and data is None and json is None and params is None:
            request = self._bodyless(method, self._merge_url(url), headers)
            self._add_cookie_header(request)
            return request
        # httpx's build_request, less the copy of the cookie jar (the header comes from
        # _add_cookie_header) and the client's empty params merged in
        request = httpx.Request(
            method,
            self._merge_url(url),
            content=content,
            data=data,
            json=json,
            params=params,
            headers=self._merge_headers(headers),
            extensions={"timeout": self.timeout.as_dict()},
        )
        self._add_cookie_header(request)
        return request

    def _bodyless(self, method: str, url: httpx.URL, headers: Any) -> httpx.Request:
        """``httpx.Request(method, url, headers=self._merge_headers(headers))`` for a request
        without a body, built without its body encoding: the same method, URL, headers (the
        merged ones, the ``Host`` httpx adds first, ``Content-Length: 0`` for a POST, PUT or
        PATCH), empty stream and content and the client's timeout. The headers are worked
        out once per (method, host, request headers) while the client's own stay the same."""
        method = method.upper()
        key: tuple[Any, ...] | None = None
        found = None
        if headers is None or type(headers) is dict:
            own = self.headers._list
            if own != self._request_headers_of:  # the client's headers changed (or first use)
                self._request_headers.clear()
                self._request_headers_of = list(own)
            key = (method, url.netloc, tuple(headers.items()) if headers else ())
            try:
                found = self._request_headers.get(key)
            except TypeError:  # a value that is no header value: httpx's own error below
                key = None
        if found is None:
            merged = self._merge_headers(headers)
            assert isinstance(merged, httpx.Headers)
            auto: list[tuple[bytes, bytes]] = []
            # httpx's Request._prepare with no default headers of a body
            if "Host" not in merged and url.host:
                auto.append((b"Host", url.netloc))
            if method in _LENGTH_ZERO and not (
                "Content-Length" in merged or "Transfer-Encoding" in merged
            ):
                auto.append((b"Content-Length", b"0"))
            found = httpx.Headers(auto + merged.raw)._list
            if key is not None:
                if len(self._request_headers) >= _REQUEST_HEADERS:
                    self._request_headers.clear()
                self._request_headers[key] = found
        request = httpx.Request.__new__(httpx.Request)
        request.method = method
        request.url = url
        request.headers = httpx.Headers()
        request.headers._list = list(found)  # its own: a Cookie header may be added to it
        request.extensions = {"timeout": self.timeout.as_dict()}
        request.stream = ByteStream(b"")
        request._content = b""
        return request

    def _merge_url(self, url: httpx.URL | str) -> httpx.URL:
        if not isinstance(url, str) or "#" in url:
            return super()._merge_url(url)  # (httpx's join drops a fragment)
        if self._merged_base is not self._base_url:  # a new base_url: joins start over
            self._merged.clear()
            self._merged_base = self._base_url
            base = self._base_url
            # httpx's join of a relative URL is the base's text (with its trailing slash) and
            # the URL's without leading slashes: one parse of both instead of two
            plain = base.is_absolute_url and not base.query and not base.fragment
            text = str(base)  # "http://host" for an empty path, whose raw_path is "/"
            self._base_text = (text if text.endswith("/") else f"{text}/") if plain else None
        path, mark, query = url.partition("?")
        if mark and not _PLAIN_QUERY.fullmatch(query):
            return super()._merge_url(url)
        merged = self._merged.get(path)
        if merged is None:
            if _is_relative(path) and self._base_text is not None:
                merged = httpx.URL(self._base_text + path.lstrip("/"))
            else:  # absolute: httpx takes it as it is; anything else is httpx's to join
                merged = httpx.URL(path)
                if not merged.is_absolute_url:
                    return super()._merge_url(url)
            if len(self._merged) >= _MERGED_URLS:
                self._merged.clear()
            self._merged[path] = merged
        return _with_query(merged, query) if mark else merged

    def _add_cookie_header(self, request: httpx.Request) -> None:
        """The jar's ``Cookie`` header on ``request`` (none where it has its own), worked out by
        :mod:`http.cookiejar` once per (scheme, host, port, path) and jar content."""
        jar = self._cookies.jar
        if "cookie" in request.headers:
            return
        state = tuple(
            (c.name, c.value, c.domain, c.path, c.port, c.secure, c.expires, c.version) for c in jar
        )
        if not state:
            return
        now = time.time()
        if state != self._cookie_state or now >= self._cookie_until:
            self._cookie_headers.clear()
            self._cookie_state = state
            # a cached header holds until the first of its cookies expires
            expiries = [c.expires for c in jar if c.expires is not None]
            self._cookie_until = min(expiries) if expiries else math.inf
        url = request.url
        key = (url.scheme, url.host, url.port, url.path)
        header = self._cookie_headers.get(key)
        if header is None:
            self._cookies.set_cookie_header(request)
            if len(self._cookie_headers) >= _COOKIE_HEADERS:
                self._cookie_headers.clear()
            self._cookie_headers[key] = request.headers.get("cookie", "")
        elif header:
            request.headers["Cookie"] = header

    # -- sending it --------------------------------------------------------------------------

    async def send(
        self,
        request: httpx.Request,
        *,
        stream: bool = False,
        auth: Any = httpx.USE_CLIENT_DEFAULT,
        follow_redirects: Any = httpx.USE_CLIENT_DEFAULT,
    ) -> httpx.Response:
        default = follow_redirects is httpx.USE_CLIENT_DEFAULT
        if (
            not stream
            or (self.follow_redirects if default else follow_redirects)
            or auth is not httpx.USE_CLIENT_DEFAULT
            or self.auth is not None
            or self.is_closed
            or self.event_hooks["request"]
        ):
            return await super().send(
                request, stream=stream, auth=auth, follow_redirects=follow_redirects
            )
        # httpx's send → _send_handling_auth → _send_handling_redirects → _send_single_request,
        # for a streamed request with no auth and no redirect to follow
        self._set_timeout(request)
        transport = self._transport_for_url(request.url)
        start = time.perf_counter()
        with request_context(request=request):
            response = await transport.handle_async_request(request)
        response.request = request
        response.stream = BoundAsyncStream(response.stream, response=response, start=start)  # type: ignore[arg-type]
        self._cookies.extract_cookies(response)
        response.default_encoding = self._default_encoding
        if _log.isEnabledFor(logging.INFO):
            _log.info(
                'HTTP Request: %s %s "%s %d %s"',
                request.method,
                request.url,
                response.http_version,
                response.status_code,
                response.reason_phrase,
            )
        try:
            for hook in self.event_hooks["response"]:
                await hook(response)
        except BaseException:
            await response.aclose()
            raise
        return response
