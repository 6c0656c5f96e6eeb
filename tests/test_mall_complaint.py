"""R11 `mall-complaint` — 商场商铺客户投诉处理管理规定: each clause on the time-skipping server, with
the real activities writing to a real PostgreSQL. One case per test."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from store import models
from tests import helpers
from tests.helpers import (
    case_worker,
    complete,
    eventually,
    eventually_rows,
    open_task,
    penalties,
    records,
    refused,
    rows,
    skip,
    state,
)
from workflows.calendar import month_day_on_or_after
from workflows.model import Actor
from workflows.regulations import REGISTRY
from workflows.regulations.mall_complaint.clauses import last_month
from workflows.regulations.mall_complaint.forms import MallComplaintInput

pytestmark = pytest.mark.asyncio(loop_scope="session")

MALL = Actor(id="mallmgmt", roles=["mall_management"])
CS = Actor(id="cs", roles=["customer_service"])
GM = Actor(id="gm", roles=["general_manager"])
HR = Actor(id="hr", roles=["hr"])
FINANCE = Actor(id="finance", roles=["finance"])
DEPTHEAD = Actor(id="depthead", roles=["department_head"])

REPLY = {
    "cause": "空调冷凝水管堵塞，滴水到顾客身上",
    "responsibility": "merchant",
    "responsible": "星巴克（A-108）",
    "decision": "商户赔礼道歉并赠送饮品券，工程部当日疏通",
    "handling": "onsite_repair",
    "improvement": "每月检查一次冷凝水管",
}


async def start(env: Any, queue: str, **inp: Any) -> Any:
    complaint = MallComplaintInput(
        shop="星巴克（A-108）", customer_name="王女士", phone="13900000000",
        subject="空调滴水", content="在 A-108 门口被空调水滴到", **inp,
    )  # fmt: skip
    return await helpers.start_case(env, queue, "mall-complaint", complaint, started_by="frontdesk")


async def accepted(h: Any, data: dict[str, Any] | None = None) -> Any:
    """二.1 商管部 accepts; the accepted task."""
    return await complete(h, await open_task(h, "accept"), MALL, "taken_up", data or {})


async def case_status(session_factory: Any, case_id: str, status: str = "closed") -> str:
    found = await eventually(
        lambda: rows(session_factory, models.Case, id=case_id),
        lambda cs: bool(cs) and cs[0].status == status,
    )
    return str(found[0].status)


async def test_3_1_reply_within_24_hours_of_the_acceptance(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue)
        [intake] = await records(session_factory, h.id, "mall_complaint_intake", 1)
        assert (
            intake.data["shop"] == "星巴克（A-108）" and intake.data["received_by"] == "frontdesk"
        )
        accept = await open_task(h, "accept")
        assert (accept.role, accept.clause) == ("mall_management", "R11 二.1")
        assert not [t for t in (await state(h)).tasks if t.kind == "reply"]
        await skip(env, timedelta(hours=1))
        done = await accepted(h, {"handler": "董丽"})
        reply = await open_task(h, "reply")
        # 三.1 the 24 hours count from the acceptance, not from the intake.
        assert reply.due_at == done.closed_at + timedelta(hours=24)
        assert (reply.role, reply.clause) == ("mall_management", "R11 三.1")
        await refused(complete(h, reply, CS, "replied", REPLY), "Forbidden")
        await skip(env, timedelta(hours=23))
        await complete(h, reply, MALL, "replied", REPLY)
        [handling] = await records(session_factory, h.id, "mall_complaint_handling", 1)
        assert (
            handling.data["cause"] == REPLY["cause"]
            and handling.data["handling"] == "onsite_repair"
        )
        close = await open_task(h, "close")
        assert close.role == "customer_service"
        await complete(h, close, CS, "case_closed", {"effect_confirmed": True})
        assert await case_status(session_factory, h.id) == "closed"
        [case] = await rows(session_factory, models.Case, id=h.id)
        assert case.summary["replied_late"] is False and case.summary["urges"] == 0
        assert not await rows(session_factory, models.Record, case_id=h.id, kind="urge_note")
        assert not await rows(session_factory, models.Record, case_id=h.id, kind="qiaoban_note")


async def test_3_2_a_case_specific_deadline_set_at_acceptance(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue)
        now = await env.get_current_time()
        await refused(
            complete(h, await open_task(h, "accept"), MALL, "taken_up",
                     {"case_deadline": (now - timedelta(hours=1)).isoformat()}),
            "Invalid", "case_deadline",
        )  # fmt: skip
        by = (now + timedelta(hours=72)).replace(microsecond=0)
        await accepted(h, {"case_deadline": by.isoformat(), "note": "需厂家上门更换配件"})
        reply = await open_task(h, "reply")
        assert reply.due_at == by and reply.clause == "R11 三.2"
        # No urge note within the case's own deadline, past 24 hours.
        await skip(env, timedelta(hours=48))
        assert (await state(h)).summary["urges"] == 0
        await skip(env, timedelta(hours=25))
        [urge] = await records(session_factory, h.id, "urge_note", 1)
        assert urge.data["urge_count"] == 1


async def test_5_the_urge_note_repeats_while_the_case_is_overdue(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue)
        await accepted(h)
        reply = await open_task(h, "reply")
        await skip(env, timedelta(hours=23))
        assert not await rows(session_factory, models.Record, case_id=h.id, kind="urge_note")
        await skip(env, timedelta(hours=2))
        [first] = await records(session_factory, h.id, "urge_note", 1)
        assert first.title == "《催办单》" and first.data["urge_count"] == 1
        notes = await eventually(
            lambda: rows(session_factory, models.Notification, case_id=h.id),
            lambda found: any(n.key.startswith(f"{h.id}/urge/1") for n in found),
        )
        [note] = [n for n in notes if n.key.startswith(f"{h.id}/urge/1")]
        assert note.recipient == "role:mall_management" and "催办单" in note.subject
        await skip(env, timedelta(hours=24))
        urges = await records(session_factory, h.id, "urge_note", 2)
        assert sorted(u.data["urge_count"] for u in urges) == [1, 2]
        await complete(h, reply, MALL, "replied", REPLY)
        await skip(env, timedelta(hours=48))
        assert len(await rows(session_factory, models.Record, case_id=h.id, kind="urge_note")) == 2
        assert (await state(h)).summary["urges"] == 2


async def test_5_a_case_closed_late_gets_a_qiaoban_note_and_its_answer_is_recorded(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue)
        await accepted(h)
        await skip(env, timedelta(hours=30))
        await complete(h, await open_task(h, "reply"), MALL, "replied", REPLY)
        await complete(
            h, await open_task(h, "close"), CS, "case_closed", {"effect_confirmed": True}
        )
        [note] = await records(session_factory, h.id, "qiaoban_note", 1)
        assert note.title == "《洽办单》" and note.data["late_hours"] >= 5
        explain = await open_task(h, "explain_delay")
        assert (explain.role, explain.clause) == ("mall_management", "R11 五")
        assert (await state(h)).status == "open"
        await complete(h, explain, MALL, "cause_given",
                       {"cause": "配件缺货，厂家次日才到", "measures": "常用配件备库"})  # fmt: skip
        [answer] = await records(session_factory, h.id, "qiaoban_reply", 1)
        assert answer.data["cause"] == "配件缺货，厂家次日才到"
        assert await case_status(session_factory, h.id) == "closed"
        [case] = await rows(session_factory, models.Case, id=h.id)
        assert case.summary["replied_late"] is True


async def closed_complaints(session_factory: Any, now: datetime) -> list[str]:
    """Last month two complaints closed (one late), this month one; and a case of another
    regulation last month: the review lists the first two only."""
    start, end = last_month(now)
    ids = []
    async with session_factory() as s:
        for i, (closed, late, reg) in enumerate([
            (start + timedelta(days=3), False, "mall-complaint"),
            (end - timedelta(hours=2), True, "mall-complaint"),
            (end + timedelta(hours=2), False, "mall-complaint"),
            (start + timedelta(days=5), False, "revisit"),
        ]):  # fmt: skip
            cid = f"mc-seed-{i}-{now.timestamp():.0f}"
            s.add(models.Case(id=cid, regulation=reg, title=f"商铺投诉 {i}", status="closed",
                              started_at=closed - timedelta(days=1), updated_at=closed,
                              closed_at=closed, input={}, policy={},
                              summary={"kind": "complaint", "replied_late": late, "urges": int(late),
                                       "responsibility": "merchant", "responsible": "A-108"}))  # fmt: skip
            ids.append(cid)
        await s.commit()
    return ids[:2]


async def test_4_the_review_before_the_10th_with_the_gm_approval_and_three_acknowledged_copies(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    [duty] = REGISTRY["mall-complaint"].schedules
    assert duty.cron == "0 9 1 * *" and duty.input == {"case_kind": "review"}
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        now = await env.get_current_time()
        listed = await closed_complaints(session_factory, now)
        h = await helpers.start_case(env, queue, "mall-complaint",
                                     MallComplaintInput(case_kind="review"), started_by="system")  # fmt: skip
        review = await open_task(h, "review")
        assert (review.role, review.clause) == ("customer_service", "R11 四.1")
        assert review.due_at == month_day_on_or_after(now, 10)
        [found] = await records(session_factory, h.id, "closed_complaints", 1)
        assert [c["case"] for c in found.data["cases"]] == listed and found.data["late_count"] == 1
        await complete(h, review, CS, "reviewed", {
            "penalties": [{"complaint": listed[1], "person": "李工", "penalty": "warning",
                           "reason": "答复逾期"}],
            "deductions": [
                {"complaint": listed[1], "party": "李工", "party_kind": "individual",
                 "amount_yuan": 200, "reason": "答复逾期"},
                {"complaint": listed[0], "party": "星巴克（A-108）", "party_kind": "merchant",
                 "amount_yuan": 500, "reason": "设备维护不当"}],
            "deducting_department": "工程部",
        })  # fmt: skip
        # 四.1 the administrative penalties compiled for HR, executed and published.
        [summary] = await records(session_factory, h.id, "penalty_summary", 1)
        assert summary.data["penalties"][0]["person"] == "李工"
        hr = await open_task(h, "hr_penalty")
        assert hr.role == "hr"
        await complete(h, hr, HR, "published", {"where": "员工公告栏、内网"})
        published = await eventually_rows(session_factory, models.Notification, 2, case_id=h.id,
                                          subject="【公布】客户投诉行政处分（"
                                          + found.data["review_month"] + "）")  # fmt: skip
        assert {n.recipient for n in published} == {"role:mall_management", "role:customer_service"}
        # 四.2 the 《奖罚通知单》: the general manager approves, nothing is booked before.
        [notice] = await records(session_factory, h.id, "reward_penalty_notice", 1)
        assert notice.data["total_yuan"] == "700"
        approval = await open_task(h, "notice_approval")
        assert approval.role == "general_manager"
        await refused(complete(h, approval, CS, "approve"), "Forbidden")
        assert not await rows(session_factory, models.LedgerEntry, case_id=h.id)
        await complete(h, approval, GM, "approve", {"note": "同意"})
        ledger = await penalties(session_factory, h.id, 2)
        assert sorted((r.party, r.party_kind, str(r.amount_yuan)) for r in ledger) == sorted([
            ("李工", "person", "200.00"), ("星巴克（A-108）", "customer", "500.00")])  # fmt: skip
        # ... then three copies, each acknowledged by its holder.
        copies = await eventually(
            lambda: state(h),
            lambda v: (
                len([t for t in v.tasks if t.kind == "notice_copy" and t.status == "open"]) == 3
            ),
        )
        copies = {t.data["copy"]: t for t in copies.tasks if t.kind == "notice_copy"}
        assert {k: t.role for k, t in copies.items()} == {
            "self": "customer_service", "accounting": "finance", "deducting": "department_head"}  # fmt: skip
        await refused(complete(h, copies["accounting"], CS, "acknowledged"), "Forbidden")
        for copy, who in (("self", CS), ("accounting", FINANCE), ("deducting", DEPTHEAD)):
            await complete(h, copies[copy], who, "acknowledged")
        sigs = await eventually_rows(session_factory, models.Signature, 4, record_id=notice.id)
        assert sorted(s.role for s in sigs) == sorted(
            ["general_manager", "customer_service", "finance", "department_head"])  # fmt: skip
        assert await case_status(session_factory, h.id) == "closed"
