"""R2 `data-sharing` — 地产代理客户信息资源共享管理规定: every clause, on the time-skipping server
with the real activities and PostgreSQL. One case per test, named by its clause."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from store import models
from tests.helpers import (
    case_worker,
    complete,
    eventually_rows,
    open_task,
    records,
    refused,
    skip,
    start_case,
    state,
)
from workflows.model import Actor
from workflows.regulations.data_sharing.forms import (
    CloseInput,
    DataSharingInput,
    LeakInput,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

HEAD = Actor(id="depthead", roles=["department_head"])
OTHER_HEAD = Actor(id="otherhead", roles=["department_head"])
ADMIN = Actor(id="salesadmin", roles=["sales_admin"])
VP = Actor(id="vp", roles=["vice_president"])
GM = Actor(id="gm", roles=["general_manager"])
SHA = "ab" * 32
FILE = {"id": "att_r2file0001", "name": "客户资源.xlsx", "size": 20480, "sha256": SHA,
        "media_type": "application/vnd.ms-excel"}  # fmt: skip


def request(no: str, quantity: int, scope: str = "internal", **extra: Any) -> DataSharingInput:
    return DataSharingInput(
        request_no=no, department="销售一部", department_head="depthead", requester="staff",
        purpose="新项目开盘前客户邀约", categories=["意向客户", "成交客户"], quantity=quantity,
        projects=["阳光花园"], scope=scope, **extra)  # fmt: skip


async def through_review(env: Any, queue: str, inp: DataSharingInput, fixed: int) -> Any:
    """The request signed by its department head and reviewed by 销售管理部 (quantity fixed)."""
    h = await start_case(env, queue, "data-sharing", inp, started_by="staff")
    await complete(h, await open_task(h, "request_sign"), HEAD, "sign_off", {"note": "同意"})
    review = await open_task(h, "data_review")
    await complete(h, review, ADMIN, "fixed", {"categories": ["意向客户"], "fixed_quantity": fixed})
    return h


async def issued_and_received(h: Any, approver: Actor = VP) -> None:
    await complete(h, await open_task(h, "data_approval"), approver, "approve", {"note": "同意"})
    await complete(h, await open_task(h, "data_issue"), ADMIN, "issued",
                   {"categories": ["意向客户"], "count": 500, "file": FILE})  # fmt: skip
    await complete(h, await open_task(h, "data_receipt"), HEAD, "sign_off", {"note": "已收到"})


async def test_2_request_signed_by_the_head_and_2b_2000_fixed_records_go_to_the_vice_president(
    ts_env, session_factory, clean_db, settings_factory
):
    """Asked 2,500, fixed 2,000 by 销售管理部 (a reduction, recorded): the fixed quantity decides
    the tier, so the vice president approves. Only the named head signs; 销售管理部 may not raise
    the quantity."""
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_case(env, queue, "data-sharing", request("Q2000", 2500))
        sign = await open_task(h, "request_sign")
        await refused(complete(h, sign, OTHER_HEAD, "sign_off", {}), "Forbidden")
        await complete(h, sign, HEAD, "sign_off", {"note": "同意"})
        [req] = await records(session_factory, h.id, "data_request", 1)
        assert req.data["quantity"] == 2500 and req.data["purpose"] == "新项目开盘前客户邀约"
        await eventually_rows(session_factory, models.Signature, 1, record_id=req.id)
        review = await open_task(h, "data_review")
        await refused(complete(h, review, ADMIN, "fixed",
                               {"categories": ["意向客户"], "fixed_quantity": 2501}),
                      "Invalid", "fixed_quantity")  # fmt: skip
        await complete(
            h, review, ADMIN, "fixed", {"categories": ["意向客户"], "fixed_quantity": 2000}
        )
        [rev] = await records(session_factory, h.id, "data_review", 1)
        assert rev.data["reduced"] is True and rev.data["requested_quantity"] == 2500
        assert rev.data["fixed_quantity"] == 2000
        approval = await open_task(h, "data_approval")
        assert approval.role == "vice_president" and "2000" in approval.title
        events = [e.kind for e in (await state(h)).events]
        assert "quantity_reduced" in events


async def test_2c_2001_fixed_records_go_to_the_general_manager_and_the_vp_is_refused(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await through_review(env, queue, request("Q2001", 2001), 2001)
        approval = await open_task(h, "data_approval")
        assert approval.role == "general_manager"
        await refused(complete(h, approval, VP, "approve", {}), "Forbidden")  # a missing approver
        await complete(h, approval, GM, "approve", {"note": "同意"})
        issue = await open_task(h, "data_issue")
        assert "2001" in issue.title
        events = [e.kind for e in (await state(h)).events]
        assert "data_sharing_approved" in events and "quantity_reduced" not in events


async def test_2c_group_allocation_goes_to_the_general_manager_at_any_quantity(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await through_review(env, queue, request("G100", 100, "group"), 100)
        assert (await open_task(h, "data_approval")).role == "general_manager"


async def test_2a_director_between_own_projects_filed_with_sales_admin_without_approval(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        inp = request("D5000", 5000, "own_projects", sales_director="salesdir")
        h = await through_review(env, queue, inp, 5000)
        await open_task(h, "data_issue")
        [filing] = await records(session_factory, h.id, "reallocation_filing", 1)
        assert filing.data["sales_director"] == "salesdir" and filing.data["quantity"] == 5000
        view = await state(h)
        assert not [t for t in view.tasks if t.kind == "data_approval"]
        assert "reallocation_filed" in [e.kind for e in view.events]


async def test_2_issue_records_a_file_digest_never_the_data_and_the_department_signs_receipt(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await through_review(env, queue, request("I800", 800), 800)
        await complete(h, await open_task(h, "data_approval"), VP, "approve", {})
        issue = await open_task(h, "data_issue")
        await refused(complete(h, issue, ADMIN, "issued",
                               {"categories": ["意向客户"], "count": 801, "file": FILE}),
                      "Invalid", "count")  # fmt: skip
        await refused(complete(h, issue, ADMIN, "issued",
                               {"categories": ["成交客户"], "count": 800, "file": FILE}),
                      "Invalid", "categories")  # fmt: skip
        await complete(h, issue, ADMIN, "issued",
                       {"categories": ["意向客户"], "count": 800, "file": FILE})  # fmt: skip
        [rec] = await records(session_factory, h.id, "data_issue", 1)
        assert rec.data["count"] == 800 and rec.data["file"]["sha256"] == SHA
        assert set(rec.data) <= {"request_no", "department", "fixed_quantity", "issue_record",
                                 "categories", "count", "file", "note"}  # fmt: skip
        receipt = await open_task(h, "data_receipt")
        await refused(complete(h, receipt, OTHER_HEAD, "sign_off", {}), "Forbidden")
        await complete(h, receipt, HEAD, "sign_off", {"note": "已收到"})
        [rc] = await records(session_factory, h.id, "data_receipt", 1)
        [sig] = await eventually_rows(session_factory, models.Signature, 1, record_id=rc.id)
        assert sig.signer == "depthead"


async def test_2_weekly_feedback_clock_missed_week_is_a_breach_and_a_proposal_until_closed(
    ts_env, session_factory, clean_db, settings_factory
):
    """Week 1 due 7 days after the receipt (entered by category; nothing given is refused);
    week 2 missed: recorded against the head, a proposal the VP approves into the register;
    closed only with 销售管理部's consent."""
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await through_review(env, queue, request("F500", 500), 500)
        await issued_and_received(h)
        week1 = await open_task(h, "data_feedback")
        [rc] = await records(session_factory, h.id, "data_receipt", 1)
        assert week1.due_at - rc.created_at == timedelta(days=7)
        await refused(complete(h, week1, HEAD, "done", {}), "Invalid", "rows")
        await complete(h, week1, HEAD, "done", {"rows": [
            {"category": "意向客户", "followed": 300, "valid_customers": 12}],
            "new_customers_entered": 12})  # fmt: skip
        await skip(env, timedelta(days=7, minutes=1))
        week2 = await open_task(h, "data_feedback")
        assert week2.data["week"] == 2
        await skip(env, timedelta(days=7, minutes=1))
        [missed] = await records(session_factory, h.id, "feedback_missed", 1)
        assert missed.data["department_head"] == "depthead" and missed.data["week"] == 2
        proposal = await open_task(h, "discipline_approval")
        assert proposal.role == "vice_president"
        await complete(h, proposal, VP, "approve", {"note": "同意"})
        [entry] = await eventually_rows(session_factory, models.DisciplineEntry, 1, case_id=h.id)
        assert entry.party == "depthead" and entry.kind == "warning"
        await h.execute_update("close_feedback", CloseInput(actor=HEAD, reason="项目已售罄"))
        consent = await open_task(h, "close_consent")
        await complete(h, consent, ADMIN, "consent", {})
        assert await h.result() == "closed"


async def test_2_reported_leak_proposes_dismissal_of_the_head_decided_by_the_gm(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await through_review(env, queue, request("L300", 300), 300)
        await refused(h.execute_update("report_leak", LeakInput(
            actor=Actor(id="staff", roles=["staff"]), description="客户名单外泄")), "Forbidden")  # fmt: skip
        await h.execute_update("report_leak", LeakInput(
            actor=ADMIN, description="客户名单外泄至竞争对手", sanction="dismissal"))  # fmt: skip
        [leak] = await records(session_factory, h.id, "leak_report", 1)
        assert "竞争对手" in leak.data["description"]
        proposal = await open_task(h, "discipline_approval")
        assert proposal.role == "general_manager"
        [prop] = await records(session_factory, h.id, "discipline_proposal", 1)
        assert prop.data["party"] == "depthead" and prop.data["kind"] == "dismissal"
