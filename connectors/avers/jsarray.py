"""АВЕРС response bodies: positional JavaScript array literals (platform note §3).

The server answers ``/act/*`` with JavaScript, not JSON::

    [
    [1324867, 4028, "Н", new Date(2025,8,5,0,0,0,0), 3, null, 103, 0, null],
     [1325929, 4028, "3", new Date(2025,8,12,0,0,0,0), 3, null, 3, 0, "Работа в \\"тетради\\""]
    ]

:func:`parse` reads nested arrays, double-quoted strings with JavaScript escapes (``\\"``,
``\\\\``, ``\\n``, ``\\uXXXX``, ``\\xXX`` …), numbers, ``null``/``true``/``false`` and
``new Date(Y, M0, D[, h, m, s, ms])`` constructors (**0-based month**). A date whose time part
is all zero becomes a :class:`datetime.date`, any other a naive :class:`datetime.datetime`
(server-local time). Strings are returned as sent: the class letter ``"б               "`` keeps
its padding (the mapping trims). It never evaluates anything; one compiled regular expression
tokenises the body in a single pass, and an error names the character offset (never the body,
which carries personal data).

:func:`render` writes values back in the server's own layout (rows on their own lines), for the
emulator and for round-trip tests.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Generic, TypeAlias, TypeVar, Union, cast

import orjson

__all__ = ["JsArrayError", "JsValue", "Recent", "parse", "parse_tokens", "render"]

JsValue: TypeAlias = Union[None, bool, int, float, str, date, datetime, list["JsValue"]]  # noqa: UP007 — a recursive alias needs the string forward reference


class JsArrayError(ValueError):
    """The body is not a JavaScript array literal of the supported subset."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} at offset {offset}")
        self.offset = offset


# One token per match, optional leading whitespace. Group numbers are the dispatch keys below.
_TOKEN = re.compile(
    r"""[ \t\r\n\ufeff]*(?:
      (\[)                                           # 1 open
    | (\])                                           # 2 close
    | (,)                                            # 3 comma
    | "([^"\\]*+(?:\\.[^"\\]*+)*+)"                  # 4 string body (possessive: no
                                                     # backtrack stack, see _LEXEME)
    | (-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)       # 5 number
    | (null)\b                                       # 6
    | (true)\b                                       # 7
    | (false)\b                                      # 8
    | new[ \t\r\n]+Date[ \t\r\n]*\(([^)]*)\)         # 9 date arguments
    )""",
    re.VERBOSE | re.DOTALL,
)
_TRAILING = re.compile(r"[ \t\r\n]*")
_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|(\r\n|.))", re.DOTALL)
_SIMPLE_ESCAPES = {
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "0": "\0",
    "\n": "",  # line continuation
    "\r\n": "",
    "\r": "",
    "\u2028": "",
    "\u2029": "",
}
_SURROGATE = re.compile("[\ud800-\udfff]")
_INT_ARG = re.compile(r"^\s*(-?\d+)\s*$")

_OPEN, _CLOSE, _COMMA = 1, 2, 3
_STRING, _NUMBER, _NULL, _TRUE, _FALSE, _DATE = 4, 5, 6, 7, 8, 9


def _unescape_match(m: re.Match[str]) -> str:
    if m.group(1) is not None:
        return chr(int(m.group(1), 16))
    if m.group(2) is not None:
        return chr(int(m.group(2), 16))
    ch = m.group(3)
    return _SIMPLE_ESCAPES.get(ch, ch)  # \" \\ \/ \' and any other char stand for themselves


def _unescape(body: str) -> str:
    out = _ESCAPE.sub(_unescape_match, body)
    if _SURROGATE.search(out) is not None:
        # \uD83D\uDE00 pairs: join UTF-16 surrogates; a lone one stays as it is.
        out = out.encode("utf-16", "surrogatepass").decode("utf-16", "surrogatepass")
    return out


