"""The Ruobr emulator's wire details that public clients rely on (note §4, §8)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from connectors.ruobr._auth import BrowserUserAgent, HeaderCredentials
from connectors.ruobr.emulator import create_app
from connectors.sandbox.world import World, WorldSize

SIZE = WorldSize(grades=(5,), letters=1, students_per_class=3, weeks=1)


@pytest.fixture
def world() -> World:
    return World.generate(8, SIZE)


@pytest.fixture
async def http(world: World) -> AsyncIterator[httpx.AsyncClient]:
    guardian = world.accounts("school-1", "guardian")[0]
    headers = {
        **HeaderCredentials(guardian.login, guardian.password).headers(),
        **BrowserUserAgent().headers(),
    }
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(world)),
        base_url="http://ruobr.test",
        headers=headers,
    ) as client:
        yield client


async def _child(http: httpx.AsyncClient) -> int:
    return int((await http.get("/user/")).json()["childs"][0]["id"])


async def test_student_account_is_a_child_object_with_the_misspelled_key(world: World) -> None:
    student = world.accounts("school-1", "student")[0]
    headers = {
        **HeaderCredentials(student.login, student.password).headers(),
        **BrowserUserAgent().headers(),
    }
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(world)), base_url="http://ruobr.test"
    ) as client:
        body = (await client.get("/user/", headers=headers)).json()
    assert body["status"] == "child" and body["id"] == student.person_id
    assert "school_terrirtory_id" in body and body["group"] == "5А"


async def test_timetable_omits_empty_optional_keys_and_sends_string_marks(
    http: httpx.AsyncClient,
) -> None:
    child = await _child(http)
    params: dict[str, str | int] = {"start": "2026-09-01", "end": "2026-09-30", "child": child}
    lessons = (await http.get("/timetable2/", params=params)).json()["lessons"]
    assert lessons
    for lesson in lessons:
        for key in ("topic", "task", "marks"):
            assert key not in lesson or lesson[key]  # absent, never null or empty
        for mark in lesson.get("marks", []):
            assert isinstance(mark["mark"], str)


async def test_controlmark_is_a_bare_list_with_float_marks(http: httpx.AsyncClient) -> None:
    periods = (await http.get("/controlmark/", params={"child": await _child(http)})).json()
    assert isinstance(periods, list) and periods[0]["title"] == "1-я четверть"
    assert all(isinstance(m["mark"], float) for p in periods for m in p["marks"])


async def test_all_marks_control_mark_is_empty_string_when_absent(
    http: httpx.AsyncClient,
) -> None:
    child = await _child(http)
    cm = (await http.get("/controlmark/", params={"child": child})).json()
    sid = cm[0]["marks"][0]["subject_id"]
    data = (await http.get(f"/all_marks/1/{sid}/", params={"child": child})).json()["data"]
    assert data["control_mark"] == "" and data["sub_id"] == sid


async def test_html_mail_detail_answers_502(http: httpx.AsyncClient) -> None:
    child = await _child(http)
    messages = (await http.get("/mail/")).json()["messages"]
    kinds = {m["type_id"]: m["id"] for m in messages}
    plain = await http.get(f"/mail/{kinds[1]}/", params={"child": child})
    assert plain.status_code == 200 and plain.json()["data"]["text"]
    html = await http.get(f"/mail/{kinds[2]}/", params={"child": child})
    assert html.status_code == 502


@pytest.mark.parametrize(
    "path",
    [
        "/guide/",
        "/odnoklassniki/",
        "/birthday/",
        "/food/calendary/",
        "/do/cert/",
        "/achievements/",
        "/book/",
        "/ios/",
        "/mail/new/",
        "/ba/new_mark/performance/",
    ],
)
async def test_secondary_endpoints_answer_data(http: httpx.AsyncClient, path: str) -> None:
    r = await http.get(path, params={"child": await _child(http)})
    assert r.status_code == 200 and "data" in r.json()


async def test_a_child_of_another_family_is_refused(http: httpx.AsyncClient, world: World) -> None:
    other = world.accounts("school-1", "guardian")[1]
    stranger = world.persons[other.person_id].children[0]
    body = (await http.get("/controlmark/", params={"child": stranger})).json()
    assert body["success"] is False and body["error"]


async def test_sandbox_paths_are_not_behind_the_anti_bot_layer(world: World) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(world)), base_url="http://ruobr.test"
    ) as client:
        faults = await client.get("/_sandbox/faults")
        operator = await client.post("/_sandbox/operator/apply-worklist", json={})
    assert faults.status_code == 200
    assert operator.status_code == 400  # reached the operator, which wants a worklist


async def test_useful_links_have_the_notes_shape(http: httpx.AsyncClient) -> None:
    data = (await http.get("/ios/", params={"child": await _child(http)})).json()["data"]
    (category,) = data["categories_list"]
    assert set(category) == {"id", "categories", "link_list"} and category["link_list"]
    assert all(set(link) == {"id", "about", "href", "img"} for link in category["link_list"])
    assert data["link_without_category_list"] == []
