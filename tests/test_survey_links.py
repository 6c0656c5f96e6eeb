"""R8 (三)1: a sampled household answers the questionnaire on its phone through a one-time link
(starter/survey_links.py, the page /s/<token>): issued only to 客服部 and only while the
questionnaires are collected, answered once, by that household only, nothing recorded from a
refused or incomplete form; on the time-skipping server with a real PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from starter.app import create_app
from tests.helpers import case_worker, records, refused, sleep_to
from tests.test_pages_read_like_a_user import problems
from tests.test_satisfaction import (
    CS,
    ITEMS,
    ROOMS,
    answer,
    approved,
    delivered,
    enter,
    signed_in_as,
    start_survey,
)
from workflows.regulations.satisfaction.forms import ReturnInput, household_actor


def csrf_of(http: httpx.AsyncClient) -> dict[str, str]:
    return {"x-csrftoken": http.cookies.get("csrftoken") or ""}


async def links_of(http: httpx.AsyncClient, case_id: str) -> httpx.Response:
    return await http.post(f"/api/cases/{case_id}/survey-links", headers=csrf_of(http))


def form_token(page: httpx.Response) -> str:
    found = re.search(r'name="csrftoken" value="([^"]+)"', page.text)
    assert found, page.text[:2000]
    return found.group(1)


def filled(page: httpx.Response, grades: list[str], **more: str) -> dict[str, str]:
    data = {"csrftoken": form_token(page), "age_band": "age_46_60", "sex": "male",
            "occupation": "退休教师", "opinions": "", "expectations": "", **more}  # fmt: skip
    data |= {f"grade.{i}": g for i, g in enumerate(grades) if g}
    return data


async def test_3_1_a_household_answers_once_through_its_one_time_link(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_survey(env, queue)
        await approved(h)
        app = create_app(settings_factory(session_secret="r8-links-session-secret-not-default"),
                         client=env.client, session_factory=session_factory)  # fmt: skip
        staff = await signed_in_as(app, "cs", "cs-demo")
        other = await signed_in_as(app, "propmgr", "propmgr-demo")
        phone = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                  base_url="http://testserver")  # fmt: skip
        try:
            # Not before the questionnaires are out; never for someone who does not enter returns.
            early = await links_of(staff, h.id)
            assert early.status_code == 422 and "not being collected" in early.text, early.text
            sent = await delivered(h)
            assert (await links_of(other, h.id)).status_code == 403
            await enter(h, answer(ROOMS[0], ["satisfied"] * 3))  # one came back on paper
            got = await links_of(staff, h.id)
            assert got.status_code == 200, got.text
            links = {link["household"]: link["url"] for link in got.json()}
            assert set(links) == set(ROOMS) - {ROOMS[0]}
            url = links[ROOMS[1]]
            assert url.startswith("/s/") and ROOMS[1] not in url

            # The household's page: no sign-in, the survey's items and scale, in Chinese.
            page = await phone.get(url)
            assert page.status_code == 200, page.text[:2000]
            assert all(item in page.text for item in ITEMS) and "很满意" in page.text
            assert ROOMS[1] in page.text and 'id="survey-form"' in page.text
            assert problems(page.text, []) == []
            # An item left ungraded: said at that item, every other answer kept, nothing sent.
            short = await phone.post(url, data=filled(page, ["satisfied", "", "neutral"],
                                                      opinions="电梯维修慢"))  # fmt: skip
            assert short.status_code == 422
            assert 'id="error-grade.1"' in short.text and "电梯维修慢" in short.text
            assert len(await records(session_factory, h.id, "survey_return")) == 1
            done = await phone.post(url, data=filled(short, ["satisfied", "very_satisfied",
                                                             "neutral"], opinions="电梯维修慢"))  # fmt: skip
            assert done.status_code == 200 and 'id="survey-thanks"' in done.text, done.text[:2000]
            returns = await records(session_factory, h.id, "survey_return", 2)
            mine = next(r for r in returns if r.data["household"] == ROOMS[1])
            assert mine.created_by == f"household:{ROOMS[1]}"
            assert mine.data["filled_by"] == "household" and mine.data["opinions"] == "电梯维修慢"
            assert mine.data["grades"][1] == {"item": ITEMS[1], "grade": "very_satisfied"}

            # Once: the page says it is in; a second post is refused and changes nothing.
            again = await phone.get(url)
            assert 'id="survey-closed"' in again.text and "已经提交" in again.text
            second = await phone.post(url, data=filled(page, ["dissatisfied"] * 3))
            assert second.status_code == 409 and "已经提交" in second.text
            assert len(await records(session_factory, h.id, "survey_return")) == 2
            assert ROOMS[1] not in {x["household"] for x in (await links_of(staff, h.id)).json()}

            # A changed link is refused; the household update is not an action anyone may send,
            # and a household answers for itself only.
            forged = await phone.get(url[:-3] + ("aaa" if not url.endswith("aaa") else "bbb"))
            assert forged.status_code == 403 and "链接无效" in forged.text
            act = await staff.post(f"/api/cases/{h.id}/actions/household_return",
                                   json={"household": ROOMS[2], "grades": []},
                                   headers=csrf_of(staff))  # fmt: skip
            assert act.status_code == 404, act.text
            posing = ReturnInput(actor=household_actor(ROOMS[2]), household=ROOMS[3],
                                 grades=[{"item": ITEMS[0], "grade": "satisfied"}])  # fmt: skip
            await refused(h.execute_update("household_return", posing), "Forbidden", "answers for")
            staff_as_household = ReturnInput(actor=CS, household=ROOMS[3],
                                             grades=[{"item": ITEMS[0], "grade": "satisfied"}])  # fmt: skip
            await refused(h.execute_update("household_return", staff_as_household), "Forbidden")

            # After the week: the link no longer takes answers.
            await sleep_to(env, sent + timedelta(days=7, minutes=1))
            await records(session_factory, h.id, "survey_result", 1)
            late_url = links[ROOMS[4]]
            late = await phone.get(late_url)
            assert 'id="survey-closed"' in late.text and "不在回收期内" in late.text
            refused_late = await phone.post(late_url, data=filled(page, ["satisfied"] * 3))
            assert refused_late.status_code == 409 and "不在回收期内" in refused_late.text
            assert len(await records(session_factory, h.id, "survey_return")) == 2
            ended = await links_of(staff, h.id)  # the survey case has ended
            assert ended.status_code == 409, ended.text
        finally:
            for http in (staff, other, phone):
                await http.aclose()
