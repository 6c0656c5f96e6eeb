"""Building blocks that need the real Temporal server (the time-skipping server differs around
continue-as-new and has no Schedules): open tasks and messages survive continue-as-new, every
run replays; periodic duties are Schedules whose report cases write records."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from activities.workcalendar import current_years, year_days
from starter.cases import case_histories
from store import models
from tests.blocks_regulation import BlocksInput, BlocksPolicy, BlocksWorkflow
from tests.helpers import (
    STARTED,
    case_worker,
    complete,
    eventually,
    library_calendar,
    replayer,
    rows,
    save_histories,
    state,
    wait_begun,
)
from workflows.model import Actor, CalendarData, CalendarUpdatedInput, CaseMessage, CaseStart
from workflows.registry import RegulationEntry, ScheduleSpec
from workflows.regulations.report import ENTRY as REPORT
from workflows.regulations.report.clauses import ReportWorkflow

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_open_tasks_and_messages_survive_continue_as_new(
    local_env, session_factory, clean_db, settings_factory
):
    env = local_env
    policy = BlocksPolicy(continue_as_new_after_events=20)
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        now = await env.get_current_time()
        h = await env.client.start_workflow(
            "test.blocks",
            CaseStart(
                input=BlocksInput(customer_id="N1", units=["fix"], deposit_yuan=0).model_dump(
                    mode="json"
                ),
                policy=policy.model_dump(mode="json"),
                started_by="staff",
                calendar=library_calendar(now),
            ),
            id="blocks-N1",
            task_queue=queue,
            execution_timeout=timedelta(minutes=5),
        )
        STARTED.append(h)
        await wait_begun(h)
        # Messages and a calendar update arrive while the case keeps continuing as new.
        year = current_years(now)[1]
        for i in range(15):
            await h.signal("case_message", CaseMessage(key=f"m{i}", name="ping", payload={"n": i}))
            if i == 7:
                await h.signal(
                    "calendar_updated",
                    CalendarUpdatedInput(
                        years=[year], calendar=CalendarData(years={year: year_days(year)})
                    ),
                )
        view = await eventually(
            lambda: state(h), lambda v: v.summary["messages"] == 15 and v.run >= 2, within=30
        )
        assert view.summary["messages"] == 15 and view.run >= 2, (view.run, view.summary)
        fix = next(t for t in view.tasks if t.kind == "fix")
        assert fix.status == "open" and fix.id == "blocks-N1/t1"  # opened in run 1
        await complete(h, fix, Actor(id="s", roles=["staff"]), "done")
        task = await eventually(
            lambda: rows(session_factory, models.Task, id="blocks-N1/t1"),
            lambda found: bool(found) and found[0].status == "done",
        )
        assert task[0].status == "done"
        events = await eventually(
            lambda: rows(session_factory, models.Event, case_id="blocks-N1"),
            lambda evs: sum(e.kind == "message_received" for e in evs) == 15,
        )
        seqs = sorted(e.seq for e in events)
        assert seqs == list(range(1, len(seqs) + 1))  # one timeline across runs
        assert [e.kind for e in events].count("calendar_updated") == 1
        assert [e.kind for e in events].count("run_continued") == view.run - 1
        await h.execute_update("close_case", {"actor": {"id": "s", "roles": ["staff"]}})
        assert await h.result() == "closed"
        runs = await case_histories(env.client, "blocks-N1")
    assert len(runs) >= 2
    for hist in runs:
        await replayer([BlocksWorkflow]).replay_workflow(hist)


async def test_schedule_starts_a_report_case(
    local_env, session_factory, clean_db, settings_factory
):
    """A periodic duty declared in the registry becomes a Temporal Schedule (created, then
    updated); each run is a report case that reads the database and writes its record."""
    from starter.schedules import describe_schedules, ensure_schedules

    env = local_env
    sid = f"report-test-{uuid.uuid4().hex[:6]}"
    duty = ScheduleSpec(
        sid,
        "测试统计",
        "zhidu.report",
        {
            "title": "测试统计",
            "regulation": "blocks",
            "period": "day",
            "recipients": ["role:clerk"],
        },
        every_seconds=3600,
    )
    holder = RegulationEntry(**{**REPORT.__dict__, "schedules": (duty,)})
    registry = {"report": holder}  # only this schedule (the dev server is shared)
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        settings = settings_factory(temporal_task_queue=queue)
        assert [s.action for s in await ensure_schedules(env.client, settings, registry)] == [
            "created"
        ]
        assert [s.action for s in await ensure_schedules(env.client, settings, registry)] == [
            "updated"
        ]
        [row] = [r for r in await describe_schedules(env.client, registry) if r["id"] == sid]
        assert row["next"], row
        handle = env.client.get_schedule_handle(sid)
        try:
            await handle.trigger()
            desc = await eventually(
                handle.describe, lambda d: bool(d.info.recent_actions), within=15
            )
            wf_id = desc.info.recent_actions[-1].action.workflow_id
            assert wf_id.startswith(sid)
            result = await env.client.get_workflow_handle(wf_id).result()
            assert result == "done"
            await save_histories(env.client, wf_id)
            [record] = await eventually(
                lambda: rows(session_factory, models.Record, case_id=wf_id), bool
            )
            assert record.title == "《测试统计》" and "figures" in record.data
            assert record.data["regulation"] == "blocks"
            notes = await rows(session_factory, models.Notification, case_id=wf_id)
            assert {n.recipient for n in notes} == {"role:clerk"}
            [case] = await rows(session_factory, models.Case, id=wf_id)
            assert case.regulation == "report" and case.status == "done"
            await replayer([ReportWorkflow]).replay_workflow(
                await env.client.get_workflow_handle(wf_id).fetch_history()
            )
        finally:
            await handle.delete()
    await asyncio.sleep(0)
