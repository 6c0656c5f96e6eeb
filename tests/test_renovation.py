"""R6 `renovation` (大厦客户二次装修管理规定): each clause on the time-skipping server, with the
real activities writing to a real PostgreSQL. One case per test; each drives the case to its
clause with the steps before it (which their own tests check)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import chinese_calendar
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
    sleep_to,
    state,
)
from workflows.model import CHINA_TZ, Actor
from workflows.regulations.renovation.forms import (
    ChangeInput,
    CompletedInput,
    DepositUseInput,
    MovedInInput,
    RenovationInput,
    RenovationPolicy,
    StopInput,
    SuspendInput,
    WorkLogInput,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

CENTER = Actor(id="mgmtcenter", roles=["management_center"])  # 管理中心
AFFAIRS = Actor(id="clientaffairs", roles=["client_affairs"])  # 客务部
PROPERTY = Actor(id="propmgr", roles=["property_manager"])  # 物业管理员
FINANCE = Actor(id="finance", roles=["finance"])
DRAWING = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
POLICY = RenovationPolicy()
ITEMS = ["隔墙", "吊顶", "电气"]


def attachment(name: str, n: int) -> dict[str, Any]:
    return {"id": f"att_renovation{n:04d}", "name": f"{name}.pdf", "media_type": "application/pdf",
            "size": 1024 + n, "sha256": f"{n:064x}"}  # fmt: skip


def documents(missing: int = 0) -> list[dict[str, Any]]:
    """The policy's checklist, the last `missing` documents not attached."""
    names = POLICY.documents
    return [
        {"name": d, "file": attachment(d, i)} for i, d in enumerate(names[: len(names) - missing])
    ]


def china_today(now: datetime) -> date:
    return now.astimezone(CHINA_TZ).date()


def signatures(*names: str) -> list[dict[str, Any]]:
    return [{"party": "customer", "signer_name": n, "method": "drawing", "evidence": DRAWING}
            for n in names]  # fmt: skip


async def start(env: Any, queue: str, *, missing: int = 0, days: int = 20,
                deposit: str = "5000.00") -> Any:  # fmt: skip
    """A renovation of 甲公司's 12F: planned to finish `days` days from today."""
    today = china_today(await env.get_current_time())
    inp = RenovationInput(
        customer_name="甲公司", premises="12F 1201", contact="王经理", contact_phone="13800000001",
        contractor="乙装饰工程有限公司", contractor_lead="刘施工", contractor_phone="13900000002",
        work_items=ITEMS, description="办公室隔断与吊顶改造", planned_start=today,
        planned_end=today + timedelta(days=days), deposit_yuan=Decimal(deposit),
        documents=documents(missing),
    )  # fmt: skip
    return await helpers.start_case(
        env, queue, "renovation", inp, POLICY, started_by="clientaffairs"
    )


async def approved(h: Any, **data: Any) -> None:
    """第1条 管理中心's written approval of the (complete) application."""
    await complete(h, await open_task(h, "application_review"), CENTER, "approve",
                   {"conditions": "按批准项目施工", **data})  # fmt: skip


async def sign_agreements(h: Any) -> None:
    """第4、5条 the four agreements, each signed by the customer and the contractor."""
    for _ in POLICY.agreements:
        task = await open_task(h, "agreement")
        await complete(h, task, CENTER, "agreement_signed", {},
                       signatures("王经理", "刘施工"))  # fmt: skip


def workers(valid_until: date) -> dict[str, Any]:
    return {"workers": [
        {"name": "张三", "id_no": "110101199001011234", "pass_no": "P-001",
         "valid_until": valid_until.isoformat()},
        {"name": "李四", "id_no": "11010119910202123X", "pass_no": "P-002",
         "valid_until": valid_until.isoformat()}]}  # fmt: skip


async def permitted(env: Any, h: Any) -> None:
    """Approved, the agreements signed, the passes registered, the permit issued."""
    await approved(h)
    await sign_agreements(h)
    today = china_today(await env.get_current_time())
    await complete(
        h, await open_task(h, "passes"), PROPERTY, data=workers(today + timedelta(days=3))
    )
    await complete(h, await open_task(h, "permit"), CENTER, "permit_issue",
                   {"permit_no": "ZX-2026-001", "posted_at": "12F 施工区域入口"})  # fmt: skip
    await until_stage(h, "under_work")


