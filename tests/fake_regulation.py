"""A tiny regulation for the API and CLI tests, on the engine: one task for the 销售/客服人员
(staff), due in `task_due_hours`, completed with the generic `complete_task` update (its
validator refuses anyone without role staff), and a signal action `note` that only a supervisor
may send. The people it names (`people`): the case's optional `owner` must be an active
销售/客服人员 (staff), a note's optional `reviewer` an active 部门主管 (supervisor)."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import Field

    from workflows.engine import FIXED_DEFAULTS, CasePolicy, CaseWorkflow
    from workflows.model import Actor, CaseStart, Deadline, Form, TaskState
    from workflows.registry import ActionSpec, RegulationEntry
    from workflows.regulations.revisit.people import ROLES
    from workflows.spec import NoteData, TaskSpec, after

WORKFLOW_NAME = "test.fake"


class FakeInput(Form):
    customer_id: str = Field(pattern=r"^[A-Za-z0-9-]{1,32}$", description="客户编号")
    customer_name: str = Field(min_length=1, max_length=100, description="客户名称")
    owner: str | None = Field(None, max_length=64, description="负责人 (user id, role staff)")


class FakePolicy(CasePolicy):
    task_due: Deadline = Deadline(hours=24)
    fine_yuan: int = Field(100, ge=0)


class NoteInput(Form):
    actor: Actor
    text: str = Field(min_length=1, max_length=1000)
    reviewer: str | None = Field(None, max_length=64)  # user id, role supervisor


@workflow.defn(name=WORKFLOW_NAME)
class FakeWorkflow(CaseWorkflow):
    REGULATION = "fake"
    ROLES = ROLES
    TASK_DEFAULTS = FIXED_DEFAULTS
    TITLE = "测试：{customer_name}"
    INPUT = FakeInput
    POLICY = FakePolicy
    TASKS = (
        TaskSpec(
            "call",
            "电话回访",
            "T 1.1",
            "staff",
            deadline="task_due",
            outcomes={"done": NoteData, "unreachable": NoteData},
        ),
    )

    @workflow.run
    async def run(self, start: CaseStart) -> str:
        return await self.run_case()

    def begin(self) -> None:
        self.open("call")

    @after("call")
    def _called(self, task: TaskState) -> None:
        self.finish("closed")

    @workflow.signal(name="note")
    def note(self, inp: NoteInput) -> None:
        self.event("note", "T 1.1", inp.actor.id, text=inp.text)


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
