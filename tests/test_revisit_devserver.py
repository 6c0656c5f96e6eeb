"""R1 on the real Temporal dev server (start_local): continue-as-new behaves differently on the
time-skipping server, so the perpetual plan is checked here with a policy in seconds."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from store import models
from tests.helpers import (
    CLERK,
    OTHER_STAFF,
    RD,
    STAFF,
    SUPERVISOR,
    case_worker,
    complete,
    eventually,
    extend,
    open_task,
    rows,
    start_case,
    state,
)
from workflows.model import Deadline
from workflows.regulations.revisit.forms import ClosePlanInput, Contact, RevisitInput, RevisitPolicy

pytestmark = pytest.mark.asyncio(loop_scope="session")

SECONDS_POLICY = RevisitPolicy(
    first_phone_after=Deadline(seconds=4),
    routine_phone_every=Deadline(seconds=600),
    onsite_every={"regular": None, "large": None, "key": None},
    plan_due=Deadline(seconds=2),
    appointment_lead=Deadline(seconds=1),
    late_appointment_within=Deadline(seconds=1),
    visit_window=Deadline(seconds=1),
    reminder_before=Deadline(seconds=0.5),
    lapse_after=Deadline(seconds=1),
    continue_as_new_after_events=30,
)


async def test_plan_continues_as_new_on_the_real_server(
    local_env, session_factory, clean_db, settings_factory
):
    env = local_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        inp = RevisitInput(
            customer_id="D1",
            customer_name="乙公司",
            go_live="2026-11-01",
            owner="staff",
            contacts=[Contact(name="李工")],
        )
        h = await start_case(env, queue, "revisit", inp, SECONDS_POLICY, calendar=False,
                             execution_timeout=timedelta(minutes=5))  # fmt: skip
        for _ in range(120):
            view = await state(h)
            plan = [t for t in view.tasks if t.kind == "plan"]
            lapsed = "lapsed" in [e.kind for e in view.events] and not plan
            if view.run >= 2 and view.summary.get("visits_missed") and lapsed:
                break
            await asyncio.sleep(0.5)
        assert view.run >= 2, view.summary
        assert view.summary["visits_missed"] >= 1
        assert view.summary["next_visit"]["kind"] == "routine_phone"
        first = await env.client.get_workflow_handle("revisit-D1").fetch_history()
        assert first.events[
            0
        ].workflow_execution_started_event_attributes.continued_execution_run_id
        # The timeline and the task ids continue across runs: nothing overwritten, nothing lost.
        events = await rows(session_factory, models.Event, case_id="revisit-D1")
        seqs = sorted(e.seq for e in events)
        assert seqs == list(range(1, len(seqs) + 1))
        kinds = [e.kind for e in events]
        for k in (
            "plan_started",
            "task_opened",
            "reminder",
            "breach",
            "lapsed",
            "visit_missed",
            "run_continued",
        ):
            assert k in kinds, k
        tasks = await eventually(
            lambda: rows(session_factory, models.Task, case_id="revisit-D1"),
            lambda found: all(t.status == "lapsed" for t in found if t.kind == "plan"),
        )
        assert {t.kind for t in tasks} >= {"plan", "appointment", "visit"}
        assert all(t.status == "lapsed" for t in tasks if t.kind == "plan"), [
            (t.id, t.kind, t.status, t.due_at, t.lapse_at) for t in tasks
        ]


HUMAN_POLICY = RevisitPolicy(
    first_phone_after=Deadline(seconds=3),
    routine_phone_every=Deadline(days=180),
    onsite_every={"regular": None, "large": None, "key": None},
    plan_due=Deadline(hours=1),
    appointment_lead=Deadline(seconds=1),
    review_due=Deadline(hours=1),
    archive_due=Deadline(hours=1),
    approval_due=Deadline(hours=1),
    rd_feedback_due=Deadline(hours=1),
)


async def test_full_cycle_by_people_on_the_real_server(
    local_env, session_factory, clean_db, settings_factory
):
    """One whole revisit cycle driven through the updates on the real server, then the plan is
    closed. Its histories (ZHIDU_SAVE_HISTORIES) are the ones committed for the replay test."""
    env = local_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        inp = RevisitInput(
            customer_id="H1",
            customer_name="丙公司",
            go_live="2026-11-01",
            owner="staff",
            supervisor="supervisor",
            contacts=[Contact(name="赵工")],
        )
        h = await start_case(env, queue, "revisit", inp, HUMAN_POLICY, calendar=False,
                             execution_timeout=timedelta(minutes=5))  # fmt: skip
        plan = await open_task(h, "plan")
        with pytest.raises(WorkflowUpdateFailedError):
            await complete(h, plan, OTHER_STAFF, data={})
        await complete(
            h,
            plan,
            STAFF,
            data={"purposes": ["product_use"], "methods": ["phone"], "content": "首次回访"},
        )
        appt = await open_task(h, "appointment")
        soon = datetime.now(UTC) + timedelta(seconds=1)
        await complete(h, appt, STAFF, "agreed", {"appointment_at": soon.isoformat()})
        visit = await open_task(h, "visit")
        await complete(
            h,
            visit,
            STAFF,
            data={
                "contact_person": "赵工",
                "method": "phone",
                "usage": "正常",
                "service_rating": 5,
                "questions": ["如何备份数据？"],
                "problems": [{"text": "备份脚本报错", "route": "rd_feedback"}],
            },
        )
        materials = await open_task(h, "materials")
        await extend(h, materials, SUPERVISOR, materials.due_at + timedelta(days=1), "客户资料未齐")
        await complete(
            h, await open_task(h, "report"), STAFF, data={"summary": "正常", "evaluation": "好"}
        )
        await complete(h, materials, STAFF, data={})
        await complete(
            h, await open_task(h, "review"), SUPERVISOR, "accept", {"guidance": "及时跟进研发反馈"}
        )
        await complete(h, await open_task(h, "archive"), CLERK, "done", {"complete": True})
        await complete(h, await open_task(h, "rd_feedback"), RD, "accepted")
        for _ in range(100):
            if not (await state(h)).summary["open_visits"]:
                break
            await asyncio.sleep(0.1)
        view = await state(h)
        assert view.summary["visits_done"] == 1 and not view.summary["open_visits"]
        assert view.summary["next_visit"]["kind"] == "routine_phone"
        assert (
            await h.execute_update(
                "close_plan", ClosePlanInput(actor=SUPERVISOR, reason="合同到期")
            )
            == "closing"
        )
        assert await h.result() == "closed"
        [case] = await rows(session_factory, models.Case, id="revisit-H1")
        assert case.status == "closed"
        assert len(await rows(session_factory, models.Record, case_id="revisit-H1")) >= 6


async def test_follow_up_after_continue_as_new(
    local_env, session_factory, clean_db, settings_factory
):
    """Found by the fault drill: the materials are done, the case continues as new (closed
    tasks are not carried), then the report lapses — the review must still open."""
    env = local_env
    policy = HUMAN_POLICY.model_copy(
        update={
            "report_due": Deadline(seconds=6),
            "lapse_after": Deadline(seconds=2),
            "reminder_before": Deadline(seconds=1),
            "continue_as_new_after_events": 20,
        }
    )
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        inp = RevisitInput(
            customer_id="F2", customer_name="丁公司", go_live="2026-11-01", owner="staff",
            supervisor="supervisor", contacts=[Contact(name="赵工")],
        )  # fmt: skip
        h = await start_case(env, queue, "revisit", inp, policy, calendar=False,
                             execution_timeout=timedelta(minutes=5))  # fmt: skip
        await complete(
            h,
            await open_task(h, "plan"),
            STAFF,
            data={"purposes": ["product_use"], "methods": ["phone"], "content": "计划"},
        )
        appt = await open_task(h, "appointment")
        soon = datetime.now(UTC) + timedelta(seconds=1)
        await complete(h, appt, STAFF, "agreed", {"appointment_at": soon.isoformat()})
        visit = await open_task(h, "visit")
        await complete(
            h,
            visit,
            STAFF,
            data={
                "contact_person": "赵工",
                "method": "phone",
                "usage": "正常",
                "service_rating": 5,
            },
        )
        run_before = (await state(h)).run
        await complete(
            h,
            await open_task(h, "materials"),
            STAFF,
            data={"expenses": [{"item": "交通费", "amount_yuan": 30}]},
        )
        review = None
        for _ in range(60):
            view = await state(h)
            review = next(
                (t for t in view.tasks if t.kind == "review" and t.status == "open"), None
            )
            if review is not None:
                break
            await asyncio.sleep(0.5)
        assert review is not None, [(t.kind, t.status) for t in view.tasks]
        assert view.run > run_before  # the case continued as new in between
        assert [t.kind for t in view.tasks if t.kind == "expense_sign" and t.status == "open"]
        failed = [
            e for e in (await h.fetch_history()).events
            if e.HasField("workflow_task_failed_event_attributes")
        ]  # fmt: skip
        assert failed == []
