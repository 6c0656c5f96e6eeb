"""The engine blocks R1 was rewritten on, each on a small regulation of its own (so no other
regulation's history changes): typed unit data, a join that survives continue-as-new, a
recurrence grid that catches up after the worker was down, and role rules declared once (an
action's roles, the case's bound roles) that the validators and the pages share."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from temporalio import workflow
from temporalio.client import WorkflowUpdateFailedError
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, Field

    from workflows.engine import CasePolicy, CaseWorkflow, rules
    from workflows.engine.blocks.join import Closed
    from workflows.engine.blocks.recurrence import Grid
    from workflows.model import Actor, CaseStart, Deadline, Form, UnitState
    from workflows.regulations.revisit.people import ROLES
    from workflows.spec import ActionSpec, NoteData, TaskSpec, after_all, at

from activities import build_activities
from tests.helpers import (
    STARTED,
    complete,
    ensure_people,
    eventually,
    library_calendar,
    open_task,
    state,
    wait_begun,
)
from worker import AssertionVerifier, workflow_runner

STAFF = Actor(id="staff", roles=["staff"], department="客户服务部")
BOSS = Actor(id="boss", roles=["supervisor"], department="客户服务部")
OTHER = Actor(id="sup2", roles=["supervisor"], department="客户服务部")
DIVISION = Actor(id="division", roles=["division_leader"])


class TrialInput(Form):
    customer_id: str = Field(pattern=r"^[A-Za-z0-9-]{1,40}$")
    supervisor: str | None = None
    department: str = "客户服务部"


class TrialPolicy(CasePolicy):
    every: Deadline = Deadline(days=7)


class Inspection(BaseModel):
    """A unit's data as a model: a time and a deadline, typed."""

    room: str
    planned_at: datetime
    within: Deadline


class StartInspection(Form):
    actor: Actor
    room: str


class Stop(Form):
    actor: Actor


@workflow.defn(name="test.trial", sandboxed=False)
class TrialWorkflow(CaseWorkflow):
    REGULATION = "trial"
    TITLE = "试验：{customer_id}"
    INPUT = TrialInput
    POLICY = TrialPolicy
    ROLES = ROLES
    ROLE_HOLDERS = {"supervisor": "input.supervisor"}
    DEPARTMENT = "input.department"
    ACTIONS = (
        ActionSpec("start_inspection", StartInspection, ("staff",), "update", "开始检查",
                   "Start an inspection"),
        ActionSpec("stop", Stop, ("supervisor", "admin"), "update", "停止", "Stop the duty"),
    )  # fmt: skip
    TASKS = (
        TaskSpec("inspect_a", "检查 A：{room}", "T 1", "staff", outcomes={"done": NoteData}),
        TaskSpec("inspect_b", "检查 B：{room}", "T 1", "staff", outcomes={"done": NoteData}),
        TaskSpec("sign_off", "验收：{room}", "T 2", "supervisor", outcomes={"done": NoteData}),
        TaskSpec("weekly", "每周检查（第 {k} 次）", "T 3", "staff", outcomes={"done": NoteData}),
    )

    @workflow.run
    async def run(self, start: CaseStart) -> str:
        return await self.run_case()

    def begin(self) -> None:
        self.recur("weekly", Grid(self.now, self.policy.every), "weekly_due")

    @at("weekly_due")
    def _weekly(self, info: dict[str, Any]) -> None:
        self.open("weekly", data={"k": info["k"], "skipped": info["skipped"]})

    @workflow.update(name="start_inspection")
    def start_inspection(self, inp: StartInspection) -> str:
        unit = self.open_unit("inspection", f"检查 {inp.room}", Inspection(
            room=inp.room, planned_at=self.now, within=Deadline(days=2)))  # fmt: skip
        self.open("inspect_a", unit)
        self.open("inspect_b", unit)
        return unit.id

    @start_inspection.validator
    def _may_start(self, inp: StartInspection) -> None:
        self.check_action("start_inspection", inp.actor)

    @after_all("inspect_a", "inspect_b")
    def _inspected(self, unit: UnitState, closed: dict[str, Closed]) -> None:
        typed = self.unit_data(unit, Inspection)
        self.open("sign_off", unit, data={
            "notes": [closed[k].data.get("note", "") for k in ("inspect_a", "inspect_b")],
            "planned": typed.planned_at.isoformat(), "within_days": typed.within.days})  # fmt: skip

    @workflow.update(name="stop")
    def stop(self, inp: Stop) -> str:
        self.stop_recurring("weekly")
        self.finish("closed", actor=inp.actor.id)
        return "closed"

    @stop.validator
    def _may_stop(self, inp: Stop) -> None:
        self.check_action("stop", inp.actor)