def _date(args: str, offset: int) -> date | datetime:
    parts = args.split(",")
    if not 3 <= len(parts) <= 7:
        raise JsArrayError(f"new Date(...) needs 3 to 7 arguments, got {len(parts)}", offset)
    nums: list[int] = []
    for part in parts:
        m = _INT_ARG.match(part)
        if m is None:
            raise JsArrayError("new Date(...) arguments must be integers", offset)
        nums.append(_int(m.group(1), offset))
    return _date_of(nums, offset)


def _int(text: str, offset: int) -> int:
    """``int`` of a literal's digits; Python refuses more than 4,300 of them with a bare
    ValueError, which must not escape as anything but :class:`JsArrayError` (found by fuzzing)."""
    try:
        return int(text)
    except ValueError:
        raise JsArrayError("number too long", offset) from None


def _date_of(nums: list[int], offset: int) -> date | datetime:
    if len(nums) < 7:
        nums = nums + [0] * (7 - len(nums))
    year, month0, day, hour, minute, second, ms = nums
    try:
        if hour == minute == second == ms == 0:
            return date(year, month0 + 1, day)
        return datetime(year, month0 + 1, day, hour, minute, second, ms * 1000)
    except (ValueError, OverflowError):  # a year past C int: OverflowError (found by fuzzing)
        raise JsArrayError("new Date(...) is not a valid calendar date", offset) from None


K = TypeVar("K")
V = TypeVar("V")


class Recent(Generic[K, V]):
    """A bounded memo: the last ``size`` to ``2 × size`` entries put or found (two generations:
    when the new one is full it becomes the old one, whose entries found again move back)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.new: dict[K, V] = {}
        self.old: dict[K, V] = {}

    def get(self, key: K) -> V | None:
        value = self.new.get(key)
        if value is None:
            value = self.old.get(key)
            if value is not None:
                self.put(key, value)
        return value

    def put(self, key: K, value: V) -> None:
        if len(self.new) >= self.size:
            self.old, self.new = self.new, {}
        self.new[key] = value


def parse(text: str | bytes, lines: Recent[bytes, list[JsValue]] | None = None) -> list[JsValue]:
    """Parse one array literal (the whole body). Raises :class:`JsArrayError`.

    ``lines``: the rows of earlier bodies by their text, for a body of bytes in the server's
    layout (:func:`_parse_lines`): the pupils of a class are sent the same lessons. A row found
    there is the *same* list as in the earlier answer (read it, do not change it).

    Fastest path, for a body of bytes as the server writes it (:func:`_parse_midnights`): its
    dates are rewritten by two byte replacements. Fast path: one C-level regex pass rewrites only
    what JSON lacks — ``new Date(...)`` into a
    marker object, strings with JavaScript-only escapes or raw control characters into JSON
    strings — and ``orjson`` reads the rest; markers become dates in one walk. Whatever the fast
    path does not accept exactly (any error, a stray object, a number orjson refuses) goes to the
    token-by-token parser, which decides and names the offset of an error.
    """
    if isinstance(text, bytes | bytearray):
        if lines is not None:
            rows = _parse_lines(bytes(text), lines)
            if rows is not None:
                return rows
        quick = _parse_midnights(bytes(text))
        if quick is not None:
            return quick
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise JsArrayError("body is not UTF-8", exc.start) from None
    fast = _parse_fast(text)
    return fast if fast is not None else parse_tokens(text)


_LEXEME = re.compile(
    # Possessive loops: sre keeps no backtracking state per character, which for the
    # alternation form «(?:[^"\\]|\\.)*» was ~170 bytes a character (fuzzing: 5.8 GB for a
    # 50 MB string) — the string alternatives match the same either way.
    r'"([^"\\\x00-\x1f]*+)"|"([^"\\]*+(?:\\.[^"\\]*+)*+)"'
    r"|new[ \t\r\n]+Date[ \t\r\n]*\(([ \t]*-?\d+(?:[ \t]*,[ \t]*-?\d+){2,6}[ \t]*)\)"
    # A quote no string alternative closes: the body is broken. Stop at once; scanning on would
    # retry every escaped quote after it as a string start, each to the end of the body — a
    # quadratic hang (fuzzing: 250 KB of «\"» with no closing quote took minutes).
    r'|(")',
    re.DOTALL,
)
#: What a JavaScript string body may hold that a JSON one may not: a raw control character,
#: an escape JSON lacks (``\x41``, ``\v``, ``\0``, ``\'``, a line continuation …). Without
#: them the body is passed through untouched: unescaping it in Python cost ~15 bytes of
#: garbage a character of a 50 MB string (fuzzing), orjson does it in place.
_NOT_JSON = re.compile(r'[\x00-\x1f]|\\(?:[^"\\/bfnrtu]|u(?![0-9a-fA-F]{4}))')


class _Unterminated(Exception):
    """Raised out of the fast path's substitution at an unterminated string."""


