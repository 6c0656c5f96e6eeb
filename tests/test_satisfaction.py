"""R8 `satisfaction`: the survey (approval before sending, the seeded sample, one week of
collection, the 85 % threshold, exact rates per item, the drop against the previous valid
survey) and the complaint register (same-day contact, 3 working days or an explanation, the
monthly summary in the first 5 days), on the time-skipping server with the real activities
writing to a real PostgreSQL. One case per test."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from starter.app import create_app
from store import models
from tests import helpers
from tests.helpers import (
    case_worker,
    complete,
    eventually,
    eventually_rows,
    open_task,
    records,
    refused,
    rows,
    sleep_to,
    state,
)
from tests.test_pages_read_like_a_user import problems
from workflows.calendar import end_of_day
from workflows.model import CHINA_TZ, Actor, Deadline
from workflows.regulations.satisfaction.forms import ReturnInput, SatisfactionPolicy

pytestmark = pytest.mark.asyncio(loop_scope="session")

CS = Actor(id="cs", roles=["customer_service"], department="客服部")
MANAGER = Actor(id="bizmgr8", roles=["property_business_manager"], department="管业部")
PROPMGR = Actor(id="propmgr", roles=["property_manager"], department="物业部")
DIRECTOR = Actor(id="cpdir8", roles=["complaint_director"], department="客户服务中心")
DEPTHEAD = Actor(id="depthead", roles=["department_head"], department="工程部")
OFFICE = Actor(id="office", roles=["office"], department="管理处")

ITEMS = ["安全保卫", "清洁卫生", "绿化养护"]
ROOMS = [f"{b}-{r}" for b in (1, 2) for r in range(101, 111)]  # 20 households


def policy(**more: Any) -> SatisfactionPolicy:
    """Everyone sampled (so the return rate is what a test enters), otherwise the text's."""
    return SatisfactionPolicy(sample_rate=1.0, sample_minimum=1, **more)


def china(dt: datetime) -> datetime:
    return dt.astimezone(CHINA_TZ)


async def start_survey(
    env: Any, queue: str, pol: SatisfactionPolicy | None = None, **inp: Any
) -> Any:
    return await helpers.start_case(env, queue, "satisfaction",
                                    {"kind": "survey", "estate": "阳光花园", **inp},
                                    pol or policy(), started_by="cs")  # fmt: skip


PLAN = {"service_items": ITEMS, "households": ROOMS, "questionnaire": "三项服务，五级评分",
        "arrangement": "物管处上门分发，一周内回收"}  # fmt: skip


async def approved(h: Any) -> list[str]:
    """三、2 the plan written and approved; the sampled households."""
    await complete(h, await open_task(h, "survey_plan"), CS, data=PLAN)
    await complete(h, await open_task(h, "plan_approval"), MANAGER, "approve", {"note": "同意"})
    await open_task(h, "survey_delivery")
    return await eventually(lambda: _sample(h), bool)


async def _sample(h: Any) -> list[str]:
    view = await state(h)
    return next((e.detail["chosen"] for e in view.events if e.kind == "sampled"), [])


async def delivered(h: Any) -> datetime:
    """(二)1 delivered door to door; when."""
    done = await complete(h, await open_task(h, "survey_delivery"), PROPMGR,
                          "questionnaires_delivered", {"note": "已逐户送达"})  # fmt: skip
    assert done.closed_at is not None
    return done.closed_at


def answer(room: str, grades: list[str], **more: Any) -> ReturnInput:
    return ReturnInput(actor=CS, household=room, age_band="age_30_45", sex="female",
                       occupation="教师", grades=[{"item": i, "grade": g}
                                                  for i, g in zip(ITEMS, grades, strict=False)],
                       **more)  # fmt: skip


async def enter(h: Any, ret: ReturnInput) -> str:
    return await h.execute_update("enter_return", ret, result_type=str)