MODELS = {"work_log": WorkLogInput, "change_scope": ChangeInput, "stop_work": StopInput,
          "work_completed": CompletedInput, "moved_in": MovedInInput,
          "suspend_services": SuspendInput, "use_deposit": DepositUseInput}  # fmt: skip


def send(h: Any, name: str, data: dict[str, Any]) -> Any:
    """The update `name` with its input as the starter sends it (the model, defaults filled)."""
    return h.execute_update(name, MODELS[name].model_validate(data))


async def until_stage(h: Any, stage: str) -> dict[str, Any]:
    view = await eventually(lambda: state(h), lambda v: v.summary.get("stage") == stage)
    assert view.summary["stage"] == stage, view.summary
    return dict(view.summary)


async def work(h: Any, *items: str) -> str:
    return await send(h, "work_log", {"actor": PROPERTY, "work_items": list(items),
                                               "workers": 6, "note": "巡查"})  # fmt: skip


async def notices(session_factory: Any, case_id: str, subject: str) -> list[Any]:
    found = await eventually(
        lambda: rows(session_factory, models.Notification, case_id=case_id),
        lambda ns: any(subject in n.subject for n in ns),
    )
    return [n for n in found if subject in n.subject]


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


# ---- 第1条 written approval -------------------------------------------------------------------


async def test_1_no_work_without_the_management_centers_written_approval(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, missing=1)
        [app] = await records(session_factory, h.id, "renovation_application", 1)
        lacking = POLICY.documents[-1]
        assert app.data["missing_documents"] == [lacking]
        assert [r["attached"] for r in app.data["checklist"]] == [True] * 4 + [False]
        # No work before the written approval.
        await refused(work(h, "隔墙"), "Conflict", "written approval")
        review = await open_task(h, "application_review")
        assert review.role == "management_center" and review.clause == "R6 第1条"
        # A missing document: not approved, returned to 客务部 for it.
        await refused(complete(h, review, CENTER, "approve", {}), "Invalid", "documents missing")
        await refused(complete(h, review, AFFAIRS, "approve", {}), "Forbidden")
        await complete(h, review, CENTER, "return_documents", {"reason": f"请补交{lacking}"})
        supplement = await open_task(h, "supplement")
        assert supplement.role == "client_affairs"
        await complete(h, supplement, AFFAIRS, data={"documents": [
            {"name": lacking, "file": attachment(lacking, 9)}]})  # fmt: skip
        # Reviewed again, now complete: approved in writing, signed by 管理中心.
        await approved(h, approved_items=["隔墙", "吊顶"])
        [approval] = await records(session_factory, h.id, "renovation_approval", 1)
        assert approval.data["approved_items"] == ["隔墙", "吊顶"]
        assert all(r["attached"] for r in approval.data["checklist"])
        sigs = await eventually_rows(session_factory, models.Signature, 1, record_id=approval.id)
        assert [(s.signer, s.role, s.method) for s in sigs] == [
            ("mgmtcenter", "management_center", "staff_login")
        ]
        summary = await until_stage(h, "permit_pending")
        assert summary["approved_items"] == ["隔墙", "吊顶"]
        # Approved, but no work before the permit either.
        await refused(work(h, "隔墙"), "Conflict", "permit")


