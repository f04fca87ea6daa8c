"""Fuzzing the config loader (``journalsync/config.py``): whatever the file holds, ``load_config``
returns a plan or raises :class:`ConfigError` (exit code 2 with a message naming the line and
key), never another exception. Inputs are the commented example with keys dropped, retyped,
added and nested wrong, its text cut and spliced, and random bytes.
"""

from __future__ import annotations

import contextlib
import json
import math
import tomllib
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from core.errors import ConfigError
from journalsync.config import example_text, load_config, parse_config
from scheduler import Plan
from tests.support.fuzz import fuzz

FUZZ_EXAMPLES = 150

EXAMPLE = tomllib.loads(example_text())


# -- a small TOML writer: the mutated dict back to text ------------------------------------------


def _key(k: str) -> str:
    return json.dumps(k, ensure_ascii=False)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return ("-" if v < 0 else "") + "inf" if math.isinf(v) else "nan" if v != v else repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, datetime | date | time):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def to_toml(data: dict[str, Any]) -> str:
    """Scalars first, then ``[table]`` sections and ``[[array]]`` sections (as the example is
    laid out, so errors have lines to name); deeper levels inline."""
    lines = [f"{_key(k)} = {_value(v)}" for k, v in data.items() if not _section(v)]
    for k, v in data.items():
        if isinstance(v, dict) and _section(v):
            lines.append(f"[{_key(k)}]")
            lines += [f"{_key(sk)} = {_value(sv)}" for sk, sv in v.items()]
        elif isinstance(v, list) and _section(v):
            for item in v:
                lines.append(f"[[{_key(k)}]]")
                lines += [f"{_key(sk)} = {_value(sv)}" for sk, sv in item.items()]
    return "\n".join(lines) + "\n"


def _section(v: Any) -> bool:
    return (isinstance(v, dict) and bool(v)) or (
        isinstance(v, list) and bool(v) and all(isinstance(x, dict) and x for x in v)
    )


def test_the_writer_round_trips_the_example() -> None:
    assert tomllib.loads(to_toml(EXAMPLE)) == EXAMPLE
    assert isinstance(parse_config(to_toml(EXAMPLE)), Plan)


# -- structured mutations ------------------------------------------------------------------------

_SCALARS = st.one_of(
    st.none(),  # dropped: TOML has no null
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(),
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=30),
    st.sampled_from(["", "*", "5%", "1e3%", "UTC", "Europe/Nowhere", "../../etc/passwd", "\0"]),
    st.sampled_from(["* * * * *", "61 25 * * *", "*/0 * * * *", "0 0 31 2 *", "@reboot"]),
    st.sampled_from(
        [
            "sqlite://",
            "sqlite:///:memory:",
            "postgresql://u:p@h/db",
            "mysql://x",
            "qlite:///x.db",
            "sqlite+foo:///x.db",
            "postgresql+nodriver://h/db",
            "://",
            "sqlite:///\0",
        ]
    ),
    st.datetimes(),
    st.dates(),
    st.times(),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated_configs(draw: st.DrawFn) -> dict[str, Any]:
    data = json.loads(json.dumps(EXAMPLE, default=str))  # a deep copy; times become text …
    data = _retime(data, EXAMPLE)  # … and back
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(_paths(data)[1:]))
        parent = data
        for p in path[:-1]:
            parent = parent[p]
        last = path[-1]
        op = draw(st.sampled_from(["drop", "retype", "add", "nest", "wrap"]))
        if op == "drop":
            del parent[last]
        elif op == "retype":
            parent[last] = draw(_VALUES)
        elif op == "add" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=10))] = draw(_VALUES)
        elif op == "nest":
            parent[last] = {"value": parent[last]}
        else:
            parent[last] = [parent[last]]
    return _drop_none(data)


def _retime(value: Any, original: Any) -> Any:
    if isinstance(original, dict):
        return {k: _retime(value[k], original[k]) for k in original}
    if isinstance(original, list):
        return [_retime(v, o) for v, o in zip(value, original, strict=True)]
    return original


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value if v is not None]
    return value


def _plan_or_config_error(text: str) -> Plan | None:
    try:
        return parse_config(text, "fuzz.toml", platforms=["netschool", "perm"])
    except ConfigError as exc:
        assert exc.message.startswith("fuzz.toml")
        return None


@fuzz(FUZZ_EXAMPLES)
@given(mutated_configs())
def test_mutated_configs_give_a_plan_or_a_config_error(data: dict[str, Any]) -> None:
    _plan_or_config_error(to_toml(data))


_PIECES = st.sampled_from(
    ["[", "]", "[[", "]]", "=", '"', "'", '"""', "{", "}", ",", "\n", "#", "\\", "\\u00",
     "[schools]", "[[schools]]", "[municipality]", "a.b.c = 1", "x = [" * 50, "\0", "\r"]
)  # fmt: skip


@fuzz(FUZZ_EXAMPLES)
@given(st.data())
@example(None)  # deeply nested arrays: tomllib's RecursionError escaped
@example("qlite")  # the store URL «qlite:///…»: SQLAlchemy's NoSuchModuleError escaped
def test_spliced_text_gives_a_plan_or_a_config_error(data: st.DataObject | str | None) -> None:
    if data is None:
        text = "a = " + "[" * 5000 + "]" * 5000
    elif isinstance(data, str):
        text = example_text().replace('"sqlite:', f'"{data}:')
    else:
        text = example_text()
        for _ in range(data.draw(st.integers(1, 5))):
            at = data.draw(st.integers(0, len(text)))
            op = data.draw(st.sampled_from(["insert", "delete", "cut"]))
            if op == "insert":
                text = text[:at] + data.draw(st.one_of(_PIECES, st.text(max_size=5))) + text[at:]
            elif op == "delete":
                text = text[:at] + text[at + data.draw(st.integers(1, 40)) :]
            else:
                text = text[:at]
    _plan_or_config_error(text)


@pytest.mark.parametrize(
    "text",
    [
        "a = " + "[" * 100_000 + "]" * 100_000,
        "a = " + "{b = " * 50_000 + "1" + "}" * 50_000,
        "[" + ".".join(["a"] * 50_000) + "]",
    ],
    ids=["arrays", "inline-tables", "dotted-table"],
)
def test_deep_nesting_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match=r"fuzz\.toml"):
        parse_config(text, "fuzz.toml")


@fuzz(100)
@given(st.binary(max_size=300))
def test_any_file_loads_or_is_a_config_error(tmp_path_factory: Any, body: bytes) -> None:
    path: Path = tmp_path_factory.getbasetemp() / "fuzz-journalsync.toml"
    path.write_bytes(body)
    with contextlib.suppress(ConfigError):
        load_config(path, check_platforms=False)
