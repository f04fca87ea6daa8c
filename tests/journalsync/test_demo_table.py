"""The demo's summary of the worklist platforms reads at 80 columns: no header cut short, and a
platform's error is printed whole under the table."""

from __future__ import annotations

from rich.console import Console

from journalsync.demo import WorklistDemo, _worklist_table


def _render(results: list[WorklistDemo]) -> str:
    console = Console(width=80, record=True, color_system=None)
    console.print(_worklist_table(results))
    return console.export_text()


def test_headers_whole_at_80_columns() -> None:
    text = _render([WorklistDemo("kiasuo", 861, 6, 1, 6, 3, 5, 1, "")])
    assert "…" not in text
    for header in ("platform", "pulled", "imported", "bad rows", "to enter", "worklists"):
        assert header in text
    assert max(map(len, text.splitlines())) <= 80


def test_an_error_goes_under_the_table_whole() -> None:
    error = "platform refused the connection: nothing listens at the emulator's port"
    text = _render(
        [
            WorklistDemo("kiasuo", 0, 0, 0, 0, 0, 0, 0, error),
            WorklistDemo("avers", 856, 6, 1, 6, 3, 5, 1, ""),
        ]
    )
    assert "…" not in text
    assert f"kiasuo: {error}" in " ".join(text.split())