async def signed_in_as(app: Any, uid: str, password: str) -> httpx.AsyncClient:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    page = await http.get("/login")
    token = re.search(r'name="csrftoken" value="([^"]+)"', page.text)
    assert token
    r = await http.post("/login", data={"login": uid, "password": password, "next": "/work",
                                        "csrftoken": token.group(1)})  # fmt: skip
    assert r.status_code == 303, r.text[:500]
    return http


async def result_of(sf: Any, case_id: str) -> dict[str, Any]:
    [rec] = await records(sf, case_id, "survey_result", 1)
    return rec.data


# ---- the survey ----------------------------------------------------------------------------------


async def test_3_2_the_property_business_manager_approves_the_plan_before_anything_is_sent(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        pol = SatisfactionPolicy(sample_rate=0.5, sample_minimum=4)
        h = await start_survey(env, queue, pol)
        plan = await open_task(h, "survey_plan")
        assert (plan.role, plan.clause) == ("customer_service", "R8 四(三)")
        await refused(complete(h, plan, CS, data={**PLAN, "households": []}), "Invalid",
                      "households")  # fmt: skip
        await complete(h, plan, CS, data=PLAN)
        approval = await open_task(h, "plan_approval")
        assert approval.role == "property_business_manager"
        # Nothing is sampled or sent before the approval; no return can be entered.
        view = await state(h)
        assert not [t for t in view.tasks if t.kind == "survey_delivery"]
        assert not [e for e in view.events if e.kind == "sampled"]
        await refused(enter(h, answer(ROOMS[0], ["satisfied"] * 3)), "Conflict", "collected")
        await refused(complete(h, approval, CS, "approve", {"note": ""}), "Forbidden")
        # Sent back: the center revises the plan and asks again.
        await complete(h, approval, MANAGER, "reject", {"reason": "样本范围需覆盖全部楼栋"})
        await complete(h, await open_task(h, "survey_plan"), CS, data=PLAN)
        await complete(h, await open_task(h, "plan_approval"), MANAGER, "approve", {"note": "同意"})
        delivery = await open_task(h, "survey_delivery")
        assert delivery.role == "property_manager"
        # (二)1 the random sample: half of the 20 households, from the list, recorded.
        [sample] = await records(session_factory, h.id, "survey_sample", 1)
        chosen = sample.data["households"]
        assert len(chosen) == 10 == len(set(chosen)) and set(chosen) <= set(ROOMS)
        assert sample.data["population"] == 20
        view = await state(h)
        assert [e.detail["chosen"] for e in view.events if e.kind == "sampled"] == [chosen]
        sigs = await eventually_rows(session_factory, models.Signature, 1,
                                     record_id=sample.data["plan"])  # fmt: skip
        assert [(s.signer, s.role) for s in sigs] == [("bizmgr8", "property_business_manager")]


async def test_4_4_the_questionnaires_are_collected_within_one_week(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_survey(env, queue)
        await approved(h)
        await refused(enter(h, answer(ROOMS[0], ["satisfied"] * 3)), "Conflict", "collected")
        sent = await delivered(h)
        collection = await open_task(h, "survey_collection")
        assert collection.due_at == sent + timedelta(days=7)
        rid = await enter(h, answer(ROOMS[0], ["satisfied", "neutral", "very_satisfied"],
                                    opinions="晚上路灯太暗", expectations="增加快递柜"))  # fmt: skip
        [ret] = await records(session_factory, h.id, "survey_return", 1)
        assert ret.id == rid and ret.data["household"] == ROOMS[0] and ret.data["sex"] == "female"
        assert ret.data["grades"][1] == {"item": "清洁卫生", "grade": "neutral"}
        await refused(enter(h, answer(ROOMS[0], ["satisfied"] * 3)), "Conflict", "already")
        await refused(enter(h, answer("9-999", ["satisfied"] * 3)), "Invalid", "not sampled")
        await refused(enter(h, answer(ROOMS[1], ["excellent"])), "Invalid", "grade")
        await sleep_to(env, sent + timedelta(days=7) - timedelta(minutes=5))
        await enter(h, answer(ROOMS[1], ["satisfied"] * 3))  # the last minutes still count
        await sleep_to(env, sent + timedelta(days=7) + timedelta(minutes=1))
        data = await result_of(session_factory, h.id)
        assert (data["returns"], data["sampled"], data["survey_valid"]) == (2, 20, False)
        view = await eventually(lambda: state(h), lambda v: v.status == "done")
        assert [t.status for t in view.tasks if t.kind == "survey_collection"] == ["cancelled"]
        closing = [e.detail for e in view.events if e.kind == "collection_closed"]
        assert closing == [
            {"returns": 2, "sampled": 20, "return_rate": "0.1000", "survey_valid": False}
        ]


async def collect(env: Any, h: Any, n: int, grades: list[list[str]] | None = None) -> None:
    """n of the 20 households return their questionnaire; the week passes."""
    sent = await delivered(h)
    for i in range(n):
        await enter(h, answer(ROOMS[i], (grades or [["satisfied"] * 3])[i % len(grades or [0])]))
    await sleep_to(env, sent + timedelta(days=7, minutes=1))


async def test_4_4_a_return_rate_of_exactly_85_percent_is_invalid(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_survey(env, queue)
        await approved(h)
        await collect(env, h, 17)  # 17 / 20 = 85 %: not above it
        data = await result_of(session_factory, h.id)
        assert (data["returns"], data["sampled"], data["return_rate"]) == (17, 20, "0.8500")
        assert data["survey_valid"] is False and data["previous_survey"] is None
        view = await eventually(lambda: state(h), lambda v: v.status == "done")
        assert view.status == "done"
        assert [e.kind for e in view.events if e.kind == "survey_invalid"] == ["survey_invalid"]
        assert not [t for t in view.tasks if t.kind == "survey_analysis"]


async def test_4_4_a_return_rate_just_above_85_percent_is_valid(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_survey(env, queue)
        await approved(h)
        await collect(env, h, 18)  # 18 / 20 = 90 %
        data = await result_of(session_factory, h.id)
        assert (data["returns"], data["return_rate"], data["survey_valid"]) == (18, "0.9000", True)
        analysis = await open_task(h, "survey_analysis")
        assert analysis.role == "customer_service"
        # Collection is closed: a late questionnaire is refused.
        await refused(enter(h, answer(ROOMS[19], ["satisfied"] * 3)), "Conflict", "collected")


async def test_4_5_the_rate_of_each_item_is_satisfied_grades_over_all_its_grades_exactly(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_survey(env, queue)
        await approved(h)
        # 18 returns: 安全保卫 12 satisfied of 18 (2/3); 清洁卫生 15 of 18 (5/6); 绿化养护 graded
        # by 17 only (one skips it), 9 satisfied, 6 dissatisfied.
        sent = await delivered(h)
        for i in range(18):
            security = "very_satisfied" if i < 6 else "satisfied" if i < 12 else "neutral"
            cleaning = "satisfied" if i < 15 else "very_dissatisfied"
            green = "satisfied" if i < 9 else "dissatisfied" if i < 15 else "neutral"
            grades = [security, cleaning] + ([green] if i < 17 else [])
            await enter(h, answer(ROOMS[i], grades, opinions="电梯维修慢" if i == 3 else ""))
        await sleep_to(env, sent + timedelta(days=7, minutes=1))
        data = await result_of(session_factory, h.id)
        by_item = {r["item"]: r for r in data["item_rates"]}
        assert {
            i: (r["satisfied_grades"], r["all_grades"], r["rate"]) for i, r in by_item.items()
        } == {
            "安全保卫": (12, 18, "0.6667"),
            "清洁卫生": (15, 18, "0.8333"),
            "绿化养护": (9, 17, "0.5294"),
        }
        assert Decimal(by_item["安全保卫"]["rate"]) == (Decimal(12) / 18).quantize(
            Decimal("0.0001")
        )
        assert by_item["绿化养护"]["dissatisfied_rate"] == "0.3529"  # 6 / 17
        assert data["lowest_items"] == ["绿化养护"]
        assert data["most_dissatisfied_items"] == ["绿化养护"]
        assert data["opinions"] == [f"{ROOMS[3]}：电梯维修慢"]
        assert data["charts"][0]["bars"][0] == {"label": "安全保卫", "value": "66.67"}
        # Shown as a table and a bar chart, in Chinese; exported as what the screen shows.
        [rec] = await records(session_factory, h.id, "survey_result", 1)
        app = create_app(settings_factory(session_secret="r8-pages-session-secret-not-default"),
                         session_factory=session_factory)  # fmt: skip
        http = await signed_in_as(app, "cs", "cs-demo")
        try:
            page = await http.get(f"/records/{rec.id}")
            assert page.status_code == 200
            assert "<svg" in page.text and "各项服务满意率" in page.text and "0.5294" in page.text
            assert problems(page.text, ["cs", "bizmgr8", "propmgr"]) == []
            case_page = await http.get(f"/cases/{h.id}")
            assert case_page.status_code == 200 and problems(case_page.text, ["cs"]) == []
            csv = await http.get(f"/export/csv/{rec.id}")
            assert csv.status_code == 200 and "绿化养护" in csv.content.decode("utf-8-sig")
        finally:
            await http.aclose()


async def test_4_6_1e_items_that_fell_since_the_previous_valid_survey_an_invalid_one_ignored(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    now = await env.get_current_time()

    def earlier(case: str, valid: bool, rates: dict[str, tuple[int, int]], days: int) -> Any:
        items = [{"item": i, "satisfied_grades": s, "all_grades": t} for i, (s, t) in rates.items()]
        return models.Record(id=f"{case}/survey_result/9", case_id=case, regulation="satisfaction",
                             kind="survey_result", title="顾客满意度调查统计结果",
                             data={"survey_valid": valid, "item_rates": items}, sha256="0" * 64,
                             created_by="system", created_at=now - timedelta(days=days))  # fmt: skip

    async with session_factory() as s:
        # Half a year ago a valid survey; three months ago an invalid one with higher rates.
        s.add(earlier("satisfaction-old", True, {"安全保卫": (14, 20), "清洁卫生": (16, 20),
                                                 "绿化养护": (10, 20)}, 180))  # fmt: skip
        s.add(earlier("satisfaction-mid", False, {"安全保卫": (20, 20), "清洁卫生": (20, 20),
                                                  "绿化养护": (20, 20)}, 90))  # fmt: skip
        await s.commit()
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_survey(env, queue)
        await approved(h)
        # 18 returns: 安全保卫 12/18 (< 14/20: fell), 清洁卫生 15/18 (> 16/20), 绿化养护 9/18 (= 10/20)
        grades = [["satisfied", "satisfied", "satisfied"]] * 9 + \
                 [["satisfied", "satisfied", "neutral"]] * 3 + \
                 [["neutral", "satisfied", "neutral"]] * 3 + \
                 [["neutral", "dissatisfied", "neutral"]] * 3  # fmt: skip
        await collect(env, h, 18, grades)
        data = await result_of(session_factory, h.id)
        assert data["previous_survey"] == "satisfaction-old"
        assert data["fell_items"] == ["安全保卫"]
        by_item = {r["item"]: r for r in data["item_rates"]}
        assert (by_item["安全保卫"]["previous_rate"], by_item["安全保卫"]["change"]) == (
            "0.7000",
            "-0.0333",
        )
        assert by_item["绿化养护"]["fell"] is False and by_item["绿化养护"]["change"] == "0.0000"
        assert [c["title"] for c in data["charts"]] == [
            "各项服务满意率",
            "与上次有效调查相比的满意率变化",
        ]
        # (六)1/3 the measures: a department carries one out, the center revisits.
        measure = {"item": "安全保卫", "measure": "夜间增加巡逻", "department": "保安部"}
        await complete(h, await open_task(h, "survey_analysis"), CS,
                       data={"findings": "安全保卫满意率下降", "measures": [measure]})  # fmt: skip
        action = await open_task(h, "corrective_action")
        assert (action.role, action.data["item"]) == ("department_head", "安全保卫")
        await complete(h, action, DEPTHEAD, data={"cause": "夜班人手不足", "done": "增加两名夜班"})
        await complete(h, await open_task(h, "measure_revisit"), CS,
                       data={"result": "住户反映夜间安全感提高", "effective": True})  # fmt: skip
        view = await eventually(lambda: state(h), lambda v: v.status == "done")
        assert view.status == "done"


# ---- the complaint register -----------------------------------------------------------------------

COMPLAINT = {"kind": "complaint", "estate": "阳光花园", "complainant": "王先生",
             "complainant_unit": "3-502", "complainant_phone": "13900000000",
             "channel": "phone", "content": "楼道灯坏了三天无人维修", "department": "工程部"}  # fmt: skip


async def start_complaint(env: Any, queue: str) -> Any:
    return await helpers.start_case(env, queue, "satisfaction", COMPLAINT, policy(),
                                    started_by="cs")  # fmt: skip


async def test_8_2_the_complaint_is_registered_in_two_copies_and_the_complainant_contacted_the_same_day(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_complaint(env, queue)
        [register] = await records(session_factory, h.id, "complaint_register", 1)
        assert register.data["complainant"] == "王先生" and register.data["received_by"] == "cs"
        copies = await records(session_factory, h.id, "service_complaint_form", 2)
        assert sorted(c.data["copy"] for c in copies) == [1, 2]
        contact = await open_task(h, "complaint_contact")
        assert (contact.assignee, contact.due_at) == ("cs", end_of_day(contact.created_at))
        classify = await open_task(h, "complaint_classify")
        assert classify.role == "complaint_director"
        # Not contacted by the end of the day: the breach tells the center and the director.
        await sleep_to(env, end_of_day(contact.created_at) + timedelta(minutes=1))
        notes = await eventually_rows(session_factory, models.Notification, None, case_id=h.id)
        overdue = {n.recipient for n in notes if contact.id in n.key and "breach" in n.key}
        assert {"cs", "role:complaint_director"} <= overdue, [n.key for n in notes]
        done = await complete(h, contact, CS, "contacted",
                              {"method": "onsite", "explanation": "已上门查看，当天安排维修"})  # fmt: skip
        assert done.closed_at is not None and done.closed_at > done.due_at


async def test_8_4_the_department_returns_the_slip_in_three_working_days_or_explains(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_complaint(env, queue)
        started = await env.get_current_time()
        await complete(h, await open_task(h, "complaint_contact"), CS, "contacted",
                       {"method": "phone", "explanation": "已电话联系并解释"})  # fmt: skip
        await complete(h, await open_task(h, "complaint_classify"), DIRECTOR, "complaint_valid",
                       {"cause": "维修工单遗漏"})  # fmt: skip
        [analysis] = await records(session_factory, h.id, "complaint_analysis", 1)
        assert analysis.data["classification"] == "complaint_valid"
        handling = await open_task(h, "complaint_handling")
        assert handling.role == "department_head"
        [register] = await records(session_factory, h.id, "complaint_register", 1)
        due, _ = three_working_days(datetime.fromisoformat(register.data["received_at"]))
        assert handling.due_at == due
        # The department cannot return it in time: it explains, the register records it.
        expected = (china(started) + timedelta(days=7)).date()
        await refused(complete(h, handling, DEPTHEAD, "explained",
                               {"delay_reason": "灯具需订货",
                                "expected_on": (expected + timedelta(days=30)).isoformat()}),
                      "Invalid", "expected_on")  # fmt: skip
        await complete(h, handling, DEPTHEAD, "explained",
                       {"delay_reason": "灯具需订货，到货后安装", "expected_on": expected.isoformat()})  # fmt: skip
        [note] = await records(session_factory, h.id, "complaint_explanation", 1)
        assert (
            note.data["delay_reason"].startswith("灯具需订货")
            and note.data["explained_by"] == "depthead"
        )
        again = await open_task(h, "complaint_handling")
        assert again.due_at == end_of_day(datetime.combine(expected, time(12), CHINA_TZ))
        await complete(h, again, DEPTHEAD, "slip_returned",
                       {"handling": "更换灯具", "result": "已修复，住户满意", "cause": "巡检不到位"})  # fmt: skip
        [slip] = await records(session_factory, h.id, "complaint_return", 1)
        assert slip.data["on_time"] is True and slip.data["result"] == "已修复，住户满意"
        view = await eventually(lambda: state(h), lambda v: v.status == "done")
        assert view.status == "done"


def three_working_days(start: datetime) -> tuple[datetime, bool]:
    from workflows.calendar import due_after

    return due_after(helpers.library_calendar(start), start, Deadline(working_days=3))


async def test_8_6_the_previous_month_is_summarised_in_the_first_five_days_reviewed_and_sent(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    now = china(await env.get_current_time())
    first = datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, 9, tzinfo=CHINA_TZ)
    last_month = first.replace(day=1) - timedelta(days=10)

    def rec(case: str, kind: str, data: dict[str, Any], at: datetime) -> Any:
        return models.Record(id=f"{case}/{kind}/1", case_id=case, regulation="satisfaction",
                             kind=kind, title="测试", data=data, sha256="0" * 64,
                             created_by="cs", created_at=at.astimezone(UTC))  # fmt: skip

    async with session_factory() as s:
        for n, (channel, dept, cls, on_time) in enumerate([
            ("phone", "工程部", "complaint_valid", True), ("visit", "工程部", "complaint_valid", False),
            ("phone", "保安部", "complaint_invalid", None)]):  # fmt: skip
            case = f"satisfaction-c{n}"
            s.add(
                rec(
                    case, "complaint_register", {"channel": channel, "department": dept}, last_month
                )
            )
            s.add(rec(case, "complaint_analysis", {"classification": cls}, last_month))
            if on_time is not None:
                s.add(
                    rec(
                        case,
                        "complaint_return",
                        {"on_time": on_time},
                        last_month + timedelta(days=1),
                    )
                )
        # A complaint of this month is not last month's.
        s.add(rec("satisfaction-c9", "complaint_register", {"channel": "fax", "department": "工程部"},
                  first + timedelta(hours=-1) + timedelta(days=40)))  # fmt: skip
        await s.commit()
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        await sleep_to(env, first)
        h = await helpers.start_case(env, queue, "satisfaction",
                                     {"kind": "complaint_summary", "estate": "全部管理处"},
                                     policy(), started_by="system")  # fmt: skip
        write = await open_task(h, "complaint_summary_write")
        assert write.due_at == end_of_day(first.replace(day=5))
        assert write.role == "customer_service"
        await complete(h, write, CS, data={"causes": "维修响应慢", "proposals": "建立维修回访制度"})
        [summary] = await records(session_factory, h.id, "complaint_monthly", 1)
        d = summary.data
        assert (d["received"], d["valid_complaints"], d["invalid_complaints"]) == (3, 2, 1)
        assert (d["slips_returned"], d["returned_on_time"]) == (2, 1)
        assert d["tables"][0]["rows"] == [["phone", 2], ["visit", 1]]
        review = await open_task(h, "complaint_summary_review")
        assert review.role == "office"
        await complete(h, review, OFFICE, "summary_approved", {"note": "同意，发各部门"})
        notes = await eventually_rows(session_factory, models.Notification, None, case_id=h.id)
        sent = await eventually(
            lambda: rows(session_factory, models.Notification, case_id=h.id),
            lambda found: any(n.recipient == "role:department_head" for n in found),
        )
        assert [n.subject for n in sent if n.recipient == "role:department_head"] == [
            f"【投诉月度汇总】{last_month.year} 年 {last_month.month} 月"
        ] and notes


async def test_1_the_managers_service_card_is_recorded(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await helpers.start_case(env, queue, "satisfaction", {
            "kind": "manager_card", "estate": "阳光花园", "manager_name": "冯涛",
            "phone": "0755-88886666", "pager": "191-8888", "email": "fengtao@example.com"},
            policy(), started_by="cs")  # fmt: skip
        [card] = await records(session_factory, h.id, "manager_card", 1)
        assert (card.data["manager_name"], card.data["pager"], card.data["issued_with"]) == (
            "冯涛",
            "191-8888",
            "《业主公约》",
        )


async def test_2_2_a_new_service_item_is_surveyed_only_within_three_months_of_its_launch(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        today = china(await env.get_current_time()).date()
        launched = today - timedelta(days=95)  # more than three months ago
        h = await start_survey(env, queue, occasion="new_item", new_item="代收快递",
                               launched_on=launched.isoformat())  # fmt: skip
        view = await eventually(lambda: state(h), lambda v: v.status == "cancelled")
        assert view.status == "cancelled"
        [passed] = [e.detail for e in view.events if e.kind == "new_item_window_passed"]
        assert passed["item"] == "代收快递"
        assert not [t for t in view.tasks if t.kind == "survey_plan"]


async def test_2_3_a_targeted_survey_after_a_quality_problem_goes_to_every_household_listed(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_survey(env, queue, SatisfactionPolicy(sample_rate=0.1, sample_minimum=1),
                               occasion="quality_problem",
                               quality_problem="3 号楼停水 30 小时")  # fmt: skip
        rooms = ["3-101", "3-102", "3-201", "3-202", "3-301"]
        await complete(h, await open_task(h, "survey_plan"), CS,
                       data={**PLAN, "households": rooms[::-1]})  # fmt: skip
        await complete(h, await open_task(h, "plan_approval"), MANAGER, "approve", {"note": ""})
        await open_task(h, "survey_delivery")
        [sample] = await records(session_factory, h.id, "survey_sample", 1)
        assert sample.data["households"] == rooms and sample.data["sample_rate"] == 1.0
        view = await state(h)
        assert not [e for e in view.events if e.kind == "sampled"]


async def test_8_5_what_cannot_be_solved_soon_is_explained_to_the_complainant(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_complaint(env, queue)
        await complete(h, await open_task(h, "complaint_contact"), CS, "contacted",
                       {"method": "phone", "explanation": "已电话联系"})  # fmt: skip
        await complete(h, await open_task(h, "complaint_classify"), DIRECTOR, "complaint_valid",
                       {"cause": "小区外市政施工噪音"})  # fmt: skip
        await complete(h, await open_task(h, "complaint_handling"), DEPTHEAD, "explained",
                       {"delay_reason": "市政施工，物业无权处理"})  # fmt: skip
        [note] = await records(session_factory, h.id, "complaint_explanation", 1)
        assert note.data["expected_on"] is None
        explain = await open_task(h, "complaint_explain")
        assert (explain.role, explain.assignee) == ("customer_service", "cs")
        await complete(h, explain, CS, "explained_to_customer", {"note": "住户表示理解"})
        view = await eventually(lambda: state(h), lambda v: v.status == "done")
        assert view.status == "done"


async def test_6_2_the_yearly_report_counts_the_years_surveys_and_complaints(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    now = china(await env.get_current_time())
    jan2 = datetime(now.year + 1, 1, 2, 9, tzinfo=CHINA_TZ)
    in_year = datetime(now.year, 6, 30, 12, tzinfo=CHINA_TZ)

    def rec(case: str, kind: str, data: dict[str, Any], at: datetime) -> Any:
        return models.Record(id=f"{case}/{kind}/1", case_id=case, regulation="satisfaction",
                             kind=kind, title="测试", data=data, sha256="0" * 64,
                             created_by="cs", created_at=at.astimezone(UTC))  # fmt: skip

    rates = [{"item": "安全保卫", "satisfied_grades": 9, "all_grades": 10, "rate": "0.9000"}]
    async with session_factory() as s:
        s.add(rec("satisfaction-s1", "survey_result", {"survey_valid": True, "item_rates": rates},
                  in_year))  # fmt: skip
        s.add(rec("satisfaction-s2", "survey_result", {"survey_valid": False, "item_rates": []},
                  in_year + timedelta(days=1)))  # fmt: skip
        for n, cls in enumerate(["complaint_valid", "complaint_valid", "complaint_invalid"]):
            s.add(rec(f"satisfaction-c{n}", "complaint_register", {"channel": "phone"}, in_year))
            s.add(rec(f"satisfaction-c{n}", "complaint_analysis", {"classification": cls}, in_year))
        s.add(rec("satisfaction-c9", "complaint_register", {"channel": "fax"},  # next year's
                  jan2 - timedelta(hours=1)))  # fmt: skip
        await s.commit()
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        await sleep_to(env, jan2)
        h = await helpers.start_case(env, queue, "satisfaction",
                                     {"kind": "yearly_report", "estate": "全部管理处"},
                                     policy(), started_by="system")  # fmt: skip
        write = await open_task(h, "yearly_report_write")
        assert write.due_at == end_of_day(jan2.replace(day=31))
        await complete(h, write, CS, data={"conclusions": "总体满意率稳定",
                                           "measures": "加强夜间巡逻", "other_channels": "业主群反馈"})  # fmt: skip
        [report] = await records(session_factory, h.id, "yearly_report", 1)
        d = report.data
        assert (d["year"], d["surveys"], d["valid_surveys"]) == (now.year, 2, 1)
        assert (d["complaints"], d["valid_complaints"], d["invalid_complaints"]) == (3, 2, 1)
        assert d["tables"][0]["rows"] == [["安全保卫", 9, 10, "0.9000"]]
        view = await eventually(lambda: state(h), lambda v: v.status == "done")
        assert view.status == "done"


async def test_8_4_a_slip_not_returned_in_three_working_days_is_overdue_to_the_center_and_director(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_complaint(env, queue)
        await complete(h, await open_task(h, "complaint_classify"), DIRECTOR, "complaint_valid",
                       {"cause": "保洁排班不足"})  # fmt: skip
        handling = await open_task(h, "complaint_handling")
        assert handling.due_at is not None
        await sleep_to(env, handling.due_at - timedelta(minutes=1))
        notes = await rows(session_factory, models.Notification, case_id=h.id)
        assert not [n for n in notes if handling.id in n.key and "breach" in n.key]
        await sleep_to(env, handling.due_at + timedelta(minutes=1))
        found = await eventually(
            lambda: rows(session_factory, models.Notification, case_id=h.id),
            lambda ns: any(handling.id in n.key and "breach" in n.key for n in ns),
        )
        told = {n.recipient for n in found if handling.id in n.key and "breach" in n.key}
        assert {"role:customer_service", "role:complaint_director"} <= told, told
        # Returned late, the slip says so and the case is still open until the contact is made.
        await complete(h, handling, DEPTHEAD, "slip_returned",
                       {"handling": "增派保洁", "result": "已清理"})  # fmt: skip
        [slip] = await records(session_factory, h.id, "complaint_return", 1)
        assert slip.data["on_time"] is False
        assert (await state(h)).status == "open"