async def test_2_4_5_the_four_agreements_and_the_passes_before_the_permit(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue)
        await approved(h)
        permit = await open_task(h, "permit")
        posting = {"permit_no": "ZX-2026-001", "posted_at": "12F 施工区域入口"}
        await refused(complete(h, permit, CENTER, "permit_issue", posting), "Invalid",
                      "agreements not signed")  # fmt: skip
        view = await state(h)
        agreements = sorted(t.data["agreement"] for t in view.tasks if t.kind == "agreement")
        assert agreements == sorted(POLICY.agreements)
        # Each agreement needs the customer's and the contractor's signatures.
        first = await open_task(h, "agreement")
        await refused(complete(h, first, CENTER, "agreement_signed", {}), "Invalid",
                      "customer must sign")  # fmt: skip
        await refused(complete(h, first, CENTER, "agreement_signed", {}, signatures("王经理")),
                      "Invalid", "2 signers")  # fmt: skip
        await sign_agreements(h)
        signed = await records(session_factory, h.id, "renovation_agreement", 4)
        assert sorted(r.data["agreement"] for r in signed) == sorted(POLICY.agreements)
        for r in signed:
            sigs = await eventually_rows(session_factory, models.Signature, 3, record_id=r.id)
            assert sorted(s.signer for s in sigs) == ["mgmtcenter", "刘施工", "王经理"]
        # Still no permit without the workers' passes list.
        await refused(complete(h, permit, CENTER, "permit_issue", posting), "Invalid", "passes")
        today = china_today(await env.get_current_time())
        passes = await open_task(h, "passes")
        await refused(complete(h, passes, PROPERTY, data=workers(today - timedelta(days=1))),
                      "Invalid", "expired")  # fmt: skip
        await refused(complete(h, passes, PROPERTY, data=workers(today + timedelta(days=60))),
                      "Invalid", "outlasts")  # fmt: skip
        await complete(h, passes, PROPERTY, data=workers(today + timedelta(days=10)))
        await complete(h, permit, CENTER, "permit_issue", posting)
        [rec] = await records(session_factory, h.id, "renovation_permit", 1)
        assert sorted(rec.data["agreements"]) == sorted(POLICY.agreements)
        assert rec.data["passes"] and rec.data["posted_at"] == "12F 施工区域入口"
        await until_stage(h, "under_work")
        assert await work(h, "隔墙", "电气") == "recorded"


# ---- 第1条 changes and stop orders ----------------------------------------------------------------


async def test_1_a_change_of_scope_is_a_new_application_approved_the_same_way(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue)
        await permitted(env, h)
        today = china_today(await env.get_current_time())
        change = {"actor": AFFAIRS, "work_items": [*ITEMS, "地面"], "description": "增加地面铺装",
                  "planned_end": (today + timedelta(days=25)).isoformat(),
                  "documents": documents()}  # fmt: skip
        assert await send(h, "change_scope", change) == "applied"
        await refused(send(h, "change_scope", change), "Conflict",
                      "already under review")  # fmt: skip
        apps = await records(session_factory, h.id, "renovation_application", 2)
        assert [a.data["is_change"] for a in sorted(apps, key=lambda a: a.data["application_no"])] == [
            False, True]  # fmt: skip
        review = await open_task(h, "application_review")
        assert review.title.startswith("审批二次装修申请（第2次）")
        # Until it is approved the new item is outside the approval: work on it stops the site.
        await refused(complete(h, review, PROPERTY, "approve", {}), "Forbidden")
        await complete(h, review, CENTER, "approve", {"conditions": "同意增加地面"})
        approvals = await records(session_factory, h.id, "renovation_approval", 2)
        for a in approvals:
            [sig] = await eventually_rows(session_factory, models.Signature, 1, record_id=a.id)
            assert sig.signer == "mgmtcenter"
        summary = await until_stage(h, "under_work")
        assert "地面" in summary["approved_items"]
        assert summary["approved_end"] == (today + timedelta(days=25)).isoformat()
        assert await work(h, "地面") == "recorded"
        # One permit: the change does not repeat the agreements.
        assert len([t for t in (await state(h)).tasks if t.kind == "agreement"]) == 4