_MARK = "$date"  # key of the date marker object; a body's own objects fail the count check
#: orjson reads an integer outside 64 bits as a float, silently rounded (fuzzing found
#: -9223372036854775809 → -9.223372036854776e18): a body with such a digit run takes the
#: reference parser, which keeps Python ints exact.
_LONG_DIGITS = re.compile(r"[0-9]{19}")


#: The arguments of a date as the lexeme pass reads them.
_DATE_ARGS = re.compile(r"[ \t]*-?\d+(?:[ \t]*,[ \t]*-?\d+){2,6}[ \t]*")
_NEW_DATE = "new Date("
_MARKER = '{"' + _MARK + '":['


def _rewrite_dates(text: str) -> tuple[str, int] | None:
    """Every ``new Date(args)`` (the server's spelling) → a marker object, by splitting rather
    than by a regex with a template (which calls Python per match); ``None`` when a date's
    arguments are not what the lexeme pass would read. One inside a string breaks the JSON (the
    marker's quote is followed by ``$``), so the lexeme pass then decides."""
    parts = text.split(_NEW_DATE)
    if len(parts) == 1:
        return text, 0
    out = [parts[0]]
    fullmatch = _DATE_ARGS.fullmatch
    for part in parts[1:]:
        close = part.find(")")
        if close < 0 or fullmatch(part, 0, close) is None:
            return None
        out += (_MARKER, part[:close], "]}", part[close + 1 :])
    return "".join(out), len(parts) - 1


#: How the server writes a date (always at midnight) and what the fastest path makes of it.
_NEW_DATE_B, _MIDNIGHT_B = b"new Date(", b",0,0,0,0)"
_MARKER_B, _MARKER_END_B = b'{"' + _MARK.encode() + b'":[', b"]}"
_LONG_DIGITS_B = re.compile(rb"[0-9]{19}")


def _parse_midnights(body: bytes) -> list[JsValue] | None:
    """The usual body, undecoded: every date spelled ``new Date(Y,M0,D,0,0,0,0)`` becomes a
    marker object of its three numbers by two replacements of bytes (no Python per date) and
    orjson reads the bytes; ``None`` for anything else, which :func:`_parse_fast` then reads.

    Exact where it answers: a ``new Date(`` not closed by ``,0,0,0,0)`` leaves a ``)`` outside
    any string, and one inside a string closes it before the marker's ``$``, so orjson refuses
    either; a ``,0,0,0,0)`` inside a string makes the counts differ; a date of other than three
    numbers before its midnight is refused by its marker's length.
    """
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    plain = b"{" not in body  # no object of its own: the markers are the body's only ones
    marked = _marked(body)
    if marked is None:
        return None
    body, dates = marked
    try:
        value = orjson.loads(body)
    except (ValueError, TypeError):
        return None
    if not isinstance(value, list):
        return None
    if plain and _DIGITS_B not in body.translate(_DIGIT_TO_0):
        # The usual body: the markers are its only objects and no float can be an integer
        # orjson rounded (no run of 19 digits): look for the dates where the first row has
        # them only (_revive_rows); found elsewhere or malformed, the general walk decides.
        if not dates:
            return value
        if _revive_rows(value, dates):
            return value
        value = cast("list[Any]", orjson.loads(body))  # partly revived: read it again
    seen: dict[tuple[Any, ...], date | datetime] = {}
    floats = [False]
    try:
        if _revive(value, seen, floats) != dates:
            return None
    except (JsArrayError, KeyError, TypeError):
        return None
    if any(len(args) != 3 for args in seen):
        return None
    if floats[0] and _LONG_DIGITS_B.search(body) is not None:
        return None
    return value


