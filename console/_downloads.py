"""Files to download: the drift findings (XLSX, CSV, JSON), the compliance report (XLSX, PDF),
the worklists and the operator's package (ZIP). Written by the same code as the commands, into
a private temporary directory, read back and removed."""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from fastapi.responses import Response

from console._data import mask_row
from core.files import private_dir
from core.store import Store
from journalsync.drift_cmd import DriftFormat, export_findings
from scheduler import Plan

__all__ = ["compliance_report", "drift_file", "package_zip", "worklists_zip"]

MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "pdf": "application/pdf",
    "zip": "application/zip",
}


def _attachment(data: bytes, name: str, ext: str, plain: str) -> Response:
    """``name`` in Russian for browsers (RFC 6266 ``filename*``), ``plain`` in ASCII else."""
    disposition = f"attachment; filename=\"{plain}.{ext}\"; filename*=UTF-8''{quote(name)}.{ext}"
    return Response(data, media_type=MEDIA[ext], headers={"Content-Disposition": disposition})


def _in_tmp(write: Callable[[Path], Path | None]) -> bytes | None:
    with tempfile.TemporaryDirectory(prefix="journalsync-console-") as tmp:
        private_dir(tmp)
        path = write(Path(tmp))
        return path.read_bytes() if path is not None else None


def drift_file(
    store: Store, school: str, platform: str, status: str | None, fmt: str, *, masked: bool
) -> Response:
    kind = DriftFormat(fmt)

    def write(tmp: Path) -> Path:
        out = tmp / f"drift.{fmt}"
        export_findings(
            store, school, platform, status, kind, out, mask=mask_row if masked else None
        )
        return out

    data = _in_tmp(write)
    assert data is not None
    return _attachment(data, f"расхождения-{school}", fmt, f"drift-{school}")


def compliance_report(
    plan: Plan | None, store: Store, school: str, platform: str, fmt: str
) -> Response:
    from core.compliance import write_report
    from journalsync.report_cmd import Kind, report_documents, report_settings

    settings = report_settings(plan, [school], [platform], None, None, None)
    docs = report_documents(store, Kind.COMPLIANCE, [school], None, settings, None, None)

    def write(tmp: Path) -> Path:
        (path,) = write_report(docs, fmt, tmp / f"report.{fmt}")
        return path

    data = _in_tmp(write)
    assert data is not None
    return _attachment(data, f"соответствие-{school}", fmt, f"compliance-{school}")


def _zip_dir(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(folder).as_posix())
    return buf.getvalue()


def worklists_zip(store: Store, school: str, platform: str, timezone: str) -> Response | None:
    """The worklists (issued: their items then await the teachers' entry); ``None`` when
    there is nothing to enter by hand."""
    from journalsync.worklist_cmd import write_worklists

    with tempfile.TemporaryDirectory(prefix="journalsync-console-") as tmp:
        out = Path(tmp) / "worklists"
        files = write_worklists(store, school, platform, out, timezone)
        if not files:
            return None
        return _attachment(_zip_dir(out), f"листы-ввода-{school}", "zip", f"worklists-{school}")


def package_zip(store: Store, school: str, platform: str, timezone: str) -> Response | None:
    """The operator's package of the outbox (issued); ``None`` when there is nothing in it."""
    from journalsync.package_cmd import write_school_package

    with tempfile.TemporaryDirectory(prefix="journalsync-console-") as tmp:
        path = write_school_package(store, school, platform, Path(tmp), "outbox", timezone)
        if path is None:
            return None
        return _attachment(path.read_bytes(), f"пакет-{school}", "zip", f"package-{school}")
