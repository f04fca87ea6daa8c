"""Structured logging for journalsync, with secrets and personal data masked (DESIGN.md §8).

Everything that logs — our own code through :func:`get_logger`, and the stdlib loggers of httpx,
httpcore, SQLAlchemy, uvicorn and Alembic — goes through one structlog pipeline, so one
redaction processor sees every line before it is rendered. That matters because third-party
libraries log things we do not control: httpx logs the full request URL at INFO, and NetSchool
sends its ``at`` token (and some platforms the password) in the query string.

What is masked (replaced by ``***``):

* values under sensitive keys (passwords, tokens, cookies, credential headers) and under
  personal-data keys (names, birth dates, contacts, SNILS), at any nesting depth, matched
  case-insensitively and ignoring ``-``/``_``;
* ``key=value`` and ``"key": value`` occurrences of those keys inside any string (URL queries,
  form bodies, JSON excerpts in error messages);
* every value given to :func:`register_secret`, wherever it appears in any string.

Context (run, school, platform) is bound through contextvars, so it follows the task that
does the work instead of being threaded through every call.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any
from urllib.parse import quote, quote_plus

import orjson
import structlog
from structlog.types import EventDict, Processor, WrappedLogger

__all__ = [
    "bind_context",
    "clear_context",
    "configure_logging",
    "get_logger",
    "log_context",
    "redact",
    "register_secret",
]

MASK = "***"

#: Credential-bearing keys, normalised (lower case, without ``-`` and ``_``).
_SECRET_KEYS = frozenset(
    {
        "password",
        "passwd",
        "pw",
        "pw2",
        "pass",
        "secret",
        "clientsecret",
        "token",
        "at",
        "accesstoken",
        "refreshtoken",
        "authtoken",
        "idtoken",
        "jwtoken",
        "apikey",
        "xapikey",
        "authorization",
        "proxyauthorization",
        "cookie",
        "setcookie",
        "sessionid",
        "nssessionid",
        "username",
        "login",
        "un",  # NetSchool's login form field
    }
)
#: Personal-data keys, normalised the same way. Journal data is about minors: names, birth dates
#: and contacts stay out of logs. A bare ``name`` is included because platform payloads put
#: people's full names under it (NetSchool's ``user.name``); subject or class names lost with it
#: are a fair price.
_PERSONAL_KEYS = frozenset(
    {
        "name",
        "lastname",
        "firstname",
        "middlename",
        "surname",
        "patronymic",
        "fio",
        "fullname",
        "nickname",
        "birthdate",
        "dateofbirth",
        "email",
        "phone",
        "snils",
    }
)
_MASKED_KEYS = _SECRET_KEYS | _PERSONAL_KEYS
#: AVERS sends the login and password hash as ``ys-user`` / ``ys-password`` cookies.
_MASKED_PREFIXES = ("ys-", "ys_")

_KEY_CHARS = r"[A-Za-z0-9_\-]"
# key=value inside a string: URL queries, form bodies, cookie headers, reprs (key='value').
_KV_RE = re.compile(
    rf"(?<!{_KEY_CHARS})(?P<key>{_KEY_CHARS}+)(?P<sep>\s*=\s*)"
    r"(?P<val>'[^']*'|\"[^\"]*\"|[^&\s;,)}\]\"']*)"
)
# "key": value inside a string: JSON excerpts (error bodies, payload dumps).
_JSON_RE = re.compile(
    rf"(?P<q>[\"'])(?P<key>{_KEY_CHARS}+)(?P=q)(?P<sep>\s*:\s*)"
    r"(?P<val>\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^,}\]\s]+)"
)

# ("name", "value") header pairs: httpcore's debug lines print response headers as a list of byte
# tuples, ``[(b'set-cookie', b'ESRNSec=…; path=/')]``, and httpx prints ``Headers([...])`` the
# same way. The value is masked by the header's name, whatever the cookie inside is called (a
# platform's cookie names are not known in advance: NetSchool's ``ESRNSec`` escaped the
# key=value pattern above).
_HEADER_PAIR_RE = re.compile(
    rf"(?P<open>\(\s*b?(?P<q>['\"])(?P<key>{_KEY_CHARS}+)(?P=q)\s*,\s*)"
    r"(?P<val>b?'(?:[^'\\]|\\.)*'|b?\"(?:[^\"\\]|\\.)*\")(?P<close>\s*\))"
)

# "Key: value" header lines (raw request dumps in exception texts).
_HEADER_LINE_RE = re.compile(rf"(?m)^(?P<key>{_KEY_CHARS}+)(?P<sep>[ \t]*:[ \t]*)(?P<val>[^\r\n]*)")

# Registered secrets: an ordered dict used as an insertion-ordered set, capped so a long-running
# scheduler that rotates tokens for hundreds of schools does not grow it without bound; the oldest
# (already rotated-out) values are forgotten first.
_MAX_SECRETS = 4096
_MIN_SECRET_LEN = 3
_secrets_lock = threading.Lock()
_secrets: dict[str, None] = {}
#: The secrets by their first three characters, longest first. A text is scanned once, a
#: dictionary look-up per position, whatever the number of secrets; registering one costs one
#: bucket. (A single alternation pattern had to be recompiled whenever a secret overlapped
#: another: one АВЕРС login registers a cookie that contains the password digest, so a pull of
#: 368 family accounts recompiled a pattern of up to 3,000 secrets once per login, 30 of its 46
#: profiled seconds.) Buckets are replaced, never changed in place, so a reader in another
#: thread sees a whole one.
_by_prefix: dict[str, list[str]] = {}

_HANDLER_MARK = "_journalsync_handler"
#: Third-party loggers routed through our pipeline; their own handlers would bypass redaction.
_FOREIGN_LOGGERS = ("httpx", "httpcore", "sqlalchemy", "uvicorn", "alembic")


def _is_masked_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    lowered = key.strip().lower()
    if lowered.startswith(_MASKED_PREFIXES):
        return True
    return lowered.replace("-", "").replace("_", "") in _MASKED_KEYS


def register_secret(value: str) -> None:
    """Mask ``value`` wherever it appears in any logged string from now on.

    Connectors register passwords and tokens as soon as they know them, because a secret can
    surface under a key nobody anticipated (a URL path, an exception text). The URL-encoded forms
    are registered too, since httpx logs encoded URLs. Values shorter than three characters are
    ignored: masking them would mangle every log line and they are not real secrets anyway.
    """
    if not isinstance(value, str) or len(value) < _MIN_SECRET_LEN:
        return
    forms = {value, quote(value, safe=""), quote_plus(value)}
    with _secrets_lock:
        for form in forms:
            if form in _secrets:
                del _secrets[form]  # re-registered: it is the newest again
                _secrets[form] = None
                continue
            _secrets[form] = None
            key = form[:_MIN_SECRET_LEN]
            _by_prefix[key] = sorted([*_by_prefix.get(key, ()), form], key=len, reverse=True)
        while len(_secrets) > _MAX_SECRETS:
            oldest = next(iter(_secrets))
            del _secrets[oldest]
            key = oldest[:_MIN_SECRET_LEN]
            rest = [s for s in _by_prefix[key] if s != oldest]
            if rest:
                _by_prefix[key] = rest
            else:
                del _by_prefix[key]


def _mask_secrets(text: str) -> str:
    """Every occurrence of a registered secret in ``text`` masked; at each position the longest
    secret starting there wins, and overlapping or touching occurrences become one mask."""
    table = _by_prefix
    if not table:
        return text
    spans: list[list[int]] = []
    for i in range(len(text) - _MIN_SECRET_LEN + 1):
        bucket = table.get(text[i : i + _MIN_SECRET_LEN])
        if bucket is None:
            continue
        for secret in bucket:
            if text.startswith(secret, i):
                end = i + len(secret)
                if spans and i <= spans[-1][1]:
                    spans[-1][1] = max(spans[-1][1], end)
                else:
                    spans.append([i, end])
                break
    if not spans:
        return text
    out: list[str] = []
    pos = 0
    for start, end in spans:
        out += (text[pos:start], MASK)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _mask_kv(match: re.Match[str]) -> str:
    if not _is_masked_key(match["key"]) or not match["val"]:
        return match[0]
    return f"{match['key']}{match['sep']}{MASK}"


def _mask_json(match: re.Match[str]) -> str:
    if not _is_masked_key(match["key"]):
        return match[0]
    return f'{match["q"]}{match["key"]}{match["q"]}{match["sep"]}"{MASK}"'


def _mask_pair(match: re.Match[str]) -> str:
    if not _is_masked_key(match["key"]):
        return match[0]
    return f"{match['open']}'{MASK}'{match['close']}"


def _redact_text(text: str) -> str:
    text = _mask_secrets(text)
    if "(" in text:
        text = _HEADER_PAIR_RE.sub(_mask_pair, text)
    if "=" in text:
        text = _KV_RE.sub(_mask_kv, text)
    if ":" in text:
        text = _JSON_RE.sub(_mask_json, text)
        text = _HEADER_LINE_RE.sub(_mask_kv, text)
    return text


def redact(value: Any) -> Any:
    """Return ``value`` with secrets and personal data masked; the input is not modified.

    Mappings keep their keys (the key names are useful and not secret) and lose the values of
    sensitive keys; ``None`` stays ``None`` so a log still shows that a credential was missing.
    Objects that are not plain data are rendered to text first, because a renderer would do the
    same later — after redaction had had its chance.
    """
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return _redact_text(value)
    if isinstance(value, bytes | bytearray):
        return _redact_text(bytes(value).decode("utf-8", "replace"))
    if isinstance(value, Mapping):
        return {
            k: (MASK if v is not None else None) if _is_masked_key(k) else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, tuple):
        return tuple(redact(v) for v in value)
    if isinstance(value, list | set | frozenset):
        return [redact(v) for v in value]
    return _redact_text(str(value))


def _redact_processor(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    redacted: EventDict = redact(event_dict)
    return redacted


def _orjson_dumps(obj: Any, **kwargs: Any) -> str:
    default = kwargs.get("default", str)
    return orjson.dumps(obj, default=default, option=orjson.OPT_NON_STR_KEYS).decode()


def configure_logging(
    *, json: bool = False, level: str = "INFO", stream: IO[str] | None = None
) -> None:
    """Route structlog and the stdlib loggers through one redacting pipeline.

    ``json=True`` renders one JSON object per line (production, log shippers); otherwise a
    readable console format (development). Calling it again replaces the previous configuration
    instead of adding a second handler, so tests and the CLI can reconfigure freely.
    """
    numeric_level = logging.getLevelName(level.upper())
    if not isinstance(numeric_level, int):
        raise ValueError(f"unknown log level {level!r}")
    out = stream if stream is not None else sys.stderr

    renderer: Processor
    if json:
        renderer = structlog.processors.JSONRenderer(serializer=_orjson_dumps)
    else:
        isatty = getattr(out, "isatty", None)
        renderer = structlog.dev.ConsoleRenderer(
            colors=bool(isatty and isatty()),
            exception_formatter=structlog.dev.plain_traceback,
        )

    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    foreign_pre_chain: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        timestamper,
    ]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=foreign_pre_chain,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Tracebacks become text before redaction so their contents are masked too.
            structlog.processors.format_exc_info,
            structlog.processors.UnicodeDecoder(),
            _redact_processor,
            renderer,
        ],
    )
    handler: logging.Handler = logging.StreamHandler(out) if stream is not None else _Stderr()
    handler.setFormatter(formatter)
    setattr(handler, _HANDLER_MARK, True)

    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(numeric_level)

    for name in _FOREIGN_LOGGERS:
        foreign = logging.getLogger(name)
        # uvicorn installs its own handlers; they would print unredacted lines.
        for h in list(foreign.handlers):
            foreign.removeHandler(h)
        foreign.setLevel(logging.NOTSET)
        foreign.propagate = True

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.filter_by_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.add_log_level,
            structlog.stdlib.PositionalArgumentsFormatter(),
            timestamper,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            # Redacted here as well as in the formatter: other handlers on the root logger (test
            # capture, error trackers) receive this event dict without going through our formatter.
            _redact_processor,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Loggers are often created at import time, before configuration; not caching lets them
        # pick up the configuration that is current when they log.
        cache_logger_on_first_use=False,
    )


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a line is logged (test capture swaps it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, value: IO[str]) -> None:
        pass


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """A structlog logger that goes through the redacting pipeline once it is configured."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


def bind_context(**ctx: str) -> None:
    """Attach context (``run``, ``school``, ``platform``) to every log line of this task."""
    structlog.contextvars.bind_contextvars(**ctx)


def clear_context() -> None:
    """Drop all bound context of this task."""
    structlog.contextvars.clear_contextvars()


@contextmanager
def log_context(**ctx: str) -> Iterator[None]:
    """Bind context for the duration of a block, restoring the previous values afterwards."""
    with structlog.contextvars.bound_contextvars(**ctx):
        yield


# A library must never print unredacted lines: until the application configures logging (the
# CLI does, with its --verbose/--json-logs), use the redacting pipeline at WARNING on stderr.
if not structlog.is_configured():
    configure_logging(level="WARNING")
