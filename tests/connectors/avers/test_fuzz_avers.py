"""Fuzzing the АВЕРС literal parser (``connectors/avers/jsarray.py``) and its row reader
(``connectors/avers/schema.py``): whatever the body, :func:`parse` returns or raises
:class:`JsArrayError` (the client turns it into a ContractError), never another exception, in
bounded time and memory; rows read from whatever it returns are models or ``Bad`` placeholders.

Inputs are mutations of the server's own layout (``render`` of realistic rows), not only random
text: truncations, unbalanced brackets, odd ``new Date(...)`` arguments, escapes, long numbers.
"""

from __future__ import annotations

import contextlib
import time
import tracemalloc
from datetime import date, datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from connectors.avers import schema as s
from connectors.avers.jsarray import JsArrayError, parse, parse_tokens, render
from core.errors import ContractError
from tests.support.fuzz import fuzz

#: Reproducible, small, quick: the whole fuzz suite runs in about a minute on a shared machine.
FUZZ_EXAMPLES = 200

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.dates(),
    st.datetimes(),
)
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=5), max_leaves=30)
#: A journal row as GET_JOURNAL_DATA sends it (note §3), the seed most mutations start from.
_ROW = [1324867, 4028, "Н", date(2025, 9, 5), 3, None, 103, 0, 'Работа в "тетради"\n']

#: Fragments a broken or hostile body is made of.
_PIECES = st.sampled_from(
    [
        "[", "]", ",", '"', "\\", "\\u", "\\uD83D", "\\x4", "\\\n", "new Date(", "new Date()",
        "new Date(2025,8,5)", "new Date(2025,8,5,0,0,0,0,0)", "new Date(-1,-1,-1)",
        "new Date(99999999999,0,1)", "new Date(2025,a,1)", "new  Date ( 1 , 2 , 3 )", ")",
        "null", "nul", "true", "false", "NaN", "Infinity", "-", "1e999", ".5", "5.", "0x10",
        "9" * 5000, "{", "}", '{"$date":[2025,1,1]}', ":", "\x00", "\ufeff", "\u2028", " ",
        "\r\n", "\t", "б               ", "<html>", "Date", "new",
    ]
)  # fmt: skip


@st.composite
def _mutated(draw: st.DrawFn, seed: str) -> str:
    """``seed`` with a few pieces inserted, deleted or replaced at random offsets, or cut."""
    text = seed
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace", "truncate"]))
        piece = draw(st.one_of(_PIECES, st.text(max_size=3)))
        if op == "insert":
            text = text[:at] + piece + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 8)) :]
        elif op == "replace":
            text = text[:at] + piece + text[at + len(piece) :]
        else:
            text = text[:at]
    return text


_SEED = render([_ROW, _ROW[:4], [[1, [2, [3]]], "x"]])


def _parse_or_own_error(body: str | bytes) -> list[object] | None:
    try:
        return parse(body)
    except JsArrayError:
        return None


