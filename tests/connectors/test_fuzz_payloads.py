"""Fuzzing every platform's payload models (``connectors/<platform>/schema.py`` through
``core.platform.PayloadReader``, and АВЕРС's row reader): whatever a response holds, the parse
helpers the clients call return models (with ``Bad`` placeholders) or raise the project's own
errors (ContractError), never KeyError/TypeError/ValueError/OverflowError …

The seeds are the emulators' own valid answers: a full pull of a tiny sandbox world per platform
(over ASGITransport) with the schema modules' parse helpers wrapped to record what they were
given. Each example takes one recorded answer and mutates it: keys dropped, values retyped,
unknown keys added, values nested wrong, list items replaced by garbage.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import importlib
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from connectors.conformance.harness import Harness, harnesses
from connectors.sandbox import World
from core.errors import JournalSyncError
from core.platform import Bad as PlatformBad
from core.store import Store
from core.sync import pull
from tests.support.fuzz import fuzz

FUZZ_EXAMPLES = 250

_HELPERS = ("parse", "parse_list", "parse_user", "parse_recipients", "parse_rows", "single_row")


@dataclasses.dataclass(frozen=True)
class Seed:
    platform: str
    helper: str
    #: The helper's arguments with the payload as ``None`` at ``at``.
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    at: int
    data: Any

    def call(self, module: ModuleType, data: Any) -> Any:
        args = list(self.args)
        args[self.at] = data
        return getattr(module, self.helper)(*args, **self.kwargs)

    @property
    def model(self) -> str:
        first = self.args[0]
        return first.__name__ if isinstance(first, type) else self.helper


def _payload_position(helper: str) -> int:
    return 0 if helper in ("parse_user", "parse_recipients") else 1


_SEEDS: list[Seed] = []
_MODULES: dict[str, ModuleType] = {}


def _seeds(tmp: Path) -> list[Seed]:
    """Record once: a full pull per platform, every parse helper call kept (the smallest
    answer per helper and model, so that examples stay quick)."""
    if _SEEDS:
        return _SEEDS
    found: dict[tuple[str, str, str], Seed] = {}
    for h in harnesses():
        module = importlib.import_module(f"connectors.{h.platform}.schema")
        _MODULES[h.platform] = module
        originals: dict[str, Callable[..., Any]] = {
            name: getattr(module, name) for name in _HELPERS if hasattr(module, name)
        }

        def wrap(name: str, fn: Callable[..., Any], platform: str = h.platform) -> Any:
            def recording(*args: Any, **kwargs: Any) -> Any:
                at = _payload_position(name)
                rest = list(args)
                data = copy.deepcopy(rest[at])
                rest[at] = None
                seed = Seed(platform, name, tuple(rest), kwargs, at, data)
                key = (platform, name, seed.model)
                size = len(json.dumps(data, default=str))
                old = found.get(key)
                if old is None or size < len(json.dumps(old.data, default=str)):
                    found[key] = seed
                return fn(*args, **kwargs)

            return recording

        try:
            for name, fn in originals.items():
                setattr(module, name, wrap(name, fn))
            asyncio.run(_pull(h, tmp / f"{h.platform}.db"))
        finally:
            for name, fn in originals.items():
                setattr(module, name, fn)
    _SEEDS.extend(sorted(found.values(), key=lambda s: (s.platform, s.helper, s.model)))
    return _SEEDS


async def _pull(h: Harness, db: Path) -> None:
    size = dataclasses.replace(h.size, grades=(5,), letters=1, students_per_class=3, weeks=1)
    world = World.generate(h.seed, size)
    school = next(iter(world.schools))
    app = h.app(world)
    store = Store.open(f"sqlite:///{db}")
    try:
        target = h.target(world, "http://emulator.test", school, True)
        connector = h.connect(
            world,
            target,
            transport=httpx.ASGITransport(app=app),
            state={},
            save_state=lambda state: None,
        )
        async with connector as c:
            await pull(store, c)
    finally:
        store.close()


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> list[Seed]:
    return _seeds(tmp_path_factory.mktemp("payload-seeds"))


def test_every_platform_and_helper_is_seeded(seeds: list[Seed]) -> None:
    platforms = {s.platform for s in seeds}
    assert platforms == {h.platform for h in harnesses()}
    assert len(seeds) >= 25, [(s.platform, s.model) for s in seeds]


# -- mutations -----------------------------------------------------------------------------------

_JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.sampled_from([2**40, -(2**63), 10**30, 0, -1, 1.5, 1e308, -0.0]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(
        ["", " ", "0001-01-01", "2025-02-30", "31.12.99999", "1.1.2025", "2025-09-01T25:00:00",
         "9999-12-31", "0000-00-00", "T", "5", "н", "null", "true", "1,5", "NaN", "١٢"]
    ),
)  # fmt: skip
_JSON = st.recursive(
    _JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
#: АВЕРС answers also hold dates (``new Date``), and may hold ints past 64 bits.
_JS = st.one_of(_JSON, st.dates(), st.datetimes(), st.integers(2**64, 10**400))


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node[:20]):  # a long list: its first items are enough
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def _mutated(draw: st.DrawFn, data: Any, avers: bool) -> Any:
    values = _JS if avers else _JSON
    data = copy.deepcopy(data)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(data)
        path = draw(st.sampled_from(paths))
        if not path:
            op = draw(st.sampled_from(["retype", "wrap", "keep"]))
            if op == "retype":
                data = draw(values)
            elif op == "wrap":
                data = draw(st.sampled_from([[data], {"data": data}]))
            continue
        parent = data
        for p in path[:-1]:
            parent = parent[p]
        last = path[-1]
        op = draw(st.sampled_from(["drop", "retype", "add", "nest", "null"]))
        if op == "drop":
            del parent[last]
        elif op == "retype":
            parent[last] = draw(values)
        elif op == "add":
            if isinstance(parent, dict):
                parent[draw(st.text(min_size=1, max_size=8))] = draw(values)
            else:
                parent.insert(last, draw(values))
        elif op == "nest":
            parent[last] = draw(st.sampled_from([[parent[last]], {"value": parent[last]}]))
        else:
            parent[last] = None
    return data


def _returns_or_raises_own(seed: Seed, data: Any) -> Any:
    try:
        return seed.call(_MODULES[seed.platform], data)
    except JournalSyncError:
        return None


@fuzz(FUZZ_EXAMPLES)
@given(st.data())
def test_mutated_payloads_parse_or_raise_own_errors(seeds: list[Seed], data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(seeds), label="seed")
    payload = data.draw(_mutated(seed.data, seed.platform == "avers"), label="payload")
    _returns_or_raises_own(seed, payload)


@fuzz(FUZZ_EXAMPLES)
@given(st.data())
def test_random_payloads_parse_or_raise_own_errors(seeds: list[Seed], data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(seeds), label="seed")
    _returns_or_raises_own(seed, data.draw(_JS if seed.platform == "avers" else _JSON))


@fuzz(150)
@given(st.data())
@example(None)  # Perm: date(2**40, 1, 1) raised OverflowError, which pydantic does not convert
def test_a_bad_list_item_becomes_a_placeholder(seeds: list[Seed], data: st.DataObject) -> None:
    """A top-level list's item broken any way: that item is a Bad placeholder naming it; its
    siblings are parsed as before (``parse_list`` and АВЕРС's ``parse_rows``)."""
    if data is None:
        perm = _MODULES["perm"]
        items = perm.parse_list(
            perm.AcademicYear,
            [{"id": 1, "name": "2025/2026", "begin_date": [2**40, 1, 1], "end_date": "2026-05-31"}],
            what="fuzz",
        )
        assert isinstance(items[0], PlatformBad) and items[0].field == "begin_date"
        return
    listed = [s for s in seeds if s.helper in ("parse_list", "parse_rows") and s.data]
    seed = data.draw(st.sampled_from(listed), label="seed")
    i = data.draw(st.integers(0, len(seed.data) - 1), label="item")
    item = seed.data[i]
    if isinstance(item, dict | list) and item:
        keys = list(item) if isinstance(item, dict) else list(range(len(item)))
        broken: Any = copy.deepcopy(item)
        key = data.draw(st.sampled_from(keys), label="key")
        broken[key] = data.draw(st.sampled_from([[[]], {"x": {}}, "\0" * 3]), label="value")
    else:
        broken = {"unexpected": item}
    before = seed.call(_MODULES[seed.platform], seed.data)
    payload = [*seed.data[:i], broken, *seed.data[i + 1 :]]
    try:
        after = seed.call(_MODULES[seed.platform], payload)
    except JournalSyncError:
        pytest.fail(f"{seed.platform} {seed.model}: one bad item sank the whole list")
    assert len(after) == len(before)
    for n, (a, b) in enumerate(zip(after, before, strict=True)):
        if n != i:
            assert a == b
    bad_type = _MODULES[seed.platform].Bad
    # A field the model does not read (or reads as Any) may take any value: then no placeholder.
    assert isinstance(after[i], bad_type) or type(after[i]) is type(before[i])


def test_big_numbers_and_dates_from_the_wire_do_not_escape() -> None:
    """Pinned: values that raised OverflowError out of a validator before the fix."""
    perm = _MODULES.get("perm") or importlib.import_module("connectors.perm.schema")
    for value in ([2**40, 1, 1], [1, 2**62, 1], [-(2**63), 1, 1]):
        assert perm.parse_day.__module__ == perm.__name__
        with pytest.raises(ValueError):
            perm.parse_day(value)
    avers = importlib.import_module("connectors.avers.schema")
    rows = avers.parse_rows(avers.LessonRow, [[1, None, 1, 10**400]], "fuzz")
    assert isinstance(rows[0], avers.Bad) and rows[0].field == "weight"


# -- the clients' body decoders ------------------------------------------------------------------

_BODIES = st.one_of(
    st.binary(max_size=200),
    _JSON.map(lambda v: json.dumps(v).encode()),
    st.sampled_from(
        [b"", b"null", b"<html>503</html>", b"\xef\xbb\xbf[]", b'{"message": 5}', b"[" * 5000,
         b'{"success": false, "error_type": "auth"}', b'{"success": false}', b"\xff\xfe[\x00]\x00",
         b"[new Date(99999999999,0,1)]", b"[" + b"9" * 5000 + b"]"]
    ),
)  # fmt: skip
_CTYPES = st.sampled_from(
    ["application/json", "text/html; charset=utf-8", "text/javascript; charset=windows-1251", ""]
)


@fuzz(FUZZ_EXAMPLES)
@given(_BODIES, _CTYPES, st.sampled_from([200, 403, 500]))
@example(b"[" * 5000, "application/json", 200)  # netschool: json's RecursionError escaped
def test_client_body_decoders_raise_only_own_errors(body: bytes, ctype: str, status: int) -> None:
    from connectors.avers.client import _JsHttp
    from connectors.netschool import client as netschool
    from connectors.ruobr import client as ruobr

    headers = {"content-type": ctype} if ctype else {}
    response = httpx.Response(status, content=body, headers=headers)
    with contextlib.suppress(JournalSyncError):
        netschool._json(response)
    assert isinstance(netschool._message(response), str)
    ruobr._json_or_none(response)
    decoder = _JsHttp.__new__(_JsHttp)  # _decode reads nothing of the instance for JSON
    with contextlib.suppress(JournalSyncError):
        decoder._decode(response, "POST", "/act/FUZZ", "json")