#: How the server lays out a body: ``[``, the rows one a line, the second and later ones after a
#: space, ``]`` (:func:`render`).
_HEAD, _ROW_SEP, _TAIL = b"[\n", b",\n ", b"\n]"


def _parse_lines(body: bytes, lines: Recent[bytes, list[JsValue]]) -> list[JsValue] | None:
    """A body in the server's layout, row by row, each row's text looked up in ``lines`` first
    and read on its own (:func:`_parse_row`) when new; ``None`` when a piece between the row
    separators is not a row that reads so (the whole body is then parsed).

    Exact: pieces that each read as an array, joined by ``,\n `` in ``[\n … \n]``, are the
    body's rows (a separator inside a string would leave a piece with an unclosed string). Each
    piece is read by the fastest path's rules with nothing carried between rows: no object of
    its own, no run of 19 digits (neither can span a separator), its dates the marker dates of
    ``new Date(Y,M0,D,0,0,0,0)`` of three integers (stricter than the body's reading, which
    takes the arguments of a day seen before unchecked: such a row takes the body's reading)."""
    if not (body.startswith(_HEAD) and body.endswith(_TAIL)) or len(body) < 5:
        return None
    out: list[JsValue] = []
    add, new = out.append, lines.new.get
    for piece in body[2:-2].split(_ROW_SEP):
        row = new(piece)
        if row is None:
            row = lines.get(piece)
            if row is None:
                row = _parse_row(piece)
                if row is None:
                    return None
                lines.put(piece, row)
            new = lines.new.get  # put may have started a new generation
        add(row)
    return out


def _marked(text: bytes) -> tuple[bytes, int] | None:
    """``text`` with each ``new Date(…,0,0,0,0)`` turned into a marker orjson reads as an object,
    and how many there are; ``None`` where some ``new Date(`` is not one of those midnights."""
    dates = text.count(_NEW_DATE_B)
    if not dates:
        return text, 0
    if text.count(_MIDNIGHT_B) != dates:
        return None
    return text.replace(_NEW_DATE_B, _MARKER_B).replace(_MIDNIGHT_B, _MARKER_END_B), dates


def _parse_row(piece: bytes) -> list[JsValue] | None:
    """One row's text in the fastest path's form (see :func:`_parse_lines`), or ``None``."""
    if piece[:1] != b"[" or b"{" in piece or _DIGITS_B in piece.translate(_DIGIT_TO_0):
        return None
    marked = _marked(piece)
    if marked is None:
        return None
    piece, dates = marked
    try:
        row = orjson.loads(piece)
    except (ValueError, TypeError):
        return None
    if type(row) is not list:
        return None
    if dates:
        kinds = list(map(type, row))
        if list in kinds or kinds.count(dict) != dates:
            return None  # a marker in a nested array: the body's reading decides
        i = -1
        for _ in range(dates):
            i = kinds.index(dict, i + 1)
            v = row[i]
            args = v.get(_MARK)
            if len(v) != 1 or type(args) is not list or len(args) != 3:
                return None
            y, m, d = args
            if type(y) is not int or type(m) is not int or type(d) is not int:
                return None
            day = _DAYS.get((y, m, d))
            if day is None:
                try:
                    day = _date_of(args, -1)
                except JsArrayError:
                    return None
                if len(_DAYS) >= 4096:
                    _DAYS.clear()
                _DAYS[y, m, d] = day
            row[i] = day
    return row


