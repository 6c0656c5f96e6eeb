"""The engine's building blocks on their own, through the test regulation in
tests/blocks_regulation.py, on the time-skipping server with the real activities and
PostgreSQL. One case per test (the time-skipping server stalls with many)."""

from __future__ import annotations

import calendar as pycal
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import chinese_calendar
import pytest
from pydantic import ValidationError
from temporalio.service import RPCError

from activities.signing import Sealer, verify_signature
from store import models
from tests.blocks_regulation import BlocksInput, BlocksPolicy, BlocksWorkflow
from tests.helpers import (
    STARTED,
    case_worker,
    complete,
    eventually,
    eventually_rows,
    extend,
    open_task,
    penalties,
    refused,
    replayer,
    rows,
    skip,
    sleep_to,
    start_case,
    state,
)
from workflows.model import CHINA_TZ, Actor, PauseTaskInput

pytestmark = pytest.mark.asyncio(loop_scope="session")

STAFF = Actor(id="staff", roles=["staff"])
HEAD = Actor(id="head", roles=["center_head"])
DIRECTOR = Actor(id="dir", roles=["director"])
CLERK = Actor(id="clerk", roles=["clerk"])
DRAWING = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"


async def start(
    env: Any, queue: str, customer: str, policy: BlocksPolicy | None = None, **inp: Any
) -> Any:
    return await start_case(env, queue, "blocks", BlocksInput(customer_id=customer, **inp), policy)


def china(dt: datetime) -> datetime:
    return dt.astimezone(CHINA_TZ)


def working_days_after(start: date, n: int) -> date:
    """Independent cross-check with chinese_calendar (weekdays for years it does not cover)."""
    day = start
    while n:
        day += timedelta(days=1)
        if chinese_calendar.is_workday(day) if day.year <= 2026 else day.weekday() < 5:
            n -= 1
    return day


async def live(handle: Any) -> Any:
    """The case's state, or None while it does not exist yet."""
    try:
        return await state(handle)
    except RPCError:
        return None


async def notes(session_factory: Any, case_id: str, needle: str) -> list[models.Notification]:
    found = await eventually(
        lambda: rows(session_factory, models.Notification, case_id=case_id),
        lambda ns: any(needle in n.subject for n in ns),
    )
    return [n for n in found if needle in n.subject]


async def test_deadline_kinds_reminder_breach_and_lapse(
    ts_env, session_factory, clean_db, settings_factory
):
    """Working days (reminder one working day before), the 10th of the month, 2 days before
    month end; at breach the spec's targets are told and the fine is booked once; lapse."""
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, "D1", units=["intake", "calendar"], deposit_yuan="0")
        intake = await open_task(h, "intake")
        started = china(intake.created_at)  # the case's own clock when it opened the task
        assert china(intake.due_at).date() == working_days_after(started.date(), 2)
        assert china(intake.due_at).time().replace(microsecond=0) == started.time().replace(
            microsecond=0
        )
        remind = china(intake.remind_at)
        assert remind.date() in (working_days_after(started.date(), 1), china(intake.due_at).date())
        assert remind >= started + (intake.due_at - started) / 2

        monthly, settle = await open_task(h, "monthly"), await open_task(h, "settle")
        tenth = started.date().replace(day=10)
        if tenth < started.date():
            tenth = (tenth.replace(day=1) + timedelta(days=32)).replace(day=10)
        assert china(monthly.due_at) == datetime.combine(
            tenth + timedelta(days=1), time(0), CHINA_TZ
        )
        last = pycal.monthrange(started.year, started.month)[1]
        settle_day = started.date().replace(day=last) - timedelta(days=2)
        if settle_day < started.date():
            nxt = started.date().replace(day=28) + timedelta(days=7)
            settle_day = nxt.replace(day=pycal.monthrange(nxt.year, nxt.month)[1]) - timedelta(
                days=2
            )
        assert china(settle.due_at) == datetime.combine(
            settle_day + timedelta(days=1), time(0), CHINA_TZ
        )

        await sleep_to(env, intake.remind_at + timedelta(minutes=1))
        assert await notes(session_factory, "blocks-D1", "提醒")
        assert not await penalties(session_factory, "blocks-D1", 0)
        await sleep_to(env, intake.due_at + timedelta(minutes=1))
        breach = await notes(session_factory, "blocks-D1", "超时")
        assert {n.recipient for n in breach if "登记" in n.subject} >= {"role:center_head", "staff"}
        [fine] = await penalties(session_factory, "blocks-D1", 1)
        assert (fine.kind, fine.party, fine.amount_yuan) == ("fine", "staff", Decimal("200.00"))
        await skip(env, timedelta(days=31))
        view = await state(h)
        assert {t.kind: t.status for t in view.tasks}["intake"] == "lapsed"
        assert len(await penalties(session_factory, "blocks-D1", 1)) == 1  # booked once


