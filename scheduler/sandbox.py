"""A whole municipality on loopback: every registered platform's emulator and a config for it.

Schools are spread over the installed platforms (:mod:`core.platform`), each through the
conformance harness its descriptor names, one emulator per platform on 127.0.0.1: 200 schools
are 40 on each of five platforms. Used by
the scheduler tests, ``bench/cycle.py`` and anyone trying ``journalsync serve`` out::

    with sandbox_municipality(200, store_url="sqlite:///m.db") as m:
        m.write(Path("m.toml"))   # passwords go to m.env, never into the file
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.conformance.harness import Harness, harnesses
from connectors.sandbox import World, WorldSize
from connectors.sandbox.faults import Faults
from connectors.sandbox.server import ServerHandle, serve_in_thread
from core.connector import Credentials, PlatformOptions

__all__ = ["TINY", "SandboxMunicipality", "sandbox_municipality"]

#: One small class per school: a cycle of 200 schools stays quick.
TINY = WorldSize(grades=(5,), letters=1, students_per_class=4, weeks=1)

#: Every request fails: for the school "whose platform returns 5xx for the whole cycle".
ALWAYS_5XX = 10**9


@dataclass
class SandboxMunicipality:
    config_text: str
    #: Password environment variables the config refers to (set them before loading).
    env: dict[str, str]
    #: Emulator base URL → its world and app (one world per emulator).
    worlds: dict[str, World]
    apps: dict[str, Any]
    #: config slug → (platform, base URL, world slug).
    schools: dict[str, tuple[str, str, str]]
    #: Schools served by the always-failing emulator.
    failing: list[str] = field(default_factory=list)
    servers: list[ServerHandle] = field(default_factory=list)

    def world_of(self, slug: str) -> tuple[World, str]:
        """The world holding a configured school, and the school's slug in it."""
        _platform, url, world_slug = self.schools[slug]
        return self.worlds[url], world_slug

    def write(self, path: Path) -> Path:
        path.write_text(self.config_text, encoding="utf-8")
        return path

    def export_env(self) -> None:
        os.environ.update(self.env)