async def test_1_work_outside_the_approval_is_stopped_and_refused_until_a_new_approval(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue)
        await permitted(env, h)
        assert await work(h, "隔墙") == "recorded"
        # Work on an item nobody approved: a stop order at once.
        assert await work(h, "隔墙", "卫生间改造") == "stopped"
        [order] = await records(session_factory, h.id, "stop_order", 1)
        assert order.data["work_items"] == ["卫生间改造"] and order.data["work_log"]
        sent = await notices(session_factory, h.id, "【停工令】")
        assert {n.recipient for n in sent} >= {"role:management_center", "role:client_affairs"}
        summary = await until_stage(h, "work_stopped")
        assert summary["stop_orders"] == 1
        # Further work is refused, inside the approval too, until a new approval.
        await refused(work(h, "隔墙"), "Conflict", "stopped")
        await refused(send(h, "work_completed", {"actor": PROPERTY}),
                      "Conflict")  # fmt: skip
        await send(h, "change_scope", {
            "actor": AFFAIRS, "work_items": [*ITEMS, "卫生间改造"], "description": "补报卫生间改造",
            "documents": documents()})  # fmt: skip
        await refused(work(h, "隔墙"), "Conflict", "stopped")
        await approved(h)
        await until_stage(h, "under_work")
        assert await work(h, "卫生间改造") == "recorded"
        # 管理中心 may also stop work directly.
        await send(h, "stop_work", {"actor": CENTER, "reason": "未按指定通道出入"})  # fmt: skip
        await records(session_factory, h.id, "stop_order", 2)
        await refused(work(h, "隔墙"), "Conflict", "stopped")


# ---- 第3条 the daily waste check ------------------------------------------------------------------


async def test_3_the_daily_waste_check_failed_and_missed_are_recorded(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue)
        await permitted(env, h)
        now = await env.get_current_time()
        first = datetime.combine(china_today(now), POLICY.waste_removal_at, CHINA_TZ)
        if first <= now:
            first += timedelta(days=1)
        await sleep_to(env, first - timedelta(minutes=5))
        assert not [t for t in (await state(h)).tasks if t.kind == "waste_check"]
        await sleep_to(env, first + timedelta(minutes=1))
        check = await open_task(h, "waste_check")
        assert check.role == "property_manager" and check.due_at == first + timedelta(hours=2)
        # A failed check: recorded with what was wrong.
        await refused(complete(h, check, PROPERTY, "waste_cleared", {"sealed": False}), "Invalid")
        await complete(h, check, PROPERTY, "waste_not_cleared",
                       {"sealed": False, "findings": "垃圾未密封，堆放在电梯厅"})  # fmt: skip
        [failed] = await records(session_factory, h.id, "waste_check", 1)
        assert failed.data["sealed"] is False and "电梯厅" in failed.data["findings"]
        await notices(session_factory, h.id, "【清运不合格】")
        # The next day's check is not made by its due: recorded as missed.
        second = first + timedelta(days=1)
        await sleep_to(env, second + timedelta(minutes=1))
        nxt = await open_task(h, "waste_check")
        assert nxt.due_at == second + timedelta(hours=2)
        await sleep_to(env, second + timedelta(hours=2, minutes=1))
        [missed] = await records(session_factory, h.id, "waste_check_missed", 1)
        assert missed.data["check_day"] == second.date().isoformat()
        summary = await eventually(lambda: state(h), lambda v: v.summary["waste_missed"] == 1)
        assert (summary.summary["waste_failed"], summary.summary["waste_missed"]) == (1, 1)
        # The missed check lapses; a cleared check is recorded too.
        await sleep_to(env, second + timedelta(days=1, minutes=1))
        third = await open_task(h, "waste_check")
        await complete(h, third, PROPERTY, "waste_cleared", {"findings": "已密封清运"})
        await records(session_factory, h.id, "waste_check", 2)
        view = await state(h)
        assert [t.status for t in view.tasks if t.kind == "waste_check"][-2:] == [
            "lapsed", "done"]  # fmt: skip


# ---- 第6条 the extension ----------------------------------------------------------------------------


