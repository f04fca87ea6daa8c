"""NetSchool pre-login, login, logout and session endpoints (note §2, WIRE.md "Login")."""

from __future__ import annotations

import secrets
from hashlib import md5
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from connectors.netschool._emulator_state import (
    EmulatorState,
    Login,
    Unauthorized,
    form_items,
    iso,
)
from connectors.sandbox.responses import JSONResponse

COOKIE = "NSSESSIONID"

# Role ids/names in `accountInfo.userRoles` (2 = Родитель per the note; the others [guess]).
_ROLES: dict[str, tuple[int, str]] = {
    "guardian": (2, "Родитель"),
    "teacher": (1, "Учитель"),
    "admin": (3, "Завуч"),
}


# Where the browser goes after login. The real sample (note §2.2) has a string here and clients
# test it with `in` (netschoolpy 9.6.3 breaks on null). The pages are the note's UI routes (§1.1):
# the diary for students/parents, the journal (S14) for staff [guess: which page per role].
_ENTRY_POINTS: dict[str, str] = {
    "student": "/angular/school/studentdiary/",
    "guardian": "/angular/school/studentdiary/",
    "teacher": "/app/school/journal/",
    "admin": "/app/school/journal/",
}


def password_hash(salt: str, password: str) -> str:
    """pw2 = md5hex(salt + md5hex(cp1251(password))) — note §2.2 step 3."""
    h1 = md5(password.encode("cp1251")).hexdigest()
    return md5((salt + h1).encode("ascii")).hexdigest()


def _conflict(message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=409)


