"""АВЕРС emulator: an ASGI app serving one school of a sandbox World (platform note §8).

Follows WIRE.md: ``POST /login`` (``l``, ``p`` = SHA-1 hex) → the login row, bad login →
``[wrongLoginOrPassword]`` (v4.1; ``bad_login="empty"`` answers ``[]`` as older servers did);
``POST /auth`` (``uId``, ``act=1``) → ``ok``; ``GET /auth/logout``; ``/act/<ACTION>`` by GET or
POST form, action names case-insensitive, bodies ``text/plain; charset=UTF-8`` JS arrays. No
``Set-Cookie`` is ever sent: every ``/act`` call is checked against the ``ys-*`` cookies written
with JavaScript ``escape()`` — anything else (UTF-8 percent-encoding of a Cyrillic login,
missing cookies, a stale session) answers ``[]`` with status 200.

What rests on the captures (build 4.1 HAR of two student accounts, read at test time only):
the actions in :data:`CAPTURED` and their row shapes — positional JS literals, ``new Date(Y, M0,
D, 0, 0, 0, 0)`` with a zero-based month, space-padded class letters and period marks, journal
codes 1–5 and 101–106 (104 = «У»), period marks of quarters, half-years and attestations
(«н/а» included), a lesson's second journal column naming the first in diary position 7.

Choices where the note and the captures are silent ([guess]):

* the actions the captured client never calls are served all the same, shapes from older
  public clients or our own: ``GET_JOURNAL_PERIODS_INFO``, ``GET_CLASS_PER_SP``,
  ``GET_STUDENT_GROUPS``, ``GET_SUBS_PERSONS_STORE_DATA``, ``GET_STUDENT_LESSONS``,
  ``GET_STUDENT_SUBJECTS``, ``GET_STUDENT_MESSAGES``; ``captured_only`` answers them ``[]``;
* ``GET /auth/logout`` answers ``ok`` (never captured; ``logout_missing`` answers 404);
* the server remembers which user ids passed ``/auth`` in the current *epoch*;
  :meth:`AversEmulator.expire_sessions` starts a new epoch, so ``/act`` answers ``[]`` until the
  client logs in again (the platform has no visible session expiry; this is how the sandbox
  makes "lost authentication" happen). Row layouts: ``_emulator_rows``; a pupil's lessons and
  a lesson's columns come from ``_emulator_rows.Index``, worked out once per ``World.version``
  (the same answers as a scan of the World).

Platform quirks, on by default like the captured server: the root page ``/`` is labelled
``windows-1251`` while its bytes are UTF-8, and announces a ``Content-Length`` larger than the
body (``root_length_excess``). Over a real socket h11 refuses to finish such a message: uvicorn
logs the error and closes the connection after the body, so the client sees a short body, as
with the real server (``Exception in ASGI application`` once per root request in the log).

Emulator-only endpoints: ``GET|POST /_sandbox/faults``, ``POST /_sandbox/sessions/expire``,
``POST /_sandbox/world/mutate`` (``{"n", "seed"}``), and the sandbox operator's
``POST /_sandbox/operator/apply-worklist`` (no write API: worklists are entered by hand).
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from connectors.sandbox.faults import BodyCodec, Faults, FaultsMiddleware
from connectors.sandbox.operator import operator_routes
from connectors.sandbox.responses import JSONResponse
from connectors.sandbox.world import PersonInfo, World

from . import _emulator_rows as rows
from ._cookies import js_escape, js_unescape, sha1_hex
from .jsarray import JsValue, parse, render

__all__ = ["CAPTURED", "AversEmulator", "AversEmulatorOptions", "create_app"]

_USER_TYPES = {"admin": 0, "teacher": 2, "guardian": 3, "student": 4}
_TEXT = "text/plain; charset=UTF-8"
_STAFF = ("teacher", "admin")


@dataclass
class AversEmulatorOptions:
    """Switchable platform behaviours."""

    school: str | None = None  # the World school this server hosts (default: the first)
    base_path: str = ""  # e.g. "/5sov": a hosted tenant under a path prefix
    bad_login: str = "symbol"  # "symbol" (v4.1) | "empty" (older servers)
    uch_year_empty: bool = False  # get_uch_year answers [[]] (seen on some servers)
    root_charset_label: str = "windows-1251"
    root_length_excess: int = 42  # the root page announces this many bytes too many
    #: Answer ``[]`` to every action the captured web client never calls (``CAPTURED``), as a
    #: server that lacks them would; the connector must go on without those enrichments.
    captured_only: bool = False
    #: ``GET /auth/logout`` answers 404 (the logout was never captured; a replay answered 404).
    logout_missing: bool = False


@dataclass
class _State:
    world: World
    faults: Faults
    options: AversEmulatorOptions
    school: str
    epoch: int = 0
    authed: dict[int, int] = field(default_factory=dict)  # user id → epoch of its /auth
    index: rows.Index = field(init=False)  # pupils' lessons, lessons' columns (per version)

    def __post_init__(self) -> None:
        self.index = rows.Index(self.world)

    def person_by_login(self, login: str) -> PersonInfo | None:
        ids = self.world.schools[self.school].person_ids
        return next(
            (self.world.persons[i] for i in ids if self.world.persons[i].login == login), None
        )

    def person_by_user(self, user_id: int) -> PersonInfo | None:
        p = self.world.persons.get(user_id - rows.USER_ID_OFFSET)
        return p if p is not None and p.school == self.school else None

    def cookie_user(self, header: str) -> PersonInfo | None:
        """The person the ``ys-*`` cookies prove, compared in their escaped form."""
        jar: dict[str, str] = {}
        for part in header.split(";"):
            name, _, value = part.strip().partition("=")
            jar[name] = value
        raw_id = js_unescape(jar.get("ys-userId", ""))
        if not raw_id.startswith("n:") or not raw_id[2:].isdigit():
            return None
        p = self.person_by_user(int(raw_id[2:]))
        if p is None:
            return None
        user, password = _proof(p.login, p.password)
        if jar.get("ys-user") != user or jar.get("ys-password") != password:
            return None
        return p


@functools.lru_cache(maxsize=4096)
def _proof(login: str, password: str) -> tuple[str, str]:
    """The escaped ``ys-user`` and ``ys-password`` a person's cookies must carry (by the login
    and password themselves, so a changed one is checked afresh)."""
    return js_escape(f"s:{login}"), js_escape(f"s:{sha1_hex(password)}")


class AversEmulator:
    """The ASGI app returned by :func:`create_app`."""

    def __init__(self, state: _State) -> None:
        self.state = state
        self.world = state.world
        self.faults = state.faults
        self.options = state.options
        app: ASGIApp = FaultsMiddleware(_starlette(state), state.faults, codecs=_CODECS)
        self._app = _Prefix(app, state.options.base_path)

    def expire_sessions(self) -> int:
        """Forget every ``/auth``: ``/act`` answers ``[]`` until each client logs in again."""
        self.state.epoch += 1
        return len(self.state.authed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def create_app(
    world: World,
    *,
    faults: Faults | None = None,
    options: AversEmulatorOptions | None = None,
) -> AversEmulator:
    opts = options or AversEmulatorOptions()
    school = opts.school or next(iter(world.schools))
    return AversEmulator(_State(world, faults or Faults(), opts, school))


class _Prefix:
    """Serve under ``base_path`` (a hosted tenant); ``/_sandbox`` stays at the root."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.prefix:
            path: str = scope["path"]
            if path == self.prefix or path.startswith(self.prefix + "/"):
                scope = {**scope, "path": path[len(self.prefix) :] or "/"}
            elif not path.startswith("/_sandbox"):
                await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _form(request: Request) -> dict[str, str]:
    """The urlencoded form (last value wins); no multipart parser needed."""
    if request.method != "POST":
        return {}
    return dict(
        parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    )