async def test_extension_limits_and_pause(ts_env, session_factory, clean_db, settings_factory):
    """The center head extends up to 3 days, the director up to 14; staff may not. A paused
    clock does not breach, and resuming moves every time of the task by the paused span."""
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, "E1", units=["fix"], deposit_yuan="0")
        fix = await open_task(h, "fix")
        start_at = fix.created_at
        await refused(extend(h, fix, STAFF, fix.due_at + timedelta(hours=1), "来不及"), "Forbidden")
        await refused(
            extend(h, fix, HEAD, start_at + timedelta(days=4), "等配件"),
            "Forbidden",
            "higher approval",
        )
        fix = await extend(h, fix, HEAD, start_at + timedelta(days=2), "等配件")
        fix = await extend(h, fix, DIRECTOR, start_at + timedelta(days=10), "厂家返修")
        assert [x.granted_role for x in fix.extensions] == ["center_head", "director"]
        await refused(
            extend(h, fix, DIRECTOR, start_at + timedelta(days=15), "再延"),
            "Forbidden",
            "higher approval",
        )

        pause = PauseTaskInput(task_id=fix.id, actor=STAFF, reason="等业主")
        await refused(h.execute_update("pause_task", pause), "Forbidden", "物业服务中心负责人")
        paused = await h.execute_update(
            "pause_task", PauseTaskInput(task_id=fix.id, actor=HEAD, reason="业主出差，无法入户")
        )
        assert paused["paused_at"] is not None
        await refused(
            h.execute_update(
                "pause_task", PauseTaskInput(task_id=fix.id, actor=HEAD, reason="再停")
            ),
            "Conflict",
        )
        await sleep_to(env, fix.due_at + timedelta(days=1))
        assert not (await state(h)).tasks[0].breached_at  # no breach while paused
        resumed = await h.execute_update(
            "resume_task", PauseTaskInput(task_id=fix.id, actor=HEAD, reason="业主回来了")
        )
        span = datetime.fromisoformat(resumed["due_at"]) - fix.due_at
        assert span > timedelta(days=1) and resumed["paused_at"] is None
        found = await eventually(
            lambda: rows(session_factory, models.Event, case_id="blocks-E1"),
            lambda evs: "task_resumed" in [e.kind for e in evs],
        )
        assert {"task_paused", "task_resumed", "deadline_extended"} <= {e.kind for e in found}
        ext = await eventually_rows(session_factory, models.TaskExtension, 2, task_id=fix.id)
        assert sorted(x.granted_by for x in ext) == ["dir", "head"]


async def test_escalation_ladder(ts_env, session_factory, clean_db, settings_factory):
    """3 min → 5 min → 10 min, a role per level; a breach climbs; each level above the first
    owes a written report (24 h, 48 h); resolved at a level ends the ladder."""
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, "L1", units=["emergency"], deposit_yuan="0")
        first = await open_task(h, "notify_department")
        assert first.role == "department_head" and first.due_at - first.created_at == timedelta(
            minutes=3
        )
        await skip(env, timedelta(minutes=3, seconds=5))
        second = await open_task(h, "report_company")
        assert second.role == "company_leader" and second.due_at - second.created_at == timedelta(
            minutes=5
        )
        report24 = await open_task(h, "written_report_24h")
        assert report24.due_at - report24.created_at == timedelta(hours=24)
        assert (await open_task(h, "notify_department")).status == "open"  # stays open
        await complete(
            h, second, Actor(id="ceo", roles=["company_leader"]), "escalate", {"note": "需董事会"}
        )
        third = await open_task(h, "report_board")
        assert third.role == "board"
        report48 = await open_task(h, "written_report_48h")
        assert report48.due_at - report48.created_at == timedelta(hours=48)
        await complete(h, third, Actor(id="chair", roles=["board"]), "resolved", {"note": "已处理"})
        view = await state(h)
        status = {t.kind: t.status for t in view.tasks}
        assert status["notify_department"] == "cancelled" and status["report_board"] == "done"
        assert status["written_report_24h"] == "open" and status["written_report_48h"] == "open"
        events = [e.kind for e in view.events]
        assert events.count("escalated") == 3 and "ladder_resolved" in events
        assert "emergency_closed" in events
        await complete(
            h, report24, Actor(id="dh", roles=["department_head"]), "done", {"content": "书面报告"}
        )


