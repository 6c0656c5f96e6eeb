"""R1 on the real Temporal dev server (start_local): continue-as-new behaves differently on the
time-skipping server, so the perpetual plan is checked here with a policy in seconds."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from store import models
from tests.helpers import case_worker, rows, state
from workflows.model import Deadline
from workflows.revisit import Contact, Period, RevisitInput, RevisitPolicy, RevisitRun

pytestmark = pytest.mark.asyncio(loop_scope="session")

SECONDS_POLICY = RevisitPolicy(
    first_phone_after=Period(seconds=4),
    routine_phone_every=Period(seconds=600),
    onsite_every={"regular": None, "large": None, "key": None},
    plan_due=Deadline(seconds=2),
    appointment_lead=Deadline(seconds=1),
    late_appointment_within=Deadline(seconds=1),
    visit_window=Deadline(seconds=1),
    reminder_before=Deadline(seconds=0.5),
    lapse_after=Deadline(seconds=1),
)


async def test_plan_continues_as_new_on_the_real_server(local_env, session_factory, clean_db, settings_factory):
    env = local_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        inp = RevisitInput(customer_id="D1", customer_name="乙公司", go_live="2026-11-01",
                           owner="staff", contacts=[Contact(name="李工")])
        h = await env.client.start_workflow(
            "zhidu.revisit", RevisitRun(input=inp, policy=SECONDS_POLICY, started_by="staff"),
            id="revisit-D1", task_queue=queue, execution_timeout=timedelta(minutes=5),
        )
        for _ in range(120):
            view = await state(h)
            if view.run >= 2:
                break
            await asyncio.sleep(0.5)
        assert view.run == 2, view.summary
        assert view.summary["visits_missed"] == 1
        assert view.summary["next_visit"]["kind"] == "routine_phone"
        first = await env.client.get_workflow_handle("revisit-D1").fetch_history()
        assert first.events[0].workflow_execution_started_event_attributes.continued_execution_run_id
        # The timeline and the task ids continue across runs: nothing overwritten, nothing lost.
        events = await rows(session_factory, models.Event, case_id="revisit-D1")
        seqs = sorted(e.seq for e in events)
        assert seqs == list(range(1, len(seqs) + 1))
        kinds = [e.kind for e in events]
        for k in ("plan_started", "task_opened", "reminder", "breach", "lapsed", "visit_missed", "run_continued"):
            assert k in kinds, k
        tasks = await rows(session_factory, models.Task, case_id="revisit-D1")
        assert {t.kind for t in tasks} >= {"plan", "appointment", "visit"}
        assert all(t.status == "lapsed" for t in tasks if t.kind == "plan")
        await h.terminate("test over")
