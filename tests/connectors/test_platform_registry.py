"""A platform is one descriptor found through one entry point group (``journalsync.platforms``).

The toy sixth platform is a package written into a temporary directory with its own
``*.dist-info/entry_points.txt``: put on the path of a child process, it is found by the registry
like any installed platform, passes the conformance suite and goes round the demo's loop —
without a single existing file touched.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.connector import Connector, Credentials, PlatformOptions, SchoolTarget
from core.errors import ConfigError
from core.platform import GROUP, Platform, get_platform, platform_title, platforms
from journalsync.config import parse_config
from scheduler._runner import make_connector
from tests.support import REPO_ROOT

REPO = REPO_ROOT
TOY = "toyjournal"

# --- the toy platform ------------------------------------------------------------------------

_INIT = '''
"""A toy platform: a school-wide JSON API over the sandbox world."""

from core.platform import Platform

from .connector import ToyConnector

PLATFORM = Platform(
    name="toyjournal",
    title="«Игрушечный журнал»",
    connector=ToyConnector,
    emulator="toyjournal.emulator:create_app",
    harness="toyjournal.harness:HARNESS",
    per_family=False,
)
'''

_CONNECTOR = '''
"""Reads every entity of the school, one page per entity; one account sees the school."""

from pydantic import ValidationError

from core.connector import (
    Capabilities,
    Connector,
    Page,
    PlatformOptions,
    PullMode,
    Quarantined,
    hand_entry_channels,
)
from core.http import HttpClient
from core.model import record_from_data

ENTITIES = (
    "school", "academic_year", "period", "person", "class_unit", "subject", "group",
    "enrollment", "lesson", "homework", "mark", "attendance",
)
STREAM = "journal"


class ToyOptions(PlatformOptions):
    page_note: str = ""


class ToyConnector(Connector):
    platform = "toyjournal"
    default_timezone = "Asia/Omsk"
    options_model = ToyOptions
    capabilities = Capabilities(
        platform="toyjournal",
        reads=frozenset(ENTITIES),
        push=hand_entry_channels(
            worklist={"lesson", "homework", "mark", "attendance"},
            package={"mark", "attendance"},
            worklist_evidence="modelled, no evidence (a toy platform)",
            package_evidence="modelled, no evidence (a toy platform)",
        ),
    )

    def __init__(self, target, **kw):
        super().__init__(target, **kw)
        self.http = HttpClient(
            target.base_url,
            platform=self.platform,
            settings=self.http_settings(),
            transport=kw.get("transport"),
            reauth=self._login,
        )
        self._token = ""

    async def _login(self):
        creds = self.target.credentials
        body = await self.http.post(
            "/api/login", json={"login": creds.login, "password": creds.password}, reauth=False
        )
        self._token = body["token"]
        self.http.client.headers["Authorization"] = f"Bearer {self._token}"

    async def login(self):
        await self._login()

    async def aclose(self):
        await self.http.aclose()

    async def pull(self, cursors, mode=PullMode.FULL):
        if not self._token:
            await self._login()
        cursor = cursors.get(STREAM) or {}
        done = [] if cursor.get("complete", True) else list(cursor.get("done", []))
        for entity in [e for e in ENTITIES if e not in done]:
            body = await self.http.get(f"/api/records/{entity}")
            records, bad = [], []
            for n, item in enumerate(body["records"]):
                try:
                    records.append(record_from_data(entity, item))
                except ValidationError as exc:
                    err = exc.errors()[0]
                    where = ".".join(str(p) for p in err["loc"]) or entity
                    bad.append(Quarantined(entity, f"{entity}:{n}", where, err["msg"]))
            done.append(entity)
            yield Page(
                stream=STREAM,
                scope=entity,
                records=records,
                cursor={"done": list(done), "complete": len(done) == len(ENTITIES)},
                quarantine=bad,
                complete_for=frozenset({entity}),
            )
'''

_EMULATOR = '''
"""The toy platform's server: a login and one list per entity, over the sandbox world."""

import secrets

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.sandbox.faults import Faults, FaultsMiddleware
from connectors.sandbox.operator import operator_routes
from core.model import ENTITIES

_NAME = {cls: name for name, cls in ENTITIES.items()}


