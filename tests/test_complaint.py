"""R5 `complaint` — 物业客户投诉处理工作管理规定: every clock, each ladder level and its breach, both
readings of 接报后, on the time-skipping server with the real activities and PostgreSQL. One case
per test, named by its clause."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

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
    sleep_to,
    state,
)
from workflows.model import Actor
from workflows.regulations.complaint.forms import ComplaintInput, ComplaintPolicy, DisciplineInput

pytestmark = pytest.mark.asyncio(loop_scope="session")

STAFF = Actor(id="staff", roles=["staff"])  # the 首问人
DESK = Actor(id="frontdesk", roles=["front_desk"])
DEPT = Actor(id="depthead", roles=["department_head"])
CENTER = Actor(id="centerhead", roles=["center_head"])
LEADER = Actor(id="leader", roles=["company_leader"])
BOARD = Actor(id="board", roles=["board"])
DEVCS = Actor(id="devcs5", roles=["developer_cs"])


async def start(env: Any, queue: str, policy: ComplaintPolicy | None = None, **inp: Any) -> Any:
    values = {"customer_name": "王先生", "address": "荔园 3 栋 1202", "phone": "13900000001",
              "subject": "楼上漏水", **inp}  # fmt: skip
    return await helpers.start_case(env, queue, "complaint", ComplaintInput(**values), policy)


def near(a: Any, b: Any) -> bool:
    """Two instants within a second (a breach fires a few milliseconds after its due)."""
    return abs(a - b) < timedelta(seconds=1)


async def kinds_of(h: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for t in (await state(h)).tasks:
        out.setdefault(t.kind, []).append(t.status)
    return out


async def notes(session_factory: Any, case_id: str, text: str) -> list[models.Notification]:
    found = await eventually(
        lambda: rows(session_factory, models.Notification, case_id=case_id),
        lambda got: any(text in n.subject for n in got),
    )
    return [n for n in found if text in n.subject]


async def dispatch(h: Any, env: Any, hours: float = 24) -> Any:
    task = await open_task(h, "complaint_dispatch")
    now = await env.get_current_time()
    await complete(h, task, DESK, "dispatch_department", {
        "department": "工程部", "handling": "派维修人员检查楼上管道",
        "due_at": (now + timedelta(hours=hours)).isoformat()})  # fmt: skip
    return await open_task(h, "complaint_handle")


# ---- 第1–2条 intake and dispatch -------------------------------------------------------------------


async def test_1_2_intake_recorded_first_receiver_follows_front_desk_dispatches_within_12_hours(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue)
        intake = (await records(session_factory, h.id, "complaint_intake", 1))[0]
        assert intake.data["first_receiver"] == "staff" and intake.data["phone"] == "13900000001"
        follow = await open_task(h, "complaint_follow")
        assert follow.assignee == "staff" and follow.due_at is None
        task = await open_task(h, "complaint_dispatch")
        assert task.role == "front_desk" and task.due_at - task.created_at == timedelta(hours=12)
        assert task.remind_at is not None and task.remind_at < task.due_at
        await sleep_to(env, task.due_at + timedelta(seconds=5))
        breach = (await records(session_factory, h.id, "complaint_breach", 1))[0]
        assert breach.data["step"] == "complaint_dispatch" and breach.data["clause"] == "R5 第2条"
        assert (await state(h)).summary["breached"] is True
        assert (await kinds_of(h))["complaint_dispatch"] == ["open"]  # never dropped


async def test_1_a_complaint_recorded_more_than_24_hours_late_is_marked_late(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        now = await env.get_current_time()
        h = await start(env, queue, received_at=now - timedelta(hours=30))
        await open_task(h, "complaint_dispatch")
        view = await state(h)
        got = next(e for e in view.events if e.kind == "complaint_received")
        assert got.detail["late"] is True


# ---- 第3条 unreasonable ---------------------------------------------------------------------------


async def test_3_unreasonable_explanation_recorded_unpersuaded_goes_to_the_department_head(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, subject="要求免除全年物业费")
        task = await open_task(h, "complaint_dispatch")
        await complete(h, task, DESK, "unreasonable",
                       {"explanation": "物业费按合同收取，已说明收费依据", "persuaded": False})  # fmt: skip
        rec = (await records(session_factory, h.id, "complaint_explanation", 1))[0]
        assert rec.data["persuaded"] is False
        coord = await open_task(h, "complaint_coordinate")
        assert coord.role == "department_head" and coord.clause == "R5 第3条"
        await refused(complete(h, coord, STAFF, "coordinated", {"result": "x协调"}), "Forbidden")
        await complete(h, coord, DEPT, "coordinated", {"result": "部门负责人当面说明，顾客接受"})
        assert (await open_task(h, "complaint_revisit")).role == "front_desk"


# ---- 第4条 the 2-hour cannot-finish answer -----------------------------------------------------


async def test_4_cannot_finish_answered_within_2_hours_takes_the_new_promised_time(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue)
        handle = await dispatch(h, env, hours=4)
        assert handle.role == "department_head" and handle.data["department"] == "工程部"
        await skip(env, timedelta(hours=1))
        promised = handle.due_at + timedelta(days=2)
        await complete(h, handle, DEPT, "cannot_finish",
                       {"reason": "需更换的管材缺货", "promised_at": promised.isoformat()})  # fmt: skip
        again = await open_task(h, "complaint_handle")
        assert again.id != handle.id and again.due_at == promised
        rec = (await records(session_factory, h.id, "complaint_cannot_finish", 1))[0]
        assert rec.data["reason"] == "需更换的管材缺货"
        assert (await notes(session_factory, h.id, "不能按时完成"))[
            0
        ].recipient == "role:front_desk"
        view = await state(h)
        answer = next(e for e in view.events if e.kind == "cannot_finish")
        assert answer.detail["late"] is False and view.summary["breaches"] == 0


async def test_4_cannot_finish_answered_after_2_hours_is_recorded_as_a_breach(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue)
        handle = await dispatch(h, env, hours=24)
        await skip(env, timedelta(hours=2, minutes=5))
        promised = handle.due_at + timedelta(days=1)
        await complete(h, handle, DEPT, "cannot_finish",
                       {"reason": "业主不在家", "promised_at": promised.isoformat()})  # fmt: skip
        breach = (await records(session_factory, h.id, "complaint_breach", 1))[0]
        assert breach.data["what"] == "cannot_finish_late" and breach.data["department"] == "工程部"
        await open_task(h, "complaint_handle")


async def test_4_handling_past_the_front_desks_deadline_is_a_breach_told_to_the_desk(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue)
        handle = await dispatch(h, env, hours=3)
        await sleep_to(env, handle.due_at + timedelta(seconds=5))
        told = await notes(session_factory, h.id, "超时")
        assert {n.recipient for n in told} >= {"role:front_desk", "role:department_head"}
        breach = (await records(session_factory, h.id, "complaint_breach", 1))[0]
        assert breach.data["step"] == "complaint_handle"


# ---- 第5条, 第8条 the report back, the first receiver, the revisit ---------------------------


async def test_5_8_report_in_2_hours_first_receiver_told_revisit_in_2_working_days_closes(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue)
        handle = await dispatch(h, env)
        await complete(h, handle, DEPT, "handled")
        back = await open_task(h, "complaint_report_back")
        assert back.due_at - back.created_at == timedelta(hours=2)
        await complete(h, back, DEPT, "done", {"result": "已更换楼上漏水管道"})
        assert (await records(session_factory, h.id, "complaint_result", 1))[0].data["result"]
        tell = await open_task(h, "complaint_tell_first")
        assert tell.role == "front_desk" and tell.due_at - tell.created_at == timedelta(hours=2)
        revisit = await open_task(h, "complaint_revisit")
        assert (
            revisit.due_at is not None and timedelta(days=2) <= revisit.due_at - revisit.created_at
        )
        await complete(h, tell, DESK, "done", {"message": "工程部已修好漏水"})
        got = await notes(session_factory, h.id, "投诉处理结果")
        assert got[0].recipient == "staff" and "已修好" in got[0].body
        await complete(h, revisit, DESK, "satisfied", {"opinion": "满意"})
        rec = (await records(session_factory, h.id, "complaint_revisit_record", 1))[0]
        assert rec.data["opinion"] == "满意"
        assert await h.result() == "done"


async def test_5_report_back_not_in_2_hours_is_a_breach(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue)
        await complete(h, await dispatch(h, env), DEPT, "handled")
        back = await open_task(h, "complaint_report_back")
        await sleep_to(env, back.due_at + timedelta(seconds=5))
        breach = (await records(session_factory, h.id, "complaint_breach", 1))[0]
        assert (
            breach.data["step"] == "complaint_report_back" and breach.data["clause"] == "R5 第5条"
        )


async def test_5_not_satisfied_at_the_revisit_reopens_a_new_round(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue)
        await complete(h, await dispatch(h, env), DEPT, "handled")
        await complete(h, await open_task(h, "complaint_report_back"), DEPT, "done",
                       {"result": "已处理"})  # fmt: skip
        await complete(h, await open_task(h, "complaint_revisit"), DESK, "not_satisfied",
                       {"opinion": "仍然漏水"})  # fmt: skip
        again = await open_task(h, "complaint_dispatch")
        view = await state(h)
        assert view.summary["reopened"] == 1 and view.summary["phase"] == "dispatch"
        assert again.due_at - again.created_at == timedelta(hours=12)
        assert any(e.kind == "complaint_reopened" for e in view.events)


async def test_8_first_receiver_not_told_in_2_hours_is_a_breach_told_to_them(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue)
        await complete(h, await dispatch(h, env), DEPT, "handled")
        await complete(h, await open_task(h, "complaint_report_back"), DEPT, "done",
                       {"result": "已处理"})  # fmt: skip
        tell = await open_task(h, "complaint_tell_first")
        await sleep_to(env, tell.due_at + timedelta(seconds=5))
        told = await notes(session_factory, h.id, "超时")
        assert "staff" in {n.recipient for n in told}
        breach = (await records(session_factory, h.id, "complaint_breach", 1))[0]
        assert breach.data["clause"] == "R5 第8条"


# ---- 第6–7条 the emergency ladder --------------------------------------------------------------


async def test_6_7_nobody_acts_every_level_breaches_escalates_and_is_recorded(
    ts_env, session_factory, clean_db, settings_factory
):
    """接报后 = from when that level was told: department 3 min; center head told at 3, owes by
    8; company leader told at 8, owes by 18 (the center head's 24 h report); board told at 18
    (the company leader's 48 h report)."""
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, category="emergency", subject="地下车库水管爆裂")
        dept = await open_task(h, "em_department")
        t0 = dept.created_at
        assert dept.role == "department_head" and dept.due_at == t0 + timedelta(minutes=3)
        assert dept.remind_at is not None and dept.remind_at < dept.due_at
        await sleep_to(env, dept.due_at + timedelta(seconds=1))
        center = await open_task(h, "em_center")
        assert center.role == "center_head"
        assert near(center.due_at, dept.due_at + timedelta(minutes=5))
        await sleep_to(env, center.due_at + timedelta(seconds=1))
        leader = await open_task(h, "em_leader")
        assert leader.role == "company_leader"
        assert near(leader.due_at, center.due_at + timedelta(minutes=10))
        r24 = await open_task(h, "em_report_24h")
        assert r24.role == "center_head" and near(r24.due_at, center.due_at + timedelta(hours=24))
        await sleep_to(env, leader.due_at + timedelta(seconds=1))
        board = await open_task(h, "em_board")
        assert board.role == "board" and near(board.due_at, leader.due_at + timedelta(hours=2))
        r48 = await open_task(h, "em_report_48h")
        assert r48.role == "company_leader" and near(
            r48.due_at, leader.due_at + timedelta(hours=48)
        )
        await sleep_to(env, board.due_at + timedelta(seconds=1))
        breaches = await records(session_factory, h.id, "complaint_breach", 4)
        assert sorted(b.data["level"] for b in breaches) == [1, 2, 3, 4]
        view = await state(h)
        assert [e.detail["level"] for e in view.events if e.kind == "escalated"] == [1, 2, 3, 4]
        assert view.summary["level"] == 4 and view.summary["breaches"] == 4
        # the board decides: the ladder ends, the lower levels are cancelled, reports stay owed
        await complete(h, board, BOARD, "resolved", {"note": "董事领导决定立即抢修并赔偿"})
        await open_task(h, "complaint_verify_developer")
        kinds = await kinds_of(h)
        assert kinds["em_department"] == ["cancelled"] and kinds["em_report_24h"] == ["open"]


async def test_6_7_intake_reading_counts_every_level_from_the_intake(
    ts_env, session_factory, clean_db, settings_factory
):
    """The other reading of 接报后: 3 / 5 / 10 minutes, all from the intake."""
    env = ts_env
    policy = ComplaintPolicy(emergency_clock="intake")
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, policy, category="major", subject="电梯困人")
        dept = await open_task(h, "em_department_intake")
        t0 = dept.created_at
        assert dept.due_at == t0 + timedelta(minutes=3)
        await skip(env, timedelta(minutes=1))
        await complete(h, dept, DEPT, "escalate", {"note": "需管理处协调"})
        center = await open_task(h, "em_center_intake")
        assert center.due_at == t0 + timedelta(minutes=5)
        await sleep_to(env, center.due_at + timedelta(seconds=1))
        leader = await open_task(h, "em_leader_intake")
        assert leader.due_at == t0 + timedelta(minutes=10)
        r24 = await open_task(h, "em_report_24h_intake")
        assert r24.due_at == t0 + timedelta(hours=24)
        breaches = await records(session_factory, h.id, "complaint_breach", 1)
        assert breaches[0].data["level"] == 2


