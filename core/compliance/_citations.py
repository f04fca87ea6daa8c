"""How a document names a regulation, a clause, a rule and a profile — in words a school signs.

The rules cite clauses as ``<file> п. <clause>`` (the file in ``regulations/``); a document
says «Положение о порядке работы в электронном журнале …, п. 5.2» instead — each regulation's
own title, as it stands at the head of its text.
"""

from __future__ import annotations

import re

from core.compliance._catalogue import REG, RULES
from core.compliance._profiles import PROFILES
from core.platform import platform_title

__all__ = ["REGULATION_TITLES", "cite", "profile_name", "rule_name", "source_name"]

#: Each regulation's own title (the heading of its text), by its file in ``regulations/``.
REGULATION_TITLES = {
    REG["gymn2-krasnoyarsk"]: (
        "Положение о порядке работы в электронном журнале на платформе ГИС ЭЖД КИАСУО "
        "(МАОУ Гимназия № 2)"
    ),
    REG["skshi8-permkrai"]: (
        "Положение об электронном журнале/электронном дневнике МБОУ «СКШИ VIII вида»"
    ),
    REG["sosh63-altai"]: (
        "Порядок ведения журналов учета успеваемости и посещаемости учащихся "
        "в электронной форме в АИС «Сетевой регион. Образование» в МБОУ «СОШ №63»"
    ),
    REG["school106-novokuznetsk"]: (
        "Положение о ведении АИС «Электронная школа 2.0» (МКОУ «Специальная школа № 106»)"
    ),
    REG["gymn24-stavropol"]: (
        "Инструкция по ведению учета учебной деятельности с помощью ЭЖ (МАОУ гимназия № 24)"
    ),
}

_CITATION = re.compile(r"(?P<file>[\w.-]+\.txt)\s*(?:п\.|§)?\s*(?P<clause>[\d.]+[\d–-]*)?")


def cite(text: str) -> str:
    """«<file> п. 5.2» → «Положение …, п. 5.2»; several citations joined by «; » each replaced.
    A file this module does not know is named «положение школы» — never by its file name."""

    def one(m: re.Match[str]) -> str:
        title = REGULATION_TITLES.get(m["file"], "положение школы")
        clause = m["clause"]
        return f"{title}, п. {clause.rstrip('.')}" if clause else title

    return _CITATION.sub(one, text)


def rule_name(rule: str) -> str:
    """The rule's Russian title from the catalogue (its id only where the catalogue lacks it)."""
    found = RULES.get(rule)
    return found.title if found is not None else rule


def profile_name(profile: str) -> str:
    """The profile's Russian title (e.g. «Все правила (…)»)."""
    found = PROFILES.get(profile)
    return found.title if found is not None else profile


def source_name(platform: str) -> str:
    """Where the data came from, in words: a platform's snapshot or the local journal."""
    if platform in ("", "local"):
        return "журнал школы в journalsync (локальные записи)"
    return f"снимок платформы {platform_title(platform)}"