async def test_6_not_finished_in_the_approved_period_an_extension_at_client_affairs(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, days=3)
        await permitted(env, h)
        today = china_today(await env.get_current_time())
        end = datetime.combine(today + timedelta(days=4), time(0), CHINA_TZ)
        await sleep_to(env, end - timedelta(minutes=1))
        assert await work(h, "吊顶") == "recorded"
        await sleep_to(env, end + timedelta(minutes=1))
        extension = await open_task(h, "extension")
        assert extension.role == "client_affairs" and extension.clause == "R6 第6条"
        await until_stage(h, "period_over")
        await refused(work(h, "吊顶"), "Conflict", "approved period")
        await refused(complete(h, extension, CENTER, "approve", {"new_end": "2030-01-01", "reason": "材料延误"}),
                      "Forbidden")  # fmt: skip
        await refused(complete(h, extension, AFFAIRS, "approve",
                               {"new_end": (today + timedelta(days=3)).isoformat(), "reason": "材料延误"}),
                      "Invalid", "new_end")  # fmt: skip
        new_end = today + timedelta(days=10)
        await complete(h, extension, AFFAIRS, "approve",
                       {"new_end": new_end.isoformat(), "reason": "材料延误"})  # fmt: skip
        [rec] = await records(session_factory, h.id, "renovation_extension", 1)
        assert rec.data["new_end"] == new_end.isoformat()
        [sig] = await eventually_rows(session_factory, models.Signature, 1, record_id=rec.id)
        assert (sig.signer, sig.role) == ("clientaffairs", "client_affairs")
        summary = await until_stage(h, "under_work")
        assert (summary["approved_end"], summary["extensions"]) == (new_end.isoformat(), 1)
        assert await work(h, "吊顶") == "recorded"


# ---- 第7条 inspection, move-in, the deposit ---------------------------------------------------------


async def test_7_inspection_applied_for_within_7_working_days_or_the_breach_is_recorded(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue)
        await permitted(env, h)
        await send(h, "work_completed", {"actor": PROPERTY, "note": "全部完工"})  # fmt: skip
        done_at = await env.get_current_time()
        request = await open_task(h, "inspection_request")
        assert request.role == "client_affairs" and request.clause == "R6 第7条"
        assert working_days_between(china_today(done_at), china_today(request.due_at)) == 7
        await refused(work(h, "隔墙"), "Conflict", "complete")
        await sleep_to(env, request.due_at + timedelta(minutes=1))
        [late] = await records(session_factory, h.id, "inspection_late", 1)
        assert late.data["apply_within"] == "7 个工作日"
        sent = await notices(session_factory, h.id, "【超时】")
        assert {n.recipient for n in sent} >= {"role:management_center", "role:client_affairs"}
        # A late application is still taken: the inspection follows.
        await complete(h, request, AFFAIRS, data={"note": "客户补交验收申请"})
        inspection = await open_task(h, "inspection")
        assert inspection.role == "management_center"


async def test_7_a_failed_inspection_lists_defects_and_reopens_rectification(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue)
        await permitted(env, h)
        await send(h, "work_completed", {"actor": PROPERTY})
        await complete(h, await open_task(h, "inspection_request"), AFFAIRS, data={})
        inspection = await open_task(h, "inspection")
        await refused(complete(h, inspection, CENTER, "inspection_not_ok", {"defects": []}),
                      "Invalid", "defects")  # fmt: skip
        defects = [{"item": "吊顶检修口未预留", "requirement": "按图预留检修口"},
                   {"item": "电线未穿管", "requirement": "全部穿阻燃管"}]  # fmt: skip
        await complete(h, inspection, CENTER, "inspection_not_ok", {"defects": defects})
        [rec] = await records(session_factory, h.id, "renovation_inspection", 1)
        assert [d["item"] for d in rec.data["defects"]] == ["吊顶检修口未预留", "电线未穿管"]
        await notices(session_factory, h.id, "【验收不合格】")
        await until_stage(h, "rectifying")
        # Rectification is work again: allowed on the approved items, and completed the same way.
        assert await work(h, "吊顶") == "recorded"
        await send(h, "work_completed", {"actor": PROPERTY, "note": "整改完成"})  # fmt: skip
        again = await open_task(h, "inspection_request")
        assert again.data["rectified"] is True
        done_at = await env.get_current_time()
        assert working_days_between(china_today(done_at), china_today(again.due_at)) == 7


