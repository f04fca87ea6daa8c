"""Homework HTML → plain text + attachment links (note §4.3: ``task[].text`` is HTML; files are
``<a href>`` links and ``<img src>``, the latter often protocol-relative ``//host/…``)."""

from __future__ import annotations

import posixpath
import re
from functools import lru_cache
from html.parser import HTMLParser
from urllib.parse import unquote, urljoin, urlsplit

from core.model import Attachment

__all__ = ["MEDIA_BASE", "homework_text"]

#: Relative links in homework point at the platform's media host (note §1).
MEDIA_BASE = "https://ruobr.ru/"

_BLOCK = frozenset(
    {"p", "div", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"}
)
_SKIP = frozenset({"script", "style"})
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.attachments: list[Attachment] = []
        self._skip = 0
        self._link: tuple[str, list[str]] | None = None  # (href, text parts) of an open <a>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag in _SKIP:
            self._skip += 1
        elif tag == "br" or tag in _BLOCK:
            self.parts.append("\n")
        elif tag == "a" and values.get("href", "").strip():
            self._link = (values["href"].strip(), [])
        elif tag == "img" and values.get("src", "").strip():
            url = _absolute(values["src"].strip())
            self._add(values.get("alt", "").strip() or _file_name(url), url)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(self._skip - 1, 0)
        elif tag in _BLOCK:
            self.parts.append("\n")
        elif tag == "a" and self._link is not None:
            href, text = self._link
            self._link = None
            url = _absolute(href)
            if not url.lower().startswith(("mailto:", "javascript:", "#")):
                self._add(" ".join("".join(text).split()) or _file_name(url), url)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.parts.append(data)
        if self._link is not None:
            self._link[1].append(data)

    def _add(self, name: str, url: str) -> None:
        if all(a.url != url for a in self.attachments):
            self.attachments.append(Attachment(name=name or url, url=url))


def _absolute(url: str) -> str:
    if url.startswith("//"):
        return "https:" + url
    if "://" in url or url.lower().startswith(("mailto:", "javascript:", "#")):
        return url
    return urljoin(MEDIA_BASE, url)


def _file_name(url: str) -> str:
    return unquote(posixpath.basename(urlsplit(url).path)) or url


# A homework is met once per lesson of every class given it: the same few texts again and again.
@lru_cache(maxsize=1024)
def homework_text(html: str) -> tuple[str, tuple[Attachment, ...]]:
    """The text a reader sees (block tags and ``<br>`` as line breaks, entities decoded, blank
    runs collapsed) and the linked files, in document order, each URL once."""
    collector = _Collector()
    collector.feed(html or "")
    collector.close()
    lines = [_SPACES.sub(" ", line).strip() for line in "".join(collector.parts).split("\n")]
    text = "\n".join(line for line in lines if line)
    return text, tuple(collector.attachments)