class ToyEmulator:
    def __init__(self, world, faults):
        self.world, self.faults, self.tokens = world, faults, {}
        app = Starlette(
            routes=[
                Route("/api/login", self.login, methods=["POST"]),
                Route("/api/records/{entity}", self.records),
                *operator_routes(world),
            ]
        )
        self._app = FaultsMiddleware(app, faults)

    async def __call__(self, scope, receive, send):
        await self._app(scope, receive, send)

    async def login(self, request):
        body = await request.json()
        for acc in self.world.accounts():
            if acc.login == body.get("login") and acc.password == body.get("password"):
                token = secrets.token_hex(8)
                self.tokens[token] = acc.school
                return JSONResponse({"token": token})
        return JSONResponse({"error": "bad login"}, status_code=403)

    async def records(self, request):
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        school = self.tokens.get(token)
        if school is None:
            return JSONResponse({"error": "expired"}, status_code=401)
        entity = request.path_params["entity"]
        out = []
        for r in self.world.canonical(school, "toyjournal"):
            if _NAME[type(r)] != entity:
                continue
            data = r.data()
            if entity == "mark" and self.faults.take_malformed(f"mark {r.id}"):
                data["value"] = {"not": "a mark"}
            out.append(data)
        return JSONResponse({"records": out})


def create_app(world, faults=None, options=None):
    return ToyEmulator(world, faults or Faults())