async def test_7_the_deposit_pays_for_defects_after_an_early_move_in_and_the_balance_is_refunded(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, deposit="5000.00")
        await permitted(env, h)
        use = {"actor": CENTER, "amount_yuan": "1234.56", "defects": "吊顶检修口未预留"}
        await refused(send(h, "use_deposit", use), "Conflict", "move-in")
        await refused(send(h, "suspend_services", {
            "actor": CENTER, "services": "空调加时", "reason": "未经验收迁入"}),
            "Conflict")  # fmt: skip
        today = china_today(await env.get_current_time())
        await send(h, "work_completed", {"actor": PROPERTY})
        # The customer moves in before the inspection: recorded, the measures allowed.
        await send(h, "moved_in", {"actor": PROPERTY, "moved_in_on": today.isoformat(),
                                            "note": "已搬入家具办公"})  # fmt: skip
        [early] = await records(session_factory, h.id, "early_move_in", 1)
        assert early.data["stage"] == "awaiting_inspection"
        await send(h, "suspend_services", {
            "actor": CENTER, "services": "空调加时服务", "reason": "未经验收迁入办公"})  # fmt: skip
        await records(session_factory, h.id, "services_suspended", 1)
        await refused(send(h, "use_deposit", use | {"actor": PROPERTY}),
                      "Forbidden")  # fmt: skip
        assert await send(h, "use_deposit", use) == "3765.44"
        assert await send(h, "use_deposit", use | {"amount_yuan": "800.10",
                                                            "defects": "电线未穿管"}) == "2965.34"  # fmt: skip
        await refused(send(h, "use_deposit", use | {"amount_yuan": "2965.35"}), "Invalid", "balance")  # fmt: skip
        # The inspection passes: the refund is notified, then paid and signed for.
        await complete(h, await open_task(h, "inspection_request"), AFFAIRS, data={})
        await complete(h, await open_task(h, "inspection"), CENTER, "inspection_ok", {})
        [notice] = await notices(session_factory, h.id, "【退还抵押金】")
        assert "应退 2965.34 元" in notice.body
        # the services suspended for the early move-in resume with the pass
        [resumed] = await records(session_factory, h.id, "services_resumed", 1)
        assert resumed.data["services"] == "空调加时服务"
        [told] = await notices(session_factory, h.id, "【恢复服务】")
        assert "空调加时服务" in told.body and told.recipient == "role:client_affairs"
        refund = await open_task(h, "refund")
        assert refund.role == "finance"
        paid = {"paid_on": today.isoformat(), "method": "银行转账"}
        await refused(complete(h, refund, FINANCE, "refund_paid", paid), "Invalid", "customer")
        await complete(h, refund, FINANCE, "refund_paid", paid, signatures("王经理"))
        [rec] = await records(session_factory, h.id, "deposit_refund", 1)
        assert (rec.data["held_yuan"], rec.data["deducted_yuan"], rec.data["balance_yuan"]) == (
            "5000.00",
            "2034.66",
            "2965.34",
        )
        assert rec.data["deposit_deductions"] == ["1234.56", "800.10"]
        ledger = await penalties(session_factory, h.id, 4)
        rows_ = sorted((e.kind, e.amount_yuan) for e in ledger)
        assert rows_ == [("deposit_held", Decimal("5000.00")),
                         ("deposit_refunded", Decimal("2965.34")),
                         ("deposit_used", Decimal("800.10")),
                         ("deposit_used", Decimal("1234.56"))]  # fmt: skip
        assert {e.account for e in ledger} == {f"{h.id}/deposit"}
        held = sum(e.amount_yuan for e in ledger if e.kind == "deposit_held")
        out = sum(e.amount_yuan for e in ledger if e.kind != "deposit_held")
        assert held - out == Decimal("0.00")
        await eventually(lambda: state(h), lambda v: v.status == "closed")
        assert (await state(h)).status == "closed"


async def test_1_a_rejected_first_application_closes_the_case(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue)
        await complete(h, await open_task(h, "application_review"), CENTER, "reject",
                       {"reason": "涉及结构改动，不予批准"})  # fmt: skip
        await eventually(lambda: h.describe(), lambda d: d.status.name == "COMPLETED")
        assert (await h.describe()).status.name == "COMPLETED"
        assert await h.result() == "closed"
        [event] = await eventually_rows(session_factory, models.Event, 1, case_id=h.id,
                                        kind="application_rejected")  # fmt: skip
        assert "结构改动" in event.detail["reason"]