#: The dates :func:`_parse_row` made, by their three integers (a body repeats a few hundred days).
_DAYS: dict[tuple[int, int, int], date | datetime] = {}


#: ``bytes.translate`` table: every digit → ``0``; a run of 19 digits is then found by a plain
#: substring search (a regex searched a body 20 times slower than reading it).
_DIGIT_TO_0 = bytes(ord("0") if ord("0") <= i <= ord("9") else i for i in range(256))
_DIGITS_B = b"0" * 19


def _revive_rows(rows: list[Any], dates: int) -> bool:
    """Date markers → dates, where the first row holds its one marker, in every row; whether
    that found all ``dates`` markers of the body (``False``: ``rows`` may be partly revived;
    anything unusual — a first row with no marker or more than one, a row that is not an array
    or too short, a malformed marker — also answers ``False``).

    Exact for a body with no ``{`` of its own: its objects are then the markers (at most one a
    ``new Date(``), so finding ``dates`` of them, each well formed, leaves none for
    :func:`_revive` to find or refuse. The markers are met in :func:`_revive`'s order and
    checked as :func:`_markers` checks them (arguments seen before in the body are not checked
    again), so the dates are the same, one object per day of the body."""
    first = rows[0] if rows else None
    if type(first) is not list:
        return False
    at = [i for i, v in enumerate(first) if type(v) is dict]
    if len(at) != 1:
        return False
    i = at[0]
    seen: dict[tuple[Any, ...], date | datetime] = {}
    # The previous marker's arguments and date: a body lists its rows day by day.
    last: list[Any] | None = None
    last_day: date | datetime | None = None
    found = 0
    try:
        for row in rows:
            v = row[i]
            if type(v) is not dict:
                continue
            args = v[_MARK]
            if len(v) != 1 or type(args) is not list:
                return False
            if args != last:
                key = tuple(args)
                day = seen.get(key)
                if day is None:
                    if len(args) != 3 or not all(type(a) is int for a in args):
                        return False
                    day = seen[key] = _date_of(args, -1)
                last, last_day = args, day
            row[i] = last_day
            found += 1
    except (IndexError, KeyError, TypeError, JsArrayError):
        return False
    return found == dates


def _parse_fast(text: str) -> list[JsValue] | None:
    # First try: only the dates rewritten; a body whose strings are all valid JSON (the usual
    # case) reads as it is. Anything orjson refuses (a JavaScript-only escape, a raw control
    # character in a string, a date inside a string) takes the lexeme pass below. A huge float
    # in the answer may be an integer orjson rounded (_LONG_DIGITS): only then is the body
    # searched for a long digit run (a search of every body cost as much as the rewriting).
    rewritten = _rewrite_dates(text)
    if rewritten is not None:
        try:
            value = orjson.loads(rewritten[0])
        except (ValueError, TypeError):
            value = None
        if isinstance(value, list):
            floats = [False]
            try:
                revived = _revive(value, {}, floats) == rewritten[1]
            except (JsArrayError, KeyError, TypeError):
                revived = False
            if revived and not (floats[0] and _LONG_DIGITS.search(text) is not None):
                return value
    if _LONG_DIGITS.search(text) is not None:
        return None
    return _parse_lexemes(text)


