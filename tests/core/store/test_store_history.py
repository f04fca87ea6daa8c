"""The store's remote change log, encrypted connector state, and quarantine from imports."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from cryptography.fernet import Fernet

from core.codes import MarkValue
from core.connector import Page, Quarantined
from core.errors import ConfigError
from core.model import Mark, Record
from core.store import Store


def mark(student: str, value: str = "5") -> Mark:
    return Mark(
        school="s", student_id=student, lesson_id="L1", work_type="answer", value=MarkValue(value)
    )


def page(records: list[Record]) -> Page:
    return Page(
        stream="marks", scope="a", records=records, cursor={}, complete_for=frozenset({"mark"})
    )


def test_change_log_records_inserts_updates_and_deletes(store: Store) -> None:
    a, b = mark("A"), mark("B")
    store.commit_page("s", "p", page([a, b]))
    store.commit_page("s", "p", page([a, b]))  # nothing changed
    changed = mark("A", value="3")
    store.commit_page("s", "p", page([changed]))  # A changed, B gone
    log = list(store.remote_changes("s", "p"))
    assert [(c.record_id, c.kind) for c in log] == [
        (a.id, "inserted"),
        (b.id, "inserted"),
        (a.id, "updated"),
        (b.id, "deleted"),
    ]
    update = log[2]
    assert update.before is not None and update.before["value"] == "5"
    assert update.after is not None and update.after["value"] == "3"
    assert log[3].before is not None and log[3].after is None
    assert log[0].before is None and log[0].after is None  # the snapshot holds inserted data
    assert list(store.remote_changes("s", "p", "lesson")) == []
    assert [c.seq for c in log] == sorted(c.seq for c in log)


def test_connector_state_is_encrypted_at_rest(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOURNALSYNC_SECRET_KEY", Fernet.generate_key().decode())
    store._cipher = None  # pick up the key set for this test
    assert store.load_state("s", "kiasuo") == {}
    store.save_state("s", "kiasuo", {"refresh": {"parent1": "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"}})
    with store.engine.connect() as conn:
        raw = conn.exec_driver_sql("SELECT state FROM connector_state").scalar_one()
    assert "a1b2c3d4e5f6" not in raw
    assert store.load_state("s", "kiasuo") == {
        "refresh": {"parent1": "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"}
    }
    store.save_state("s", "kiasuo", {"refresh": {"parent1": "rotated"}})
    assert store.load_state("s", "kiasuo")["refresh"]["parent1"] == "rotated"
    monkeypatch.setenv("JOURNALSYNC_SECRET_KEY", Fernet.generate_key().decode())
    store._cipher = None
    with pytest.raises(ConfigError, match="cannot be decrypted"):
        store.load_state("s", "kiasuo")


def test_a_key_file_is_created_once_with_owner_only_access(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.secrets import Cipher

    key_file = tmp_path / "keys" / "secret.key"
    monkeypatch.delenv("JOURNALSYNC_SECRET_KEY", raising=False)
    monkeypatch.setenv("JOURNALSYNC_SECRET_KEY_FILE", str(key_file))
    first = Cipher.from_env().encrypt(b"token")
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert Cipher.from_env().decrypt(first) == b"token"


def test_import_quarantine_is_kept_with_its_stream(store: Store) -> None:
    n = store.add_quarantine(
        "s",
        "local",
        [Quarantined(entity="mark", record="row 4", field="value", reason="row 4: bad")],
        stream="import:journal.csv",
    )
    assert n == 1
    (row,) = store.quarantined("s", "local")
    assert (row.stream, row.record, row.field) == ("import:journal.csv", "row 4", "value")


def test_change_log_rows_hold_the_exact_texts_in_page_order(store: Store) -> None:
    """Each change-log column as written: the run, the entity, the record's content JSON byte
    for byte (quotes, backslashes, Cyrillic, emoji, line separators), in the page's order."""
    odd = 'Ответ "у доски" \\ ✓ \U0001f600 \u2028 конец'
    marks = [mark(f"S{i:03d}") for i in range(300)]
    store.commit_pages("s", "p", [page(marks)], run_id="run-1")
    changed = Mark(**{**marks[7].model_dump(), "comment": odd})
    store.commit_pages("s", "p", [page([*marks[:7], changed, *marks[8:]])], run_id="run-2")
    log = list(store.remote_changes("s", "p"))
    assert [(c.record_id, c.kind, c.run_id) for c in log] == [
        *[(m.id, "inserted", "run-1") for m in marks],
        (changed.id, "updated", "run-2"),
    ]
    assert {(c.school, c.platform, c.entity) for c in log} == {("s", "p", "mark")}
    assert log[0].at.tzinfo is not None and log[0].at <= log[-1].at
    with store.engine.connect() as conn:
        before, after = conn.exec_driver_sql(
            "SELECT before, after FROM remote_changes WHERE kind = 'updated'"
        ).one()
    assert before == marks[7].content_json.decode()
    assert after == changed.content_json.decode() and odd in orjson.loads(after)["comment"]
