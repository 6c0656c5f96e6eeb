"""R1 `revisit` — what people type: the case input, the policy (every number of the
regulation), and the data of each task's outcomes. The clauses that use them are in
clauses.py beside it.

A module of its own, stateless: the worker passes it through the workflow sandbox
(worker.shared_workflow_modules), so its pydantic classes are defined once per process, not
once per case run."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator

from workflows.engine import CasePolicy
from workflows.model import Actor, Deadline, Form, Yuan
from workflows.spec import TaskData

CustomerClass = Literal["regular", "large", "key"]


# ---- input, policy ---------------------------------------------------------------------------


class Contact(Form):
    name: str = Field(min_length=1, max_length=100, description="姓名")
    title: str | None = Field(None, max_length=100, description="职务")
    phone: str | None = Field(None, max_length=50, description="电话")
    email: str | None = Field(None, max_length=200, description="邮箱")


class RevisitInput(Form):
    """Start a revisit plan for one customer."""

    customer_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="客户编号")
    customer_name: str = Field(min_length=1, max_length=200, description="客户名称")
    customer_class: CustomerClass = Field(
        "regular", description="regular 普通 / large 大客户 / key 特大或重要客户"
    )
    go_live: date = Field(description="产品安装或上线日期")
    owner: str = Field(min_length=1, max_length=64, description="负责的销售/客服人员（用户名）")
    supervisor: str | None = Field(
        None, max_length=64, description="部门主管（用户名），空则由任一主管处理"
    )
    department: str = Field("客户服务部", min_length=1, max_length=100, description="部门")
    contacts: list[Contact] = Field(
        min_length=1, max_length=20, description="客户联系人（设备负责人、行政管理人员、使用人员）"
    )

    @field_validator("go_live")
    @classmethod
    def _plausible(cls, v: date) -> date:
        if v.year < 2000 or v.year > 2100:
            raise ValueError("go_live must be a real date between 2000 and 2100")
        return v


class RevisitPenalties(BaseModel):
    archive_incomplete_yuan: Yuan = Field(Decimal(1000), description="5.1(1) 档案不完整，部门经费")
    falsification_yuan: Yuan = Field(Decimal(100), description="5.1(2) 弄虚作假")
    serious_yuan: Yuan = Field(Decimal(500), description="5.1(3) 情节特别严重")
    supervisory_missed_regional_yuan: Yuan = Field(Decimal(500), description="5.2(1) 当事人")
    supervisory_missed_department_yuan: Yuan = Field(Decimal(300), description="5.2(1) 部门经理")
    supervisory_falsified_department_yuan: Yuan = Field(
        Decimal(500), description="5.2(2) 弄虚作假，部门经理"
    )


class RevisitPolicy(CasePolicy):
    """R1's numbers. Defaults are the regulation's; a company overrides them in its policy file."""

    first_phone_after: Deadline = Deadline(months=1)  # 4.3(2)1)
    routine_phone_every: Deadline = Deadline(months=6)  # 4.3(2)2)
    onsite_every: dict[str, Deadline | None] = {  # 4.3(2)3)
        "regular": None,
        "large": Deadline(months=12),
        "key": Deadline(months=6),
    }
    plan_due: Deadline = Deadline(working_days=3)  # 4.2(1), not stated
    appointment_lead: Deadline = Deadline(days=7)  # 4.2(2): contact before the visit date
    late_appointment_within: Deadline = Deadline(days=1)
    max_postpone: Deadline = Deadline(days=30)
    visit_window: Deadline = Deadline(end_of_day=True)  # 4.3(4) 日清日结
    visit_extend_max: Deadline = Deadline(days=14)
    suggestion_onsite_within: Deadline = Deadline(days=14)  # 4.3(1)
    problem_onsite_within: Deadline = Deadline(days=7)  # 4.3(2)1)
    supervisory_revisit_due: Deadline = Deadline(working_days=2)  # 5.2
    report_due: Deadline = Deadline(days=1, end_of_day=True)  # 4.4(1)1) 第二天
    materials_due: Deadline = Deadline(days=3)  # 4.4(1)2) 三天内
    materials_extended_max: Deadline = Deadline(days=7)  # 4.4(1)2) 经主管同意一周内
    review_due: Deadline = Deadline(working_days=3)  # 4.4(2)
    archive_due: Deadline = Deadline(working_days=3)  # 4.5(1)
    rd_feedback_due: Deadline = Deadline(working_days=10)  # 4.3(2)1)
    expense_cap_yuan: Yuan = Field(Decimal(500), ge=0, description="4.6(2) 每次回访费用额度")
    penalties: RevisitPenalties = RevisitPenalties()


# ---- what people send when completing tasks -----------------------------------------------------


class PlanData(TaskData):
    """《客户回访计划》 4.2(1)."""

    purposes: list[Literal["product_use", "archive_service", "relationship"]] = Field(min_length=1)
    methods: list[Literal["phone", "letter", "email", "im", "onsite"]] = Field(min_length=1)
    content: str = Field(min_length=2, max_length=5000)


class AppointmentData(TaskData):
    appointment_at: datetime
    place: str | None = Field(None, max_length=200)

    @field_validator("appointment_at")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("appointment_at needs a time zone, e.g. 2026-12-01T10:00:00+08:00")
        return v


class Problem(TaskData):
    text: str = Field(min_length=1, max_length=2000, description="问题原文")
    route: Literal["solved", "rd_feedback", "onsite", "president_office"]
    note: str | None = Field(None, max_length=2000)


class VisitRecordData(TaskData):
    """《客户回访记录表》 4.3(4): every question and suggestion verbatim."""

    contact_person: str = Field(min_length=1, max_length=100)
    method: Literal["phone", "letter", "email", "im", "onsite"]
    product_needs: str = Field("", max_length=5000)
    usage: str = Field(min_length=1, max_length=5000, description="产品使用情况")
    service_rating: int = Field(ge=1, le=5)
    questions: list[Annotated[str, Field(max_length=2000)]] = Field(
        default_factory=list, max_length=50, description="问题原文"
    )
    suggestions: list[Annotated[str, Field(max_length=2000)]] = Field(
        default_factory=list, max_length=50, description="意见与建议"
    )
    valuable_suggestion: bool = False
    problems: list[Problem] = Field(default_factory=list, max_length=50)


class ReportData(TaskData):
    """《客户回访报告》 4.4(1)1)."""

    summary: str = Field(min_length=2, max_length=20000)
    evaluation: str = Field(min_length=1, max_length=5000)


class ExpenseItem(TaskData):
    item: str = Field(min_length=1, max_length=200)
    amount_yuan: Yuan = Field(gt=0)
    receipt_no: str | None = Field(None, max_length=100)


class MaterialsData(TaskData):
    note: str = Field("", max_length=5000)
    expenses: list[ExpenseItem] = Field(default_factory=list, max_length=50)


class ReviewData(TaskData):
    """4.4(2) supervisor's guidance."""

    guidance: str = Field(min_length=2, max_length=5000)
    charge_to: str | None = Field(None, max_length=64)
    charge_yuan: Yuan = Field(Decimal(0), ge=0)
    severity: Literal["falsification", "serious"] | None = None
    sanction: str | None = Field(None, max_length=100, description="5.1(3) 降薪/降职/调岗/辞退")