def routes(st: EmulatorState) -> list[BaseRoute]:
    def session_id(request: Request) -> tuple[str, bool]:
        """The caller's NSSESSIONID, or a new one (True = the cookie must be set)."""
        sid = request.cookies.get(COOKIE)
        if sid is None or sid not in st.prelogins:
            return st.new_session_id(), True
        return sid, False

    def with_cookie(response: Response, sid: str, new: bool) -> Response:
        if new:
            response.set_cookie(COOKIE, sid, path="/", httponly=True)
        return response

    async def logindata(request: Request) -> Response:
        esia = st.options.esia_only
        sid, new = session_id(request)
        response = JSONResponse(
            {
                "productName": "Сетевой Город. Образование",
                "version": st.options.version,
                "cacheVer": st.options.version.replace(".", ""),
                "esiaLoginPage": "",
                "esaLoginPage": "",
                "schoolLogin": not esia,
                "emLogin": False,
                "esiaLogin": esia,
                "esiaMainAuth": esia,
                "esiaButton": esia,
                "signatureLogin": False,
                "windowsAuth": False,
                "enableSms": False,
                "esaLogin": False,
            }
        )
        return with_cookie(response, sid, new)

    async def getdata(request: Request) -> Response:
        sid, new = session_id(request)
        if st.options.esia_only:  # ESIA-only installation: no lt/ver/salt (note §7.1)
            return with_cookie(JSONResponse({}), sid, new)
        pre = st.prelogins[sid]
        pre.salt = str(secrets.randbelow(9 * 10**9) + 10**9)
        pre.lt = str(secrets.randbelow(9 * 10**9) + 10**9)
        pre.ver = str(secrets.randbelow(9 * 10**8) + 10**8)
        body = {"lt": pre.lt, "ver": pre.ver, "salt": pre.salt}
        return with_cookie(JSONResponse(body), sid, new)

    async def schools_search(request: Request) -> Response:
        name = request.query_params.get("name")
        if not name:
            return Response("Forbidden", status_code=403)  # since Dec 2023 (lentryd#14)
        needle = name.casefold()
        out = [
            {
                "id": s.ext_id,
                "name": s.name,
                "shortName": s.short_name,
                "inn": s.inn,
                "ogrn": s.ogrn,
                "address": s.address,
                "addressString": s.address,
                "cityId": 1000 + s.number,
                "provinceId": 22,
            }
            for s in st.world.schools.values()
            if needle in s.name.casefold() or needle in s.short_name.casefold()
        ]
        return JSONResponse(out)

    async def login(request: Request) -> Response:
        form = dict(await form_items(request))
        pre = st.prelogins.get(request.cookies.get(COOKIE, ""))
        salt = pre.salt if pre else None
        if pre is not None:
            pre.salt = None  # single-use, burnt whatever the outcome
        if st.options.esia_only:
            return _conflict("Вход по логину и паролю отключён. Войдите через Госуслуги.")
        if pre is None or salt is None:
            return _conflict("Сессия устарела. Обновите страницу и повторите вход.")
        if form.get("logintype", "1") != "1":
            return _conflict("Неподдерживаемый способ входа.")
        if form.get("lt") != pre.lt or form.get("ver") != pre.ver:
            return _conflict("Сессия устарела. Обновите страницу и повторите вход.")
        try:
            school = st.world.school_by_id(int(form.get("scid", "")))
        except ValueError:
            school = None
        user = st.world.account(form.get("un", ""))
        bad = "Неправильный пароль или имя пользователя"
        if school is None or user is None or user.school != school.slug:
            return _conflict(bad)
        expected = password_hash(salt, user.password)
        if form.get("pw2") != expected:
            return _conflict(bad)
        if "pw" in form and form["pw"] != expected[: len(user.password)]:
            return _conflict(bad)
        lg = st.new_login(user, school)
        response = JSONResponse(_login_json(st, lg))
        response.set_cookie("ESRNSec", secrets.token_hex(24), path="/", httponly=True)
        return response

    async def logout(request: Request) -> Response:
        lg = st.lookup(request.headers.get("at"))
        if lg is None:
            raise Unauthorized
        lg.alive = False
        return Response(status_code=200)

    async def expired(request: Request) -> Response:
        token = request.query_params.get("token") or request.headers.get("at")
        return JSONResponse(st.lookup(token) is None)

    async def security_warning(request: Request) -> Response:
        form = dict(await form_items(request))
        lg = st.lookup(form.get("at") or request.headers.get("at"))
        if lg is None:
            raise Unauthorized
        if form.get("warntype") == "2":
            lg.warning_pending = False
        return Response("<html><body>OK</body></html>", media_type="text/html")

    async def sandbox_expire(request: Request) -> Response:
        return JSONResponse({"expired": st.expire_all()})

    return [
        Route("/webapi/logindata", logindata, methods=["GET"]),
        Route("/webapi/auth/getdata", getdata, methods=["POST"]),
        Route("/webapi/schools/search", schools_search, methods=["GET"]),
        Route("/webapi/login", login, methods=["POST"]),
        Route("/webapi/auth/logout", logout, methods=["POST"]),
        Route("/webapi/context/expired", expired, methods=["GET"]),
        Route("/asp/securitywarning.asp", security_warning, methods=["POST"]),
        Route("/_sandbox/sessions/expire", sandbox_expire, methods=["POST"]),
    ]


def _login_json(st: EmulatorState, lg: Login) -> dict[str, Any]:
    u, s = lg.user, lg.school
    role = _ROLES.get(u.role)
    user_roles = (
        [{"userId": u.ext_id, "schoolId": s.ext_id, "role": {"id": role[0], "name": role[1]}}]
        if role
        else []
    )
    warn = st.options.security_warning
    return {
        "at": lg.at,
        "code": None,
        "timeOut": st.options.session_timeout_ms,
        "accessToken": None,
        "refreshToken": None,
        "tokenType": "Bearer",
        "accountInfo": {
            "activeToken": None,
            "secureActiveToken": None,
            "currentOrganization": {"id": s.ext_id, "name": s.short_name},
            "user": {"id": u.ext_id, "name": u.short_name},
            "userRoles": user_roles,
            "organizations": [{"id": s.ext_id, "name": s.name}],
            "loginTime": iso(st.world.today).replace("T00:00:00", "T08:00:00"),
            "active": True,
            "canLogin": True,
            "storeTokens": True,
            "accessToken": None,
        },
        "entryPoint": "/asp/SecurityWarning.asp" if warn else _ENTRY_POINTS[u.role],
        "requestData": {"warnType": "1"} if warn else None,
        "errorMessage": None,
    }
