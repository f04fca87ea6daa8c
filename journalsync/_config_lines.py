"""Config errors with their lines: ``file:line: key.path: reason`` for a TOML text and the
path pydantic (or a later check) names — table headers, ``[[arrays]]`` by index (an array under
an array item, ``[[schools.bindings]]``, within its item), dotted keys."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from pydantic import ValidationError

__all__ = ["line_for", "loc_text", "pydantic_errors"]

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(
    r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+))*)\s*="""
)


def _split_key(text: str) -> list[str]:
    parts = re.findall(r""""([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+)""", text)
    return [a or b or c for a, b, c in parts]


@functools.lru_cache(maxsize=4)
def _key_lines(text: str) -> list[tuple[tuple[str | int, ...], int]]:
    """Every table header and ``key =`` line with its full path (array items by index; an array
    under an array item, ``[[schools.bindings]]``, counts within its item); kept for the last
    few texts, as each of a config's errors looks its line up (read-only)."""
    out: list[tuple[tuple[str | int, ...], int]] = []
    header: tuple[str | int, ...] = ()
    arrays: dict[tuple[str | int, ...], int] = {}
    for no, line in enumerate(text.splitlines(), 1):
        if m := _HEADER.match(line):
            names = tuple(_split_key(m.group(2)))
            if m.group(1) == "[[":
                where = (*_in_arrays(names[:-1], arrays), names[-1])
                arrays[where] = arrays.get(where, -1) + 1
                header = (*where, arrays[where])
            else:
                header = _in_arrays(names, arrays)
            out.append((header, no))
        elif m := _KEY.match(line):
            out.append(((*header, *_split_key(m.group(1))), no))
    return out


def _in_arrays(
    names: tuple[str, ...], arrays: dict[tuple[str | int, ...], int]
) -> tuple[str | int, ...]:
    """``[schools.options]`` under ``[[schools]]`` is ``schools[<last>].options``."""
    # Only prefixes as long as an array's name can be one: linear in a header of 50,000 parts.
    longest = max(map(len, arrays), default=0)
    out: list[str | int] = []
    for name in names:
        out.append(name)
        if len(out) <= longest and tuple(out) in arrays:
            out.append(arrays[tuple(out)])
    return tuple(out)


def line_for(text: str, loc: Sequence[str | int]) -> int | None:
    best, best_len = None, -1
    for path, no in _key_lines(text):
        n = 0
        while n < min(len(path), len(loc)) and str(path[n]) == str(loc[n]):
            n += 1
        if n == len(path) and n > best_len:
            best, best_len = no, n
    return best


def loc_text(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def pydantic_errors(path: str, text: str, exc: ValidationError) -> list[str]:
    lines: list[str] = []
    for err in exc.errors():
        # Drop the union-branch names pydantic adds ("_SecretEnv", "str", "function-after[…]").
        loc = [p for p in err["loc"] if isinstance(p, int) or not _is_branch(p)]
        where = line_for(text, loc)
        prefix = f"{path}:{where}" if where else path
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (a typo, or a key this version does not know)"
        elif err["type"] == "missing":
            msg = "required key is missing"
        lines.append(f"{prefix}: {loc_text(loc) or '(top level)'}: {msg}")
    return list(dict.fromkeys(lines))


def _is_branch(part: str) -> bool:
    return part.startswith("_") or part in ("str", "int", "float") or "[" in part
