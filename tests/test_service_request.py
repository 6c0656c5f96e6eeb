"""R4 `service-request`: its rules clause by clause, on the time-skipping server with the real
activities writing to a real PostgreSQL. One case per test."""

from __future__ import annotations

from datetime import date, datetime, timedelta
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
    open_task,
    records,
    refused,
    rows,
    skip,
    state,
)
from workflows.model import CHINA_TZ, Actor
from workflows.regulations.service_request.forms import ServiceRequestPolicy

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


async def dispatched(h: Any, **form: Any) -> Any:
    """5.1.2 dispatched to 工程部; 5.1.3 the supervisor's 《业主需求处置单》."""
    call = await open_task(h, "dispatch_call")
    await complete(h, call, RECEPTIONIST, "to_department", {"department": "工程部"})
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