async def test_6_a_level_that_cannot_resolve_escalates_at_once_and_the_told_clock_restarts(
    ts_env, session_factory, clean_db, settings_factory
):
    """A center head told at minute 2 owes the report by minute 7."""
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, category="developer", subject="外墙渗水需开发商维修")
        dept = await open_task(h, "em_department")
        await skip(env, timedelta(minutes=2))
        await complete(h, dept, DEPT, "escalate", {"note": "本部门无法解决"})
        center = await open_task(h, "em_center")
        assert near(center.due_at, dept.created_at + timedelta(minutes=7))
        await complete(h, center, CENTER, "escalate", {"note": "需公司协调开发商"})
        leader = await open_task(h, "em_leader")
        await complete(h, leader, LEADER, "resolved", {"note": "已协调开发商当日维修"})
        report = await open_task(h, "em_report_24h")
        view = await state(h)
        assert view.summary["level"] == 3 and view.summary["breaches"] == 0
        assert not any(t.kind == "em_board" for t in view.tasks)
        await complete(h, report, CENTER, "done", {"content": "外墙渗水处理经过书面报告"})
        assert await records(session_factory, h.id, "complaint_written_report", 1)


async def test_7_resolved_then_verified_within_8_hours_then_revisited_and_closed(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, category="emergency", subject="停电")
        dept = await open_task(h, "em_department")
        await complete(h, dept, DEPT, "resolved", {"note": "已恢复供电"})
        dev = await open_task(h, "complaint_verify_developer")
        prop = await open_task(h, "complaint_verify_property")
        assert dev.role == "developer_cs" and prop.role == "front_desk"
        assert dev.due_at - dev.created_at == timedelta(hours=8)
        tell = await open_task(h, "complaint_tell_first")
        await complete(h, dev, DEVCS, "verified", {"findings": "供电正常"})
        assert "complaint_revisit" not in await kinds_of(h)
        await complete(h, prop, DESK, "verified", {"findings": "供电正常，业主确认"})
        revisit = await open_task(h, "complaint_revisit")
        assert revisit.due_at - revisit.created_at >= timedelta(days=2)
        await complete(h, revisit, DESK, "satisfied", {"opinion": "满意"})
        assert (await state(h)).status == "open"  # the first receiver is still owed the outcome
        await complete(h, tell, DESK, "done", {"message": "已恢复供电并验证"})
        assert await h.result() == "done"


