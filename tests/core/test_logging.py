"""Redaction and routing of logs: no secret or personal name may reach the output."""

from __future__ import annotations

import io
import logging
from urllib.parse import parse_qs

import httpx
import orjson
import pytest
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.errors import ContractError
from core.http import HttpClient
from core.logging import (
    bind_context,
    clear_context,
    configure_logging,
    get_logger,
    log_context,
    redact,
    register_secret,
)

PASSWORD = "Sup3r-Secret!pw"
TOKEN = "00168638015429814024329375"
SESSION = "9f2c61d0a4b84e0f9d3e51aa7c2b1e44"
STUDENT = "Пантелеймонова"
TEACHER_FIRST = "Евлампия"
SECRETS = (PASSWORD, TOKEN, SESSION, STUDENT, TEACHER_FIRST, "Sup3r-Secret%21pw")


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    structlog.reset_defaults()
    clear_context()


def test_redact_keys_at_any_depth_case_insensitive():
    event = {
        "event": "login",
        "Password": "p1",
        "headers": {"AT": "t1", "Set-Cookie": "c1", "ys-password": "s:abc", "Accept": "json"},
        "students": [{"lastName": "Иванов", "first_name": "Иван", "birthDate": "2012-01-01"}],
        "form": ("pw2=abc&LoginType=1", {"refresh-token": "r1"}),
        "missing": {"password": None},
        "count": 3,
        "years": [2024],
    }
    out = redact(event)
    assert out["Password"] == "***"
    assert out["headers"] == {
        "AT": "***",
        "Set-Cookie": "***",
        "ys-password": "***",
        "Accept": "json",
    }
    assert out["students"] == [{"lastName": "***", "first_name": "***", "birthDate": "***"}]
    assert out["form"] == ("pw2=***&LoginType=1", {"refresh-token": "***"})
    assert out["missing"] == {"password": None}
    assert out["count"] == 3 and out["years"] == [2024]
    assert event["Password"] == "p1"  # the input is left alone


def test_redact_strings_queries_json_and_headers():
    url = f"https://sgo.example.ru/webapi/context/expired?token={TOKEN}&year=2024&AT={TOKEN}"
    assert redact(url) == "https://sgo.example.ru/webapi/context/expired?token=***&year=2024&AT=***"
    body = '{"login": "ivanov", "password": "x\\"y", "snils": 12345678901, "id": 7}'
    assert redact(body) == '{"login": "***", "password": "***", "snils": "***", "id": 7}'
    dump = "POST /login\nAuthorization: Bearer abc.def\nHost: example"
    assert redact(dump) == "POST /login\nAuthorization: ***\nHost: example"
    assert redact("Person(last_name='Иванов', id=3)") == "Person(last_name=***, id=3)"
    # Look-alike keys are not masked.
    assert redact("format=json&category=5") == "format=json&category=5"


def test_registered_secrets_are_masked_anywhere():
    register_secret(PASSWORD)
    register_secret("")  # ignored, would mask everything
    text = f"failed with {PASSWORD} in path /a/{PASSWORD}/b and encoded Sup3r-Secret%21pw"
    assert redact(text) == "failed with *** in path /a/***/b and encoded ***"
    assert redact({"note": [f"x{PASSWORD}y"]}) == {"note": ["x***y"]}
    assert redact(b"raw " + PASSWORD.encode()) == "raw ***"