def _parse_lexemes(text: str) -> list[JsValue] | None:
    dates = 0

    def lexeme(m: re.Match[str]) -> str:
        nonlocal dates
        if m.group(1) is not None:
            return m.group(0)  # already a valid JSON string
        if m.group(2) is not None:
            if _NOT_JSON.search(m.group(2)) is None:
                return m.group(0)  # only JSON's own escapes: orjson reads it as it is
            return orjson.dumps(_unescape(m.group(2))).decode()
        if m.group(4) is not None:
            raise _Unterminated
        dates += 1
        return '{"' + _MARK + '":[' + m.group(3) + "]}"

    try:
        rewritten = _LEXEME.sub(lexeme, text)
        value = orjson.loads(rewritten)
    except (ValueError, TypeError, _Unterminated):  # JSONDecodeError, surrogates, a bad string:
        return None  # the reference parser decides
    if not isinstance(value, list):
        return None
    if dates or "{" in text:
        try:
            if _revive(value, {}, [False]) != dates:
                return None
        except (JsArrayError, KeyError, TypeError):
            return None
    return value


def _revive(
    values: list[Any], seen: dict[tuple[Any, ...], date | datetime], floats: list[bool]
) -> int:
    """Markers → dates in place; returns how many (any other object raises); ``floats[0]`` is
    set when a float that may be an integer orjson rounded is met (:func:`_may_be_rounded`).
    ``seen``: the dates of the body so far by their arguments (a body repeats a few hundred
    days). Cells' types are listed in C (``map(type, …)``); the rows of the answer are visited
    inline, a nested array by recursion."""
    kinds = list(map(type, values))
    if float in kinds and _may_be_rounded(values):
        floats[0] = True
    found = _markers(values, kinds, seen) if dict in kinds else 0
    if list in kinds:
        for row in values:
            if type(row) is list:
                cells = list(map(type, row))
                if list in cells:
                    found += _revive(row, seen, floats)
                    continue
                if float in cells and _may_be_rounded(row):
                    floats[0] = True
                if dict in cells:
                    found += _markers(row, cells, seen)
    return found


#: orjson reads an integer literal as an ``int`` from -2**63 up to 2**64 - 1: a float it made of
#: one is at least this large.
_ROUNDED = 2.0**63


def _may_be_rounded(values: list[Any]) -> bool:
    """Whether ``values`` hold a float orjson may have made of an integer literal too long for
    64 bits (weights, the usual floats, are far smaller: their bodies are not searched)."""
    return any(type(v) is float and not -_ROUNDED < v < _ROUNDED for v in values)


def _markers(
    values: list[Any], kinds: list[type], seen: dict[tuple[Any, ...], date | datetime]
) -> int:
    """The date markers among ``values`` (``kinds``: their types) → dates; how many. They are
    counted first, so the search for the next one never runs off the end (a raised
    ``ValueError`` a row cost more than the rest of its reading)."""
    found = kinds.count(dict)
    i = -1
    for _ in range(found):
        i = kinds.index(dict, i + 1)
        v = values[i]
        args = v[_MARK]
        if len(v) != 1 or type(args) is not list:
            raise TypeError("not a date marker")
        key = tuple(args)
        day = seen.get(key)
        if day is None:
            if not 3 <= len(args) <= 7 or not all(type(a) is int for a in args):
                raise TypeError("not a date marker")
            day = seen[key] = _date_of(args, -1)
        values[i] = day
    return found