async def start(env: Any, queue: str, policy: TrialPolicy | None = None, **inp: Any) -> Any:
    customer = f"T{uuid.uuid4().hex[:6]}"
    handle = await env.client.start_workflow(
        "test.trial",
        CaseStart(
            input=TrialInput(customer_id=customer, **inp).model_dump(mode="json"),
            policy=(policy or TrialPolicy()).model_dump(mode="json"),
            started_by="staff",
            calendar=library_calendar(await env.get_current_time()),
        ),
        id=f"trial-{customer}",
        task_queue=queue,
    )
    await wait_begun(handle)
    return handle


def trial_worker(env: Any, session_factory: Any, settings: Any, queue: str) -> Worker:
    return Worker(
        env.client,
        task_queue=queue,
        workflows=[TrialWorkflow],
        activities=build_activities(session_factory, settings, env.client),
        workflow_runner=workflow_runner(strict=True),
        interceptors=[AssertionVerifier(settings.assertion_keys())],
    )


async def test_a_join_survives_continue_as_new_and_unit_data_stays_typed(
    local_env, session_factory, clean_db, settings_factory
):
    env, queue = local_env, f"trial-{uuid.uuid4().hex[:6]}"
    await ensure_people(session_factory)
    policy = TrialPolicy(continue_as_new_after_events=20)
    async with trial_worker(env, session_factory, settings_factory(), queue):
        h = await start(env, queue, policy, supervisor="boss")
        STARTED.append(h)
        await h.execute_update("start_inspection", StartInspection(actor=STAFF, room="A-101"))
        a = await open_task(h, "inspect_a")
        await complete(h, a, STAFF, data={"note": "灯具正常"})
        # Enough steps for the case to continue as new between the two completions.
        for i in range(6):
            await h.execute_update("start_inspection", StartInspection(actor=STAFF, room=f"X{i}"))
            other = await eventually(lambda: state(h), lambda v, i=i: any(
                t.kind == "inspect_a" and f"X{i}" in t.title for t in v.tasks))  # fmt: skip
            task = next(t for t in other.tasks if t.kind == "inspect_a" and f"X{i}" in t.title)
            await complete(h, task, STAFF, data={"note": f"第{i}间"})
        view = await eventually(lambda: state(h), lambda v: v.run >= 2, within=20)
        assert view.run >= 2
        first_b = next(t for t in view.tasks if t.kind == "inspect_b" and "A-101" in t.title)
        await complete(h, first_b, STAFF, data={"note": "门锁已修"})
        sign = await eventually(
            lambda: state(h),
            lambda v: any(t.kind == "sign_off" and t.status == "open" for t in v.tasks),
        )
        [task] = [t for t in sign.tasks if t.kind == "sign_off" and t.status == "open"]
        assert task.data["notes"] == ["灯具正常", "门锁已修"]  # both, across runs
        assert datetime.fromisoformat(task.data["planned"]) and task.data["within_days"] == 2
        await h.execute_update("stop", Stop(actor=BOSS))
    STARTED.clear()


async def test_a_recurring_duty_catches_up_after_the_worker_was_down(
    local_env, session_factory, clean_db, settings_factory
):
    """A duty every 2 s; the worker goes away for 9 s (four occurrences pass unseen); when it
    is back, the duty makes one task, for the latest occurrence, and says which it skipped."""
    env, queue = local_env, f"trial-{uuid.uuid4().hex[:6]}"
    await ensure_people(session_factory)
    settings = settings_factory()
    policy = TrialPolicy(every=Deadline(seconds=2))
    async with trial_worker(env, session_factory, settings, queue):
        h = await start(env, queue, policy)
        first = await open_task(h, "weekly")
        assert first.data == {"k": 0, "skipped": []}
    await asyncio.sleep(9)  # the downtime itself: real time passes with no worker
    async with trial_worker(env, session_factory, settings, queue):
        view = await eventually(
            lambda: state(h), lambda v: any(t.data.get("skipped") for t in v.tasks)
        )
        weekly = [t.data for t in sorted(view.tasks, key=lambda t: t.seq) if t.kind == "weekly"]
        late = [d for d in weekly if d["skipped"]]
        assert len(late) == 1 and len(late[0]["skipped"]) >= 2, weekly  # one task, not four
        ks = [d["k"] for d in weekly]
        for before, d in zip([-1, *ks], weekly, strict=False):
            assert d["skipped"] == list(range(before + 1, d["k"])), weekly  # none lost, none twice
        assert any(e.kind == "occurrences_skipped" for e in view.events)
        await h.terminate("test over")


