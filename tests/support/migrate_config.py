"""A config of one school bound to two emulators on loopback (a migration), its accounts'
secrets in a 0600 ``secrets.toml`` beside it."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from connectors.conformance.harness import harnesses
from connectors.sandbox import World
from core.connector import Credentials


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string


def write_migration_config(
    path: Path, world: World, bindings: Mapping[str, tuple[str, str]], *, store_url: str
) -> list[str]:
    """``bindings`` = {binding name: (platform, base_url)}, the school leaving the first for
    the second (which takes effect the day after the world's today), for every school of the
    world; returns the slugs. Secrets are keyed ``<slug>-<binding>-<n>``."""
    secrets: list[str] = []
    lines = ["[municipality]", 'name = "test"', "[store]", f"url = {_q(store_url)}"]
    by_platform = {h.platform: h for h in harnesses()}

    def refs(key: str, cred: Credentials) -> list[str]:
        out: list[str] = []
        if cred.password:
            secrets.append(f"{_q(key + '-password')} = {_q(cred.password)}")
            out.append(f'password = {{ file = "secrets.toml", key = {_q(key + "-password")} }}')
        if cred.token:
            secrets.append(f"{_q(key + '-token')} = {_q(cred.token)}")
            out.append(f'token = {{ file = "secrets.toml", key = {_q(key + "-token")} }}')
        return out

    moves_on = world.today + timedelta(days=1)
    for slug in world.schools:
        lines += ["[[schools]]", f"slug = {_q(slug)}", f"name = {_q(slug)}"]
        lines += _bindings(world, slug, bindings, moves_on, by_platform, refs)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    secret_file = path.with_name("secrets.toml")
    secret_file.write_text("\n".join(secrets) + "\n", encoding="utf-8")
    secret_file.chmod(0o600)
    return list(world.schools)


def _bindings(
    world: World,
    slug: str,
    bindings: Mapping[str, tuple[str, str]],
    moves_on: date,
    by_platform: Mapping[str, Any],
    refs: Callable[[str, Credentials], list[str]],
) -> list[str]:
    lines: list[str] = []
    for n_binding, (name, (platform, url)) in enumerate(bindings.items()):
        target = by_platform[platform].target(world, url, slug, True)
        lines += [
            "[[schools.bindings]]",
            f"name = {_q(name)}",
            f"platform = {_q(platform)}",
            f"base_url = {_q(url)}",
            f"platform_school = {_q(target.platform_school)}",
            f"login = {_q(target.credentials.login)}",
            *refs(f"{slug}-{name}-0", target.credentials),
            *([f"timezone = {_q(target.timezone)}"] if target.timezone else []),
            f"today = {world.today.isoformat()}",
            *([f"effective = {moves_on.isoformat()}"] if n_binding else []),
        ]
        raw = target.options
        given = raw.model_dump(exclude_defaults=True) if isinstance(raw, BaseModel) else raw
        options = {k: v for k, v in given.items() if isinstance(v, str)}
        if options:
            lines.append(
                "options = { " + ", ".join(f"{k} = {_q(v)}" for k, v in options.items()) + " }"
            )
        accounts = []
        for n, acc in enumerate(target.accounts, start=1):
            parts = [f"login = {_q(acc.login)}", *refs(f"{slug}-{name}-{n}", acc)]
            accounts.append("{ " + ", ".join(parts) + " }")
        if accounts:
            lines.append("accounts = [\n  " + ",\n  ".join(accounts) + ",\n]")
    return lines