async def test_6_settled_outside_the_ladder_ends_it(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, category="emergency", subject="消防报警误报")
        await open_task(h, "em_department")
        await refused(h.execute_update("settle_emergency", {"actor": STAFF.model_dump(),
                                                            "reason": "误报"}), "Forbidden")  # fmt: skip
        ok = await h.execute_update(
            "settle_emergency", {"actor": DESK.model_dump(), "reason": "消防确认为误报"}
        )
        assert ok is True
        await open_task(h, "complaint_verify_property")
        view = await state(h)
        assert any(e.kind == "ladder_ended" for e in view.events)


# ---- 第9条 statistics, 第10条 sanctions and rewards ------------------------------------------------


async def test_9_weekly_and_monthly_statistics_by_schedule_to_board_gm_and_developer(
    ts_env, session_factory, clean_db, settings_factory
):
    """The schedules start the report case; its figures: counts by type and level, on-time rate
    per step, breaches by department, time to resolve, reopened after the revisit."""
    from workflows import REGISTRY
    from workflows.regulations.report.clauses import previous_period

    weekly, monthly = REGISTRY["complaint"].schedules
    assert (weekly.cron, weekly.input["period"]) == ("0 9 * * 1", "week")
    assert (monthly.cron, monthly.input["period"]) == ("0 9 1 * *", "month")
    recipients = ["role:board", "role:general_manager", "role:developer_cs"]
    assert weekly.input["recipients"] == monthly.input["recipients"] == recipients
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        now = await env.get_current_time()
        start, _ = previous_period(now, "week")
        at = start + timedelta(days=1)
        summaries = [
            {"category": "ordinary", "ladder_level": "0", "breaches": 1, "reopened": 1,
             "was_reopened": True, "hours_to_resolve": 30.0, "breaches_by_department": {"工程部": 1}},
            {"category": "emergency", "ladder_level": "3", "breaches": 2, "reopened": 0,
             "was_reopened": False, "hours_to_resolve": 2.0,
             "breaches_by_department": {"工程部": 1, "物业服务中心负责人": 1}},
        ]  # fmt: skip
        async with session_factory() as s:
            for i, summary in enumerate(summaries):
                cid = f"complaint-stat-{i}"
                s.add(models.Case(id=cid, regulation="complaint", title=f"投诉 {i}",
                                  status="open", started_at=at, updated_at=at, input={},
                                  policy={}, summary=summary))  # fmt: skip
                for n, late in enumerate((False, True)):
                    s.add(models.Task(id=f"{cid}/t{n}", case_id=cid, regulation="complaint",
                                      role="department_head", title="处理", clause="R5 第4条",
                                      kind="complaint_handle", status="done", due_at=at,
                                      created_at=at, data={},
                                      closed_at=at + timedelta(hours=1 if late else -1)))  # fmt: skip
            await s.commit()
        h = await helpers.start_case(env, queue, "report", weekly.input, started_by="system")
        assert await h.result() == "done"
        [rec] = await records(session_factory, h.id, "report_case_overview", 1)
        figures = rec.data["figures"]
        assert figures["tasks"]["complaint_handle"]["on_time_rate"] == 0.5
        got = figures["summaries"]
        assert got["cases"] == 2
        assert got["by"]["category"] == {"ordinary": 1, "emergency": 1}
        assert got["by"]["ladder_level"] == {"0": 1, "3": 1}
        assert got["sums"]["breaches_by_department"] == {"工程部": 2, "物业服务中心负责人": 1}
        assert got["numbers"]["hours_to_resolve"]["mean"] == 16.0
        assert got["by"]["was_reopened"] == {"true": 1, "false": 1}
        told = await eventually(
            lambda: rows(session_factory, models.Notification, case_id=h.id),
            lambda found: len(found) >= 3,
        )
        assert sorted(n.recipient for n in told) == sorted(recipients)


