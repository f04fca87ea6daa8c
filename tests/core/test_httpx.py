"""core._httpx: the lean paths give what httpx's own code gives."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from core import _httpx
from core._httpx import AsyncClient, query_text

BASES = [
    "http://127.0.0.1:8000",
    "http://127.0.0.1:8000/api/",
    "https://школа.рф/webapi",
    "http://127.0.0.1:8000/api?key=1",
    "",
]
URLS = [
    "schedule",
    "/schedule",
    "//schedule",
    "a/b/../c",
    "schedule?student_id=12345&week=2026-11-30",
    "schedule?",
    "schedule?a=%20b&c=d%zz",
    "schedule?q=два слова",
    'schedule?q="x"<y>',
    "schedule?q=a#frag",
    "школа/дневник?x=1",
    "path with space?x=1",
    "act/GET_DAIRY_CLASS_SUBJECTS?cls=1013&student=%u0421",
    "http://other.host/x?y=1",
    "https://other.host/дневник/x?y=1&z=2",
    "//other.host/x?y=1",
    "mailto:x@y?subject=1",
]


@pytest.mark.parametrize("base", BASES)
def test_urls_are_httpx_own(base: str) -> None:
    lean, stock = AsyncClient(base_url=base), httpx.AsyncClient(base_url=base)
    for _ in range(2):  # the second time from the cached join
        for url in URLS:
            try:
                theirs = stock.build_request("GET", url).url
            except httpx.InvalidURL:
                with pytest.raises(httpx.InvalidURL):
                    lean.build_request("GET", url)
                continue
            ours = lean.build_request("GET", url).url
            assert (str(ours), ours.raw_path, ours.host) == (
                str(theirs),
                theirs.raw_path,
                theirs.host,
            ), url


def test_a_new_base_url_starts_the_joins_over() -> None:
    client = AsyncClient(base_url="http://a.test/v1/")
    assert str(client.build_request("GET", "x?y=1").url) == "http://a.test/v1/x?y=1"
    client.base_url = "http://b.test/v2/"
    assert str(client.build_request("GET", "x?y=1").url) == "http://b.test/v2/x?y=1"


@pytest.mark.parametrize(
    "params",
    [
        {"student_id": 12345, "week": "2026-11-30"},
        {"n": -5, "f": 1.5, "t": True, "no": None},
        {"q": "два слова", "p": "a+b&c=d", "pct": "%20"},
        [("id", 1), ("id", 2), ("tilde", "a~b")],
        {"ids": [1, 2]},
        {},
    ],
)
def test_query_text_is_httpx_own(params: Any) -> None:
    assert query_text(params) == str(httpx.QueryParams(params))


def _headers(client: httpx.AsyncClient, url: str, **kwargs: Any) -> str | None:
    return client.build_request("GET", url, **kwargs).headers.get("cookie")


def _both(setup: Any) -> tuple[AsyncClient, httpx.AsyncClient]:
    lean, stock = AsyncClient(), httpx.AsyncClient()
    setup(lean.cookies)
    setup(stock.cookies)
    return lean, stock


def test_cookie_header_is_the_jars() -> None:
    def setup(jar: httpx.Cookies) -> None:
        jar.set("sid", "s1", domain="school.test")
        jar.set("api", "a1", domain="school.test", path="/api")
        jar.set("other", "o1", domain="other.test")

    lean, stock = _both(setup)
    for url in [
        "http://school.test/api/x",
        "http://school.test/web/x",
        "https://school.test/api/x?y=1",
        "http://other.test/",
        "http://nobody.test/",
    ]:
        for _ in range(2):  # the second time from the cache
            assert _headers(lean, url) == _headers(stock, url), url
    # the request's own Cookie header wins, as with httpx
    own = {"Cookie": "mine=1"}
    assert _headers(lean, "http://school.test/api/x", headers=own) == "mine=1"


def test_cookie_header_follows_the_jar() -> None:
    lean = AsyncClient()
    assert _headers(lean, "http://school.test/") is None
    lean.cookies.set("sid", "s1", domain="school.test")
    assert _headers(lean, "http://school.test/") == "sid=s1"
    lean.cookies.set("sid", "s2", domain="school.test")
    assert _headers(lean, "http://school.test/") == "sid=s2"
    lean.cookies.delete("sid")
    assert _headers(lean, "http://school.test/") is None
    lean.cookies = {"a": "1"}  # a new store: the header follows it too
    assert _headers(lean, "http://school.test/") == "a=1"


def test_a_remembered_cookie_header_ends_when_a_cookie_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lean = AsyncClient()
    now = time.time()
    response = httpx.Response(
        200,
        headers=[
            ("set-cookie", "sid=s1; Path=/"),
            ("set-cookie", f"short=x; Path=/; Expires={_http_date(now + 60)}"),
        ],
        request=httpx.Request("GET", "http://school.test/"),
    )
    lean.cookies.extract_cookies(response)
    assert _headers(lean, "http://school.test/") == "sid=s1; short=x"
    monkeypatch.setattr(_httpx.time, "time", lambda: now + 120)
    monkeypatch.setattr("http.cookiejar.time.time", lambda: now + 120)
    assert _headers(lean, "http://school.test/") == "sid=s1"


def _http_date(when: float) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(when))


async def test_send_keeps_what_httpx_does_around_the_transport() -> None:
    seen: list[httpx.Request] = []
    hooked: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/login":
            return httpx.Response(302, headers={"set-cookie": "sid=s1", "location": "/home"})
        return httpx.Response(200, json={"ok": True})

    async def hook(response: httpx.Response) -> None:
        hooked.append(response.status_code)

    client = AsyncClient(
        base_url="http://school.test",
        transport=httpx.MockTransport(answer),
        event_hooks={"response": [hook]},
        timeout=httpx.Timeout(7.0),
    )
    response = await client.send(client.build_request("GET", "/login"), stream=True)
    assert response.status_code == 302  # not followed, as httpx by default
    assert response.request is seen[0]
    assert seen[0].extensions["timeout"]["read"] == 7.0
    await response.aclose()
    assert client.cookies.get("sid") == "s1"  # taken from the answer
    assert hooked == [302]

    followed = await client.send(
        client.build_request("GET", "/login"), stream=True, follow_redirects=True
    )
    assert followed.status_code == 200 and [r.status_code for r in followed.history] == [302]
    assert seen[-1].headers["cookie"] == "sid=s1"
    await followed.aclose()

    await client.aclose()
    with pytest.raises(RuntimeError):
        await client.send(client.build_request("GET", "/x"), stream=True)


def _request_of(client: httpx.AsyncClient, method: str, url: str, headers: Any) -> tuple[Any, ...]:
    request = client.build_request(method, url, headers=headers)
    return (
        request.method,
        str(request.url),
        request.headers.raw,
        request.read(),
        type(request.stream),
        request.extensions,
    )


@pytest.mark.parametrize("method", ["GET", "get", "DELETE", "POST", "PUT", "PATCH"])
def test_a_bodyless_request_is_httpx_own(method: str) -> None:
    defaults = {"User-Agent": "Mozilla/5.0", "Accept": "application/json"}
    lean = AsyncClient(base_url="http://school.test/api/", headers=defaults, timeout=7.0)
    stock = httpx.AsyncClient(base_url="http://school.test/api/", headers=defaults, timeout=7.0)
    heads: list[Any] = [
        None,
        {},
        {"username": "QUJD", "password": "eHl6"},
        {"password": "eHl6", "username": "QUJD"},  # another order: another header list
        {"accept": "text/html"},  # replaces the client's
        {"Host": "other.test"},  # the request's own Host: none added
        {"Content-Length": "0"},
        {"Transfer-Encoding": "chunked"},
        [("x-a", "1"), ("x-a", "2")],
        httpx.Headers({"x-b": "3"}),
        {"x-raw": b"\xd0\xb7"},  # bytes as they are
    ]
    for _ in range(2):  # the second time from the remembered headers
        for url in ["diary", "diary?child=1&start=2026-09-01", "http://other.test/x?y=1"]:
            for headers in heads:
                assert _request_of(lean, method, url, headers) == _request_of(
                    stock, method, url, headers
                ), (url, headers)


def test_bodyless_request_headers_follow_the_clients_own() -> None:
    lean = AsyncClient(base_url="http://school.test/", headers={"at": "1"})
    own = {"username": "QUJD"}
    assert lean.build_request("GET", "x", headers=own).headers["at"] == "1"
    lean.headers["at"] = "2"  # changed in place (a session token)
    assert lean.build_request("GET", "x", headers=own).headers["at"] == "2"
    lean.headers.pop("at")
    assert "at" not in lean.build_request("GET", "x", headers=own).headers
    lean.headers = httpx.Headers({"at": "3"})  # replaced
    assert lean.build_request("GET", "x", headers=own).headers["at"] == "3"
    # a request's headers are its own: a change to them is not remembered for the next
    first = lean.build_request("GET", "x", headers=own)
    first.headers["x-once"] = "1"
    assert "x-once" not in lean.build_request("GET", "x", headers=own).headers


def test_a_bad_header_value_fails_as_with_httpx() -> None:
    bad: Any = {"x": ["not", "a", "value"]}
    with pytest.raises(TypeError):
        httpx.AsyncClient().build_request("GET", "http://school.test/", headers=bad)
    with pytest.raises(TypeError):
        AsyncClient().build_request("GET", "http://school.test/", headers=bad)