@fuzz(100)
@given(st.lists(_VALUES, max_size=6))
@example([-(2**63) - 1])  # orjson read it as a float: -9.223372036854776e18
def test_render_then_parse_is_identity(rows: list[object]) -> None:
    """The emulator's own layout reads back as written (datetimes to the millisecond)."""

    def norm(v: object) -> object:
        if isinstance(v, datetime):
            v = v.replace(microsecond=v.microsecond // 1000 * 1000)
            return v.date() if v.time() == datetime.min.time() else v
        if isinstance(v, list):
            return [norm(x) for x in v]
        return v

    assert parse(render(rows)) == norm(rows)


@fuzz(FUZZ_EXAMPLES)
@given(_mutated(_SEED))
@example("[new Date(99999999999,0,1)]")  # OverflowError escaped date()
@example("[new Date(2025,0,1,1,1,1,99999999999999)]")  # the same via milliseconds
@example("[" + "9" * 5000 + "]")  # int() refuses > 4,300 digits: a bare ValueError escaped
@example("[new Date(" + "9" * 5000 + ",0,1)]")
def test_mutated_bodies_parse_or_raise_jsarrayerror(body: str) -> None:
    result = _parse_or_own_error(body)
    assert result is None or isinstance(result, list)
    # The fast path and the reference parser agree on what is accepted.
    try:
        reference: list[object] | None = parse_tokens(body)
    except JsArrayError:
        reference = None
    assert (result is None) == (reference is None)
    assert result == reference


@fuzz(FUZZ_EXAMPLES)
@given(st.binary(max_size=200))
def test_random_bytes_parse_or_raise_jsarrayerror(body: bytes) -> None:
    _parse_or_own_error(body)
    _parse_or_own_error(b"[" + body + b"]")


_ROW_TYPES = [
    s.LoginRow,
    s.UserData,
    s.StudentClass,
    s.PeriodName,
    s.PeriodDates,
    s.SubjectRow,
    s.StudentGroup,
    s.TeacherRow,
    s.JournalRow,
    s.DiaryRow,
    s.LessonRow,
    s.TimetableRow,
    s.DirectorRow,
]


@fuzz(FUZZ_EXAMPLES)
@given(st.sampled_from(_ROW_TYPES), st.lists(_VALUES, max_size=6))
@example(s.LessonRow, [[1, None, 1, 10**400]])  # float(10**400): OverflowError escaped
def test_rows_of_any_array_are_models_or_bad(cls: type[s.Row], data: list[object]) -> None:
    rows = s.parse_rows(cls, data, "FUZZ")  # type: ignore[arg-type]
    assert len(rows) == len(data)
    for row, raw in zip(rows, data, strict=True):
        assert isinstance(row, cls | s.Bad)
        if isinstance(row, s.Bad):
            assert row.raw is raw
    with contextlib.suppress(ContractError):
        s.single_row(cls, data, "FUZZ")  # type: ignore[arg-type]


def test_deep_nesting_is_bounded() -> None:
    """100,000 nested arrays (orjson stops at 1,024; the token parser has no recursion)."""
    depth = 100_000
    body = "[" * depth + "]" * depth
    value = parse(body)
    for _ in range(depth - 1):
        assert isinstance(value, list) and len(value) == 1
        value = value[0]
    assert value == []
    # Unbalanced: an error with the offset, not a RecursionError.
    with pytest.raises(JsArrayError, match="unexpected end"):
        parse("[" * depth + "]" * (depth - 1))
    with pytest.raises(JsArrayError, match="text after"):
        parse("[" * depth + "]" * (depth + 1))


def test_large_body_memory_and_time_are_bounded() -> None:
    """A 17 MB body (one journal row whose comment is 17 MB of text with escapes): parsed with
    a peak allocation linear in the body (5.8 GB before the possessive string patterns; about
    15x now: copies of the text in UCS-2 and UTF-8), and the same body cut before its end fails
    cleanly in the same bounds. (Many small rows would measure the rows, not the parser.)"""
    cell = ('Работа в \\"тетради\\" ' * 2_000_000)[: 10 * 1024 * 1024]
    cell = cell.rstrip("\\")  # a cut «\\"» would escape the closing quote
    body = render([[*_ROW[:8], "x"]])[: -len('"x"]\n]')] + '"' + cell + '"]\n]'
    size = len(body.encode())
    assert size >= 16 * 1024 * 1024
    tracemalloc.start()
    try:
        started = time.monotonic()
        rows = parse(body)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
        assert isinstance(rows, list) and len(rows) == 1
        del rows
        tracemalloc.reset_peak()
        with pytest.raises(JsArrayError):
            parse(body[:-3])
        _, peak_broken = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * size, f"peak {peak / 2**20:.0f} MiB for a {size / 2**20:.0f} MiB body"
    assert peak_broken < 20 * size, f"peak {peak_broken / 2**20:.0f} MiB on the broken body"
    assert elapsed < 30
