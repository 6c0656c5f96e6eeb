"""R11 `mall-complaint` — what people type: the case input (a complaint, or the monthly review a
schedule starts), the policy (every number of the regulation), and the data of each task's
outcomes. The clauses that use them are in clauses.py beside it.

Stateless: the worker passes it through the workflow sandbox."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field, field_validator, model_validator

from workflows.engine import CasePolicy
from workflows.model import Deadline, Form, Yuan
from workflows.spec import TaskData

Responsibility = Literal["merchant", "individual", "company", "none"]
Handling = Literal["onsite_repair", "take_back", "explained", "other_handling"]
Sanction = Literal["warning", "demerit", "major_demerit", "demotion", "dismissal"]


# ---- input, policy ---------------------------------------------------------------------------


class MallComplaintInput(Form):
    """A complaint the service center received (二.1), or — started by the monthly schedule —
    the review of last month's closed complaints (四)."""

    case_kind: Literal["complaint", "review"] = Field("complaint", description="案件类型")
    shop: str = Field("", max_length=200, description="商铺（商户）")
    customer_name: str = Field("", max_length=100, description="投诉人")
    phone: str = Field("", max_length=50, description="联系电话")
    subject: str = Field("", max_length=200, description="投诉事由")
    content: str = Field("", max_length=5000, description="投诉内容")

    @model_validator(mode="after")
    def _complaint_says_what(self) -> MallComplaintInput:
        if self.case_kind == "complaint" and not (
            self.shop and self.customer_name and self.subject
        ):
            raise ValueError("投诉须写明商铺、投诉人和投诉事由")
        return self

    @computed_field(description="标题")  # type: ignore[prop-decorator]
    @property
    def case_title(self) -> str:
        if self.case_kind == "review":
            return "上月结案客户投诉审视"
        return f"商铺投诉：{self.shop}　{self.subject}"


class MallComplaintPolicy(CasePolicy):
    """R11's numbers. Defaults are the regulation's (or, where it is silent, a manager's)."""

    accept_due: Deadline = Field(
        Deadline(hours=2),
        description="商管部受理时限：二.1 服务中心转来投诉后商管部受理的期限（原文未规定）",
    )
    reply_within: Deadline = Field(
        Deadline(hours=24),
        description="答复时限：三.1 自商管部受理起 24 小时内给客户以回复",
    )
    urge_every: Deadline = Field(
        Deadline(hours=24),
        description="催办间隔：五 逾期未结的案件每隔多久再开一次《催办单》（原文未规定）",
    )
    close_due: Deadline = Field(
        Deadline(working_days=2),
        description="跟踪结案时限：二.5 答复后客服部跟踪、确认效果并结案的期限（原文未规定）",
    )
    qiaoban_due: Deadline = Field(
        Deadline(working_days=3),
        description="洽办单答复时限：五 商管部答复逾期原因的期限（原文未规定）",
    )
    review_due: Deadline = Field(
        Deadline(month_day=10),
        description="月度审视时限：四.1 客服部每月 10 日前审视上月结案的投诉案件",
    )
    hr_due: Deadline = Field(
        Deadline(working_days=5),
        description="行政处分执行时限：四.1 人事部门处罚并公布的期限（原文未规定）",
    )
    ack_due: Deadline = Field(
        Deadline(working_days=3),
        description="签收时限：四.2 《奖罚通知单》三联各自签收的期限（原文未规定）",
    )


# ---- what people send when completing tasks -----------------------------------------------------


class AcceptData(TaskData):
    """二.1 商管部 accepts; 三.2 a deadline for this case may be set here."""

    handler: str = Field("", max_length=100, description="承办人")
    case_deadline: datetime | None = Field(
        None, description="本案答复期限（三.2 根据具体情况确定；空 = 受理起 24 小时）"
    )
    note: str = Field("", max_length=2000, description="备注")

    @field_validator("case_deadline")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("case_deadline needs a time zone, e.g. 2026-12-01T10:00:00+08:00")
        return v


class ReplyData(TaskData):
    """一.1, 二.2–4: cause and responsibility investigated, decision told to the customer."""

    cause: str = Field(min_length=2, max_length=5000, description="投诉原因")
    responsibility: Responsibility = Field(description="责任归属")
    responsible: str = Field("", max_length=200, description="责任商户或人员")
    decision: str = Field(min_length=2, max_length=5000, description="处理决定")
    handling: Handling = Field(description="处理方式")
    improvement: str = Field("", max_length=5000, description="改善对策")
    customer_told: bool = Field(True, description="已告知客户")


class CloseData(TaskData):
    """二.5, 一.2③: 客服部 tracks, confirms the effect and closes."""

    effect_confirmed: bool = Field(description="效果已确认")
    customer_feedback: str = Field("", max_length=2000, description="客户反馈")


class DelayCauseData(TaskData):
    """五 the answer to a 《洽办单》: why the case was late."""

    cause: str = Field(min_length=2, max_length=5000, description="逾期原因")
    measures: str = Field("", max_length=5000, description="改进措施")


class PenaltyItem(TaskData):
    complaint: str = Field(min_length=1, max_length=200, description="投诉案件")
    person: str = Field(min_length=1, max_length=100, description="责任人")
    penalty: Sanction = Field(description="行政处分")
    reason: str = Field(min_length=2, max_length=2000, description="理由")


class DeductionItem(TaskData):
    complaint: str = Field(min_length=1, max_length=200, description="投诉案件")
    party: str = Field(min_length=1, max_length=200, description="责任商户或人员")
    party_kind: Literal["merchant", "individual"] = Field(description="责任归属")
    amount_yuan: Yuan = Field(gt=0, description="罚扣金额（元）")
    reason: str = Field(min_length=2, max_length=2000, description="理由")


class ReviewData(TaskData):
    """四 the review of last month's closed complaints: 行政处分 for HR, 奖金罚扣 on a notice."""

    penalties: list[PenaltyItem] = Field(
        default_factory=list, max_length=200, description="行政处分"
    )
    deductions: list[DeductionItem] = Field(
        default_factory=list, max_length=200, description="奖金罚扣"
    )
    deducting_department: str = Field("", max_length=100, description="罚扣部门")
    note: str = Field("", max_length=5000, description="审视意见")


class PublishData(TaskData):
    where: str = Field(min_length=2, max_length=500, description="公布方式（公告栏、内网等）")
    note: str = Field("", max_length=2000, description="备注")


class AckData(TaskData):
    note: str = Field("", max_length=2000, description="备注")


class MallComplaintVars(BaseModel):
    accepted_at: datetime | None = None
    reply_due: datetime | None = None
    replied_at: datetime | None = None
    late: bool = False
    urges: int = 0
    responsibility: str | None = None
    responsible: str | None = None
    review_open: int = 0  # branches of the monthly review still running
    reviewed: list[dict[str, Any]] = Field(default_factory=list)
    deductions_yuan: Decimal = Decimal(0)