@pytest.fixture
def own_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test's secrets in a table of their own, so the cap test does not evict others'."""
    import core.logging as logs

    monkeypatch.setattr(logs, "_secrets", {})
    monkeypatch.setattr(logs, "_by_prefix", {})


def test_a_secret_containing_or_overlapping_another_is_masked_whole(own_secrets):
    digest = "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8"
    register_secret(f"s%3A{digest}")  # АВЕРС: the session cookie holds the password digest
    register_secret(digest)
    register_secret("tokenAB12")
    register_secret("AB12-tail")  # overlaps the end of the one before
    assert redact(f"ys-sid=s%3A{digest}; next") == "ys-sid=***; next"
    assert redact(f"sha1 {digest}.") == "sha1 ***."
    assert redact("x tokenAB12-tail y") == "x *** y"
    assert redact("no secrets here, 5baa61e4 is only a prefix") == (
        "no secrets here, 5baa61e4 is only a prefix"
    )


def test_the_oldest_secrets_are_forgotten_past_the_cap(own_secrets):
    import core.logging as logs

    for n in range(logs._MAX_SECRETS + 10):
        register_secret(f"tok{n:06d}")
    assert len(logs._secrets) == logs._MAX_SECRETS
    assert sum(len(b) for b in logs._by_prefix.values()) == logs._MAX_SECRETS
    assert redact("tok000000 tok004105") == "tok000000 ***"
    register_secret("tok000000")  # registered again: masked again
    assert redact("tok000000") == "***"


def test_configure_logging_is_idempotent(restore_logging):
    first, second = io.StringIO(), io.StringIO()
    configure_logging(stream=first)
    configure_logging(json=True, stream=second)
    configure_logging(json=True, stream=second)
    get_logger("t").info("once")
    assert first.getvalue() == ""
    lines = second.getvalue().splitlines()
    assert len(lines) == 1
    assert orjson.loads(lines[0])["event"] == "once"


def test_level_filters_structlog_and_stdlib(restore_logging):
    out = io.StringIO()
    configure_logging(json=True, level="WARNING", stream=out)
    get_logger("t").info("quiet")
    logging.getLogger("httpx").info("quiet too")
    get_logger("t").warning("loud")
    assert [orjson.loads(x)["event"] for x in out.getvalue().splitlines()] == ["loud"]
    with pytest.raises(ValueError):
        configure_logging(level="chatty")


def test_context_binding(restore_logging):
    out = io.StringIO()
    configure_logging(json=True, stream=out)
    log = get_logger("t")
    bind_context(run="r-1")
    with log_context(school="s-7", platform="netschool"):
        log.info("inside")
        logging.getLogger("sqlalchemy.engine").info("stdlib inside")
    log.info("outside")
    clear_context()
    log.info("cleared")
    inside, stdlib_inside, outside, cleared = (orjson.loads(x) for x in out.getvalue().splitlines())
    assert inside["school"] == "s-7" and inside["platform"] == "netschool"
    assert inside["run"] == "r-1"
    assert stdlib_inside["school"] == "s-7" and stdlib_inside["logger"] == "sqlalchemy.engine"
    assert "school" not in outside and outside["run"] == "r-1"
    assert "run" not in cleared


def test_exception_tracebacks_are_redacted(restore_logging):
    out = io.StringIO()
    configure_logging(stream=out)
    try:
        raise RuntimeError(f"login failed for password={PASSWORD} token {TOKEN}")
    except RuntimeError:
        get_logger("t").exception("boom")
        logging.getLogger("uvicorn.error").exception("stdlib boom")
    text = out.getvalue()
    assert "RuntimeError" in text and "stdlib boom" in text
    assert PASSWORD not in text


# --- end to end: a NetSchool-like login and data calls through HttpClient -------------------------


async def _platform(request: Request) -> Response:
    if request.url.path == "/webapi/login":
        form = parse_qs((await request.body()).decode())
        assert form["pw2"] == [PASSWORD]  # the secret really travelled
        response = JSONResponse({"at": TOKEN, "accountInfo": {"user": {"name": STUDENT}}})
        response.set_cookie("NSSESSIONID", SESSION)
        return response
    if request.url.path == "/webapi/student/diary":
        assert request.headers["at"] == TOKEN
        assert request.cookies["NSSESSIONID"] == SESSION
        return JSONResponse({"lastName": STUDENT, "teacher": {"firstName": TEACHER_FIRST}})
    return Response(
        orjson.dumps({"error": "bad", "token": TOKEN, "lastName": STUDENT}),
        status_code=418,
        media_type="application/json",
    )


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "console"])
async def test_no_secret_or_name_in_logs_of_a_real_session(restore_logging, as_json):
    out = io.StringIO()
    configure_logging(json=as_json, level="DEBUG", stream=out)
    register_secret(PASSWORD)
    log = get_logger("journalsync.test")
    app = Starlette(routes=[Route("/{path:path}", _platform, methods=["GET", "POST"])])

    async def sleep(_: float) -> None:
        return None

    with log_context(run="run-42", school="school-1", platform="netschool"):
        async with HttpClient(
            "http://sgo.test",
            platform="netschool",
            transport=httpx.ASGITransport(app=app),
            sleep=sleep,
        ) as http:
            login = await http.post(
                "/webapi/login",
                data={"LoginType": "1", "UN": "ivanova", "pw2": PASSWORD},
                params={"at": "", "ver": "5"},
            )
            http.client.headers["at"] = login["at"]
            register_secret(login["at"])
            diary = await http.get("/webapi/student/diary", params={"at": TOKEN, "studentId": "7"})
            log.info("diary fetched", payload=diary, login_response=login)
            log.debug("request headers", headers=dict(http.client.headers))
            try:
                await http.get("/webapi/broken", params={"token": TOKEN})
            except ContractError as exc:
                log.warning("call failed", error=str(exc))
            logging.getLogger("sqlalchemy.engine").info(
                "person upsert skipped: last_name=%s password=%s", STUDENT, PASSWORD
            )

    text = out.getvalue()
    for secret in SECRETS:
        assert secret not in text, secret
    # What an operator needs is still there: paths, statuses, our events and httpx's own lines.
    assert "/webapi/student/diary" in text
    assert "/webapi/login" in text
    assert "200" in text and "418" in text
    assert "diary fetched" in text and "call failed" in text
    assert "HTTP Request: GET http://sgo.test/webapi/student/diary?at=***" in text
    assert "run-42" in text and "school-1" in text
    if as_json:
        events = [orjson.loads(line) for line in text.splitlines()]
        requests = [e for e in events if e["event"] == "http.request"]
        assert {(e["method"], e["path"], e["status"]) for e in requests} == {
            ("POST", "/webapi/login", 200),
            ("GET", "/webapi/student/diary", 200),
            ("GET", "/webapi/broken", 418),
        }
        assert all(e["level"] == "debug" and e["attempt"] == 1 for e in requests)
        assert all(e["school"] == "school-1" for e in events)


def _cookie_platform(request: Request) -> Response:
    import secrets as pysecrets

    cookie = pysecrets.token_hex(24)
    response = JSONResponse({"ok": True})
    # a cookie name nobody put in a list of sensitive keys, as NetSchool's ESRNSec
    response.set_cookie("ESRNSec", cookie, path="/", httponly=True)
    response.set_cookie("Zz9", cookie[::-1], path="/")
    return response


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "console"])
async def test_cookies_are_masked_in_httpcore_lines_and_everywhere_after(restore_logging, as_json):
    """Over real loopback HTTP httpcore logs the response headers as byte tuples; a Set-Cookie
    value is masked there by the header's name, and registered so it is masked later too.
    httpcore is httpx's own transport: the client takes it where the environment names a proxy
    (the default transport, core._transport's, logs no headers)."""
    from connectors.sandbox.server import serve_in_thread

    out = io.StringIO()
    configure_logging(json=as_json, level="DEBUG", stream=out)
    app = Starlette(routes=[Route("/login", _cookie_platform)])
    with serve_in_thread(app) as server:
        async with HttpClient(
            server.base_url, platform="netschool", transport=httpx.AsyncHTTPTransport()
        ) as http:
            await http.get("/login")
            cookie = http.client.cookies["ESRNSec"]
    get_logger("journalsync.test").info("echo", note=f"the session was {cookie}")
    text = out.getvalue()
    assert "receive_response_headers.complete" in text  # the httpcore line is really there
    assert "set-cookie" in text.lower()
    assert cookie not in text and cookie[::-1] not in text
    assert "the session was ***" in text
