"""Probe: run the public client PyPI `netschoolapi` 11.0.5 against a NetSchool server.

Runs in its own venv (netschoolapi pins httpx==0.23.3, which conflicts with ours):

    make .venv-compat/.installed   # (part of `make test`)
    .venv-compat/bin/python tests/compat/netschoolapi_probe.py BASE_URL LOGIN PASSWORD SCHOOL \
        [WEEK_START]

SCHOOL is the school id (an int): 11.0.5 resolves a school *name* by calling `schools/search`
without `name`, which current servers (and the emulator) answer 403. Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import date, timedelta


async def main(argv: list[str]) -> dict[str, object]:
    from netschoolapi import NetSchoolAPI  # only in the probe venv

    base, login, password, school = argv[:4]
    start = date.fromisoformat(argv[4]) if len(argv) > 4 else None
    ns = NetSchoolAPI(base)
    out: dict[str, object] = {}
    try:
        await ns.login(login, password, int(school) if school.isdigit() else school)
        out["login"] = "ok"
        diary = await ns.diary(start, start + timedelta(days=5) if start else None)
        lessons = [le for d in diary.schedule for le in d.lessons]
        assignments = [a for le in lessons for a in le.assignments]
        out["diary"] = {
            "days": len(diary.schedule),
            "lessons": len(lessons),
            "assignments": len(assignments),
            "marks": sorted(a.mark for a in assignments if a.mark is not None),
            "duty": sum(a.is_duty for a in assignments),
            "types": sorted({a.type for a in assignments}),
        }
        if assignments:
            att = await ns.attachments(assignments[0].id)
            out["attachments_of_first"] = len(att)
            # 11.0.5 has no method for assignment details; call the endpoint on its client
            r = await ns._wrapped_client.client.get(
                f"student/diary/assigns/{assignments[0].id}",
                params={"studentId": ns._student_id},
            )
            details = r.json()
            out["assignment_details"] = {
                "id": details["id"],
                "weight": details["weight"],
                # names are personal data: report that they came, not what they are
                "teacher_named": bool((details.get("teachers") or [details.get("teacher")])[0]),
                "subject_group_named": bool(details["subjectGroup"]["name"]),
            }
        out["overdue"] = len(await ns.overdue(start, start + timedelta(days=5) if start else None))
        out["announcements"] = len(await ns.announcements())
        ns._school_id = int(school) if school.isdigit() else ns._school_id
        out["school_named"] = bool((await ns.school()).name)
    except Exception as e:  # the probe reports, it does not crash
        out["error"] = f"{type(e).__name__}: {e}"
    finally:
        try:
            await ns.logout()
            out["logout"] = "ok"
        except Exception as e:
            out["logout"] = f"{type(e).__name__}: {e}"
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1:])), ensure_ascii=False))
