"""АВЕРС JS-literal parser and cookie escaping: our own fixtures in the captured shapes."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.avers._cookies import (
    JsEscape,
    Utf8Percent,
    YsCookies,
    js_escape,
    js_unescape,
    sha1_hex,
)
from connectors.avers.jsarray import JsArrayError, JsValue, Recent, parse, parse_tokens, render
from connectors.avers.schema import Bad, DiaryRow, RowMemo, parse_rows

# --- fixtures written in the shapes of the captured bodies (values are invented) ------------------

LOGIN = '[\n[7312, 4, null, null, null, "Смирнова А.В.", 5120, null, 5120]\n]'
USER_DATA = (
    '[\n["Смирнова", "А", "В", "Муниципальное бюджетное общеобразовательное учреждение  '
    '\\"Средняя школа №7\\" города Кирова", 1, 5]\n]'
)
UCH_YEAR = "[\n[2026]\n]"
PERIODS = '[\n[360000, "I четверть"],\n [360001, "II четверть"],\n [360004, "Год"]\n]'
JOURNAL = (
    "[\n"
    '[2201001, 5120, "Н", new Date(2026,8,7,0,0,0,0), 4, null, 103, 0, null],\n'
    ' [2201020, 5120, "5", new Date(2026,8,8,0,0,0,0), 4, null, 5, 0, "Работа в \\"тетради\\""],\n'
    ' [2201033, 5120, "ЗАЧТ", new Date(2026,9,1,0,0,0,0), 12, 1, 106, 0, null]\n'
    "]"
)
DIARY = (
    "[\n"
    '[new Date(2026,8,7,0,0,0,0), 2300001, 4, "Природа родного края\\nЭкскурсия", '
    '"Упр. 12, с. 40", null, 1, null, null, 61, 0, null],\n'
    ' [new Date(2026,8,7,0,0,0,0), 2300002, 4, "Природа родного края\\nЭкскурсия", null, "4", '
    "1, 2300001, null, 61, 0, null]\n"
    "]"
)
TIMETABLE = (
    '[\n[1, 701, 3, 1, null, 1, 0, 1, "Спортзал\\n", null, null],\n'
    ' [2, 701, 3, 2, null, 1, 1, null, "214", null, null]\n]'
)
CLASS = '[\n[1044, 5, "в               "]\n]'


def test_login_row() -> None:
    assert parse(LOGIN) == [[7312, 4, None, None, None, "Смирнова А.В.", 5120, None, 5120]]


def test_user_data_keeps_escaped_quotes_and_double_spaces() -> None:
    row = parse(USER_DATA)[0]
    assert isinstance(row, list)
    assert row[3] == (
        'Муниципальное бюджетное общеобразовательное учреждение  "Средняя школа №7" города Кирова'
    )
    assert row[4:] == [1, 5]


def test_year_and_periods() -> None:
    assert parse(UCH_YEAR) == [[2026]]
    assert parse(PERIODS) == [[360000, "I четверть"], [360001, "II четверть"], [360004, "Год"]]


def test_journal_rows_dates_are_zero_based_months() -> None:
    rows = parse(JOURNAL)
    assert rows[0] == [2201001, 5120, "Н", date(2026, 9, 7), 4, None, 103, 0, None]
    assert rows[1][8] == 'Работа в "тетради"'  # type: ignore[index]
    assert rows[2][3] == date(2026, 10, 1) and rows[2][5] == 1  # type: ignore[index]


def test_diary_multiline_theme_and_second_column() -> None:
    first, second = parse(DIARY)
    assert isinstance(first, list) and isinstance(second, list)
    assert first[3] == "Природа родного края\nЭкскурсия"
    assert first[4] == "Упр. 12, с. 40" and first[7] is None
    assert second[4] is None and second[5] == "4" and second[7] == 2300001


def test_timetable_room_with_newline_and_zero_lesson() -> None:
    rows = parse(TIMETABLE)
    assert rows[0] == [1, 701, 3, 1, None, 1, 0, 1, "Спортзал\n", None, None]
    assert rows[1][7] is None  # type: ignore[index]


def test_class_letter_padding_is_kept() -> None:
    assert parse(CLASS) == [[1044, 5, "в" + " " * 15]]


@pytest.mark.parametrize("body", ["[]", "[\n]", " [ ] \n", b"\xef\xbb\xbf[]"])
def test_empty_answers(body: str | bytes) -> None:
    assert parse(body) == []


def test_escapes_and_datetimes() -> None:
    body = r'["\x41\u0416\/\'\\\t", "a\
b", "\uD83D\uDE00", new Date(2026, 0, 31, 13, 5, 9, 250), -1.5e2, true, false]'
    assert parse(body) == [
        "AЖ/'\\\t",
        "ab",
        "😀",
        datetime(2026, 1, 31, 13, 5, 9, 250_000),
        -150.0,
        True,
        False,
    ]


@pytest.mark.parametrize(
    ("body", "offset"),
    [
        ("[1,]", 3),
        ("[1 2]", 3),
        ("[1,,2]", 3),
        ("[1]x", 3),
        ("[1], [2]", 3),
        ("[", 1),
        ('["open', 1),
        ("[undefined]", 1),
        ("[new Date(2026, 1, 30)]", 1),
        ("[new Date(2026)]", 1),
        ("1", 0),
        ("", 0),
    ],
)
def test_errors_name_the_offset(body: str, offset: int) -> None:
    with pytest.raises(JsArrayError) as err:
        parse(body)
    assert err.value.offset == offset
    assert f"offset {offset}" in str(err.value)


def test_error_never_quotes_the_body() -> None:
    with pytest.raises(JsArrayError) as err:
        parse('[["Секретова Анна", oops]]')
    assert "Секретова" not in str(err.value)


def test_render_matches_the_server_layout() -> None:
    text = render([[1, 'a"b\nc', date(2026, 8, 5), None], [2.5, True, []]])
    assert text == '[\n[1, "a\\"b\\nc", new Date(2026,7,5,0,0,0,0), null],\n [2.5, true, []]\n]'
    assert render([]) == "[]"


# --- property: render → parse round trip ----------------------------------------------------

_text = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(list("АБВЁабвё\"\\\n\r\t/'\u2028\x00\x7f")),
    ),
    max_size=30,
)
_dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31))
_times = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 12, 31)).map(
    lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    _text,
    _dates,
    _times,
)
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=5), max_leaves=25)


def _normal(value: object) -> object:
    """A datetime at exactly midnight reads back as a date (documented)."""
    if isinstance(value, datetime) and value.time() == datetime.min.time():
        return value.date()
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


@given(st.lists(_values, max_size=6))
def test_render_parse_round_trip(rows: list[object]) -> None:
    body = render(rows)
    assert parse(body) == _normal(rows)
    assert parse(body.encode()) == _normal(rows)  # bytes, as the client reads them
    assert parse_tokens(body) == _normal(rows)  # the fast paths and the reference agree


def _outcome(read: Callable[[Any], object], body: str | bytes) -> object:
    """What ``read`` makes of ``body``: its value, or ("error", offset) where it refuses it."""
    try:
        return read(body)
    except JsArrayError as exc:
        return ("error", exc.offset)


@given(st.text(alphabet='[]," \\n\\0123456789-.enulrtfasDw()', max_size=40))
def test_fast_path_never_disagrees_with_the_reference(body: str) -> None:
    reference = _outcome(parse_tokens, body)
    for given_as in (body, body.encode()):
        assert _outcome(parse, given_as) == reference


@pytest.mark.parametrize(
    "body",
    [
        '[[new Date(2026,8,7,0,0,0,0), "x"]]',  # the server's usual date: the fastest path
        '[[new Date(2026,8,7,0,0,0,0), "a,0,0,0,0) b"]]',  # its closing inside a string
        '[["new Date(2026,8,7,0,0,0,0)"]]',  # a date's text inside a string
        "[[new Date(2026,8,7,5,0,0,0,0)]]",  # eight numbers: not a date
        "[[new Date(2026,8,7,0,0,0,0,0,0,0,0)]]",
        '[[new Date(2026,8,7), new Date(2026,8,7,0,0,0,0), "),0,0,0,0)"]]',
        '[[new Date(2026,8,7,12,0,0,0), "a,0,0,0,0)"]]',
        '[[new Date(2026,8,7,0,0,0,0)], {"$date": [2026, 8, 7]}]',  # an object of its own
        "[[new Date(2026,1,30,0,0,0,0)]]",  # no such day
        "[[new Date(2026.5,8,7,0,0,0,0)]]",
        "[[new Date(2026,8,7,0,0,0,0), 1.5, 12345678901234567890]]",
        # integers past 64 bits, which orjson would round to floats, beside the usual floats
        "[[new Date(2026,8,7,0,0,0,0), 1.5, 123456789012345678901234]]",
        "[[-9223372036854775809, 2.5], [1e300]]",
        "[[2.5], [18446744073709551616]]",
        # where the first row holds no date, or its date is not where a later row's is: the
        # dates are looked for where the first row has its one, then everywhere
        "[[1, null], [2, new Date(2026,8,7,0,0,0,0)]]",
        "[[1, new Date(2026,8,7,0,0,0,0)], [new Date(2026,8,8,0,0,0,0), 2]]",
        "[[1, new Date(2026,8,7,0,0,0,0)], [2, [new Date(2026,8,8,0,0,0,0)]]]",
        "[[1, new Date(2026,8,7,0,0,0,0), new Date(2026,8,8,0,0,0,0)], [2, null, null]]",
        "[[1, new Date(2026,8,7,0,0,0,0)], [2]]",
        '[[1, new Date(2026,8,7,0,0,0,0)], "ab", 5, [3, new Date(2026,8,7,0,0,0,0)]]',
        "[new Date(2026,8,7,0,0,0,0), [1, new Date(2026,8,7,0,0,0,0)]]",
        # a bad date after good ones (read partly before the general walk decides)
        "[[1, new Date(2026,8,7,0,0,0,0)], [2, new Date(2026,1,30,0,0,0,0)]]",
        "[[1, new Date(2026,8,7,0,0,0,0)], [2, new Date(2026,8,7,0,0,0,0)], [3, 4.5]]",
        '[[1, new Date(2026,8,7,0,0,0,0), "12345678901234567890123"]]',
        "[[1, new Date(2026,8,7,0,0,0,0), 1e300]]",
    ],
)
def test_the_fastest_path_reads_as_the_reference(body: str) -> None:
    reference = _outcome(parse_tokens, body)
    for given_as in (body, body.encode()):
        assert _outcome(parse, given_as) == reference


# --- cookies -------------------------------------------------------------------------------------


def test_js_escape_matches_javascript() -> None:
    # Values as a browser's escape() writes them.
    assert js_escape("s:Иван") == "s%3A%u0418%u0432%u0430%u043D"
    assert js_escape("n:3020") == "n%3A3020"
    assert js_escape("a b+c@d*e_f-g.h/i~ü") == "a%20b+c@d*e_f-g.h/i%7E%FC"
    assert js_escape("😀") == "%uD83D%uDE00"


@given(st.text(max_size=40))
def test_js_unescape_inverts_escape(text: str) -> None:
    assert js_unescape(js_escape(text)) == text


def test_cookie_header_js_escape_vs_utf8() -> None:
    cookies = YsCookies("Иванова", sha1_hex("пароль"), 3020)
    header = cookies.header(JsEscape())
    assert "ys-user=s%3A%u0418%u0432%u0430%u043D%u043E%u0432%u0430" in header
    assert f"ys-password=s%3A{sha1_hex('пароль')}" in header and "ys-userId=n%3A3020" in header
    assert "%D0%98" in cookies.header(Utf8Percent())  # what the server rejects


def test_sha1_of_utf8_password() -> None:
    assert sha1_hex("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d"
    utf8 = hashlib.sha1("пароль".encode()).hexdigest()
    assert sha1_hex("пароль") == utf8 != hashlib.sha1("пароль".encode("cp1251")).hexdigest()


# --- rows shared between answers ---------------------------------------------------------------


def _layout(*rows: str) -> bytes:
    return ("[\n" + ",\n ".join(rows) + "\n]").encode()


def test_rows_of_the_server_layout_are_shared_between_answers() -> None:
    lines: Recent[bytes, list[JsValue]] = Recent(16)
    a = '[new Date(2026,8,7,0,0,0,0), 2300001, 4, "Тема", "", null, 1, null, null, 61, 0, null]'
    b = '[new Date(2026,8,8,0,0,0,0), 2300002, 4, "Тема 2", "", "5", 1, null, null, 61, 0, null]'
    c = '[new Date(2026,8,8,0,0,0,0), 2300002, 4, "Тема 2", "", "4", 1, null, null, 61, 0, null]'
    first = parse(_layout(a, b), lines)
    second = parse(_layout(a, c), lines)
    assert first == parse(_layout(a, b)) and second == parse(_layout(a, c))
    assert first[0] is second[0]  # the same row text: the same array
    assert first[1] is not second[1] and first[1] != second[1]


@pytest.mark.parametrize(
    "rows",
    [
        # what a row read on its own would read otherwise than the body: the body decides
        ("[1, new Date(2026,8,7,0,0,0,0)]", "[2, new Date(2026.0,8,7,0,0,0,0)]"),
        ("[1, new Date(2026,8,7,0,0,0,0)]", "[2, new Date(2026,8,7,5,0,0,0)]"),
        ("[1, new Date(2026,8,7,0,0,0,0)]", "[2, new Date(2026,8,7,1,0,0,0,0)]"),
        ("[1, [new Date(2026,8,7,0,0,0,0)]]", '[2, "a,\n b"]'),
        ("[1, 12345678901234567890123]", "[2, 1e300]"),
        ("[1, new Date(2026,1,30,0,0,0,0)]", "[2]"),
        ('[1, "x\\x41"]', '"s"', "5", "[]", " [3]", "[4,\n 5]"),
    ],
)
def test_rows_read_by_their_text_read_as_the_body(rows: tuple[str, ...]) -> None:
    lines: Recent[bytes, list[JsValue]] = Recent(16)
    for body in (_layout(*rows), _layout(*reversed(rows)), _layout(rows[-1])):
        reference = _outcome(parse, body)
        assert _outcome(lambda b: parse(b, lines), body) == reference
        assert _outcome(lambda b: parse(b, lines), body) == reference  # read again, from lines


def test_recent_keeps_the_last_entries_of_two_generations() -> None:
    memo: Recent[int, str] = Recent(2)
    for k in range(5):
        memo.put(k, str(k))
    assert [memo.get(k) for k in range(5)] == [None, None, "2", "3", "4"]
    memo.put(5, "5")
    memo.put(6, "6")  # an old entry found moves to the new generation, which then rolls over
    assert [memo.get(k) for k in (2, 3, 4, 5, 6)] == [None, "3", None, "5", "6"]


def test_rows_read_once_for_the_arrays_shared_between_answers() -> None:
    lines: Recent[bytes, list[JsValue]] = Recent(16)
    memo: RowMemo = Recent(16)
    good = '[new Date(2026,8,7,0,0,0,0), 2300001, 4, "Тема", "", null, 1, null, null, 61, 0, null]'
    bad = '[new Date(2026,8,7,0,0,0,0), "2300002", 4, null, null, null, 1, null, null, 61, 0, null]'
    answers = [parse(_layout(good, bad), lines) for _ in range(2)]
    read = [parse_rows(DiaryRow, a, "GET_STUDENT_DAIRY", memo) for a in answers]
    assert (
        read[0] == read[1] == parse_rows(DiaryRow, parse(_layout(good, bad)), "GET_STUDENT_DAIRY")
    )
    assert isinstance(read[0][0], DiaryRow) and isinstance(read[0][1], Bad)
    assert read[0][0] is read[1][0] and read[0][1] is read[1][1]
    fresh = parse_rows(DiaryRow, parse(_layout(good)), "GET_STUDENT_DAIRY", memo)
    assert fresh == read[0][:1] and fresh[0] is not read[0][0]  # another array: read again
