"""Compliance rules over canonical journal data, and the school reports built on them.

Rules are data (:data:`RULES`): an id, a Russian description, the regulation clauses they come
from, parameters, a severity and a vectorised check over a :class:`JournalFrame` — one school's
journal as columns, built once from records (:func:`frame_from_records`) or straight from the
store (:func:`frame_from_store`). A :class:`Profile` (one per regulation, :func:`get_profile`)
picks the rules and parameters; :func:`check_frame` runs them and reports, besides findings,
each rule the data could not support (:class:`NotChecked`: a field the platform does not carry,
no change history, no curriculum).
"""

from core.compliance._build import frame_from_records
from core.compliance._calendar import ProductionCalendar
from core.compliance._catalogue import RULES
from core.compliance._curriculum import curriculum_from_config, read_curriculum
from core.compliance._engine import ComplianceResult, check_frame
from core.compliance._frame import ChangeEvent, JournalFrame
from core.compliance._load import frame_from_store
from core.compliance._profiles import (
    FORMER_IDS,
    PROFILES,
    Profile,
    RuleUse,
    explain_rows,
    get_profile,
    profile_ids,
)
from core.compliance._render import write_report
from core.compliance._reports import (
    attendance_summary,
    class_results,
    compliance_report,
    find_period,
    forecast,
    report_card,
    summary_sheet,
    timeliness,
)
from core.compliance._rule import Rule
from core.compliance._types import Clause, Finding, NotChecked, Severity

__all__ = [
    "FORMER_IDS",
    "PROFILES",
    "RULES",
    "ChangeEvent",
    "Clause",
    "ComplianceResult",
    "Finding",
    "JournalFrame",
    "NotChecked",
    "ProductionCalendar",
    "Profile",
    "Rule",
    "RuleUse",
    "Severity",
    "attendance_summary",
    "check_frame",
    "class_results",
    "compliance_report",
    "curriculum_from_config",
    "explain_rows",
    "find_period",
    "forecast",
    "frame_from_records",
    "frame_from_store",
    "get_profile",
    "profile_ids",
    "read_curriculum",
    "report_card",
    "summary_sheet",
    "timeliness",
    "write_report",
]