async def test_10_a_breach_proposes_a_warning_the_department_and_the_board_approve_it(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue)
        handle = await dispatch(h, env, hours=3)
        await sleep_to(env, handle.due_at + timedelta(seconds=5))
        [proposal] = await records(session_factory, h.id, "discipline_proposal", 1)
        assert proposal.data["party"] == "工程部" and proposal.data["kind"] == "warning"
        first = await open_task(h, "complaint_discipline_approval")
        assert first.role == "department_head" and first.clause == "R5 第10条"
        await refused(complete(h, first, STAFF, "approve"), "Forbidden")
        await complete(h, first, DEPT, "approve", {"note": "同意"})
        assert not await rows(session_factory, models.DisciplineEntry, case_id=h.id)
        second = await open_task(h, "complaint_discipline_approval")
        assert second.role == "board"
        await complete(h, second, BOARD, "approve", {"note": "同意书面警告"})
        [entry] = await helpers.eventually_rows(
            session_factory, models.DisciplineEntry, 1, case_id=h.id
        )
        assert (entry.party, entry.kind, entry.clause) == ("工程部", "warning", "R5 第10条")
        assert entry.approved_by == ["depthead", "board"]


async def test_10_a_reward_proposed_by_the_center_head_is_registered_once_approved(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue)
        await open_task(h, "complaint_dispatch")
        proposal = {"party": "马师傅", "kind": "bonus", "rule": "连夜抢修，业主来信表扬",
                    "amount_yuan": Decimal("500")}  # fmt: skip
        await refused(h.execute_update("propose_complaint_discipline",
                                       DisciplineInput(actor=STAFF, **proposal)), "Forbidden")  # fmt: skip
        await h.execute_update("propose_complaint_discipline",
                               DisciplineInput(actor=CENTER, **proposal))  # fmt: skip
        await complete(h, await open_task(h, "complaint_discipline_approval"), DEPT, "approve")
        await complete(h, await open_task(h, "complaint_discipline_approval"), BOARD, "approve")
        [entry] = await helpers.eventually_rows(
            session_factory, models.DisciplineEntry, 1, case_id=h.id
        )
        assert (entry.party, entry.kind, str(entry.amount_yuan)) == ("马师傅", "bonus", "500.00")
        [money] = await helpers.penalties(session_factory, h.id, 1)
        assert money.kind == "reward" and str(money.amount_yuan) == "500.00"