class ArchiveData(TaskData):
    complete: bool
    note: str = Field("", max_length=2000)


class RevisitVars(BaseModel):
    phone_k: int = 0  # 0 = the first phone revisit; k >= 1 = routine revisit k
    onsite_k: int = 1
    visits_done: int = 0
    visits_missed: int = 0
    plan_record_id: str | None = None
    next_visit: dict[str, Any] | None = None


class VisitUnit(BaseModel):
    """A visit (a unit of work): what kind, by whom, planned when, due within what (the
    visits a problem or a suggestion brings, and 5.2's), and the complaint behind 5.2's."""

    kind: str
    visit_name: str
    clause: str
    planned_at: datetime
    assignee: str
    within: Deadline | None = None
    reason: str = ""
    complaint_ref: str | None = None
    regional_manager: str | None = None
    department_manager: str | None = None


class ClosePlanInput(Form):
    actor: Actor
    reason: str = Field(min_length=2, max_length=1000)


class ComplaintHandledInput(Form):
    actor: Actor
    complaint_ref: str = Field(min_length=1, max_length=100)
    summary: str = Field(min_length=1, max_length=2000)
    regional_manager: str = Field(min_length=1, max_length=64, description="当事人（区域经理）")
    department_manager: str = Field(min_length=1, max_length=64)
