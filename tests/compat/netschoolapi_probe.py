"""Probe: run the public client PyPI `netschoolapi` 11.0.5 against a NetSchool server.

Runs in its own venv (netschoolapi pins httpx==0.23.3, which conflicts with ours):

    make .venv-compat/.installed   # (part of `make test`)
    .venv-compat/bin/python tests/compat/netschoolapi_probe.py BASE_URL LOGIN PASSWORD SCHOOL \
        [WEEK_START [ASSIGNMENT_WITH_FILE OVERDUE_FROM OVERDUE_TO USER_ID]]

SCHOOL is the school id (an int): 11.0.5 resolves a school *name* by calling `schools/search`
without `name`, which current servers (and the emulator) answer 403. Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import date, timedelta
from io import BytesIO


async def main(argv: list[str]) -> dict[str, object]:
    from netschoolapi import NetSchoolAPI  # only in the probe venv

    base, login, password, school = argv[:4]
    start = date.fromisoformat(argv[4]) if len(argv) > 4 else None
    with_file, due_from, due_to, user_id = argv[5:9] if len(argv) > 8 else (None,) * 4
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
        anns = await ns.announcements()
        out["announcements"] = len(anns)
        out["announcement_attachments"] = sum(len(a.attachments) for a in anns)
        if with_file and due_from and due_to and user_id:
            files = await ns.attachments(int(with_file))
            out["attachments"] = len(files)
            buf = BytesIO()
            if files:
                await ns.download_attachment(files[0].id, buf)
            out["attachment_bytes"] = len(buf.getvalue())
            overdue = await ns.overdue(date.fromisoformat(due_from), date.fromisoformat(due_to))
            out["overdue_range"] = {
                "count": len(overdue),
                "all_duty": all(a.is_duty for a in overdue),
            }
            photo = BytesIO()
            await ns.download_profile_picture(int(user_id), photo)
            out["photo_jpeg"] = photo.getvalue()[:2] == b"\xff\xd8"
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