'''

_HARNESS = """
from connectors.conformance.harness import Harness
from core.connector import Credentials, SchoolTarget

from .connector import ToyConnector
from .emulator import ToyEmulator, create_app


def _target(world, base_url, school, good):
    admin = world.accounts(school, "admin")[0]
    password = admin.password if good else "wrong-" + admin.password
    return SchoolTarget(
        school=school,
        platform="toyjournal",
        base_url=base_url,
        credentials=Credentials(login=admin.login, password=password),
    )


def _expire(app):
    assert isinstance(app, ToyEmulator)
    app.tokens.clear()


HARNESS = Harness(
    platform="toyjournal",
    connector=ToyConnector,
    create_app=create_app,
    target=_target,
    expire_sessions=_expire,
    login_paths=("/api/login",),
)
"""


def write_toy(root: Path) -> Path:
    """The toy package and its distribution metadata under ``root`` (a path entry)."""
    pkg = root / TOY
    pkg.mkdir(parents=True)
    for name, text in {
        "__init__.py": _INIT,
        "connector.py": _CONNECTOR,
        "emulator.py": _EMULATOR,
        "harness.py": _HARNESS,
    }.items():
        (pkg / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    dist = root / f"{TOY}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {TOY}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{GROUP}]\n{TOY} = {TOY}:PLATFORM\n")
    return root


def _env(root: Path) -> dict[str, str]:
    # The toy first, then whatever this process imports from (the repository, the installed
    # distribution's metadata): the child finds the five platforms and the toy.
    path = os.pathsep.join([str(root), str(REPO), *sys.path])
    return {**os.environ, "PYTHONPATH": path}


@pytest.fixture
def toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = write_toy(tmp_path / "site")
    monkeypatch.syspath_prepend(str(root))
    return root


def test_the_toy_is_found_by_the_registry_with_everything_the_rest_needs(toy: Path) -> None:
    found = platforms()
    assert TOY in found and len(found) >= 2  # the toy besides the installed platforms
    toy_platform = get_platform(TOY)
    assert isinstance(toy_platform, Platform)
    assert toy_platform.timezone == "Asia/Omsk"
    assert platform_title(TOY) == "«Игрушечный журнал»"
    assert toy_platform.options.__name__ == "ToyOptions"
    assert callable(toy_platform.create_app())
    assert toy_platform.load_harness().platform == TOY
    # The config knows its options and its zone without being told about the toy.
    text = _config(TOY, 'options = { page_note = "x" }')
    plan = parse_config(text, "m.toml", platforms=[TOY])
    assert plan.schools[0].timezone == "Asia/Omsk"
    with pytest.raises(ConfigError, match=r"m\.toml:\d+: schools\[0\]\.options\.nope: unknown"):
        parse_config(_config(TOY, "options = { nope = 1 }"), "m.toml", platforms=[TOY])


@pytest.mark.slow
def test_the_toy_passes_the_conformance_suite(toy: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", TOY,
         str(REPO / "connectors" / "conformance")],
        capture_output=True, text=True, env=_env(toy), cwd=REPO, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout, proc.stdout[-500:]
    passed = int(proc.stdout.rsplit(" passed", 1)[0].split()[-1])
    assert passed >= 14, proc.stdout[-500:]  # every case of the suite ran on the toy


@pytest.mark.slow
def test_the_demo_loop_pulls_the_toy(toy: Path, tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import json, sys
        from pathlib import Path
        from connectors.conformance.harness import harnesses
        from journalsync.demo_worklist import run_worklist_platform
        [h] = harnesses([{TOY!r}])
        r = run_worklist_platform(h, Path(sys.argv[1]), 7)
        print(json.dumps(r.__dict__))
        """
    )
    work = tmp_path / "demo"
    work.mkdir()
    proc = subprocess.run(
        [sys.executable, "-c", script, str(work)],
        capture_output=True, text=True, env=_env(toy), cwd=REPO, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not result["error"], result
    assert result["pulled"] > 0 and result["imported"] > 0, result
    assert result["awaiting_entry"] == result["imported"] and result["worklists"] > 0, result
    # Every hand entry but the one mistyped is verified by the next pull; that one is drift.
    assert (result["verified"], result["drift"]) == (result["imported"] - 1, 1), result


# --- the descriptors of the installed platforms -----------------------------------------------


def test_every_installed_platform_has_a_complete_descriptor() -> None:
    found = platforms()
    assert found, "no platform installed"
    for name, p in found.items():
        assert p.name == name == p.connector.platform
        assert p.title and p.title != name
        assert issubclass(p.options, PlatformOptions)
        assert p.options.model_config.get("extra") == "forbid"
        assert p.timezone
        assert p.load_harness().platform == name
        assert callable(p.create_app())
        # One account sees the whole school, or the connector says what a pull cannot see.
        assert p.per_family == bool(p.connector.capabilities.partial_view), name


def test_an_unknown_platform_names_the_installed_ones() -> None:
    with pytest.raises(ConfigError, match="unknown platform 'nosuch'; installed: ") as err:
        get_platform("nosuch")
    assert all(name in str(err.value) for name in platforms())
    assert platform_title("nosuch") == "nosuch"


# --- typed options and the time-zone rule ----------------------------------------------------


def _config(platform: str, extra: str = "", municipality_tz: str | None = None) -> str:
    tz = f'timezone = "{municipality_tz}"\n' if municipality_tz else ""
    return (
        f'[municipality]\nname = "m"\n{tz}\n'
        "[[schools]]\n"
        'slug = "s1"\nname = "School"\n'
        f'platform = "{platform}"\n'
        'base_url = "http://127.0.0.1:1"\n'
        'login = "x"\npassword = { env = "X" }\n'
        f"{extra}\n"
    )


def test_bad_options_are_reported_with_file_line_and_key() -> None:
    text = _config("perm", 'options = { host = "beta", per_page = 0, pages = 3 }')
    with pytest.raises(ConfigError) as err:
        parse_config(text, "m.toml", platforms=["perm"])
    lines = str(err.value)
    line = text.splitlines().index(
        next(x for x in text.splitlines() if x.startswith("options"))
    ) + 1  # fmt: skip
    assert f"m.toml:{line}: schools[0].options.host: Input should be 'current' or 'legacy'" in lines
    assert f"m.toml:{line}: schools[0].options.per_page:" in lines
    assert f"m.toml:{line}: schools[0].options.pages: unknown option" in lines


def test_options_of_a_table_get_their_own_line() -> None:
    text = _config("ruobr", "[schools.options]\nattendance = false\nuser_agnet = 'x'")
    with pytest.raises(ConfigError) as err:
        parse_config(text, "m.toml", platforms=["ruobr"])
    line = text.splitlines().index("user_agnet = 'x'") + 1
    assert f"m.toml:{line}: schools[0].options.user_agnet: unknown option" in str(err.value)


def test_good_options_arrive_typed_at_the_connector(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X", "secret")
    plan = parse_config(
        _config("ruobr", "options = { attendance = false }\ntoday = 2026-10-01"),
        "m.toml",
        platforms=["ruobr"],
    )
    school = plan.schools[0]
    assert school.today == date(2026, 10, 1)

    class _NoStore:
        def load_state(self, *_: object) -> dict[str, Any]:
            return {}

    c = make_connector(plan, school, _NoStore())  # type: ignore[arg-type]
    assert c.options.model_dump() == {"attendance": False, "user_agent": None}
    assert c.today() == date(2026, 10, 1)


def test_injected_objects_are_not_options() -> None:
    """HTTP settings, clock and today are constructor arguments: as options they are refused."""
    cls = get_platform("netschool").connector
    for key in ("today", "http_settings", "clock", "timezone"):
        target = SchoolTarget("s", "netschool", "http://x", _creds(), "School", options={key: 1})
        with pytest.raises(ConfigError, match=f"{key}: unknown option"):
            cls(target)


def _creds() -> Credentials:
    return Credentials(login="a", password="b")


@pytest.mark.parametrize("name", ["kiasuo", "ruobr", "perm", "avers", "netschool"])
def test_one_time_zone_rule(name: str) -> None:
    """The school's configured zone, else the platform's default — on every platform (КИАСУО
    and Ruobr used their region's zone whatever was configured; ЭПОС took a configured
    Europe/Moscow for "not set")."""
    p = get_platform(name)
    options = {"host": "legacy"} if name == "perm" else {}

    def connector(timezone: str | None) -> Connector:
        target = SchoolTarget(
            "s", name, "http://x", _creds(), "School", timezone=timezone, options=options
        )
        return p.connector(target)

    assert connector(None).timezone == p.timezone
    for configured in ("Europe/Moscow", "Asia/Vladivostok"):
        assert connector(configured).timezone == configured
    assert connector("Europe/Moscow").today() == _today_in("Europe/Moscow")
    assert connector("Asia/Vladivostok").today() == _today_in("Asia/Vladivostok")


def _today_in(zone: str) -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(zone)).date()


def test_config_zone_rule_school_then_municipality_then_platform(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("X", "secret")
    names = ["kiasuo", "perm"]
    bare = parse_config(_config("kiasuo"), "m.toml", platforms=names)
    assert bare.schools[0].timezone == "Asia/Krasnoyarsk"  # the platform's default
    muni = parse_config(_config("kiasuo", municipality_tz="Europe/Moscow"), "m", platforms=names)
    assert muni.schools[0].timezone == "Europe/Moscow"  # configured, even if it is Moscow
    own = parse_config(
        _config("perm", 'timezone = "Europe/Moscow"', municipality_tz="Asia/Omsk"),
        "m.toml",
        platforms=names,
    )
    assert own.schools[0].timezone == "Europe/Moscow"
    assert own.schools[0].target().timezone == "Europe/Moscow"


# --- nothing outside a platform's package names it ---------------------------------------------


#: Parsed while the module is collected, before any test starts a server thread: CPython 3.11's
#: AST conversion keeps its recursion depth in process-wide state, so an ``ast.parse`` racing
#: another thread's compile can fail with "AST constructor recursion depth mismatch".
_TOPS = ("core", "journalsync", "scheduler", "console", "bench", "connectors/conformance",
         "connectors/sandbox")  # fmt: skip
_TREES = {
    path.relative_to(REPO).as_posix(): ast.parse(path.read_text(encoding="utf-8"))
    for top in _TOPS
    for path in sorted((REPO / top).rglob("*.py"))
}


def test_no_code_outside_connectors_names_a_platform() -> None:
    """A string that is exactly a platform's name appears only in ``connectors/<name>/`` (and
    tests); everything else asks the registry — the compliance profiles are keyed by regulation,
    and a benchmark of one platform imports that platform's package instead of naming it."""
    names = set(platforms())
    found = [
        f"{rel}:{node.lineno}: {node.value!r}"
        for rel, tree in _TREES.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in names
    ]
    assert not found, "\n".join(found)


def test_credential_how_tos_come_from_the_descriptors() -> None:
    from journalsync.credentials_cmd import how_to_get_token

    for name, p in platforms().items():
        assert how_to_get_token(name) == (p.how_to or None)
    assert any(p.how_to for p in platforms().values())  # a token platform explains itself
    with pytest.raises(ConfigError, match="unknown platform"):
        how_to_get_token("nosuch")


def test_a_broken_platform_package_is_a_clear_error(tmp_path: Path) -> None:
    root = tmp_path / "site"
    dist = root / "brokenjournal-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenjournal\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{GROUP}]\nbrokenjournal = nosuchmodule:PLATFORM\n")
    (tmp_path / "m.toml").write_text(_config("netschool"), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "journalsync", "config", "check", str(tmp_path / "m.toml")],
        capture_output=True, text=True, env=_env(root), cwd=REPO, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    said = " ".join(proc.stderr.split())  # the console wraps long lines
    assert "platform brokenjournal: cannot load nosuchmodule:PLATFORM" in said, said
    assert "Traceback" not in said