# ---- R1 5.2: a closed complaint opens the supervisory revisit in the customer's R1 case -------


async def test_r1_5_2_a_closed_complaint_opens_the_supervisory_phone_revisit_in_r1(
    ts_env, session_factory, clean_db, settings_factory
):
    from workflows.regulations.revisit.forms import Contact, RevisitInput

    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        now = await env.get_current_time()
        r1 = await helpers.start_case(env, queue, "revisit", RevisitInput(
            customer_id="P5", customer_name="荔园业主委员会", customer_class="regular",
            go_live=now.date(), owner="staff", supervisor="supervisor",
            contacts=[Contact(name="王先生", phone="13900000001")]))  # fmt: skip
        await open_task(r1, "plan")
        h = await start(env, queue, customer_id="P5")
        await complete(h, await dispatch(h, env), DEPT, "handled")
        await complete(h, await open_task(h, "complaint_report_back"), DEPT, "done",
                       {"result": "已处理"})  # fmt: skip
        await complete(h, await open_task(h, "complaint_tell_first"), DESK, "done",
                       {"message": "已处理完毕"})  # fmt: skip
        await complete(h, await open_task(h, "complaint_revisit"), DESK, "satisfied",
                       {"opinion": "满意"})  # fmt: skip
        assert await h.result() == "done"
        visit = await open_task(r1, "supervisory_visit", within=20)
        assert (visit.assignee, visit.clause) == ("staff", "R1 5.2")
        view = await state(r1)
        unit = next(u for u in view.units if u.id == visit.unit)
        assert (
            unit.data["complaint_ref"] == h.id and unit.data["department_manager"] == "supervisor"
        )
        got = next(e for e in view.events if e.kind == "message_received")
        assert got.detail["handled"] is True and got.detail["sender"] == h.id


