"""Probe: run the public client PyPI `netschoolpy` 9.6.3 against a NetSchool server.

Runs in its own venv (built by `make test`, see the Makefile's compat lines):

    .venv-compat-netschoolpy/bin/python tests/compat/netschoolpy_probe.py BASE_URL LOGIN PASSWORD \
        SCHOOL_ID WEEK_START ASSIGNMENT_WITH_FILE OVERDUE_FROM OVERDUE_TO

One adjustment, to the transport only: 9.6.3 hands its TLS context to `websockets.connect` even for
a `ws://` URL, which `websockets` refuses; the emulator serves plain HTTP on loopback, so the probe
makes that context `None` (for `https://` servers the client is used as shipped).

Prints one JSON object: counts and flags only (names and marks of pupils are personal data; only
the mark values, which say nothing about a person, are reported).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from datetime import date, timedelta
from io import BytesIO


async def main(argv: list[str]) -> dict[str, object]:
    base, login, password, school, week, with_file, due_from, due_to = argv[:8]
    import netschoolpy.client as nsclient  # only in the probe venv
    from netschoolpy import NetSchool

    if base.startswith("http://"):
        nsclient.trusted_ssl_context = lambda: None  # type: ignore[assignment]

    start = date.fromisoformat(week)
    end = start + timedelta(days=5)
    out: dict[str, object] = {}
    ns = NetSchool(base)
    try:
        await ns.login(login, password, int(school))
        out["login"] = "ok"
        diary = await ns.diary(start, end)
        lessons = [le for d in diary.schedule for le in d.lessons]
        assignments = [a for le in lessons for a in le.assignments]
        out["diary"] = {
            "lessons": len(lessons),
            "subjects_named": all(le.subject and not le.subject.isdigit() for le in lessons),
            "marks": sorted(a.mark for a in assignments if a.mark is not None),
            "duty": sum(a.is_duty for a in assignments),
            "kinds_named": all(a.kind for a in assignments),
            "term": bool(diary.term_name),
        }
        overdue = await ns.overdue(date.fromisoformat(due_from), date.fromisoformat(due_to))
        out["overdue"] = {"count": len(overdue), "all_duty": all(a.is_duty for a in overdue)}
        details = await ns.assignment_details(int(with_file))
        out["details"] = {
            "teacher_named": bool(details.teacher),
            # "7А/Алгебра": the subject is the part after the class
            "group_parts": len(details.subject_group.split("/")),
            "attachments": len(details.attachments),
        }
        files = await ns.attachments(int(with_file))
        out["attachments"] = len(files)
        if files:
            out["attachment_bytes"] = len(await ns.download_attachment_as_bytes(files[0].id))
        anns = await ns.announcements()
        out["announcements"] = len(anns)
        ann_files = [f for a in anns for f in a.attachments]
        out["announcement_attachments"] = len(ann_files)
        if ann_files:
            out["announcement_bytes"] = len(await ns.download_attachment_as_bytes(ann_files[0].id))
        periods = await ns.reporting_periods()
        out["periods"] = [
            {"name": p.name, "dated": p.start is not None and p.end is not None} for p in periods
        ]
        out["report_subjects"] = len(await ns.subjects())
        totals = await ns.total_marks()
        out["total_marks"] = {
            "rows": len(totals),
            "period_columns": sorted({len(t.period_marks) for t in totals}),
            "marks": sorted(m for t in totals for m in t.period_marks if m),
        }
        graded = await ns.assigned_marks()
        out["assigned_marks"] = {
            "rows": len(graded),
            "dated": all(g.lesson_date and g.mark_set_date for g in graded),
            "marks": sorted(g.numeric_mark for g in graded if g.numeric_mark is not None),
        }
        out["years"] = [y.name for y in await ns.school_years()]
        bells = await ns.bell_schedule()
        out["bells"] = {"count": len(bells), "weekdays": sorted({b.weekday for b in bells})}
        out["settings_roles"] = (await ns.my_settings()).get("roles")
        photo = BytesIO()
        await ns.download_profile_picture(int(out.get("user_id", 0) or 1), photo)
        out["photo_jpeg"] = photo.getvalue()[:2] == b"\xff\xd8"
        out["school_named"] = bool((await ns.school_info()).name)
    except Exception as e:  # the probe reports, it does not crash
        out["error"] = f"{type(e).__name__}: {e}"
    finally:
        try:
            await ns.logout()
            out["logout"] = "ok"
        except Exception as e:
            out["logout"] = f"{type(e).__name__}: {e}"
        with contextlib.suppress(Exception):
            await ns.close()
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1:])), ensure_ascii=False))