async def test_approval_chains(ts_env, session_factory, clean_db, settings_factory):
    """≤ 2000 records: the vice president; joint key use: both heads, each signs; a rejection
    needs a reason."""
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, "A1", units=["data", "key"], volume=1500, deposit_yuan="0")
        data = await open_task(h, "data_approval")
        assert data.role == "vice_president" and "1500" in data.title
        keys = [t for t in (await state(h)).tasks if t.kind == "key_approval"]
        assert sorted(t.role for t in keys) == ["property_manager", "security_supervisor"]
        vp = Actor(id="vp", roles=["vice_president"])
        await refused(complete(h, data, vp, "reject", {}), "Invalid", "data.reason")
        await complete(h, data, vp, "reject", {"reason": "用途不明"})
        pm, sec = (
            Actor(id="pm", roles=["property_manager"]),
            Actor(id="sec", roles=["security_supervisor"]),
        )
        await refused(
            complete(h, keys[0], sec if keys[0].role == "property_manager" else pm, "approve"),
            "Forbidden",
        )
        for t in keys:
            await complete(
                h, t, pm if t.role == "property_manager" else sec, "approve", {"note": "同意"}
            )
        view = await state(h)
        events = {e.kind: e for e in view.events}
        assert events["data_request_rejected"].detail["reason"] == "用途不明"
        assert "key_use_approved" in events
        [key_record] = await eventually_rows(session_factory, models.Record, 1, kind="key_use")
        signed = await eventually_rows(
            session_factory, models.Signature, 2, record_id=key_record.id
        )
        assert sorted(s.signer for s in signed) == ["pm", "sec"]
        assert all(u.status == "done" for u in view.units if u.kind in ("data", "key"))


async def test_approval_tier_by_volume_and_scope(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(
            env, queue, "A2", units=["data"], volume=1800, scope="group", deposit_yuan="0"
        )
        assert (await open_task(h, "data_approval")).role == "general_manager"  # across the group
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, "A3", units=["data"], volume=2001, deposit_yuan="0")
        assert (await open_task(h, "data_approval")).role == "general_manager"  # more than 2000


async def test_ledger_money_exact(ts_env, session_factory, clean_db, settings_factory):
    """A deposit held, used and refunded; commission 20/80 and 50/50 to the fen, adding up."""
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, "M1", units=[], deposit_yuan="5000.00")
        fin = Actor(id="fin", roles=["finance"])
        await refused(
            h.execute_update("settle_deposit", {"actor": fin.model_dump(), "used_yuan": "6000"}),
            "Invalid",
        )
        assert (
            await h.execute_update(
                "settle_deposit", {"actor": fin.model_dump(), "used_yuan": "1234.56"}
            )
            == "3765.44"
        )
        deal = {"actor": STAFF.model_dump(), "deal_id": "D-1", "amount_yuan": "1000.05",
                "original": "wang", "helper": "li", "split": "20/80"}  # fmt: skip
        assert await h.execute_update("close_deal", deal) == ["200.01", "800.04"]
        half = {**deal, "deal_id": "D-2", "amount_yuan": "333.33", "split": "50/50"}
        assert await h.execute_update("close_deal", half) == ["166.67", "166.66"]
        ledger = await penalties(session_factory, "blocks-M1", 7)
        by = {(e.kind, e.party, e.account): e.amount_yuan for e in ledger}
        account = "blocks-M1/deposit"
        assert by[("deposit_held", "测试客户", account)] == Decimal("5000.00")
        assert by[("deposit_used", "测试客户", account)] == Decimal("1234.56")
        assert by[("deposit_refunded", "测试客户", account)] == Decimal("3765.44")
        assert by[("commission", "li", "deal/D-1")] + by[
            ("commission", "wang", "deal/D-1")
        ] == Decimal("1000.05")
        assert by[("commission", "li", "deal/D-2")] + by[
            ("commission", "wang", "deal/D-2")
        ] == Decimal("333.33")