#: The faults middleware's body switches read and write ``/act`` answers as positional rows.
_CODECS = {"text/plain": BodyCodec(parse, lambda v: render(v).encode(), rows=True)}


def _js(value: list[JsValue]) -> Response:
    return Response(render(value), media_type=None, headers={"content-type": _TEXT})


_ROOT = (
    '<html>\r\n<head>\r\n<meta http-equiv="Content-Type" content="text/html; '
    'charset=windows1251">\r\n<title>АИАС АВЕРС: Электронный классный журнал 4.1 (23813)'
    '</title>\r\n<script src="/extjs/ext-all.js"></script>\r\n<script src="/client/Login.js">'
    '</script>\r\n</head>\r\n<body><div id="loading">Загрузка…</div></body>\r\n</html>\r\n'
)


def _starlette(st: _State) -> Starlette:
    async def root(request: Request) -> Response:
        return _RootPage(st.options)

    async def login(request: Request) -> Response:
        form = await _form(request)
        p = st.person_by_login(str(form.get("l", "")))
        if p is None or str(form.get("p", "")).lower() != sha1_hex(p.password):
            bad = "[]" if st.options.bad_login == "empty" else "[wrongLoginOrPassword]"
            return Response(bad, headers={"content-type": _TEXT})
        uid = p.ext_id + rows.USER_ID_OFFSET
        kind = _USER_TYPES[p.role]
        own = p.ext_id if p.role == "student" else None
        other = p.ext_id if p.role != "student" else None
        return _js([[uid, kind, None, None, None, rows.short_name(p), own, other, own]])

    async def auth(request: Request) -> Response:
        form = await _form(request)
        p = st.cookie_user(request.headers.get("cookie", ""))
        uid = str(form.get("uId", ""))
        if p is None or uid != str(p.ext_id + rows.USER_ID_OFFSET) or form.get("act") != "1":
            return Response("[]", headers={"content-type": _TEXT})
        st.authed[int(uid)] = st.epoch
        return Response("ok", headers={"content-type": "text/plain"})

    async def logout(request: Request) -> Response:
        if st.options.logout_missing:
            return Response("Not Found", status_code=404, headers={"content-type": _TEXT})
        p = st.cookie_user(request.headers.get("cookie", ""))
        if p is not None:
            st.authed.pop(p.ext_id + rows.USER_ID_OFFSET, None)
        return Response("ok", headers={"content-type": "text/plain"})

    async def act(request: Request) -> Response:
        p = st.cookie_user(request.headers.get("cookie", ""))
        if p is None or st.authed.get(p.ext_id + rows.USER_ID_OFFSET) != st.epoch:
            return _js([])
        form = await _form(request)
        name = request.path_params["name"].lower()
        handler = _ACTIONS.get(name)
        if st.options.captured_only and name not in CAPTURED:
            handler = None
        if handler is None:
            return _js([])  # an unknown action answers an empty array, like a missing right
        return _js(handler(st, p, form))

    async def expire(request: Request) -> Response:
        st.epoch += 1
        return JSONResponse({"epoch": st.epoch})

    async def mutate(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
            n, seed = int(body.get("n", 1)), int(body.get("seed", 0))
        except (ValueError, TypeError, AttributeError):
            return JSONResponse({"message": "expected {n, seed}"}, status_code=400)
        changes = st.world.mutate_random(random.Random(seed), n, st.school)
        return JSONResponse({"changes": changes, "version": st.world.version})

    return Starlette(
        routes=[
            Route("/", root, methods=["GET"]),
            Route("/login", login, methods=["POST"]),
            Route("/auth", auth, methods=["POST"]),
            Route("/auth/logout", logout, methods=["GET", "POST"]),
            Route("/act/{name}", act, methods=["GET", "POST"]),
            Route("/_sandbox/sessions/expire", expire, methods=["POST"]),
            Route("/_sandbox/world/mutate", mutate, methods=["POST"]),
            *operator_routes(st.world),
        ]
    )


class _RootPage(Response):
    """The SPA shell with the platform's two lies: the charset label and the length."""

    def __init__(self, options: AversEmulatorOptions) -> None:
        super().__init__(b"")
        self._body = _ROOT.encode("utf-8")
        self._options = options

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = len(self._body) + max(self._options.root_length_excess, 0)
        headers = [
            (b"content-type", f"text/html; charset={self._options.root_charset_label}".encode()),
            (b"content-length", str(declared).encode()),
            (b"connection", b"close"),
            (b"expires", b"-1"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        # In process (httpx.ASGITransport) the short body simply arrives. Over a socket, h11
        # refuses to end a message shorter than declared: the error propagates, uvicorn logs it
        # and closes the connection after the bytes already written — the client sees a short
        # body and a closed connection, as with the real server.
        await send({"type": "http.response.body", "body": self._body})


# --- actions -------------------------------------------------------------------------------------


def _date(value: str | None) -> date | None:
    try:
        return datetime.strptime(value or "", "%d.%m.%Y").date()
    except ValueError:
        return None


def _student(st: _State, me: PersonInfo, form: Mapping[str, str]) -> PersonInfo | None:
    """The pupil a call names, if the caller may see it (self, own child, or staff)."""
    raw = form.get("student", "")
    p = st.world.persons.get(int(raw)) if raw.isdigit() else None
    if p is None or p.role != "student" or p.school != st.school:
        return None
    if p.ext_id == me.ext_id or p.ext_id in me.children or me.role in _STAFF:
        return p
    return None


def _year_bounds(st: _State) -> tuple[date, date]:
    y = st.world.schools[st.school].year
    return y.start, y.end


def _user_data(st: _State, me: PersonInfo, form: Mapping[str, str]) -> list[JsValue]:
    name = st.world.schools[st.school].name
    return [[me.last_name, me.first_name[:1], me.middle_name[:1], name, 1, 5]]


def _uch_year(st: _State, me: PersonInfo, form: Mapping[str, str]) -> list[JsValue]:
    return [[]] if st.options.uch_year_empty else [[st.world.schools[st.school].year.start_year]]


def _student_class(st: _State, me: PersonInfo, form: Mapping[str, str]) -> list[JsValue]:
    p = _student(st, me, form)
    if p is None or p.class_id is None:
        return []
    c = st.world.classes[p.class_id]
    return [[c.ext_id, c.grade, c.letter.ljust(16)]]


def _periods(st: _State, me: PersonInfo, form: Mapping[str, str]) -> list[JsValue]:
    return [[pid, name] for pid, name in rows.PERIOD_DICTIONARY]


def _periods_info(st: _State, me: PersonInfo, form: Mapping[str, str]) -> list[JsValue]:
    school = st.world.schools[st.school]
    wanted = {
        int(x) for x in form.get("ids", "").replace(";", ",").split(",") if x.strip().isdigit()
    }
    start, end = _year_bounds(st)
    out: list[JsValue] = [[rows.YEAR_PERIOD, start, end]]
    out += [[rows.quarter_id(p.ordinal), p.start, p.end] for p in school.periods]
    return [r for r in out if not wanted or (isinstance(r, list) and r[0] in wanted)]


def _class_per_sp(st: _State, me: PersonInfo, form: Mapping[str, str]) -> list[JsValue]:
    school = st.world.schools[st.school]
    out: list[JsValue] = [[rows.quarter_id(p.ordinal)] for p in school.periods]
    return [*out, [rows.YEAR_PERIOD]]


def _class_of(st: _State, form: Mapping[str, str]) -> int | None:
    raw = form.get("cls", "")
    cid = int(raw) if raw.isdigit() else None
    return cid if cid in st.world.schools[st.school].class_ids else None


def _class_subjects(st: _State, me: PersonInfo, form: Mapping[str, str]) -> list[JsValue]:
    cid = _class_of(st, form)
    if cid is None:
        return []
    seen: dict[int, str] = {}
    for gid in st.world.classes[cid].group_ids:
        sid = st.world.groups[gid].subject_id
        seen.setdefault(sid, st.world.subjects[sid].name)
    return [[sid, name] for sid, name in sorted(seen.items())]


def _student_groups(st: _State, me: PersonInfo, form: Mapping[str, str]) -> list[JsValue]:
    p = _student(st, me, form)
    if p is None:
        return []
    return [
        [g.ext_id, g.subject_id, g.subgroup]
        for g in st.world.groups_of_student(p.ext_id)
        if g.subgroup
    ]


def _teachers(st: _State, me: PersonInfo, form: Mapping[str, str]) -> list[JsValue]:
    people = (st.world.persons[i] for i in st.world.schools[st.school].person_ids)
    return [[p.ext_id, p.full_name] for p in people if p.role in _STAFF]


def _ranged(
    build: Callable[[rows.Index, int, date, date], list[JsValue]], begin_key: str, end_key: str
) -> Callable[[_State, PersonInfo, Mapping[str, str]], list[JsValue]]:
    def handler(st: _State, me: PersonInfo, form: Mapping[str, str]) -> list[JsValue]:
        p = _student(st, me, form)
        if p is None:
            return []
        start, end = _year_bounds(st)
        return build(
            st.index, p.ext_id, _date(form.get(begin_key)) or start, _date(form.get(end_key)) or end
        )

    return handler


def _journal(st: _State, me: PersonInfo, form: Mapping[str, str]) -> list[JsValue]:
    p = _student(st, me, form)
    if p is None:
        return []
    start, end = _year_bounds(st)
    out = rows.journal_rows(st.index, p.ext_id, start, end)
    for row in out:
        if isinstance(row, list) and st.faults.take_malformed(
            f"GET_STUDENT_JOURNAL_DATA column {row[0]}"
        ):
            row[0] = f"column-{row[0]}"  # a column id that is not a number
    return out


def _director(st: _State, me: PersonInfo, form: Mapping[str, str]) -> list[JsValue]:
    p = _student(st, me, form)
    if p is None or p.class_id is None:
        return []
    return rows.director_rows(st.world, p.ext_id, p.class_id)


def _timetable(st: _State, me: PersonInfo, form: Mapping[str, str]) -> list[JsValue]:
    return rows.timetable_rows(st.world, st.school)


def _empty(st: _State, me: PersonInfo, form: Mapping[str, str]) -> list[JsValue]:
    return []


#: The actions the captured web client calls (build 4.1 HAR, note §4); their answers have the
#: captured shapes. Every other action below is served on a **guess** (module doc).
CAPTURED = frozenset(
    {
        "get_user_data",
        "get_uch_year",
        "get_student_class",
        "get_student_parallel",
        "get_periods",
        "get_student_journal_data",
        "get_student_director_data",
        "get_dairy_class_subjects",
        "get_student_dairy",
        "get_timetable",
        "get_att_journal_data",
        "get_sms",
    }
)

_ACTIONS: dict[str, Callable[[_State, PersonInfo, Mapping[str, str]], list[JsValue]]] = {
    "get_user_data": _user_data,
    "get_uch_year": _uch_year,
    "get_student_class": _student_class,
    "get_student_parallel": _empty,
    "get_periods": _periods,
    "get_journal_periods_info": _periods_info,
    "get_class_per_sp": _class_per_sp,
    "get_dairy_class_subjects": _class_subjects,
    "get_student_subjects": _class_subjects,
    "get_student_groups": _student_groups,
    "get_subs_persons_store_data": _teachers,
    "get_student_journal_data": _journal,
    "get_student_director_data": _director,
    "get_student_dairy": _ranged(rows.diary_rows, "begin_dt", "end_dt"),
    "get_student_lessons": _ranged(rows.lesson_rows, "period_begin", "period_end"),
    "get_timetable": _timetable,
    "get_att_journal_data": _empty,  # a teacher grid: [] for students (note §4.7)
    "get_sms": _empty,
    "get_student_messages": _empty,
}
