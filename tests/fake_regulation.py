"""A tiny regulation for the API and CLI tests: one task for the 销售/客服人员 (staff), the
generic `complete_task` update (its validator refuses anyone without role staff), and a
signal action `note` that only a supervisor may send. The people it names (`people`): the
case's optional `owner` must be an active 销售/客服人员 (staff), a note's optional `reviewer` an
active 部门主管 (supervisor). No activities, no database writes, so the
starter is tested on its own."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, Field

    from workflows.model import (
        Actor,
        CalendarUpdatedInput,
        CaseView,
        CompleteTaskInput,
        EventState,
        TaskState,
    )
    from workflows.registry import ActionSpec, RegulationEntry

WORKFLOW_NAME = "test.fake"


class FakeInput(BaseModel):
    customer_id: str = Field(pattern=r"^[A-Za-z0-9-]{1,32}$", description="客户编号")
    customer_name: str = Field(min_length=1, description="客户名称")
    owner: str | None = Field(None, description="负责人 (user id, role staff)")


class FakePolicy(BaseModel):
    task_due_hours: float = Field(24, gt=0)
    fine_yuan: float = Field(100, ge=0)


class FakeStart(BaseModel):
    input: FakeInput
    policy: FakePolicy
    started_by: str


class NoteInput(BaseModel):
    actor: Actor
    text: str = Field(min_length=1)
    reviewer: str | None = None  # user id, role supervisor


@workflow.defn(name=WORKFLOW_NAME)
class FakeWorkflow:
    def __init__(self) -> None:
        self.title = ""
        self.tasks: list[TaskState] = []
        self.events: list[EventState] = []
        self.status = "open"
        self.summary: dict[str, object] = {}

    def _event(self, kind: str, actor: str | None = None, **detail: object) -> None:
        self.events.append(
            EventState(
                seq=len(self.events) + 1,
                at=workflow.now(),
                kind=kind,
                actor=actor,
                clause="T 1.1",
                detail=detail,
            )
        )

    @workflow.run
    async def run(self, arg: FakeStart) -> str:
        case_id = workflow.info().workflow_id
        self.title = f"测试：{arg.input.customer_name}"
        self.summary = {"policy": arg.policy.model_dump(mode="json")}
        self._event("started", arg.started_by)
        self.tasks.append(
            TaskState(
                id=f"{case_id}/t1",
                seq=1,
                kind="call",
                role="staff",
                title="电话回访",
                clause="T 1.1",
                due_at=workflow.now() + timedelta(hours=arg.policy.task_due_hours),
                outcomes=["done", "unreachable"],
                created_at=workflow.now(),
            )
        )
        await workflow.wait_condition(lambda: all(t.status != "open" for t in self.tasks))
        await workflow.wait_condition(workflow.all_handlers_finished)
        self.status = "closed"
        return "closed"

    def _task(self, task_id: str) -> TaskState:
        task = next((t for t in self.tasks if t.id == task_id), None)
        if task is None:
            raise ApplicationError(f"no task {task_id}", type="NotFound", non_retryable=True)
        if task.status != "open":
            raise ApplicationError(
                f"task {task_id} is already {task.status}", type="Conflict", non_retryable=True
            )
        return task

    @workflow.update(name="complete_task")
    async def complete_task(self, inp: CompleteTaskInput) -> TaskState:
        task = self._task(inp.task_id)
        task.status = "done"
        task.outcome = inp.outcome
        task.closed_by = inp.actor.id
        task.closed_at = workflow.now()
        task.data = inp.data
        self._event("task_completed", inp.actor.id, task_id=task.id)
        return task

    @complete_task.validator
    def _validate_complete(self, inp: CompleteTaskInput) -> None:
        task = self._task(inp.task_id)
        if "staff" not in inp.actor.roles:
            raise ApplicationError(
                f"{inp.actor.id} may not complete task {task.id}: it is assigned to 销售/客服人员",
                type="Forbidden",
                non_retryable=True,
            )
        if inp.outcome not in task.outcomes:
            raise ApplicationError(
                f"outcome must be one of {', '.join(task.outcomes)}",
                type="Invalid",
                non_retryable=True,
            )

    @workflow.signal(name="note")
    def note(self, inp: NoteInput) -> None:
        self._event("note", inp.actor.id, text=inp.text)

    @workflow.signal(name="calendar_updated")
    def calendar_updated(self, inp: CalendarUpdatedInput) -> None:
        self._event("calendar_updated", None, years=inp.years)

    @workflow.query(name="state")
    def state(self) -> CaseView:
        return CaseView(
            case_id=workflow.info().workflow_id,
            regulation="fake",
            title=self.title,
            status=self.status,
            tasks=self.tasks,
            events=self.events,
            summary=self.summary,
        )


def _start_arg(inp: FakeInput, policy: FakePolicy, actor: Actor) -> FakeStart:
    return FakeStart(input=inp, policy=policy, started_by=actor.id)


FAKE = RegulationEntry(
    code="fake",
    title_zh="测试制度",
    title_en="Test regulation",
    workflow=FakeWorkflow,
    workflow_name=WORKFLOW_NAME,
    input_model=FakeInput,
    policy_model=FakePolicy,
    start_roles=("staff", "supervisor"),
    workflow_id=lambda i: f"fake-{i.customer_id}",
    case_title=lambda i: f"测试：{i.customer_name}",
    customer_id=lambda i: i.customer_id,
    start_arg=_start_arg,
    actions=(
        ActionSpec(
            "note",
            NoteInput,
            ("supervisor",),
            "signal",
            "备注",
            "Add a note",
            people={"reviewer": "supervisor"},
        ),
    ),
    people={"owner": "staff"},
)

FAKE_REGISTRY: dict[str, RegulationEntry] = {FAKE.code: FAKE}
