"""Whether a plan's credential references resolve on this machine (``config check``)."""

from __future__ import annotations

import os

from core.errors import ConfigError
from scheduler import Plan, SecretRef

__all__ = ["check_secrets"]


def check_secrets(plan: Plan) -> tuple[list[str], list[str]]:
    """Whether each credential reference resolves here: (errors, warnings).

    A secrets file that is missing or unreadable, or has no such key, is an error: nothing the
    scheduler's environment can change about it. An environment variable unset in this shell is
    a warning: the service that runs journalsync may well set it.
    """
    refs: list[tuple[str, SecretRef | None]] = []
    for school in plan.schools:
        logins = [(school.login, school.password, school.token)]
        logins += [(a.login, a.password, a.token) for a in school.accounts]
        several = len(plan.bindings(school.slug)) > 1
        label = f"school {school.slug}" + (f", binding {school.binding}" if several else "")
        for login, *pair in logins:
            for what, ref in zip(("password", "token"), pair, strict=True):
                refs.append((f"{label}, login {login}: {what}", ref))
    refs += _alert_secrets(plan)
    errors: list[str] = []
    warnings: list[str] = []
    seen: set[str] = set()
    for where, ref in refs:
        if ref is None:
            continue
        if ref.env:
            if not os.environ.get(ref.env) and ref.env not in seen:
                seen.add(ref.env)
                warnings.append(f"{where}: environment variable {ref.env} is not set in this shell")
            continue
        try:
            ref.resolve()
        except ConfigError as exc:
            errors.append(f"{where}: {exc.message}")
    return errors, list(dict.fromkeys(warnings))


def _alert_secrets(plan: Plan) -> list[tuple[str, SecretRef | None]]:
    a = plan.alerts
    if a is None:
        return []
    return [
        ("alerts: webhook_token", a.webhook.token if a.webhook else None),
        ("alerts: smtp_password", a.smtp.password if a.smtp else None),
    ]