# ---- search attributes ----------------------------------------------------------------------------


async def test_search_attributes_list_open_complaints_by_level_department_and_breach(
    ts_env, session_factory, clean_db, settings_factory
):
    from temporalio.common import SearchAttributePair, TypedSearchAttributes

    from workflows.search import CASE_BREACHED, CASE_DEPARTMENT, CASE_LEVEL, CASE_STATUS, REGULATION

    env = ts_env
    tags = TypedSearchAttributes([SearchAttributePair(REGULATION, "complaint"),
                                  SearchAttributePair(CASE_STATUS, "open")])  # fmt: skip
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        now = await env.get_current_time()
        h = await helpers.start_case(env, queue, "complaint", ComplaintInput(
            customer_name="王先生", address="荔园 3 栋", phone="13900000001", subject="电梯困人",
            category="emergency"), search_attributes=tags)  # fmt: skip

        async def attrs() -> Any:
            return (await h.describe()).typed_search_attributes

        found = await eventually(attrs, lambda a: a.get(CASE_LEVEL) == "1")
        assert found.get(CASE_BREACHED) == "no" and found.get(CASE_DEPARTMENT) == ""
        await sleep_to(env, now + timedelta(minutes=3, seconds=5))
        await open_task(h, "em_center")
        found = await eventually(attrs, lambda a: a.get(CASE_LEVEL) == "2")
        assert found.get(CASE_BREACHED) == "yes" and found.get(REGULATION) == "complaint"