def test_the_recurrence_grid_and_its_catch_up() -> None:
    from workflows.calendar import add_months

    anchor = datetime.fromisoformat("2026-01-31T09:00:00+08:00")
    grid = Grid(anchor, Deadline(months=6), Deadline(months=1))
    assert grid.at(0) == add_months(anchor, 1)  # 2026-02-28: months clamp
    assert grid.at(1) == add_months(add_months(anchor, 1), 6)
    assert grid.caught_up(0, anchor) == 0
    assert grid.caught_up(0, grid.at(3) + timedelta(seconds=1)) == 3
    plain = Grid(anchor, Deadline(days=7))
    assert plain.at(0) == anchor and plain.at(2) == anchor + timedelta(days=14)


def test_the_role_rule_is_one_for_validators_and_pages() -> None:
    """A bound role is the named person's; without a name, the department's; the role above
    always may; a named assignee is that person's. What the workflow refuses, the pages do
    not offer, because both ask these functions."""
    case = rules.binding({"supervisor": "input.supervisor"}, "input.department",
                         {"supervisor": "boss", "department": "客户服务部"})  # fmt: skip
    assert rules.acts_as(ROLES, case, BOSS, "supervisor")
    assert not rules.acts_as(ROLES, case, OTHER, "supervisor")
    assert rules.acts_as(ROLES, case, DIVISION, "supervisor")  # the role above
    assert rules.why_not(ROLES, case, OTHER, "supervisor") == "the case's 部门主管 is boss"
    unnamed = rules.binding({"supervisor": "input.supervisor"}, "input.department",
                            {"supervisor": None, "department": "工程部"})  # fmt: skip
    assert not rules.acts_as(ROLES, unnamed, OTHER, "supervisor")
    assert rules.why_not(ROLES, unnamed, OTHER, "supervisor", zh=True) == "需要工程部的部门主管"
    assert rules.may_complete(ROLES, case, "staff", None, STAFF)
    assert not rules.may_complete(ROLES, case, "staff", "bob", STAFF)  # named someone else
    assert rules.may_send(ROLES, case, ("supervisor", "admin"), BOSS)
    assert not rules.may_send(ROLES, case, ("supervisor", "admin"), OTHER)
    assert rules.may_send(ROLES, case, (), STAFF)  # open to anyone signed in


async def test_an_actions_declared_roles_refuse_with_the_reason(
    local_env, session_factory, clean_db, settings_factory
):
    env, queue = local_env, f"trial-{uuid.uuid4().hex[:6]}"
    await ensure_people(session_factory)
    async with trial_worker(env, session_factory, settings_factory(), queue):
        h = await start(env, queue, supervisor="boss")
        await open_task(h, "weekly")
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await h.execute_update("stop", Stop(actor=OTHER))
        assert "sup2 may not stop the duty: the case's 部门主管 is boss" in str(info.value.cause)
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await h.execute_update("start_inspection", StartInspection(actor=BOSS, room="B"))
        assert "only 销售/客服人员 may" in str(info.value.cause)
        assert await h.execute_update("stop", Stop(actor=DIVISION)) == "closed"


def test_the_pages_offer_what_the_rule_allows() -> None:
    """The case page asks the same rule: a supervisor who is not the case's named one is
    offered neither the completion nor the extension the workflow would refuse them."""
    from types import SimpleNamespace

    from starter.web.case import binding_of, task_panel
    from workflows.regulations import REGISTRY

    entry = REGISTRY["revisit"]
    case = binding_of(entry, {"supervisor": "boss", "department": "客户服务部"})
    task = {"id": "revisit-C1/t9", "role": "supervisor", "assignee": None, "due_at": None,
            "meta": {"outcomes": ["accept"], "extend_limits": {"supervisor": None}}}  # fmt: skip
    for user, allowed in ((BOSS, True), (OTHER, False), (DIVISION, True), (STAFF, False)):
        person = SimpleNamespace(id=user.id, roles=user.roles, department=user.department)
        panel = task_panel(task, entry, person, datetime.now(), "zh", None, case)  # type: ignore[arg-type]
        assert (panel["can_complete"], panel["can_extend"]) == (allowed, allowed), user.id
