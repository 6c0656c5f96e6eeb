"""R4 `service-request`: its rules clause by clause, on the time-skipping server with the real
activities writing to a real PostgreSQL. One case per test."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import chinese_calendar
import pytest
from temporalio.client import WorkflowUpdateFailedError

from store import models
from tests import helpers
from tests.helpers import (
    case_worker,
    complete,
    eventually,
    extend,
    open_task,
    records,
    refused,
    rows,
    skip,
    sleep_to,
    state,
)
from workflows.model import CHINA_TZ, Actor
from workflows.regulations.service_request import ENTRY
from workflows.regulations.service_request.forms import (
    ComplaintInput,
    HouseholdVisitInput,
    ServiceRequestPolicy,
    UrgentDelayInput,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

RECEPTIONIST = Actor(id="receptionist", roles=["receptionist"])
SUPERVISOR = Actor(id="supervisor", roles=["supervisor"])
TECH = Actor(id="tech", roles=["technician"])
DEPT_HEAD = Actor(id="depthead", roles=["department_head"])
CENTER_HEAD = Actor(id="centerhead", roles=["center_head"])
DIRECTOR = Actor(id="director", roles=["director"])
AREA = Actor(id="area", roles=["area_manager"])
DRAWING = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
OWNER_SIGNS = [{"signer_name": "陈业主", "method": "drawing", "evidence": DRAWING}]


async def refused_zh(coro: Any, kind: str, text: str) -> str:
    """An update refused with an error of `kind` whose Chinese reason (the pages') holds `text`."""
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await coro
    cause: Any = info.value.cause
    assert cause.type == kind, repr(cause)
    zh = (cause.details[0] if cause.details else {}).get("zh", "")
    assert text in zh, zh
    return str(zh)


def china(dt: datetime) -> datetime:
    return dt.astimezone(CHINA_TZ)


def working_days_between(start: date, end: date) -> int:
    """Independent cross-check with chinese_calendar: working days in (start, end]."""
    count, day = 0, start + timedelta(days=1)
    while day <= end:
        if day.year <= 2026:
            count += chinese_calendar.is_workday(day)
        else:
            count += day.weekday() < 5 and (day.month, day.day) != (1, 1)
        day += timedelta(days=1)
    return count


async def start(env: Any, queue: str, policy: ServiceRequestPolicy | None = None,
                **inp: Any) -> Any:  # fmt: skip
    """An owner's request as the receptionist logs it (1-2-301 陈业主, a leaking tap)."""
    data = {"room": "1-2-301", "owner_name": "陈业主", "owner_phone": "13900000001",
            "content": "厨房水龙头漏水", "category": "water", "source": "oral", **inp}  # fmt: skip
    return await helpers.start_case(
        env, queue, "service-request", data, policy, started_by="receptionist"
    )


async def dispatched(h: Any, service_type: str = "engineering", **form: Any) -> Any:
    """5.1.2 dispatched (to 工程部, or the department of the service); 5.1.3 the supervisor's
    《业主需求处置单》."""
    call = await open_task(h, "dispatch_call")
    department = {"engineering": "工程部", "cleaning_security": "清洁部"}.get(
        service_type, "工程部"
    )
    await complete(h, call, RECEPTIONIST, "to_department",
                   {"department": department, "service_type": service_type})  # fmt: skip
    order = await open_task(h, "order_form")
    await complete(h, order, SUPERVISOR, data={"worker": "tech", **form})
    return order


def repair_order(**extra: Any) -> dict[str, Any]:
    return {
        "work_content": "更换厨房水龙头",
        "materials": [{"name": "水龙头", "quantity": "1"}],
        "started_at": "2026-01-01T00:00:00+08:00",
        "finished_at": "2026-01-01T01:00:00+08:00",
        "total_hours": "1.5",
        "preparation_hours": "0.5",
        **extra,
    }


def at_now(order: dict[str, Any], now: datetime, minutes: int = 60) -> dict[str, Any]:
    return {**order, "started_at": now.isoformat(),
            "finished_at": (now + timedelta(minutes=minutes)).isoformat()}  # fmt: skip


# ---- 5.1 intake ---------------------------------------------------------------------------------


async def test_5_1_2_the_request_is_logged_and_dispatched_to_the_department(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue)
        began = await env.get_current_time()
        [log] = await records(session_factory, h.id, "intake_log", 1)
        assert (log.data["room"], log.data["owner_name"], log.data["content"]) == (
            "1-2-301", "陈业主", "厨房水龙头漏水")  # fmt: skip
        assert (log.category, log.data["source"], log.data["receptionist"]) == (
            "water", "oral", "receptionist")  # fmt: skip
        assert abs(datetime.fromisoformat(log.data["received_at"]) - began) < timedelta(minutes=1)
        call = await open_task(h, "dispatch_call")
        assert (call.role, call.clause) == ("receptionist", "R4 5.1.2")
        assert call.due_at is not None and call.due_at - began <= timedelta(minutes=31)
        await refused(complete(h, call, TECH, "to_department", {"department": "工程部"}),
                      "Forbidden")  # fmt: skip
        await complete(h, call, RECEPTIONIST, "to_department", {"department": "工程部"})
        order = await open_task(h, "order_form")
        assert (order.role, order.clause) == ("supervisor", "R4 5.1.3")
        await complete(h, order, SUPERVISOR, data={"worker": "tech", "requirement": "今日上门"})
        [form] = await records(session_factory, h.id, "order_form", 1)
        assert (form.data["worker"], form.data["job_class"], form.data["room"]) == (
            "tech", "standard", "1-2-301")  # fmt: skip
        job = await open_task(h, "repair")
        assert (job.assignee, job.role) == ("tech", "technician")
        assert (await state(h)).summary["department"] == "工程部"


async def test_5_1_4_beyond_the_centers_ability_the_center_head_decides(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, content="要求改造整层中央空调", category="air_conditioning")
        call = await open_task(h, "dispatch_call")
        await complete(h, call, RECEPTIONIST, "refer", {"reason": "不确定本中心能否改造"})
        decide = await open_task(h, "decide")
        assert (decide.role, decide.clause) == ("center_head", "R4 5.1.4")
        await refused(complete(h, decide, RECEPTIONIST, "decline",
                               {"reason": "x" * 3, "explanation": "y" * 3}), "Forbidden")  # fmt: skip
        await complete(h, decide, CENTER_HEAD, "decline",
                       {"reason": "属开发商保修范围", "explanation": "已请业主联系开发商"})  # fmt: skip
        [note] = await records(session_factory, h.id, "decline_note", 1)
        assert note.data["explanation"] == "已请业主联系开发商"
        notes = await eventually(
            lambda: rows(session_factory, models.Notification, case_id=h.id),
            lambda ns: any("不予受理" in n.subject for n in ns),
        )
        assert any(n.recipient == "receptionist" and "不予受理" in n.subject for n in notes)
        view = await eventually(lambda: state(h), lambda v: v.status == "declined")
        assert view.status == "declined"


async def test_5_1_3_an_emergency_is_worked_at_once_and_the_form_follows(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, content="地下车库跑水", emergency="flooding")
        began = await env.get_current_time()
        work = await open_task(h, "emergency_work")
        assert work.due_at is not None and work.due_at - began <= timedelta(minutes=16)
        form = await open_task(h, "order_form")
        assert form.due_at is not None and form.due_at - began >= timedelta(hours=23)
        view = await state(h)
        assert not [t for t in view.tasks if t.kind == "dispatch_call"]
        # The work past its 15 minutes breaches: the supervisor and the center head are told.
        await skip(env, timedelta(minutes=20))
        notes = await eventually(
            lambda: rows(session_factory, models.Notification, case_id=h.id),
            lambda ns: any("超时" in n.subject for n in ns),
        )
        told = {n.recipient for n in notes if "超时" in n.subject}
        assert {"role:supervisor", "role:center_head"} <= told
        await complete(h, work, TECH, data={"note": "已关闭总阀并抽水"})
        assert not [t for t in (await state(h)).tasks if t.kind == "followup"]
        await complete(h, form, SUPERVISOR, data={"worker": "tech", "requirement": "补单"})
        follow = await open_task(h, "followup")
        assert follow.role == "receptionist"


# ---- 5.2 engineering jobs -----------------------------------------------------------------------


async def test_5_2_1_paid_work_is_priced_from_the_list_and_consented_before_it_starts(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue)
        await dispatched(h, paid=True)
        job = await open_task(h, "repair")
        quote = await open_task(h, "quote")
        assert (quote.assignee, quote.clause) == ("tech", "R4 5.2.1")
        now = await env.get_current_time()
        paid = repair_order(service_lines=[{"code": "P01", "quantity": "2"}],
                            materials=[{"name": "PPR 水管", "code": "P05", "quantity": "1.5"}])  # fmt: skip
        # No work before the owner consented to the fee.
        msg = await refused(complete(h, job, TECH, data=at_now(paid, now),
                                     signatures=OWNER_SIGNS), "Invalid")  # fmt: skip
        assert "5.2.1" in msg
        lines = {"lines": [{"code": "P01", "quantity": "2"}, {"code": "P05", "quantity": "1.5"}],
                 "told_at": now.isoformat()}  # fmt: skip
        await refused(complete(h, quote, TECH, "consented", lines), "Invalid", "signatures")
        await refused(complete(h, quote, TECH, "consented",
                               {**lines, "lines": [{"code": "X9", "quantity": "1"}]},
                               OWNER_SIGNS), "Invalid", "X9")  # fmt: skip
        await complete(h, quote, TECH, "consented", lines, OWNER_SIGNS)
        [consent] = await records(session_factory, h.id, "fee_consent", 1)
        # 2 × (35.00 + 20.00) + 1.5 × 8.80: material 83.20, labour 40.00.
        assert (consent.data["material_fee_yuan"], consent.data["labour_fee_yuan"],
                consent.data["fee_yuan"]) == ("83.20", "40.00", "123.20")  # fmt: skip
        sigs = await rows(session_factory, models.Signature, record_id=consent.id)
        assert [(s.role, s.method) for s in sigs] == [("customer", "drawing")]
        # Work that started before the consent is refused too.
        early = at_now(paid, now - timedelta(hours=1))
        await refused(complete(h, job, TECH, data=early, signatures=OWNER_SIGNS), "Invalid",
                      "R4 5.2.1")  # fmt: skip
        after = await env.get_current_time()
        await complete(h, job, TECH, data=at_now(paid, after), signatures=OWNER_SIGNS)
        [order] = await records(session_factory, h.id, "repair_order", 1)
        assert (order.data["material_fee_yuan"], order.data["labour_fee_yuan"],
                order.data["fee_yuan"], order.data["paid"]) == ("83.20", "40.00", "123.20", True)  # fmt: skip
        assert Decimal(order.data["fee_yuan"]) == Decimal("2") * (
            Decimal("35.00") + Decimal("20.00")
        ) + Decimal("1.5") * Decimal("8.80")
        signed = {(s.role, s.method) for s in
                  await rows(session_factory, models.Signature, record_id=order.id)}  # fmt: skip
        assert signed == {("technician", "staff_login"), ("customer", "drawing")}
        follow = await open_task(h, "followup")
        assert follow.data["fee_yuan"] == "123.20"
        # 6.5 the fee is collected at the follow-up and recorded.
        await complete(h, follow, RECEPTIONIST, "confirmed",
                       {"owner_opinion": "满意", "fee_collected_yuan": "123.20"})  # fmt: skip
        [fee] = await records(session_factory, h.id, "fee_receipt", 1)
        assert (fee.data["fee_due_yuan"], fee.data["collected_yuan"]) == ("123.20", "123.20")


async def test_5_2_3_an_incomplete_or_unsigned_repair_order_is_refused(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue)
        await dispatched(h)
        job = await open_task(h, "repair")
        now = await env.get_current_time()
        good = at_now(repair_order(), now)
        await refused_zh(complete(h, job, TECH, data=good), "Invalid", "需要客户在《维修单》上签字")
        for bad, why in (
            ({**good, "work_content": ""}, "作业内容"),
            ({**good, "total_hours": None}, "总工时"),
            ({**good, "preparation_hours": None}, "准备工时"),
            ({**good, "started_at": None}, "作业开始时间"),
            ({**good, "preparation_hours": "3"}, "准备工时不能超过总工时"),
        ):
            await refused_zh(
                complete(h, job, TECH, data=bad, signatures=OWNER_SIGNS), "Invalid", why
            )
        assert not await rows(session_factory, models.Record, case_id=h.id, kind="repair_order")
        await complete(h, job, TECH, data=good, signatures=OWNER_SIGNS)
        [order] = await records(session_factory, h.id, "repair_order", 1)
        assert (order.data["total_hours"], order.data["preparation_hours"]) == ("1.5", "0.5")
        assert order.data["fee_yuan"] == "0.00" and order.data["paid"] is False


# ---- 5.2.4–5.2.6 time limits --------------------------------------------------------------------


async def test_5_2_4_three_working_days_the_center_head_extends_to_two_weeks_the_director_beyond(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue)
        await dispatched(h)
        job = await open_task(h, "repair")
        opened = job.created_at
        assert job.due_at is not None
        assert working_days_between(china(opened).date(), china(job.due_at).date()) == 3
        assert china(job.due_at).time().replace(microsecond=0) == china(opened).time().replace(
            microsecond=0
        )
        # Not the supervisor's to extend; the center head up to two weeks from the start.
        await refused(extend(h, job, SUPERVISOR, opened + timedelta(days=5), "等配件"),
                      "Forbidden")  # fmt: skip
        done = await extend(h, job, CENTER_HEAD, opened + timedelta(days=10), "等配件到货")
        assert done.extensions[-1].granted_role == "center_head"
        msg = await refused(
            extend(h, job, CENTER_HEAD, opened + timedelta(days=15), "配件缺货"), "Forbidden"
        )
        assert "higher approval" in msg
        done = await extend(h, job, DIRECTOR, opened + timedelta(days=20), "需厂家返修")
        assert (done.extensions[-1].granted_role, done.extensions[-1].granted_by) == (
            "director", "director")  # fmt: skip
        assert done.due_at == opened + timedelta(days=20)
        ext = await eventually(
            lambda: rows(session_factory, models.TaskExtension, task_id=job.id),
            lambda found: len(found) == 2,
        )
        assert {(e.granted_by, e.granted_role) for e in ext} == {
            ("centerhead", "center_head"), ("director", "director")}  # fmt: skip


async def test_5_2_4_an_unsolvable_job_is_returned_with_its_reason_and_the_owner_told(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, content="外墙渗水", category="other")
        await dispatched(h)
        job = await open_task(h, "repair")
        await complete(h, job, TECH, "cannot_fix", {"reason": "外墙结构问题，需开发商处理"})
        ret = await open_task(h, "return_order")
        assert (ret.role, ret.clause) == ("department_head", "R4 5.2.4")
        await refused(complete(h, ret, TECH, "returned", {"reason": "外墙结构问题",
                                                          "explanation": "已解释"}), "Forbidden")  # fmt: skip
        await complete(h, ret, DEPT_HEAD, "returned",
                       {"reason": "外墙结构问题，需开发商处理", "explanation": "已向业主说明并转开发商"})  # fmt: skip
        [rec] = await records(session_factory, h.id, "return_order", 1)
        assert rec.data["explanation"] == "已向业主说明并转开发商"
        sigs = await rows(session_factory, models.Signature, record_id=rec.id)
        assert [(s.signer, s.role) for s in sigs] == [("depthead", "department_head")]
        notes = await eventually(
            lambda: rows(session_factory, models.Notification, case_id=h.id),
            lambda ns: any("退单" in n.subject for n in ns),
        )
        assert any(n.recipient == "role:receptionist" and "退单" in n.subject for n in notes)
        view = await eventually(lambda: state(h), lambda v: v.status == "returned")
        assert view.status == "returned"


async def test_5_2_5_a_24_hour_job_is_delayed_only_by_the_center_head_with_the_owners_consent(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, content="卫生间便池堵塞")
        await dispatched(h, job_class="urgent_24h")
        job = await open_task(h, "repair_24h")
        assert job.due_at is not None and job.due_at - job.created_at == timedelta(hours=24)
        # No ordinary extension: the engine refuses it even to the director.
        await refused(extend(h, job, DIRECTOR, job.due_at + timedelta(hours=4), "x" * 3),
                      "Forbidden")  # fmt: skip

        def delay(actor: Actor, hours: float, consent: bool) -> Any:
            return h.execute_update("urgent_delay", UrgentDelayInput(
                task_id=job.id, actor=actor, new_due=job.due_at + timedelta(hours=hours),
                reason="需更换整段下水管", owner_consent=consent,
                consent_note="业主电话同意" if consent else ""), result_type=str)  # fmt: skip

        await refused_zh(delay(CENTER_HEAD, 24, False), "Invalid", "业主的同意")
        await refused(delay(SUPERVISOR, 24, True), "Forbidden")
        await refused_zh(delay(CENTER_HEAD, 24 * 8, True), "Forbidden", "最迟只能延至")
        assert await delay(CENTER_HEAD, 24, True) == "delayed"
        moved = await open_task(h, "repair_24h")
        assert moved.due_at == job.due_at + timedelta(hours=24)
        [rec] = await records(session_factory, h.id, "delay_approval", 1)
        assert (rec.data["owner_consent"], rec.data["consent_note"]) == (True, "业主电话同意")
        sigs = await rows(session_factory, models.Signature, record_id=rec.id)
        assert [(s.signer, s.role) for s in sigs] == [("centerhead", "center_head")]


async def test_5_2_5_lamps_and_door_locks_within_one_working_day(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, content="入户门锁坏", category="security")
        await dispatched(h, job_class="working_day")
        job = await open_task(h, "repair_workday")
        assert job.due_at is not None
        assert working_days_between(china(job.created_at).date(), china(job.due_at).date()) == 1
        assert (job.due_at - job.created_at) >= timedelta(hours=24)
        await refused(extend(h, job, CENTER_HEAD, job.due_at + timedelta(hours=4), "x" * 3),
                      "Forbidden")  # fmt: skip


async def test_5_2_6_internal_work_is_due_when_the_department_head_agreed(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, room="中心机房", owner_name="物业服务中心",
                        content="内部设备：水泵异响", source="staff_noticed")  # fmt: skip
        await dispatched(h, job_class="internal")
        agree = await open_task(h, "agree_deadline")
        assert (agree.role, agree.clause) == ("department_head", "R4 5.2.6")
        now = await env.get_current_time()
        agreed = (now + timedelta(days=6)).replace(microsecond=0)
        await complete(h, agree, DEPT_HEAD, "agreed", {"due_at": agreed.isoformat()})
        job = await open_task(h, "repair_internal")
        assert (job.due_at, job.assignee) == (agreed, "tech")


# ---- 6.1 follow-up, 6.2 chasing, 6.5 fees ------------------------------------------------------


async def test_6_1_when_the_owners_account_differs_the_area_manager_goes_at_once(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue)
        await dispatched(h)
        job = await open_task(h, "repair")
        now = await env.get_current_time()
        await complete(h, job, TECH, data=at_now(repair_order(), now), signatures=OWNER_SIGNS)
        follow = await open_task(h, "followup")
        assert (follow.role, follow.clause) == ("receptionist", "R4 6.1")
        await complete(h, follow, RECEPTIONIST, "differs",
                       {"owner_account": "业主说水龙头仍在滴水"})  # fmt: skip
        [note] = await records(session_factory, h.id, "followup_note", 1)
        assert note.data["owner_account"] == "业主说水龙头仍在滴水"
        check_task = await open_task(h, "site_check")
        assert check_task.role == "area_manager" and check_task.due_at is not None
        assert check_task.due_at - check_task.created_at == timedelta(hours=2)
        await refused(complete(h, check_task, RECEPTIONIST, data={"finding": "仍滴水"}),
                      "Forbidden")  # fmt: skip
        await complete(h, check_task, AREA,
                       data={"finding": "阀芯未拧紧，仍滴水", "action": "通知工程部返修"})  # fmt: skip
        [site] = await records(session_factory, h.id, "site_check", 1)
        assert site.data["finding"] == "阀芯未拧紧，仍滴水"
        view = await eventually(lambda: state(h), lambda v: v.status == "done")
        assert view.status == "done"


async def test_6_2_no_completion_report_in_time_the_receptionist_chases_and_the_supervisor_is_told(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue)
        await dispatched(h)
        job = await open_task(h, "repair")
        assert job.due_at is not None
        await sleep_to(env, job.due_at + timedelta(minutes=1))
        chase = await open_task(h, "chase")
        assert (chase.role, chase.clause) == ("receptionist", "R4 6.2")
        notes = await eventually(
            lambda: rows(session_factory, models.Notification, case_id=h.id),
            lambda ns: any("超时" in n.subject and n.recipient == "role:supervisor" for n in ns),
        )
        told = {n.recipient for n in notes if "超时" in n.subject}
        assert {"role:supervisor", "role:receptionist"} <= told
        await complete(h, chase, RECEPTIONIST, "chased",
                       {"department_reply": "配件明天到", "reported_to": "supervisor"})  # fmt: skip
        [log] = await records(session_factory, h.id, "chase_log", 1)
        assert (log.category, log.data["department_reply"]) == ("water", "配件明天到")
        now = await env.get_current_time()
        await complete(h, job, TECH, data=at_now(repair_order(), now), signatures=OWNER_SIGNS)
        done = await eventually(
            lambda: rows(session_factory, models.Task, id=job.id), lambda ts: ts[0].status == "done"
        )
        assert done[0].breached_at is not None and done[0].closed_at > done[0].due_at


# ---- 6.3 the monthly report; 8 household visits -------------------------------------------------


def next_first_at_nine(now: datetime) -> datetime:
    local = china(now)
    first = local.date().replace(day=1)
    first = first.replace(month=first.month % 12 + 1, year=first.year + (first.month == 12))
    return datetime.combine(first, time(9), CHINA_TZ)


async def last_month_on_file(session_factory: Any, month_start: datetime) -> None:
    """What last month left in the database: four requests (two on water), two jobs (one late),
    a fee collected, three household visits (two handled), two complaints (one valid)."""
    at = month_start - timedelta(days=10)
    case = "service-request-lastmonth"

    def record(n: int, kind: str, category: str | None, **data: Any) -> models.Record:
        return models.Record(id=f"{case}/{kind}/{n}", case_id=case, regulation="service-request",
                             kind=kind, title=kind, category=category, data=data, sha256="0" * 64,
                             created_by="receptionist", created_at=at)  # fmt: skip

    def task(n: int, late: bool) -> models.Task:
        return models.Task(id=f"{case}/t{n}", case_id=case, regulation="service-request",
                           role="technician", title="维修", clause="R4 5.2.4", kind="repair",
                           status="done", due_at=at, created_at=at - timedelta(days=3),
                           closed_at=at + timedelta(hours=5 if late else -5))  # fmt: skip

    async with session_factory() as s:
        for n, cat in enumerate(("water", "water", "power_lighting", "cleaning"), 1):
            s.add(record(n, "intake_log", cat))
        s.add(record(5, "fee_receipt", "water", collected_yuan="123.20"))
        s.add(record(6, "fee_receipt", "water", collected_yuan="35.50"))
        for n, cat in ((7, "handled"), (8, "handled"), (9, "pending")):
            s.add(record(n, "household_visit", cat))
        s.add(record(10, "complaint", "valid"))
        s.add(record(11, "complaint", "invalid"))
        s.add(record(12, "intake_log", "water"))
        s.add(task(1, late=False))
        s.add(task(2, late=True))
        await s.commit()


async def test_6_3_the_monthly_report_on_the_first_covers_the_month_before(
    ts_env, session_factory, clean_db, settings_factory
):
    assert ENTRY.schedules[0].cron == "0 9 1 * *"  # 09:00 on the 1st, China time
    assert ENTRY.schedules[0].input == {"case_type": "month"}
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        first = next_first_at_nine(await env.get_current_time())
        month_start = first.replace(hour=0)
        await last_month_on_file(session_factory, month_start)
        await sleep_to(env, first)
        policy = ServiceRequestPolicy(households=100)
        h = await helpers.start_case(env, queue, "service-request", {"case_type": "month"},
                                     policy, started_by="system")  # fmt: skip
        energy = await open_task(h, "energy")
        assert (energy.role, energy.clause) == ("receptionist", "R4 6.3")
        await complete(h, energy, RECEPTIONIST, data={
            "rows": [{"meter": "总水表", "kind": "water", "usage": "1520.5", "unit": "吨"},
                     {"meter": "总电表", "kind": "power", "usage": "88000", "unit": "千瓦时"}],
            "commissions": "代收快递 12 件"})  # fmt: skip
        [rep] = await records(session_factory, h.id, "monthly_report", 1)
        assert china(rep.created_at).date() == first.date()
        d = rep.data
        assert d["period_start"][:10] == (month_start - timedelta(days=1)).strftime("%Y-%m-01")
        assert d["services_by_category"] == {"water": 3, "power_lighting": 1, "cleaning": 1}
        assert (d["jobs_due"], d["jobs_on_time"], d["on_time_rate"]) == (2, 1, "0.5000")
        assert d["fees_collected_yuan"] == "158.70"
        assert (d["complaints"], d["valid_complaints"], d["valid_complaint_rate"]) == (
            2, 1, "0.0100")  # fmt: skip
        assert d["valid_complaint_ok"] is True
        assert (d["household_visits"], d["visits_handled"]) == (3, 2)
        assert d["revisit_handling_rate"] == "0.6667" and d["revisit_handling_ok"] is False
        assert [r["meter"] for r in d["energy"]] == ["总水表", "总电表"]
        notes = await eventually(
            lambda: rows(session_factory, models.Notification, case_id=h.id),
            lambda ns: any("月报表" in n.subject for n in ns),
        )
        assert {"role:center_head", "role:director"} <= {
            n.recipient for n in notes if "月报表" in n.subject}  # fmt: skip


async def test_8_2_the_household_visit_quota_and_its_breach_at_month_end(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        first = next_first_at_nine(await env.get_current_time())
        await sleep_to(env, first)
        policy = ServiceRequestPolicy(director_visits=2, area_manager_visits=3)
        h = await helpers.start_case(env, queue, "service-request", {"case_type": "month"},
                                     policy, started_by="system")  # fmt: skip
        quota = await eventually(
            lambda: state(h), lambda v: len([t for t in v.tasks if t.kind == "visit_quota"]) == 2
        )
        tasks = {t.assignee: t for t in quota.tasks if t.kind == "visit_quota"}
        assert set(tasks) == {"director", "area"}
        assert (tasks["director"].role, tasks["area"].role) == ("director", "area_manager")
        month_end = datetime.combine(
            (first + timedelta(days=32)).date().replace(day=1), time(0), CHINA_TZ)  # fmt: skip
        assert tasks["area"].due_at == month_end

        def visit(actor: Actor, n: int, **extra: Any) -> Any:
            return h.execute_update("household_visit", HouseholdVisitInput(
                actor=actor, room=f"3-1-{n:03d}", owner_name=f"业主{n}",
                visited_on=first.date(), opinions="电梯偶有异响", **extra), result_type=int)  # fmt: skip

        assert await visit(DIRECTOR, 1) == 1
        await refused_zh(complete(h, tasks["director"], DIRECTOR), "Invalid", "尚未达到 2 家")
        assert await visit(DIRECTOR, 2, answered=False,
                           reply_by=(first + timedelta(days=2)).isoformat()) == 2  # fmt: skip
        await complete(h, tasks["director"], DIRECTOR)
        assert await visit(AREA, 3) == 1
        await refused(visit(RECEPTIONIST, 4), "Forbidden")
        [*visits] = await records(session_factory, h.id, "household_visit", 3)
        assert {v.category for v in visits} == {"handled"}
        await sleep_to(env, month_end + timedelta(minutes=5))
        notes = await eventually(
            lambda: rows(session_factory, models.Notification, case_id=h.id),
            lambda ns: any("超时" in n.subject for n in ns),
        )
        breached = [n for n in notes if "超时" in n.subject and "登门回访" in n.subject]
        assert {n.recipient for n in breached} == {"area", "role:center_head"}
        await sleep_to(env, month_end + timedelta(hours=2))
        [summary] = await records(session_factory, h.id, "visit_summary", 1)
        assert summary.data["visits"] == {"director": 2, "area": 1}
        # 5.2.3 / 6.5 the month's forms not yet reviewed and settled: the month stays open,
        # and the late paperwork is called out to the center head.
        view = await eventually(
            lambda: state(h), lambda v: "month_waiting" in {e.kind for e in v.events}
        )
        assert view.status != "done"
        paperwork = {t.kind: t for t in view.tasks if t.status == "open"
                     and t.kind in ("cost_review", "settlement")}  # fmt: skip
        assert {k: (t.role, t.clause, t.due_at) for k, t in paperwork.items()} == {
            "cost_review": ("department_head", "R4 5.2.3", month_end),
            "settlement": ("receptionist", "R4 6.5", month_end),
        }
        await refused(complete(h, paperwork["settlement"], RECEPTIONIST, "handed_over",
                               {"forms": 12, "fees_yuan": "-1", "received_by": "赵会计"}),
                      "Invalid", "fees_yuan")  # fmt: skip
        await refused(complete(h, paperwork["cost_review"], RECEPTIONIST, "reviewed",
                               {"forms": 12, "received_by": "接待员"}), "Forbidden")  # fmt: skip
        await complete(h, paperwork["cost_review"], DEPT_HEAD, "reviewed",
                       {"forms": 12, "fees_yuan": "158.70", "received_by": "前台 吴芳"})  # fmt: skip
        assert (await state(h)).status != "done"
        await complete(h, paperwork["settlement"], RECEPTIONIST, "handed_over",
                       {"forms": 12, "fees_yuan": "158.70", "received_by": "财务部 赵会计"})  # fmt: skip
        [settled] = await records(session_factory, h.id, "settlement", 1)
        assert (settled.data["forms"], settled.data["fees_yuan"]) == (12, "158.70")
        sigs = await rows(session_factory, models.Signature, record_id=settled.id)
        assert [(s.signer, s.role) for s in sigs] == [("receptionist", "receptionist")]
        view = await eventually(lambda: state(h), lambda v: v.status == "done")
        assert view.status == "done"


def month_end_after(first: datetime) -> datetime:
    """00:00 China time of the 1st of the month after `first`'s."""
    return datetime.combine((first + timedelta(days=32)).date().replace(day=1), time(0), CHINA_TZ)


async def test_8_1_a_complaint_is_investigated_the_same_day_decided_by_the_director_and_answered_in_writing(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        first = next_first_at_nine(await env.get_current_time())
        await sleep_to(env, first)
        h = await helpers.start_case(env, queue, "service-request", {"case_type": "month"},
                                     started_by="system")  # fmt: skip

        def log(n: int, valid: bool, actor: Actor = RECEPTIONIST) -> Any:
            return h.execute_update("complaint", ComplaintInput(
                actor=actor, room=f"5-1-{n:03d}", content=f"楼道灯坏了一周无人修（{n}）",
                valid=valid), result_type=int)  # fmt: skip

        await refused(log(1, True, TECH), "Forbidden")
        assert await log(1, True) == 1
        [register] = await records(session_factory, h.id, "complaint", 1)
        assert register.category == "valid"
        # 8(一)3 investigated and verified the same day, by the front desk.
        inv = await open_task(h, "complaint_investigate")
        assert (inv.role, inv.clause) == ("receptionist", "R4 8(一)3")
        assert inv.due_at == datetime.combine(first.date() + timedelta(days=1), time(0), CHINA_TZ)
        await refused(complete(h, inv, TECH, "reported",
                               {"findings": "灯管老化", "proposal": "更换"}), "Forbidden")  # fmt: skip
        await refused(complete(h, inv, RECEPTIONIST, "reported", {"findings": "灯管老化"}),
                      "Invalid", "proposal")  # fmt: skip
        await complete(h, inv, RECEPTIONIST, "reported",
                       {"findings": "5-1 楼道灯管老化，工程部未接到报修", "proposal": "工程部当天更换"})  # fmt: skip
        [found] = await records(session_factory, h.id, "complaint_findings", 1)
        assert found.data["findings"].startswith("5-1 楼道灯管老化")
        # ... the director decides the handling and names the responsible department.
        decide = await open_task(h, "complaint_decide")
        assert (decide.role, decide.assignee, decide.clause) == (
            "director",
            "director",
            "R4 8(一)3",
        )
        assert working_days_between(first.date(), china(decide.due_at).date()) == 1
        # a complaint explained to the owner's satisfaction ends there: nothing for the director
        assert await log(2, False) == 2
        inv2 = await open_task(h, "complaint_investigate")
        await complete(h, inv2, RECEPTIONIST, "explained", {"explanation": "已说明灯具属业主自装"})
        view = await state(h)
        assert [t.kind for t in view.tasks if t.status == "open" and t.kind == "complaint_decide"] \
            == ["complaint_decide"]  # fmt: skip
        assert "complaint_explained" in {e.kind for e in view.events}
        await refused(complete(h, decide, RECEPTIONIST, "assigned",
                               {"decision": "更换灯管", "department": "工程部"}), "Forbidden")  # fmt: skip
        await complete(h, decide, DIRECTOR, "assigned",
                       {"decision": "工程部当天更换灯管并检查整栋楼道照明", "department": "工程部"})  # fmt: skip
        [decision] = await records(session_factory, h.id, "complaint_decision", 1)
        assert decision.data["department"] == "工程部"
        # 8(一)6 the responsible department handles it and replies to the owner in writing.
        reply = await open_task(h, "complaint_reply")
        assert (reply.role, reply.clause) == ("department_head", "R4 8(一)6")
        assert working_days_between(first.date(), china(reply.due_at).date()) == 3
        answer = {"result": "已更换 5-1 全部楼道灯管", "reply": "您反映的楼道照明问题已处理完毕",
                  "replied_on": first.date().isoformat()}  # fmt: skip
        await refused(complete(h, reply, TECH, "replied", answer), "Forbidden")
        await complete(h, reply, DEPT_HEAD, "replied", answer)
        [written] = await records(session_factory, h.id, "complaint_reply", 1)
        assert (written.data["reply"], written.data["department"]) == (
            "您反映的楼道照明问题已处理完毕", "工程部")  # fmt: skip
        sigs = await rows(session_factory, models.Signature, record_id=written.id)
        assert [(s.signer, s.role) for s in sigs] == [("depthead", "department_head")]
        notes = await eventually(
            lambda: rows(session_factory, models.Notification, case_id=h.id),
            lambda ns: any("投诉已书面回复" in n.subject for n in ns),
        )
        assert {n.recipient for n in notes if "投诉已书面回复" in n.subject} == {"director"}
        # A complaint logged late on the month's last day is still in hand when the month ends:
        # the month waits for it, and a complaint after the end belongs to the next month.
        month_end = month_end_after(first)
        await sleep_to(env, month_end - timedelta(hours=2))
        assert await log(3, True) == 3
        await sleep_to(env, month_end + timedelta(hours=2))
        view = await eventually(
            lambda: state(h), lambda v: "month_waiting" in {e.kind for e in v.events}
        )
        assert view.status != "done"
        await refused(log(4, True), "Invalid", "this month is over")
        inv3 = await open_task(h, "complaint_investigate")
        await complete(h, inv3, RECEPTIONIST, "explained", {"explanation": "已当面解释"})
        assert (await state(h)).status != "done"  # the month's forms are not settled yet
        for kind, actor, outcome in (("cost_review", DEPT_HEAD, "reviewed"),
                                     ("settlement", RECEPTIONIST, "handed_over")):  # fmt: skip
            task = await open_task(h, kind)
            await complete(h, task, actor, outcome, {"forms": 0, "received_by": "财务部 赵会计"})
        view = await eventually(lambda: state(h), lambda v: v.status == "done")
        assert view.status == "done"


# ---- 5.3 cleaning and security services, 5.4 special contractors --------------------------------


async def test_5_3_1_a_paid_service_needs_a_written_agreement_and_returns_two_days_before_month_end(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, content="地毯深度清洗（有偿）", category="cleaning")
        await dispatched(h, service_type="cleaning_security")
        agree = await open_task(h, "agree_service")
        assert (agree.role, agree.clause) == ("supervisor", "R4 5.3.1")
        now = await env.get_current_time()
        terms = {"agreed_at": (now + timedelta(days=2)).isoformat(), "requirements": "周六上午",
                 "by_agreement": True, "fee_agreed_yuan": "300"}  # fmt: skip
        await refused_zh(complete(h, agree, SUPERVISOR, "agreed", terms), "Invalid", "书面协议")
        await complete(h, agree, SUPERVISOR, "agreed", {**terms, "agreement_no": "XY-2026-018"})
        report = await open_task(h, "service_report")
        assert report.role == "department_head" and report.due_at is not None
        local = china(now).date()
        nxt = local.replace(day=1, month=local.month % 12 + 1,
                            year=local.year + (local.month == 12))  # fmt: skip
        last_day = nxt - timedelta(days=1)
        assert china(report.due_at).date() - timedelta(days=1) == last_day - timedelta(days=2)
        done = {"work_content": "客厅地毯深度清洗", "total_hours": "3", "workers": "清洁班 2 人"}
        await refused_zh(complete(h, report, DEPT_HEAD, data=done), "Invalid", "协议复印件")
        await complete(h, report, DEPT_HEAD, data={**done, "agreement_copy_attached": True})
        [order] = await records(session_factory, h.id, "service_order", 1)
        assert order.data["workers"] == "清洁班 2 人"
        sigs = await rows(session_factory, models.Signature, record_id=order.id)
        assert [(s.signer, s.role) for s in sigs] == [("depthead", "department_head")]
        assert (await open_task(h, "followup")).role == "receptionist"


async def test_5_3_2_pre_move_in_cleaning_is_due_the_same_day_delays_and_cancellations_the_center_heads(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, content="入住前开荒清洁", category="cleaning")
        await dispatched(h, service_type="cleaning_security")
        now = await env.get_current_time()
        agree = await open_task(h, "agree_service")
        await complete(h, agree, SUPERVISOR, "agreed", {
            "agreed_at": now.isoformat(), "requirements": "全屋", "pre_move_in": True})  # fmt: skip
        report = await open_task(h, "service_report")
        assert report.due_at is not None
        assert china(report.due_at - timedelta(seconds=1)).date() == china(now).date()
        # The owner asks for another day: only the center head signs the delay off.
        later = report.due_at + timedelta(days=1)
        await refused(extend(h, report, DEPT_HEAD, later, "业主要求改期"), "Forbidden")
        moved = await extend(h, report, CENTER_HEAD, later, "业主要求改期")
        assert moved.extensions[-1].granted_role == "center_head"
        await complete(h, report, DEPT_HEAD, "cannot_serve", {"reason": "业主装修未完成，无法实施"})
        cancel = await open_task(h, "cancel_service")
        assert (cancel.role, cancel.clause) == ("center_head", "R4 5.3.2")
        await complete(h, cancel, CENTER_HEAD, "returned",
                       {"reason": "装修未完成", "explanation": "已向业主解释，完工后再约"})  # fmt: skip
        [ret] = await records(session_factory, h.id, "return_order", 1)
        sigs = await rows(session_factory, models.Signature, record_id=ret.id)
        assert [(s.signer, s.role) for s in sigs] == [("centerhead", "center_head")]
        view = await eventually(lambda: state(h), lambda v: v.status == "returned")
        assert view.status == "returned"


async def test_5_4_a_special_contractor_job_keeps_its_evaluation_and_the_requester_signs(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, content="更换客厅窗帘", category="other")
        await dispatched(h, service_type="contractor")
        job = await open_task(h, "contractor_job")
        assert (job.role, job.clause) == ("supervisor", "R4 5.4")
        data = {"contractor": "美家窗饰", "evaluation": "资质齐全，上年度评审合格",
                "work_content": "更换客厅遮光窗帘"}  # fmt: skip
        await refused_zh(complete(h, job, SUPERVISOR, data=data), "Invalid", "签字")
        await complete(h, job, SUPERVISOR, data=data, signatures=OWNER_SIGNS)
        [rec] = await records(session_factory, h.id, "contractor_order", 1)
        assert rec.data["evaluation"] == "资质齐全，上年度评审合格"
        sigs = await rows(session_factory, models.Signature, record_id=rec.id)
        assert {(s.role, s.method) for s in sigs} == {
            ("supervisor", "staff_login"), ("customer", "drawing")}  # fmt: skip
        assert (await open_task(h, "followup")).role == "receptionist"
