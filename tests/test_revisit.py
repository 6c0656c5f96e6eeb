"""R1 `revisit`: every rule, on the time-skipping server, with the real activities writing to a
real PostgreSQL. One case per test (the time-skipping server stalls with many)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import chinese_calendar
import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError

from activities.signing import verify_signature
from store import models
from tests import helpers
from tests.helpers import (
    CLERK,
    DIVISION,
    FINANCE,
    OTHER_STAFF,
    PRESIDENT,
    RD,
    STAFF,
    SUPERVISOR,
    case_worker,
    complete,
    eventually,
    eventually_rows,
    extend,
    open_task,
    penalties,
    records,
    refused,
    rows,
    skip,
    sleep_to,
    state,
)
from workflows.model import CHINA_TZ, Actor, CalendarUpdatedInput, Deadline
from workflows.regulations.revisit.forms import (
    ClosePlanInput,
    ComplaintHandledInput,
    Contact,
    RevisitInput,
    RevisitPolicy,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

PLAN = {
    "purposes": ["product_use", "relationship"],
    "methods": ["phone", "onsite"],
    "content": "了解产品使用情况，指导保养",
}


def visit_record(**extra: Any) -> dict[str, Any]:
    return {
        "contact_person": "王工（设备负责人）",
        "method": "phone",
        "usage": "基本功能已掌握，夜班人员不熟悉报表导出",
        "service_rating": 4,
        "questions": ["为什么打印机偶尔卡纸？", "报表能否导出为 Excel？"],
        "suggestions": ["希望增加夜间电话支持"],
        **extra,
    }


def china(dt: datetime) -> datetime:
    return dt.astimezone(CHINA_TZ)


def working_days_between(start: date, end: date) -> int:
    """Independent cross-check with chinese_calendar: working days in (start, end]. Days of a
    year it does not cover count Monday to Friday except New Year's Day (the provisional rule)."""
    count, day = 0, start + timedelta(days=1)
    while day <= end:
        if day.year <= 2026:
            count += chinese_calendar.is_workday(day)
        else:
            count += day.weekday() < 5 and (day.month, day.day) != (1, 1)
        day += timedelta(days=1)
    return count


async def start_case(
    env: Any,
    queue: str,
    *,
    customer_class: str = "large",
    go_live: date | None = None,
    policy: RevisitPolicy | None = None,
    customer: str = "C1",
    supervisor: str | None = None,
) -> Any:
    """An R1 case of 甲公司, gone live today unless said otherwise."""
    now = await env.get_current_time()
    inp = RevisitInput(
        customer_id=customer,
        customer_name="甲公司",
        customer_class=customer_class,
        go_live=go_live or china(now).date(),
        owner="staff",
        supervisor=supervisor,
        contacts=[Contact(name="王工", title="设备负责人", phone="13800000000")],
    )
    return await helpers.start_case(env, queue, "revisit", inp, policy)


# ---- R1's first cycle, clause by clause --------------------------------------------------------
# Each test drives the case to its clause with the steps before it (which their own tests check)
# and proves the clause's rules there.

PROBLEMS = [
    {"text": "打印机卡纸", "route": "solved"},
    {"text": "报表导出 Excel 乱码", "route": "rd_feedback"},
    {"text": "服务器风扇异响，电话无法判断", "route": "onsite"},
    {"text": "机房温控系统与产品不兼容", "route": "president_office"},
]


def first_phone_of(go_live: date) -> datetime:
    """09:00 China time one month after go-live."""
    at = datetime.combine(go_live, time(9), CHINA_TZ)
    return at.replace(month=at.month % 12 + 1, year=at.year + (at.month == 12))


async def planned(env: Any, h: Any) -> datetime:
    """4.2(1) done; the first phone revisit's time."""
    started = await env.get_current_time()
    await complete(h, await open_task(h, "plan"), STAFF, data=PLAN)
    return first_phone_of(china(started).date())


async def booked(env: Any, h: Any, first_phone: datetime) -> datetime:
    """4.2(2) the appointment agreed an hour after the planned time; the agreed time."""
    await sleep_to(env, first_phone - timedelta(days=6))
    agreed = first_phone + timedelta(hours=1)
    appt = await open_task(h, "appointment")
    await complete(
        h, appt, STAFF, "agreed", {"appointment_at": agreed.isoformat(), "place": "电话"}
    )
    return agreed


async def visited(env: Any, h: Any, agreed: datetime) -> datetime:
    """4.3 the first phone revisit made, four problems routed; when it closed."""
    await sleep_to(env, agreed)
    record = visit_record(valuable_suggestion=True, problems=PROBLEMS)
    done = await complete(h, await open_task(h, "visit"), STAFF, data=record)
    assert done.closed_at is not None
    return done.closed_at


async def reported(h: Any) -> None:
    """4.4(1) the report and the materials (with 600 元 of expenses) handed in."""
    await complete(h, await open_task(h, "report"), STAFF,
                   data={"summary": "客户总体满意", "evaluation": "良好"})  # fmt: skip
    expenses = [{"item": "交通费", "amount_yuan": 320}, {"item": "餐费", "amount_yuan": 280}]
    await complete(h, await open_task(h, "materials"), STAFF, data={"expenses": expenses})


