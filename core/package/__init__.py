"""The package push channel: a bulk import package for the platform operator (DESIGN.md §4).

For platforms with no known write API but an operator who can load files, the outbox's
``package`` items (or, for a migration, the school's whole local journal) become one zip: a
OneRoster 1.2 CSV set (orgs, academic sessions, courses, classes, users, roles, enrollments,
categories, line items, results) plus a per-class journal XLSX for what OneRoster does not carry
(attendance, lesson topics, homework) and a README in Russian::

    pkg = build_package(store, "school-1", "kiasuo")             # scope="outbox"
    path = write_package(pkg, out_dir)                           # school-1-kiasuo-<date>.zip
    issue_package(store, "school-1", "kiasuo", pkg)              # pending → awaiting_entry

    build_package(store, "school-1", "ruobr", scope="journal")   # a migration: everything

Reconcile verifies an ``awaiting_entry`` item once a pull shows the value, exactly as for
worklist entries. The same package gives byte-identical zips (sorted rows, pinned timestamps).
"""

from core.package._build import JOURNAL_ENTITIES, OPEN_STATUSES, build_package, issue_package
from core.package._model import Package, PackageItem, Scope
from core.package._oneroster import (
    EXTENSIONS,
    FINAL_CATEGORY,
    HEADERS,
    MANIFEST_FILES,
    PackageIntegrityError,
    csv_tables,
    reference_errors,
    text_score,
)
from core.package._write import package_bytes, package_files, write_package

__all__ = [
    "EXTENSIONS",
    "FINAL_CATEGORY",
    "HEADERS",
    "JOURNAL_ENTITIES",
    "MANIFEST_FILES",
    "OPEN_STATUSES",
    "Package",
    "PackageIntegrityError",
    "PackageItem",
    "Scope",
    "build_package",
    "csv_tables",
    "issue_package",
    "package_bytes",
    "package_files",
    "reference_errors",
    "text_score",
    "write_package",
]
