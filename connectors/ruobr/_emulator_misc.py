"""Ruobr emulator: mail and the secondary endpoints (note §4.1, §4.6, §4.8).

Deterministic content derived from the world. Shapes unknown to the note (``btm/``, ``book/``)
are empty objects/lists [guess]; ``ios/`` has the note's shape with one category of links.
``mail/{id}/`` answers **502** for an HTML message
(``type_id: 2``), as R1's docstring says the platform does.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from connectors.sandbox.responses import JSONResponse
from connectors.sandbox.world import PersonInfo

from ._emulator_diary import USER_ID_OFFSET
from ._emulator_state import EmulatorState, NoSuccess

# ``ios/`` content: public education portals (sandbox data, no personal data).
_USEFUL_LINKS = (
    ("Госуслуги: запись в школу", "https://www.gosuslugi.ru/"),
    ("Российская электронная школа", "https://resh.edu.ru/"),
)


def _messages(st: EmulatorState, pupil: PersonInfo) -> list[dict[str, Any]]:
    school = st.school_of(pupil)
    start = school.year.start
    return [
        {
            "id": school.ext_id * 10 + 1,
            "type_id": 1,
            "post_date": f"{start.isoformat()} 08:00:00",
            "update_date": f"{start.isoformat()} 08:00:00",
            "author": "Администрация",
            "author_id": -1,  # a system broadcast (R4 filters -1 and 1)
            "author_img": "",
            "read": False,
            "subject": "Начало учебного года",
            "last_msg_text": f"Добро пожаловать в {school.short_name}!",
            "clean_text": f"Добро пожаловать в {school.short_name}!",
            "count_people": 1,
        },
        {
            "id": school.ext_id * 10 + 2,
            "type_id": 2,  # HTML: its detail answers 502
            "post_date": (start + timedelta(days=1)).isoformat(),  # date-only since 2022-03
            "update_date": (start + timedelta(days=1)).isoformat(),
            "author": "Администрация",
            "author_id": 1,
            "author_img": "",
            "read": True,
            "subject": "Расписание звонков",
            "last_msg_text": "Расписание звонков во вложении",
            "clean_text": "Расписание звонков во вложении",
            "count_people": 1,
        },
    ]


def _teachers(st: EmulatorState, pupil: PersonInfo) -> list[PersonInfo]:
    ids = dict.fromkeys(t for g in st.groups_of(pupil) for t in g.teacher_ids)
    return [st.world.persons[t] for t in ids]


def _people(st: EmulatorState, pupil: PersonInfo, birthday: bool) -> list[dict[str, Any]]:
    cls = st.world.classes[pupil.class_id] if pupil.class_id is not None else None
    out = []
    for sid in cls.student_ids if cls else []:
        p = st.world.persons[sid]
        item: dict[str, Any] = {
            "first_name": p.first_name,
            "last_name": p.last_name,
            "middle_name": p.middle_name,
            "avatar": "",
            "birth_date": p.birth_date.isoformat() if p.birth_date else None,
        }
        if birthday:
            item["birthdate_year_future"] = st.world.today.year
        else:
            item["gender"] = 1 if p.gender == "m" else 2
        out.append(item)
    return out


def routes(st: EmulatorState) -> list[BaseRoute]:
    def data(value: Any) -> Response:
        return JSONResponse({"data": value})

    async def mail(request: Request) -> Response:
        account = st.account(request)
        pupils = st.pupils(account)
        return JSONResponse({"messages": _messages(st, pupils[0]) if pupils else []})

    async def message(request: Request) -> Response:
        pupil = st.child(request)
        found = next(
            (m for m in _messages(st, pupil) if str(m["id"]) == request.path_params["id"]), None
        )
        if found is None:
            raise NoSuccess("Сообщение не найдено")
        if found["type_id"] == 2:
            return Response(
                "<html><body><h1>502 Bad Gateway</h1></body></html>", 502, media_type="text/html"
            )
        return data(
            {
                "author": found["author"],
                "author_id": found["author_id"],
                "author_img": "",
                "subject": found["subject"],
                "text": found["clean_text"],
                "post_date": found["post_date"],
                "update_date": found["update_date"],
                "role": 1,
                "role_str": "Администратор",
                "count_recivers": 1,
                "recivers_list": [],
                "comments": [],
            }
        )

    async def recipients(request: Request) -> Response:
        account = st.account(request)
        pupils = st.pupils(account)
        teachers = _teachers(st, pupils[0]) if pupils else []
        return data(
            [
                {
                    "person_str": t.full_name,
                    "staff_id": t.ext_id,
                    "user_id": USER_ID_OFFSET + t.ext_id,
                    "user_img": "",
                }
                for t in teachers
            ]
        )

    async def guide(request: Request) -> Response:
        pupil = st.child(request)
        school = st.school_of(pupil)
        subjects: dict[int, list[str]] = {}
        for g in st.groups_of(pupil):
            for t in g.teacher_ids:
                subjects.setdefault(t, []).append(st.world.subjects[g.subject_id].name)
        return data(
            {
                "id": school.ext_id,
                "name": school.short_name,
                "fullname": school.name,
                "post_adress": school.address,  # sic (note §4.8)
                "tel_rec": "",
                "url": "",
                "territory": school.city,
                "teacher_list": [
                    {
                        "person_str": t.full_name,
                        "user_id": USER_ID_OFFSET + t.ext_id,
                        "user_img": "",
                        "subject_qs": sorted(set(subjects.get(t.ext_id, []))),
                    }
                    for t in _teachers(st, pupil)
                ],
            }
        )

    async def classmates(request: Request) -> Response:
        return data(_people(st, st.child(request), birthday=False))

    async def birthdays(request: Request) -> Response:
        return data(_people(st, st.child(request), birthday=True))

    async def food(request: Request) -> Response:
        pupil = st.child(request)
        return data(
            {
                "account": str(700_000_000 + pupil.ext_id),
                "uid": f"uid-{pupil.ext_id}",
                "day_limit": "0",
                "balance": "0,00",  # a string with a decimal comma (note §4.8)
                "default_complex": "",
                "vizit": [],
            }
        )

    async def cert(request: Request) -> Response:
        pupil = st.child(request)
        return data(
            {
                "id": pupil.ext_id,
                "number_cert": f"42{pupil.ext_id:010d}",
                "status_actul": 1,
                "balance": "0",
                "balance_start": "0",
                "rmc_nominal": 0.0,
                "cert_group_id": 1,
                "cert_group_name": "Сертификат учета",
                "cert_territory": st.school_of(pupil).city,
                "cert_territory_img": "",
                "date_actual": f"{st.world.today.isoformat()} 00:00:00",
                "do_direction": [],
                "petition_good": [],
                "petition_bad": [],
            }
        )

    async def achievements(request: Request) -> Response:
        st.child(request)
        return data({"do_direction": [], "project_list": [], "gto_id": None})

    async def events(request: Request) -> Response:
        st.child(request)
        return JSONResponse({"events": []})  # [guess] the shape of btm/ is unknown

    async def books(request: Request) -> Response:
        st.child(request)
        return data([])

    async def links(request: Request) -> Response:
        """``ios/`` in the note's shape (§4.8); the links themselves are made up [guess]."""
        st.child(request)
        link_list = [
            {"id": i, "about": about, "href": href, "img": ""}
            for i, (about, href) in enumerate(_USEFUL_LINKS, start=1)
        ]
        return data(
            {
                "categories_list": [
                    {"id": 1, "categories": "Полезные ссылки", "link_list": link_list}
                ],
                "link_without_category_list": [],
            }
        )

    return [
        Route("/mail/", mail),
        Route("/mail/new/", recipients),
        Route("/mail/{id}/", message),
        Route("/guide/", guide),
        Route("/odnoklassniki/", classmates),
        Route("/birthday/", birthdays),
        Route("/food/calendary/", food),
        Route("/do/cert/", cert),
        Route("/achievements/", achievements),
        Route("/btm/", events),
        Route("/book/", books),
        Route("/ios/", links),
    ]
