"""The bundled Cyrillic fonts (DejaVu Sans, licence in ``fonts/LICENSE``), registered once."""

from __future__ import annotations

import threading
from importlib import resources
from pathlib import Path

from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

__all__ = ["FONT", "FONT_BOLD", "font_path", "register_fonts"]

FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"

_FILES = {FONT: "DejaVuSans.ttf", FONT_BOLD: "DejaVuSans-Bold.ttf"}
_lock = threading.Lock()
_registered = False


def font_path(bold: bool = False) -> Path:
    """The path of the bundled TTF file (package data; nothing is fetched at run time)."""
    name = _FILES[FONT_BOLD if bold else FONT]
    return Path(str(resources.files("core.documents").joinpath("fonts", name)))


def register_fonts() -> tuple[str, str]:
    """Register the fonts with reportlab (idempotent); returns (regular, bold) font names."""
    global _registered
    with _lock:
        if not _registered:
            pdfmetrics.registerFont(TTFont(FONT, str(font_path(False))))
            pdfmetrics.registerFont(TTFont(FONT_BOLD, str(font_path(True))))
            # <b> in Paragraph markup picks the bold face of the family
            addMapping(FONT, 0, 0, FONT)
            addMapping(FONT, 1, 0, FONT_BOLD)
            addMapping(FONT, 0, 1, FONT)
            addMapping(FONT, 1, 1, FONT_BOLD)
            _registered = True
    return FONT, FONT_BOLD