async def test_signed_record_and_sampling(ts_env, session_factory, clean_db, settings_factory):
    """The record a task writes is signed by who completed it and by the customer (a drawing,
    required); a seeded sample of 10 % of the complaints, ≥ 30 % of those on site, is recorded
    and the history replays to the same choice."""
    env = ts_env
    complaints = [f"TS-{i:03d}" for i in range(20)]
    settings = settings_factory()
    async with case_worker(env.client, session_factory, settings) as queue:
        h = await start(env, queue, "S1", units=["intake"], complaints=complaints, deposit_yuan="0")
        view = await state(h)
        sampled, onsite = view.summary["sampled"], view.summary["onsite"]
        assert len(sampled) == 2 and set(sampled) <= set(complaints)
        assert len(onsite) == 1 and set(onsite) <= set(sampled)
        [ev] = [e for e in view.events if e.kind == "sampled" and e.detail["population"] == 20]
        assert ev.detail["chosen"] == sampled
        intake = await open_task(h, "intake")
        data = {"room": "3-1201", "content": "卫生间漏水"}
        await refused(complete(h, intake, STAFF, data=data), "Invalid", "《业主反映情况记录》")
        with pytest.raises(ValidationError, match="data:image/"):  # a drawing is an image
            bad = {"signer_name": "赵女士", "method": "drawing", "evidence": "otp:1:" + "0" * 8}
            await complete(h, intake, STAFF, data=data, signatures=[bad])
        await complete(h, intake, STAFF, data=data,
                       signatures=[{"signer_name": "赵女士", "method": "drawing", "evidence": DRAWING}])  # fmt: skip
        [record] = await eventually_rows(session_factory, models.Record, 1, kind="intake_record")
        assert record.data["content"] == "卫生间漏水"
        sigs = await eventually_rows(session_factory, models.Signature, 2, record_id=record.id)
        assert {(s.signer, s.role, s.method) for s in sigs} == {
            ("staff", "staff", "staff_login"), ("赵女士", "owner", "drawing")}  # fmt: skip
        key = Sealer.load_or_create(settings.signing_key_file).public_key_b64
        for s in sigs:
            assert (await verify_signature(session_factory, s.id, key)).ok
        history = await h.fetch_history()
    await replayer([BlocksWorkflow]).replay_workflow(history)


async def test_message_to_another_case_once_per_key(
    ts_env, session_factory, clean_db, settings_factory
):
    """A case messages another: the target is started if needed, and a message delivered twice
    with the same key is handled once."""
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, "P1", units=[], deposit_yuan="0")
        ping = {"actor": STAFF.model_dump(), "target_customer": "P2", "key": "k1", "text": "第一条"}
        assert await h.execute_update("send_ping", ping) == "blocks-P2"
        target = env.client.get_workflow_handle("blocks-P2")
        STARTED.append(target)
        view = await eventually(
            lambda: live(target), lambda v: v is not None and v.summary.get("messages") == 1
        )
        assert view is not None, [
            (e.kind, e.detail)
            for e in await rows(session_factory, models.Event, case_id="blocks-P1")
        ]
        assert view.summary["messages"] == 1
        await h.execute_update("send_ping", ping)  # same key again
        await h.execute_update("send_ping", {**ping, "key": "k2", "text": "第二条"})
        view = await eventually(lambda: state(target), lambda v: v.summary.get("messages") == 2)
        await skip(env, timedelta(seconds=5))
        view = await state(target)
        assert view.summary["messages"] == 2
        received = [e for e in view.events if e.kind == "message_received"]
        assert [e.detail["key"] for e in received] == ["k1", "k2"]
        assert all(e.detail["sender"] == "blocks-P1" for e in received)
        sent = await eventually(
            lambda: rows(session_factory, models.Event, case_id="blocks-P1"),
            lambda evs: sum(e.kind == "message_sent" for e in evs) == 3,
        )
        assert sum(e.kind == "message_sent" for e in sent) == 3


async def test_report_job_reads_the_database(ts_env, session_factory, clean_db, settings_factory):
    """A report step: an activity reads the database, the case writes the figures as a record
    and goes on (a task opened from them)."""
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, "R1", units=["fix"], deposit_yuan="0")
        await open_task(h, "fix")
        await eventually(lambda: rows(session_factory, models.Case, id="blocks-R1"), bool)
        assert await h.execute_update("run_report", {"actor": STAFF.model_dump()}) == "asked"
        collect = await open_task(h, "report_collect")
        assert collect.data["cases"] >= 1
        [stats] = await eventually_rows(session_factory, models.Record, 1, kind="statistics")
        assert (
            stats.data["cases_started"] >= 1
            and "fix" in stats.data["tasks"]
            or stats.data["tasks"] == {}
        )


async def test_refused_data_marks_the_case_for_attention(
    ts_env, session_factory, clean_db, settings_factory
):
    """Text PostgreSQL refuses (a NUL) that slipped past validation is not retried forever: the
    step is stored repaired, the case is marked for attention (reason on the case, timeline
    event, notice to administrators) and goes on."""
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, "Z1", units=["fix"], deposit_yuan="0")
        await open_task(h, "fix")
        rid = await h.execute_update("raw_note", {"text": "坏\x00名"})
        [case] = await eventually(
            lambda: rows(session_factory, models.Case, id="blocks-Z1"),
            lambda found: bool(found) and found[0].attention is not None,
        )
        assert "数据库拒绝" in case.attention
        [record] = await eventually_rows(session_factory, models.Record, 1, id=rid)
        assert record.data["text"] == "坏名"
        assert await notes(session_factory, "blocks-Z1", "需处理")
        view = await state(h)
        assert view.attention and view.status == "open"
        assert "attention" in [e.kind for e in view.events]
        # The case goes on: its task can still be completed.
        fix = await open_task(h, "fix")
        await complete(h, fix, STAFF, "done")