async def first_visit_made(env: Any, h: Any) -> datetime:
    return await visited(env, h, await booked(env, h, await planned(env, h)))


async def test_4_2_1_the_plan_is_the_owners_in_three_working_days(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_case(env, queue)
        plan = await open_task(h, "plan")
        started = plan.created_at  # the case's own clock when it opened the plan
        assert (plan.assignee, plan.clause) == ("staff", "R1 4.2(1)")
        assert working_days_between(china(started).date(), china(plan.due_at).date()) == 3

        # Due at the time of day the case opened the plan (its own clock, not the test's).
        assert china(plan.due_at).time() == china(plan.created_at).time()
        await refused(complete(h, plan, OTHER_STAFF, data=PLAN), "Forbidden", "assigned to staff")
        await refused(
            complete(h, plan, STAFF, data={"purposes": [], "methods": ["phone"], "content": "x"}),
            "Invalid",
            "data.purposes",
        )
        await complete(h, plan, STAFF, data=PLAN)
        [plan_rec] = await records(session_factory, "revisit-C1", "revisit_plan")
        first_phone = first_phone_of(china(started).date())
        assert datetime.fromisoformat(plan_rec.data["first_phone_at"]) == first_phone
        assert plan_rec.data["purposes"] == PLAN["purposes"]
        assert (await state(h)).summary["next_visit"]["kind"] == "first_phone"


async def test_4_2_2_the_appointment_opens_seven_days_before_the_first_phone_revisit(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_case(env, queue)
        first_phone = await planned(env, h)
        await sleep_to(env, first_phone - timedelta(days=7, hours=1))
        assert not [t for t in (await state(h)).tasks if t.kind == "appointment"]
        await skip(env, timedelta(hours=2))
        appt = await open_task(h, "appointment")
        assert appt.due_at == first_phone and appt.clause == "R1 4.2(2)"
        await refused(
            complete(h, appt, STAFF, "agreed", {"appointment_at": "2020-01-01T10:00:00+08:00"}),
            "Invalid",
            "in the past",
        )
        agreed = first_phone + timedelta(hours=1)
        await complete(
            h, appt, STAFF, "agreed", {"appointment_at": agreed.isoformat(), "place": "电话"}
        )
        # 4.3(2)1) the first phone revisit, due at the end of the agreed day (日清日结).
        visit = await open_task(h, "visit")
        assert visit.clause == "R1 4.3(2)1)" and visit.title.startswith("首次电话回访")
        assert visit.due_at == datetime.combine(
            agreed.date() + timedelta(days=1), time(0), CHINA_TZ
        )


async def test_4_3_the_record_is_verbatim_signed_and_its_problems_are_routed(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_case(env, queue)
        agreed = await booked(env, h, await planned(env, h))
        await sleep_to(env, agreed)
        visit = await open_task(h, "visit")
        await refused(
            complete(h, visit, STAFF, data=visit_record(usage="")), "Invalid", "data.usage"
        )
        done = await complete(
            h, visit, STAFF, data=visit_record(valuable_suggestion=True, problems=PROBLEMS)
        )
        assert done.closed_at is not None
        # 4.3(4) every question and suggestion verbatim; signed by the staff member.
        [rec] = await records(session_factory, "revisit-C1", "revisit_record")
        assert rec.data["questions"] == ["为什么打印机偶尔卡纸？", "报表能否导出为 Excel？"]
        assert rec.data["suggestions"] == ["希望增加夜间电话支持"]
        [sig] = await eventually_rows(session_factory, models.Signature, 1, record_id=rec.id)
        assert (sig.signer, sig.method) == ("staff", "staff_login")
        assert len(sig.record_sha256) == 64
        # 4.3(2) routing: R&D feedback record + task, 总裁办 project review, on-site visits:
        # 7 days for the problem phone could not solve, 14 for the suggestion (4.3(1)).
        [fb] = await records(session_factory, "revisit-C1", "rd_feedback")
        assert fb.data["problem"] == "报表导出 Excel 乱码"
        view = await state(h)
        kinds = {t.kind: t for t in view.tasks if t.status == "open"}
        assert kinds["rd_feedback"].role == "rd"
        assert kinds["project_review"].role == "quality_specialist"
        scheduled = [e.detail["kind"] for e in view.events if e.kind == "visit_scheduled"]
        assert scheduled == ["onsite_problem", "onsite_suggestion"]
        # (the first phone revisit's unit stays open until its report, review and archive)
        assert sorted(view.summary["open_visits"]) == [
            "first_phone",
            "onsite_problem",
            "onsite_suggestion",
        ]
        onsite = {
            t.data["visit_kind"]: t for t in view.tasks if t.kind == "visit" and t.status == "open"
        }
        assert onsite["onsite_problem"].due_at == done.closed_at + timedelta(days=7)
        assert onsite["onsite_suggestion"].due_at == done.closed_at + timedelta(days=14)
        await complete(h, kinds["rd_feedback"], RD, "accepted")
        await complete(h, kinds["project_review"], PRESIDENT, "project")
        assert (await state(h)).summary["visits_done"] == 1


async def test_4_4_1_report_next_day_materials_in_three_days_a_week_with_the_supervisor(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_case(env, queue)
        visited_at = await first_visit_made(env, h)
        report, materials = await open_task(h, "report"), await open_task(h, "materials")
        assert report.due_at == datetime.combine(
            china(visited_at).date() + timedelta(days=2), time(0), CHINA_TZ
        )
        assert materials.due_at == visited_at + timedelta(days=3)
        await refused(
            extend(h, materials, STAFF, visited_at + timedelta(days=5), "客户出差"), "Forbidden"
        )
        await refused(
            extend(h, materials, SUPERVISOR, visited_at + timedelta(days=8), "客户出差"),
            "Forbidden",
            "higher approval",
        )
        await refused(
            extend(h, materials, SUPERVISOR, datetime(2020, 1, 1, tzinfo=CHINA_TZ), "补充材料"),
            "Invalid",
            "in the past",
        )
        ext = await extend(
            h, materials, SUPERVISOR, visited_at + timedelta(days=6), "客户出差，资料未齐"
        )
        assert ext.due_at == visited_at + timedelta(days=6)
        [row] = await eventually_rows(
            session_factory, models.TaskExtension, 1, task_id=materials.id
        )
        assert (row.granted_by, row.granted_role, row.reason) == (
            "supervisor",
            "supervisor",
            "客户出差，资料未齐",
        )
        assert row.old_due == visited_at + timedelta(days=3)
        assert row.new_due == visited_at + timedelta(days=6)
        await reported(h)
        assert len(await records(session_factory, "revisit-C1", "revisit_report")) == 1


async def test_4_4_2_and_4_5_review_a_fine_by_the_presidents_office_then_the_archive(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_case(env, queue)
        await complete(h, await open_task(h, "plan"), STAFF, data=PLAN)
        plan_rec = (await records(session_factory, "revisit-C1", "revisit_plan"))[0]
        started = await env.get_current_time()
        await visited(env, h, await booked(env, h, first_phone_of(china(started).date())))
        await reported(h)
        # 4.4(2) the review: a fine request names its rule; 总裁办 approves it → 5.1(2).
        review = await open_task(h, "review")
        assert review.role == "supervisor"
        await refused(complete(h, review, STAFF, "accept", {"guidance": "好"}), "Forbidden")
        await refused(
            complete(h, review, SUPERVISOR, "fine_request", {"guidance": "记录不实"}),
            "Invalid",
            "severity",
        )
        await complete(h, review, SUPERVISOR, "fine_request",
                       {"guidance": "回访记录与客户反馈不符", "severity": "falsification"})  # fmt: skip
        await complete(h, await open_task(h, "fine_approval"), PRESIDENT, "approve")
        [pen] = await penalties(session_factory, "revisit-C1")
        assert (pen.clause, pen.party, float(pen.amount_yuan)) == ("R1 5.1(2)", "staff", 100.0)
        # 4.5 the clerk archives per customer category; complete → no 5.1(1) penalty.
        await complete(h, await open_task(h, "archive"), CLERK, "done", {"complete": True})
        [arch] = await records(session_factory, "revisit-C1", "revisit_archive")
        assert arch.category == "large" and arch.data["plan_record"] == plan_rec.id
        assert len(await penalties(session_factory, "revisit-C1", 1)) == 1
        events = await rows(session_factory, models.Event, case_id="revisit-C1")
        assert all(e.clause is None or e.clause.startswith("R1") for e in events)
        assert len({e.seq for e in events}) == len(events)


async def test_4_6_expenses_signed_by_supervisor_and_division_leader_paid_up_to_the_cap(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_case(env, queue)
        await first_visit_made(env, h)
        await reported(h)
        sign = await open_task(h, "expense_sign")
        # Task data the workflow relies on cannot be slipped in by a client.
        await refused(
            complete(h, sign, SUPERVISOR, "approve", {"record_id": "revisit-C1/revisit_plan/1"}),
            "Invalid",
            "data.record_id",
        )
        await complete(h, sign, SUPERVISOR, "approve")
        await complete(h, await open_task(h, "expense_sign"), DIVISION, "approve")
        await complete(h, await open_task(h, "expense_pay"), FINANCE, "paid")
        [claim] = await records(session_factory, "revisit-C1", "expense_claim")
        signers = {
            s.role
            for s in await eventually_rows(session_factory, models.Signature, 2, record_id=claim.id)
        }
        assert signers == {"supervisor", "division_leader"}
        [paid] = await records(session_factory, "revisit-C1", "expense_payment")
        assert (Decimal(paid.data["reimbursed_yuan"]),
                Decimal(paid.data["borne_by_staff_yuan"])) == (500, 100)  # fmt: skip


async def test_onsite_visit_needs_customer_signature_and_archive_breach(
    ts_env, session_factory, clean_db, settings_factory
):
    """4.3(2)3) the customer signs the on-site record (sealed, verifiable, tamper-evident);
    5.1(1) an archive not done in time books 1000 元 on the department, once."""
    env = ts_env
    settings = settings_factory()
    policy = RevisitPolicy(
        first_phone_after=Deadline(months=3),
        onsite_every={"regular": None, "large": None, "key": Deadline(months=1)},
    )
    async with case_worker(env.client, session_factory, settings) as queue:
        h = await start_case(env, queue, customer_class="key", policy=policy, customer="K9")
        await complete(h, await open_task(h, "plan"), STAFF, data=PLAN)
        assert (await state(h)).summary["next_visit"]["kind"] == "onsite"
        await skip(env, timedelta(days=25))
        appt = await open_task(h, "appointment")
        when = appt.due_at + timedelta(hours=2)
        await complete(
            h, appt, STAFF, "agreed", {"appointment_at": when.isoformat(), "place": "客户机房"}
        )
        visit = await open_task(h, "visit")
        assert visit.clause == "R1 4.3(2)3)"
        await sleep_to(env, when)
        msg = await refused(
            complete(h, visit, STAFF, data=visit_record(method="onsite")), "Invalid"
        )
        assert "signatures" in msg and "4.3(2)3)" in msg
        drawing = (
            "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
        )
        await complete(
            h,
            visit,
            STAFF,
            data=visit_record(method="onsite"),
            signatures=[{"signer_name": "王工", "method": "drawing", "evidence": drawing}],
        )
        [rec] = await records(session_factory, "revisit-K9", "revisit_record")
        sigs = {
            s.role: s
            for s in await eventually_rows(session_factory, models.Signature, 2, record_id=rec.id)
        }
        assert set(sigs) == {"staff", "customer"}
        cust = sigs["customer"]
        assert (cust.signer, cust.method) == ("王工", "drawing") and cust.evidence_sha256

        from activities.signing import Sealer
        from store.queries import case_records

        listed = next(
            r for r in await case_records(session_factory, "revisit-K9") if r["id"] == rec.id
        )
        assert {(x["role"], x["id"]) for x in listed["signatures"]} == {
            (role, sig.id) for role, sig in sigs.items()
        }

        trusted = Sealer.load_or_create(settings.signing_key_file).public_key_b64
        ok = await verify_signature(session_factory, cust.id, trusted)
        assert ok.ok, ok.reason

        await complete(
            h, await open_task(h, "report"), STAFF, data={"summary": "现场检查", "evaluation": "好"}
        )
        await complete(h, await open_task(h, "materials"), STAFF, data={})
        await complete(
            h, await open_task(h, "review"), SUPERVISOR, "criticise", {"guidance": "到达迟到"}
        )
        # 4.4(2)3) poor work is criticised: the staff member is told.
        criticised = await eventually(
            lambda: rows(session_factory, models.Notification, case_id="revisit-K9"),
            lambda found: any("批评" in n.subject for n in found),
        )
        assert any("批评" in n.subject and n.recipient == "staff" for n in criticised)
        archive = await open_task(h, "archive")
        assert not await penalties(session_factory, "revisit-K9", 0)
        await sleep_to(env, archive.due_at + timedelta(minutes=1))
        [pen] = await penalties(session_factory, "revisit-K9")
        assert (pen.clause, pen.party, pen.party_kind, float(pen.amount_yuan)) == (
            "R1 5.1(1)",
            "客户服务部",
            "department",
            1000.0,
        )
        await refused(
            complete(h, archive, CLERK, "done", {"complete": True, "penalised": True}),
            "Invalid",
            "data.penalised",
        )
        late = await complete(h, archive, CLERK, "done", {"complete": True})
        assert late.breached_at is not None
        assert len(await penalties(session_factory, "revisit-K9", 1)) == 1  # booked once

        # Any change to the signed record is detected.
        async with session_factory() as s, s.begin():
            row = await s.get(models.Record, rec.id)
            row.data = {**row.data, "service_rating": 5}
        bad = await verify_signature(session_factory, cust.id, trusted)
        assert not bad.ok and "changed" in bad.reason


async def test_supervisory_revisit_after_complaint_missed_books_penalties(
    ts_env, session_factory, clean_db, settings_factory
):
    """5.2(1): after a handled complaint the supervisory phone revisit is mandatory; not done in
    time → 500 元 on the regional manager and 300 元 on the department manager. A reminder
    comes before the deadline; the task lapses later and the plan goes on."""
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_case(env, queue, customer="S1")
        complaint = ComplaintHandledInput(
            actor=Actor(id="clerk", roles=["clerk"]),
            complaint_ref="TS-0001",
            summary="报修响应慢",
            regional_manager="li",
            department_manager="zhao",
        )
        with pytest.raises(WorkflowUpdateFailedError):
            await h.execute_update("complaint_handled", complaint)
        complaint.actor = STAFF
        assert await h.execute_update("complaint_handled", complaint) == "scheduled"
        await skip(env, timedelta(minutes=1))
        visit = await open_task(h, "supervisory_visit")
        assert (visit.assignee, visit.clause) == ("li", "R1 5.2")
        assert working_days_between(china(visit.created_at).date(), china(visit.due_at).date()) == 2
        assert not await penalties(session_factory, "revisit-S1", 0)
        await sleep_to(env, visit.remind_at + timedelta(minutes=1))
        notes = await eventually(
            lambda: rows(session_factory, models.Notification, case_id="revisit-S1"),
            lambda found: any("提醒" in n.subject for n in found),
        )
        assert any("提醒" in n.subject for n in notes)
        # An extension moves the deadline but does not waive 5.2(1).
        moved = await extend(h, visit, SUPERVISOR, visit.due_at + timedelta(days=1), "客户出差")
        await sleep_to(env, visit.due_at + timedelta(minutes=1))
        assert not await penalties(session_factory, "revisit-S1", 0)
        await sleep_to(env, moved.due_at + timedelta(minutes=1))
        got = sorted(
            (p.party, float(p.amount_yuan), p.clause)
            for p in await penalties(session_factory, "revisit-S1", 2)
        )
        assert got == [("li", 500.0, "R1 5.2(1)"), ("zhao", 300.0, "R1 5.2(1)")]
        notes = await eventually(
            lambda: rows(session_factory, models.Notification, case_id="revisit-S1"),
            lambda found: any("超时" in n.subject for n in found),
        )
        assert any("超时" in n.subject and n.recipient == "role:supervisor" for n in notes)
        await skip(env, timedelta(days=31))
        view = await state(h)
        assert view.summary["visits_missed"] >= 1


async def test_close_plan_only_by_supervisor(ts_env, session_factory, clean_db, settings_factory):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_case(env, queue, customer="X1")
        await open_task(h, "plan")
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await h.execute_update("close_plan", ClosePlanInput(actor=STAFF, reason="客户流失"))
        assert getattr(info.value.cause, "type", None) == "Forbidden"
        assert (await state(h)).status == "open"
        await h.execute_update(
            "close_plan", ClosePlanInput(actor=SUPERVISOR, reason="客户已终止合作")
        )
        assert await h.result() == "closed"
        [case] = await rows(session_factory, models.Case, id="revisit-X1")
        assert case.status == "closed" and case.closed_at is not None
        tasks = await rows(session_factory, models.Task, case_id="revisit-X1")
        assert [t.status for t in tasks] == ["cancelled"]


async def test_ten_years_keep_every_run_small(ts_env, session_factory, clean_db, settings_factory):
    """A key customer's plan over ten simulated years (nobody acting: every task reminds,
    breaches and lapses) continues as new per visit, each run under 2,000 history events."""
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_case(env, queue, customer_class="key", customer="T10")
        started_at = await env.get_current_time()
        await skip(env, timedelta(days=3650))
        runs: list[int] = []
        run_id: str | None = None
        handle = env.client.get_workflow_handle("revisit-T10")
        while True:
            hist = await env.client.get_workflow_handle(
                "revisit-T10", run_id=run_id
            ).fetch_history()
            runs.append(len(hist.events))
            started = hist.events[0].workflow_execution_started_event_attributes
            run_id = started.continued_execution_run_id or None
            if not run_id:
                break
        assert len(runs) >= 2, runs
        assert max(runs) < 2000, runs
        view = await state(handle)
        assert view.run == len(runs)
        assert view.status == "open"
        # 4.3(2) the grid: phone at 1 month then every 6 months; on-site every 6 months (key).
        grid = await visit_grid(session_factory, "revisit-T10")
        go_live = datetime.combine(china(started_at).date(), time(9), CHINA_TZ)
        assert grid["first_phone"] == [months_after(go_live, 1)]
        assert grid["routine_phone"][:5] == [months_after(go_live, 1 + 6 * k) for k in range(1, 6)]
        assert grid["onsite"][:6] == [months_after(go_live, 6 * k) for k in range(1, 7)]
    _ = h


def months_after(start: datetime, months: int) -> datetime:
    y, m = divmod(start.month - 1 + months, 12)
    return start.replace(year=start.year + y, month=m + 1)


async def visit_grid(session_factory: Any, case_id: str) -> dict[str, list[datetime]]:
    """Planned time of every visit the case made due, by kind (from the timeline)."""
    grid: dict[str, list[datetime]] = {}
    for ev in sorted(
        await rows(session_factory, models.Event, case_id=case_id), key=lambda e: e.seq
    ):
        if ev.kind == "visit_due":
            grid.setdefault(ev.detail["kind"], []).append(
                datetime.fromisoformat(ev.detail["planned_at"])
            )
    return grid


async def test_onsite_cadence_by_customer_class(
    ts_env, session_factory, clean_db, settings_factory
):
    """4.3(2)3) large customers get an on-site revisit every year (regular customers none), on the
    regulation's default policy, over three simulated years."""
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        # Go-live 10 months ago: the first phone revisit and routine revisit 1 are overdue.
        today = china(await env.get_current_time()).date().replace(day=15)
        go_live = months_after(datetime.combine(today, time(9), CHINA_TZ), -10)
        await start_case(env, queue, customer_class="large", customer="L3", go_live=go_live.date())
        await skip(env, timedelta(days=3 * 365))
        grid = await visit_grid(session_factory, "revisit-L3")
    # Started after go-live: only the latest overdue visit of each grid is made, then the grid.
    assert grid["onsite"][:3] == [months_after(go_live, 12 * k) for k in (1, 2, 3)]
    assert grid["routine_phone"][:2] == [months_after(go_live, 7), months_after(go_live, 13)]
    assert "first_phone" not in grid


async def test_provisional_deadline_recomputed_when_year_loaded(
    ts_env, session_factory, clean_db, settings_factory, tmp_path
):
    """A working-day deadline in a year no calendar confirms (2027) is provisional, shown on the
    case, and recomputed when an administrator loads the year."""
    from activities.workcalendar import load_year

    env = ts_env
    policy = RevisitPolicy(plan_due=Deadline(working_days=40))
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_case(env, queue, customer="P1", policy=policy)
        plan = await open_task(h, "plan")
        assert plan.provisional and (await state(h)).provisional
        [case] = await eventually(
            lambda: rows(session_factory, models.Case, id="revisit-P1"),
            lambda found: bool(found) and found[0].provisional,
        )
        assert case.provisional
        # Declare all of January 2027 a holiday: the recomputed due must move past it.
        override = tmp_path / "cal2027.json"
        jan = [{"date": f"2027-01-{d:02d}", "name": "测试假期"} for d in range(1, 32)]
        override.write_text(
            __import__("json").dumps({"year": 2027, "holidays": jan, "workdays": []})
        )
        await load_year(session_factory, override, "admin")
        await h.signal("calendar_updated", CalendarUpdatedInput(years=[2027]))
        await skip(env, timedelta(seconds=5))
        moved = await open_task(h, "plan")
        assert not moved.provisional and moved.due_at > plan.due_at
        assert china(moved.due_at).date() >= date(2027, 2, 1)
        assert not (await state(h)).provisional
        [case] = await eventually(
            lambda: rows(session_factory, models.Case, id="revisit-P1"),
            lambda found: not found[0].provisional,
        )
        assert not case.provisional
        found = await eventually(
            lambda: rows(session_factory, models.Event, case_id="revisit-P1"),
            lambda evs: "deadline_recomputed" in [e.kind for e in evs],
        )
        events = [e.kind for e in found]
        assert "deadline_recomputed" in events


async def test_bad_start_input_is_refused_before_anything_starts():
    with pytest.raises(Exception) as info:
        RevisitInput(
            customer_id="C 1",
            customer_name="",
            customer_class="huge",
            go_live="2026-13-01",
            owner="s",
            contacts=[],
        )
    text = str(info.value)
    for field in ("customer_id", "customer_name", "customer_class", "go_live", "contacts"):
        assert field in text
    _ = WorkflowFailureError


async def phone_visit_until_review(env: Any, h: Any, expenses: list[Any] | None = None) -> Any:
    """Plan, first phone revisit, report and materials done by the staff member; returns the
    supervisor's open review task."""
    await complete(h, await open_task(h, "plan"), STAFF, data=PLAN)
    first = datetime.fromisoformat((await state(h)).summary["next_visit"]["planned_at"])
    await sleep_to(env, first - timedelta(days=6))
    appt = await open_task(h, "appointment")
    await complete(h, appt, STAFF, "agreed", {"appointment_at": appt.due_at.isoformat()})
    await sleep_to(env, appt.due_at)
    return await records_to_review(h, expenses=expenses or [])


async def records_to_review(
    h: Any, expenses: list[Any] | None = None, kind: str = "visit", **visit: Any
) -> Any:
    await complete(
        h, await open_task(h, kind), visit.pop("actor", STAFF), data=visit_record(**visit)
    )
    await complete(
        h, await open_task(h, "report"), STAFF, data={"summary": "正常", "evaluation": "良"}
    )
    await complete(h, await open_task(h, "materials"), STAFF, data={"expenses": expenses or []})
    return await open_task(h, "review")


async def test_review_commendation_and_cost_charge(
    ts_env, session_factory, clean_db, settings_factory
):
    """4.4(2)1) costs of a colleague's work are charged to the responsible person;
    4.4(2)2) good work → commendation request, decided by 总裁办. Validators refuse a closed
    task and an extension the regulation does not provide."""
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_case(env, queue, customer="R2")
        review = await phone_visit_until_review(env, h)
        await refused(
            extend(h, review, SUPERVISOR, review.due_at + timedelta(days=1), "补充材料"),
            "Forbidden",
            "cannot be extended",
        )
        await complete(
            h,
            review,
            SUPERVISOR,
            "commend",
            {"guidance": "回访细致", "charge_to": "wang", "charge_yuan": 180},
        )
        await refused(
            complete(h, review, SUPERVISOR, "accept", {"guidance": "再次提交"}),
            "Conflict",
            "already done",
        )
        [charge] = await penalties(session_factory, "revisit-R2", 1)
        assert (charge.kind, charge.party, float(charge.amount_yuan), charge.clause) == (
            "charge",
            "wang",
            180.0,
            "R1 4.4(2)1)",
        )
        decision = await open_task(h, "commendation")
        assert decision.role == "president_office" and decision.clause == "R1 4.4(2)2)"
        await complete(h, decision, PRESIDENT, "approve")
        rows_ = await penalties(session_factory, "revisit-R2", 2)
        assert {(p.kind, p.party) for p in rows_} == {("charge", "wang"), ("commendation", "staff")}


async def test_serious_case_fine_with_sanction(ts_env, session_factory, clean_db, settings_factory):
    """5.1(3): a serious case is fined 500 元 (with the sanction named) once 总裁办 approves;
    a declined fine books nothing."""
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_case(env, queue, customer="R3")
        review = await phone_visit_until_review(env, h)
        await complete(
            h,
            review,
            SUPERVISOR,
            "fine_request",
            {"guidance": "伪造客户签字", "severity": "serious", "sanction": "降职"},
        )
        assert not await penalties(session_factory, "revisit-R3", 0)
        await complete(h, await open_task(h, "fine_approval"), PRESIDENT, "approve")
        [fine] = await penalties(session_factory, "revisit-R3", 1)
        assert (fine.clause, fine.party, float(fine.amount_yuan)) == ("R1 5.1(3)", "staff", 500.0)
        assert "降职" in fine.rule


async def test_falsified_supervisory_revisit_dismissal(
    ts_env, session_factory, clean_db, settings_factory
):
    """5.2(2): a falsified supervisory revisit → the responsible person dismissed and the
    department manager fined 500 元."""
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_case(env, queue, customer="R4")
        await h.execute_update(
            "complaint_handled",
            ComplaintHandledInput(
                actor=SUPERVISOR,
                complaint_ref="TS-0042",
                summary="电梯维修投诉已处理",
                regional_manager="li",
                department_manager="zhao",
            ),
        )
        visit = await open_task(h, "supervisory_visit")
        assert visit.assignee == "li"
        await refused(
            complete(h, visit, Actor(id="li", roles=["clerk"]), data=visit_record()),
            "Forbidden",
            "needs the role",
        )
        review = await records_to_review(
            h, kind="supervisory_visit", actor=Actor(id="li", roles=["staff"])
        )
        await complete(
            h,
            review,
            SUPERVISOR,
            "fine_request",
            {"guidance": "回访记录与客户陈述不符", "severity": "falsification"},
        )
        await complete(h, await open_task(h, "fine_approval"), PRESIDENT, "approve")
        got = sorted(
            (p.kind, p.party, float(p.amount_yuan), p.clause)
            for p in await penalties(session_factory, "revisit-R4", 2)
        )
        assert got == [("dismissal", "li", 0.0, "R1 5.2(2)"), ("fine", "zhao", 500.0, "R1 5.2(2)")]


async def test_declined_appointment_and_rejected_expense_claim(
    ts_env, session_factory, clean_db, settings_factory
):
    """4.2(2) a customer who declines the appointment: the visit is recorded as not made and the
    plan moves on; 4.6(1) an expense claim the division leader rejects is not paid."""
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_case(env, queue, customer="E1")
        review = await phone_visit_until_review(
            env, h, expenses=[{"item": "交通费", "amount_yuan": 80}]
        )
        await complete(h, review, SUPERVISOR, "accept", {"guidance": "很好"})
        await complete(h, await open_task(h, "expense_sign"), SUPERVISOR, "approve")
        await complete(
            h, await open_task(h, "expense_sign"), DIVISION, "reject", {"reason": "超出标准"}
        )
        await complete(h, await open_task(h, "archive"), CLERK, "done", {"complete": True})
        found = await eventually(
            lambda: rows(session_factory, models.Event, case_id="revisit-E1"),
            lambda evs: any(e.kind == "expense_rejected" for e in evs),
        )
        assert any(e.kind == "expense_rejected" and e.actor == "division" for e in found)
        assert not await records(session_factory, "revisit-E1", "expense_payment", 0)

        # Next: the routine phone revisit; the customer declines the appointment.
        await skip(env, timedelta(minutes=5))
        view = await state(h)
        assert view.summary["next_visit"]["kind"] == "routine_phone"
        nxt = datetime.fromisoformat(view.summary["next_visit"]["planned_at"])
        await sleep_to(env, nxt - timedelta(days=6))
        await complete(h, await open_task(h, "appointment"), STAFF, "declined")
        await skip(env, timedelta(minutes=5))
        view = await state(h)
        assert view.summary["visits_missed"] == 1 and not view.summary["open_visits"]
        kinds = [e.kind for e in await rows(session_factory, models.Event, case_id="revisit-E1")]
        assert "visit_declined" in kinds


async def test_supervisory_revisit_opens_on_time_during_a_visit(
    ts_env, session_factory, clean_db, settings_factory
):
    """5.2: a complaint reported handled while a routine visit's chain is under way opens its
    supervisory revisit at once, due 2 working days later; done in time, nobody is fined."""
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_case(env, queue, customer="V1")
        await complete(h, await open_task(h, "plan"), STAFF, data=PLAN)
        first = datetime.fromisoformat((await state(h)).summary["next_visit"]["planned_at"])
        await sleep_to(env, first - timedelta(days=6))
        appt = await open_task(h, "appointment")
        await complete(h, appt, STAFF, "agreed", {"appointment_at": appt.due_at.isoformat()})
        await sleep_to(env, appt.due_at)
        await complete(h, await open_task(h, "visit"), STAFF, data=visit_record())
        report = await open_task(h, "report")  # the first visit's chain is under way
        reported = await env.get_current_time()
        complaint = ComplaintHandledInput(
            actor=SUPERVISOR,
            complaint_ref="TS-0100",
            summary="噪音投诉已处理",
            regional_manager="li",
            department_manager="zhao",
        )
        await h.execute_update("complaint_handled", complaint)
        view = await state(h)
        supervisory = next(
            t for t in view.tasks if t.kind == "supervisory_visit" and t.status == "open"
        )
        assert supervisory.clause == "R1 5.2"
        assert supervisory.created_at < reported + timedelta(minutes=1)  # opened at once
        assert supervisory.due_at > supervisory.created_at  # not opened overdue
        assert working_days_between(china(reported).date(), china(supervisory.due_at).date()) == 2
        assert report.status == "open"
        await complete(h, supervisory, Actor(id="li", roles=["staff"]), data=visit_record())
        await sleep_to(env, supervisory.due_at + timedelta(hours=1))
        assert not [
            p
            for p in await penalties(session_factory, "revisit-V1", 0)
            if p.clause.startswith("R1 5.2")
        ]


async def test_first_phone_revisit_opens_at_one_month_without_appointment(
    ts_env, session_factory, clean_db, settings_factory
):
    """4.3(2)1): nobody books the appointment; the first phone revisit still opens on the day
    one month after go-live, due that day; the appointment task breaches."""
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_case(env, queue, customer="F1")
        go_live = china(await env.get_current_time()).date()
        first_phone = datetime.combine(go_live, time(9), CHINA_TZ)
        first_phone = first_phone.replace(
            month=first_phone.month % 12 + 1, year=first_phone.year + (first_phone.month == 12)
        )
        await sleep_to(env, first_phone - timedelta(days=1))
        appt = await open_task(h, "appointment")
        assert not [t for t in (await state(h)).tasks if t.kind == "visit"]
        await sleep_to(env, first_phone + timedelta(minutes=1))
        visit = await open_task(h, "visit")
        assert visit.clause == "R1 4.3(2)1)"
        assert visit.due_at == datetime.combine(
            first_phone.date() + timedelta(days=1), time(0), CHINA_TZ
        )
        assert visit.due_at - datetime.combine(go_live, time(0), CHINA_TZ) < timedelta(days=33)
        breached = next(t for t in (await state(h)).tasks if t.id == appt.id)
        assert breached.breached_at is not None and breached.status == "open"
        # The visit made without an appointment closes the appointment task.
        await complete(h, visit, STAFF, data=visit_record())
        view = await state(h)
        assert next(t for t in view.tasks if t.id == appt.id).status == "cancelled"
        assert view.summary["visits_done"] == 1


async def test_working_day_reminder_from_a_policy_file(
    ts_env, session_factory, clean_db, settings_factory, tmp_path
):
    """A company's policy file sets the reminder to one working day before the due: the plan
    (due in 3 working days) is reminded on the working day before, and the reminder is sent."""
    import json

    from activities.policy import load_policy
    from workflows import REGISTRY

    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"revisit": {"reminder_before": {"working_days": 1}}}), "utf-8")
    policy = load_policy(REGISTRY["revisit"], settings_factory(policy_file=path))
    assert isinstance(policy, RevisitPolicy) and policy.reminder_before.working_days == 1
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_case(env, queue, customer="W1", policy=policy)
        plan = await open_task(h, "plan")
        due_day, remind = china(plan.due_at).date(), china(plan.remind_at)
        assert working_days_between(remind.date(), due_day) == 1
        assert remind.time() == china(plan.due_at).time()
        await sleep_to(env, plan.remind_at + timedelta(minutes=1))
        notes = await eventually(
            lambda: rows(session_factory, models.Notification, case_id="revisit-W1"),
            lambda found: any("提醒" in n.subject for n in found),
        )
        assert any("提醒" in n.subject and n.recipient == "staff" for n in notes)


async def test_only_the_cases_supervisor_or_a_division_leader_acts_as_supervisor(
    ts_env, session_factory, clean_db, settings_factory
):
    """A case that names its supervisor: another supervisor may neither extend its deadlines nor
    close the plan; the named one and a division leader (the role above) may."""
    env = ts_env
    boss = Actor(id="boss", roles=["supervisor"], department="客户服务部")
    other = Actor(id="sup2", roles=["supervisor"], department="客户服务部")
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_case(env, queue, customer="G1", supervisor="boss")
        await complete(h, await open_task(h, "plan"), STAFF, data=PLAN)
        first = datetime.fromisoformat((await state(h)).summary["next_visit"]["planned_at"])
        await sleep_to(env, first - timedelta(days=6))
        appt = await open_task(h, "appointment")
        later = appt.due_at + timedelta(days=2)
        await refused(
            extend(h, appt, other, later, "客户出差"), "Forbidden", "the case's 部门主管 is boss"
        )
        appt = await extend(h, appt, boss, later, "客户出差")
        await extend(h, appt, DIVISION, later + timedelta(days=1), "再延一天")
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await h.execute_update("close_plan", ClosePlanInput(actor=other, reason="客户流失"))
        assert "the case's 部门主管 is boss" in str(info.value.cause)
        await h.execute_update("close_plan", ClosePlanInput(actor=boss, reason="合同终止"))
        assert await h.result() == "closed"


async def test_without_a_named_supervisor_the_departments_supervisors_act(
    ts_env, session_factory, clean_db, settings_factory
):
    """No supervisor named: a supervisor of another department may not sign the expense claim;
    one of the case's department may."""
    env = ts_env
    elsewhere = Actor(id="sup3", roles=["supervisor"], department="工程部")
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_case(env, queue, customer="G2")
        review = await phone_visit_until_review(
            env, h, expenses=[{"item": "交通费", "amount_yuan": 50}]
        )
        sign = await open_task(h, "expense_sign")
        await refused(
            complete(h, sign, elsewhere, "approve"), "Forbidden", "部门主管 of 客户服务部"
        )
        await refused(complete(h, review, elsewhere, "accept", {"guidance": "好"}), "Forbidden")
        await complete(h, sign, SUPERVISOR, "approve")
        await complete(h, review, SUPERVISOR, "accept", {"guidance": "很好"})
