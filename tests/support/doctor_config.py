"""A municipality config for emulators on loopback: one school per platform, its accounts'
secrets in a 0600 secrets file beside it (tests and the doctor's demonstration)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel

from connectors.conformance.harness import harnesses
from connectors.sandbox import World
from core.connector import Credentials


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string


def write_config(
    path: Path, world: World, base_urls: Mapping[str, str], *, store_url: str
) -> list[str]:
    """Write ``path`` (and ``secrets.toml`` beside it) for ``{platform: base_url}``; the slugs
    are ``<world school>-<platform>``, returned in order."""
    slug = next(iter(world.schools))
    secrets: list[str] = []
    lines = [
        "[municipality]",
        'name = "test"',
        "[store]",
        f"url = {_q(store_url)}",
    ]
    by_platform = {h.platform: h for h in harnesses()}
    slugs: list[str] = []

    def refs(key: str, cred: Credentials) -> list[str]:
        out: list[str] = []
        if cred.password:
            secrets.append(f"{_q(key + '-password')} = {_q(cred.password)}")
            out.append(f'password = {{ file = "secrets.toml", key = {_q(key + "-password")} }}')
        if cred.token:
            secrets.append(f"{_q(key + '-token')} = {_q(cred.token)}")
            out.append(f'token = {{ file = "secrets.toml", key = {_q(key + "-token")} }}')
        return out

    for platform, url in base_urls.items():
        target = by_platform[platform].target(world, url, slug, True)
        name = f"{slug}-{platform}"
        slugs.append(name)
        lines += [
            "[[schools]]",
            f"slug = {_q(name)}",
            f"name = {_q(name)}",
            f"platform = {_q(platform)}",
            f"base_url = {_q(url)}",
            f"platform_school = {_q(target.platform_school)}",
            f"login = {_q(target.credentials.login)}",
            *refs(f"{name}-0", target.credentials),
            *([f"timezone = {_q(target.timezone)}"] if target.timezone else []),
            f"today = {world.today.isoformat()}",
        ]
        raw = target.options
        given = raw.model_dump(exclude_defaults=True) if isinstance(raw, BaseModel) else raw
        options = {k: v for k, v in given.items() if isinstance(v, str)}
        if options:
            lines.append(
                "options = { " + ", ".join(f"{k} = {_q(v)}" for k, v in options.items()) + " }"
            )
        for n, acc in enumerate(target.accounts, start=1):
            lines.append(f"[[schools.accounts]]\nlogin = {_q(acc.login)}")
            lines += refs(f"{name}-{n}", acc)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    secret_file = path.with_name("secrets.toml")
    secret_file.write_text("\n".join(secrets) + "\n", encoding="utf-8")
    secret_file.chmod(0o600)
    return slugs