def parse_tokens(text: str) -> list[JsValue]:
    """The reference parser: token by token, exact error offsets (see :func:`parse`)."""
    match = _TOKEN.match
    pos = 0
    end = len(text)
    stack: list[list[JsValue]] = []
    current: list[JsValue] | None = None
    # What may come next: after "[" or "," a value ("," after "[" is an error); after a value
    # "," or "]".
    want_value = True
    root: list[JsValue] | None = None
    while pos < end:
        m = match(text, pos)
        if m is None:
            tail = _TRAILING.match(text, pos)
            if tail is not None and tail.end() == end:
                break
            skip = tail.end() if tail is not None else pos
            raise JsArrayError("unexpected character", skip)
        kind = m.lastindex
        start = m.start(kind) if kind is not None else m.start()
        pos = m.end()
        if root is not None:
            raise JsArrayError("text after the closing bracket", start)
        if kind == _OPEN:
            if not want_value and current is not None:
                raise JsArrayError("expected ',' or ']'", start)
            new: list[JsValue] = []
            if current is not None:
                current.append(new)
                stack.append(current)
            current = new
            want_value = True
            continue
        if current is None:
            raise JsArrayError("expected '['", start)
        if kind == _CLOSE:
            if want_value and current:
                raise JsArrayError("expected a value after ','", start)
            if stack:
                current = stack.pop()
            else:
                root = current
            want_value = False
            continue
        if kind == _COMMA:
            if want_value:
                raise JsArrayError("expected a value before ','", start)
            want_value = True
            continue
        if not want_value:
            raise JsArrayError("expected ',' or ']'", start)
        want_value = False
        if kind == _STRING:
            raw = m.group(_STRING)
            current.append(_unescape(raw) if "\\" in raw else raw)
        elif kind == _NUMBER:
            num = m.group(_NUMBER)
            if "." in num or "e" in num or "E" in num:
                current.append(float(num))
            else:
                current.append(_int(num, start))
        elif kind == _NULL:
            current.append(None)
        elif kind == _TRUE:
            current.append(True)
        elif kind == _FALSE:
            current.append(False)
        else:
            current.append(_date(m.group(_DATE), text.index("new", m.start())))
    if root is None:
        raise JsArrayError("unexpected end of body", end)
    return root


# --- render ------------------------------------------------------------------------------------

_NEEDS_ESCAPE = re.compile(r'[\\"\x00-\x1f\x7f\u2028\u2029\ud800-\udfff]')
_RENDER_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(m: re.Match[str]) -> str:
    c = m.group(0)
    fixed = _RENDER_ESCAPES.get(c)
    if fixed is not None:
        return fixed
    code = ord(c)
    return f"\\x{code:02X}" if code < 0x100 else f"\\u{code:04X}"


def _render_string(value: str) -> str:
    return '"' + _NEEDS_ESCAPE.sub(_escape_char, value) + '"'


def _render_value(value: object) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _render_string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("render: NaN and infinities have no literal here")
        return repr(value)
    if isinstance(value, datetime):
        return (
            f"new Date({value.year},{value.month - 1},{value.day},{value.hour},"
            f"{value.minute},{value.second},{value.microsecond // 1000})"
        )
    if isinstance(value, date):
        return f"new Date({value.year},{value.month - 1},{value.day},0,0,0,0)"
    if isinstance(value, Sequence):
        return "[" + ", ".join(_render_value(v) for v in value) + "]"
    raise TypeError(f"render: unsupported type {type(value).__name__}")


#: ``new Date(...)`` of the dates rendered so far (a world has a few hundred days).
_render_date = functools.lru_cache(maxsize=4096)(_render_value)

#: String literals rendered so far (codes, marks, names, topics repeat across answers).
_render_str = functools.lru_cache(maxsize=65536)(_render_string)


def _render_row(row: list[Any]) -> str:
    """:func:`_render_value` of a list, the common cases inline (exact types only: anything
    else, ``bool`` and subclasses included, takes :func:`_render_value`); the same text."""
    parts: list[str] = []
    add = parts.append
    for v in row:
        t = type(v)
        if t is str:
            add(_render_str(v))
        elif t is int:
            add(str(v))
        elif v is None:
            add("null")
        elif t is date:
            add(_render_date(v))
        elif t is list:
            add(_render_row(v))
        else:
            add(_render_value(v))
    return "[" + ", ".join(parts) + "]"


def render(rows: Sequence[object]) -> str:
    """Write an array the way the server does: one row per line, ``new Date(...)`` literals.

    A ``datetime`` keeps milliseconds only; one at exactly midnight reads back as a ``date``.
    """
    if not rows:
        return "[]"
    return (
        "[\n"
        + ",\n ".join(_render_row(r) if type(r) is list else _render_value(r) for r in rows)
        + "\n]"
    )
