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
from workflows.model import Actor, Attachment, Deadline, Form, Yuan
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
    archive_incomplete_yuan: Yuan = Field(
        Decimal(1000), description="档案不完整罚款：5.1(1) 客户档案未完整准确建立，每次扣部门经费"
    )
    falsification_yuan: Yuan = Field(
        Decimal(100), description="弄虚作假罚款：5.1(2) 回访弄虚作假，每次罚当事人"
    )
    serious_yuan: Yuan = Field(
        Decimal(500), description="情节特别严重罚款：5.1(3) 情节特别严重者每次罚款，可并处降薪等"
    )
    supervisory_missed_regional_yuan: Yuan = Field(
        Decimal(500), description="未做监督回访罚款（当事人）：5.2(1) 投诉处理后未做监督调查性回访"
    )
    supervisory_missed_department_yuan: Yuan = Field(
        Decimal(300), description="未做监督回访罚款（部门经理）：5.2(1) 同上，部门经理连带"
    )
    supervisory_falsified_department_yuan: Yuan = Field(
        Decimal(500),
        description="监督回访弄虚作假罚款（部门经理）：5.2(2) 当事人辞退，部门经理罚款",
    )


class RevisitPolicy(CasePolicy):
    """R1's numbers. Defaults are the regulation's; a company overrides them in its policy file."""

    first_phone_after: Deadline = Field(
        Deadline(months=1),
        description="首次电话回访时间：4.3(2)1) 产品安装或上线后多久做首次电话回访",
    )
    routine_phone_every: Deadline = Field(
        Deadline(months=6), description="常规电话回访周期：4.3(2)2) 首次电话回访后每隔多久回访一次"
    )
    onsite_every: dict[str, Deadline | None] = Field(
        {"regular": None, "large": Deadline(months=12), "key": Deadline(months=6)},
        description="现场回访周期：4.3(2)3) 按客户类别，大客户每年、特大或重要客户每半年；普通客户不定期上门",
    )
    plan_due: Deadline = Field(
        Deadline(working_days=3),
        description="回访计划期限：4.2(1) 案件开始后多久制订《客户回访计划》（原文未规定）",
    )
    appointment_lead: Deadline = Field(
        Deadline(days=7), description="预约提前量：4.2(2) 计划回访日前多久开始与客户预约"
    )
    late_appointment_within: Deadline = Field(
        Deadline(days=1), description="补约时限：4.2(2) 回访日已近时，预约任务至少留出的办理时间"
    )
    max_postpone: Deadline = Field(
        Deadline(days=30), description="最长改期：4.2(2) 约定的回访时间最多晚于计划日期多久"
    )
    visit_window: Deadline = Field(
        Deadline(end_of_day=True),
        description="回访完成时限：4.3(4) 日清日结，约定当天内完成回访与记录",
    )
    visit_extend_max: Deadline = Field(
        Deadline(days=14), description="回访最长延期：4.3 部门主管可将回访期限延长的上限"
    )
    suggestion_onsite_within: Deadline = Field(
        Deadline(days=14),
        description="建议上门回访时限：4.3(1) 客户提出中肯意见或良好建议后多久内上门",
    )
    problem_onsite_within: Deadline = Field(
        Deadline(days=7), description="问题现场回访时限：4.3(2)1) 电话无法解决的问题多久内到现场"
    )
    supervisory_revisit_due: Deadline = Field(
        Deadline(working_days=2),
        description="监督回访时限：5.2 投诉处理完毕后多久内做监督调查性电话回访",
    )
    report_due: Deadline = Field(
        Deadline(days=1, end_of_day=True),
        description="回访报告期限：4.4(1)1) 回访次日形成《客户回访报告》",
    )
    materials_due: Deadline = Field(
        Deadline(days=3), description="资料提交期限：4.4(1)2) 回访后三天内把资料交部门主管审核"
    )
    materials_extended_max: Deadline = Field(
        Deadline(days=7), description="资料提交最长延期：4.4(1)2) 经部门主管同意最迟一周内提交"
    )
    review_due: Deadline = Field(
        Deadline(working_days=3),
        description="主管审阅期限：4.4(2) 部门主管审阅回访资料并提出指导意见的期限",
    )
    archive_due: Deadline = Field(
        Deadline(working_days=3),
        description="存档期限：4.5(1) 文员把回访资料按客户分类汇总存档的期限",
    )
    rd_feedback_due: Deadline = Field(
        Deadline(working_days=10),
        description="研发反馈处理期限：4.3(2)1) 研发技术部门处理客户技术反馈的期限",
    )
    expense_cap_yuan: Yuan = Field(
        Decimal(500),
        ge=0,
        description="回访费用额度：4.6(2) 每次回访可报销的费用上限，超出部分个人承担",
    )
    penalties: RevisitPenalties = Field(
        RevisitPenalties(), description="罚款金额：第 5 条 各项罚款"
    )


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
    receipt: Attachment | None = Field(None, description="票据（照片或扫描件）")


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
    # Unnamed (a message from a complaint case): the plan's owner and its supervisor.
    regional_manager: str | None = Field(
        None, min_length=1, max_length=64, description="当事人（区域经理；空 = 本客户的负责人）"
    )
    department_manager: str | None = Field(
        None, min_length=1, max_length=64, description="部门经理（空 = 本客户的部门主管）"
    )