def _s(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


def _toml_value(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _s(value)
    return None  # objects (e.g. HttpSettings) come from the config's [hosts] instead


def _options(options: PlatformOptions | Mapping[str, Any]) -> dict[str, Any]:
    """The options a harness sets, as the config writes them."""
    if isinstance(options, PlatformOptions):
        return options.model_dump(exclude_defaults=True)
    return dict(options)


def _distinct_schools(world: World, n: int) -> list[str]:
    """Schools a platform can tell apart by name (generated names may repeat)."""
    names = Counter(s.name for s in world.schools.values())
    shorts = Counter(s.short_name for s in world.schools.values())
    ok = [
        slug
        for slug, s in world.schools.items()
        if names[s.name] == 1 and shorts[s.short_name] == 1
    ]
    return ok[:n]


def _size(size: WorldSize, n: int) -> WorldSize:
    return WorldSize(**{**size.__dict__, "schools": n * 2})


def _secret_refs(var: str, creds: Credentials, env: dict[str, str]) -> str:
    refs = []
    for kind, value in (("password", creds.password), ("token", creds.token)):
        if value:
            env[f"{var}_{kind.upper()}"] = value
            refs.append(f"{kind} = {{ env = {_s(f'{var}_{kind.upper()}')} }}")
    return ", ".join(refs)


def _school_toml(
    slug: str, h: Harness, world: World, world_slug: str, base_url: str, env: dict[str, str]
) -> str:
    target = h.target(world, base_url, world_slug, True)
    var = f"JS_SANDBOX_{slug.upper().replace('-', '_')}"
    options = {k: v for k, v in _options(target.options).items() if _toml_value(v) is not None}
    opts = ", ".join(f"{k} = {_toml_value(v)}" for k, v in sorted(options.items()))
    accounts = ",\n".join(
        f"  {{ login = {_s(a.login)}, {_secret_refs(f'{var}_A{n}', a, env)} }}"
        for n, a in enumerate(target.accounts, 1)
    )
    return (
        "[[schools]]\n"
        f"slug = {_s(slug)}\n"
        f"name = {_s(world.school(world_slug).name)}\n"
        f"platform = {_s(h.platform)}\n"
        f"base_url = {_s(base_url)}\n"
        f"platform_school = {_s(target.platform_school)}\n"
        f"login = {_s(target.credentials.login)}\n"
        + "".join(f"{line}\n" for line in _secret_refs(var, target.credentials, env).split(", "))
        + f"options = {{ {opts} }}\n"
        + f"today = {world.today.isoformat()}\n"
        + (f"accounts = [\n{accounts},\n]\n" if accounts else "")
    )


@contextmanager
def sandbox_municipality(
    schools: int,
    *,
    store_url: str,
    seed: int = 5,
    size: WorldSize = TINY,
    failing: int = 0,
    platforms: Sequence[str] | None = None,
    extra: str = "",
    host_limits: Mapping[str, Any] | None = None,
    schools_per_host: int = 10,
    wrap: Callable[[Any], Any] | None = None,
) -> Iterator[SandboxMunicipality]:
    """Emulators on loopback for ``schools`` schools spread over the installed platforms.

    ``failing``: that many schools (of the first platform) talk to a copy of its emulator that
    answers every request with 503. ``extra``: TOML appended before the schools (thresholds,
    blackouts …). ``host_limits``: keys of the ``[hosts."…"]`` table of every emulator host.
    ``wrap``: an ASGI middleware put around each (healthy) emulator, e.g. to count requests.
    """
    found = harnesses(platforms)
    if not found:
        raise RuntimeError("no platform is installed (entry point group journalsync.platforms)")
    per = [
        schools // len(found) + (1 if i < schools % len(found) else 0) for i in range(len(found))
    ]
    limits: dict[str, Any] = {
        "schools": 8,
        "concurrency": 8,
        "max_attempts": 2,
        "backoff_initial": 0.0,
    }
    limits.update(host_limits or {})
    env: dict[str, str] = {}
    m = SandboxMunicipality("", env, {}, {}, {})
    blocks: list[str] = []
    hosts: list[str] = []
    try:
        for i, (h, n) in enumerate(zip(found, per, strict=True)):
            bad_url = None
            if i == 0 and failing:
                # A copy of the first world's emulator that answers everything with 503.
                bad_world = World.generate(seed, _size(size, schools_per_host))
                bad = serve_in_thread(h.app(bad_world, Faults(server_errors=ALWAYS_5XX)))
                m.servers.append(bad)
                hosts.append(f"{bad.host}:{bad.port}")
                bad_url = bad.base_url
            k = 0
            per_host = h.schools_per_server or schools_per_host
            for w in range(-(-n // per_host)):
                # One small world per emulator: generated school names repeat in big worlds,
                # and a platform must tell its schools apart by name.
                world = World.generate(seed + 1000 * i + w, _size(size, per_host))
                app = h.app(world)
                server = serve_in_thread(wrap(app) if wrap else app)
                m.servers.append(server)
                m.worlds[server.base_url], m.apps[server.base_url] = world, app
                hosts.append(f"{server.host}:{server.port}")
                chosen = _distinct_schools(world, min(per_host, n - k))
                for world_slug in chosen:
                    k += 1
                    slug = f"{h.platform}-{k:03d}"
                    url = server.base_url
                    if bad_url is not None and w == 0 and len(m.failing) < failing:
                        url = bad_url
                        m.failing.append(slug)
                    m.schools[slug] = (h.platform, url, world_slug)
                    blocks.append(_school_toml(slug, h, world, world_slug, url, env))
            if k < n:
                raise RuntimeError(f"{h.platform}: only {k} distinguishable schools")
        host_tables = "".join(
            f'[hosts."{host}"]\n'
            + "".join(f"{k} = {_toml_value(v)}\n" for k, v in sorted(limits.items()))
            + "\n"
            for host in hosts
        )
        m.config_text = (
            "# A sandbox municipality on loopback (scheduler/sandbox.py).\n"
            '[municipality]\nname = "Sandbox municipality"\ntimezone = "Asia/Barnaul"\n\n'
            f"[store]\nurl = {_s(store_url)}\n\n"
            '[schedules]\npull = { cron = "*/30 8-17 * * 1-6", window = "school_hours" }\n'
            'push = { cron = "30 19 * * 1-6", window = "outside_school_hours" }\n'
            'reconcile = "0 2 * * 0"\n\n'
            f"{host_tables}{extra}\n" + "\n".join(blocks)
        )
        yield m
    finally:
        for server in m.servers:
            server.stop()
