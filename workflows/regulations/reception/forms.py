"""R9 `reception` — what people type: the sales office (its rotation), the policy (every number
of the attribution rules), the register's entries, deals, and the sales manager's decisions. The
rules themselves are pure functions in rules.py; the clauses that use them are in clauses.py.
Stateless; passed through the workflow sandbox."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from workflows.engine import CasePolicy
from workflows.model import Actor, Deadline, Form, Yuan
from workflows.spec import TaskData

PublicKind = Literal["peer", "developer_guest", "marketing_guest", "sales_call"]
MakeupReason = Literal[
    "own_returning", "own_phone", "colleague_verified", "helped", "other_work", "public_after"
]
LeaveKind = Literal["rest", "personal", "sick"]
DealWay = Literal["own", "same_visit", "discovered", "group"]


class OfficeInput(Form):
    """Open a sales office's reception: its rotation (轮排表) in order."""

    office_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$", description="售楼处编号")
    office_name: str = Field(min_length=1, max_length=100, description="售楼处名称")
    sales_manager: str = Field(min_length=1, max_length=64, description="销售经理（用户名）")
    roster: list[str] = Field(
        min_length=1, max_length=50, description="轮排表：售楼员（用户名）按接待顺序"
    )


class ReceptionPolicy(CasePolicy):
    """R9's numbers: every window of the attribution rules, the shares, the fine's range."""

    helper_share: Decimal = Field(
        Decimal("0.2"),
        ge=0,
        le=1,
        description="帮忙接待成交分成：第9、12、13条 成交的售楼员占二（原售楼员占八）",
    )
    referral_valid_days: int = Field(
        7, ge=0, description="介绍客户冲突有效期（天）：第10条 登记后多少天内发现冲突可按登记移交"
    )
    family_new_after_days: int = Field(
        30,
        ge=0,
        description="一家人转为新客户（天）：第14条 距原始登记或成交超过多少天按新客户处理",
    )
    unknowing_new_after_days: int = Field(
        60,
        ge=0,
        description="不知情接待转为新客户（天）：第15、16条 距原始登记超过多少天视为新客户",
    )
    discovered_window_days: int = Field(
        3, ge=0, description="成交后发觉期限（天）：第16条 成交后多少天内发觉则五五分成"
    )
    grab_fine_min_yuan: Yuan = Field(Decimal(200), ge=0, description="抢客户罚款下限（元）：第13条")
    grab_fine_max_yuan: Yuan = Field(Decimal(500), ge=0, description="抢客户罚款上限（元）：第13条")
    decision_due: Deadline = Field(
        Deadline(working_days=3),
        description="销售经理裁定期限：第13、20条 罚款与疑难问题的裁定期限（原文未规定）",
    )
    statement_day: int = Field(
        1,
        ge=1,
        le=28,
        description="月度提成结算日：第21条 每月几号出上月的提成结算表（原文未规定）",
    )


class RegisterEntry(BaseModel):
    """One line of the register as the office case keeps it (the record holds the same)."""

    no: int
    book: Literal["visit", "call"]
    at: datetime
    customer_name: str = ""
    phone: str = ""
    car_brand: str = ""
    car_plate: str = ""
    staff: str
    public: str | None = None
    family_of: int | None = None
    corrects: int | None = None
    record_id: str | None = None


class DealEntry(BaseModel):
    no: int
    at: datetime
    customer_name: str
    closer: str
    amount_yuan: Decimal
    clause: str
    rule: str
    amounts: list[tuple[str, Decimal]]
    cancelled: list[str] = Field(default_factory=list)  # whose commission 13 cancelled
    record_id: str | None = None


class ReceptionVars(BaseModel):
    """The office's carried state (it survives continue-as-new): the rotation, the make-up
    turns owed, who is on leave, the register, the deals."""

    queue: list[str] = Field(default_factory=list)
    makeup: list[dict[str, Any]] = Field(default_factory=list)
    leave: dict[str, str] = Field(default_factory=dict)  # person -> China date (ISO)
    entries: list[RegisterEntry] = Field(default_factory=list)
    deals: list[DealEntry] = Field(default_factory=list)
    served: dict[str, int] = Field(default_factory=dict)


# ---- updates ----------------------------------------------------------------------------------


class RosterInput(BaseModel):
    actor: Actor
    roster: list[str] = Field(min_length=1, max_length=50, description="轮排表（按顺序）")


class LeaveInput(BaseModel):
    actor: Actor
    person: str = Field(min_length=1, max_length=64, description="售楼员")
    kind: LeaveKind = Field(description="休班或请假")
    day: date = Field(description="日期")


class WalkInInput(BaseModel):
    """A customer walks into the office; the rotation says who receives them."""

    actor: Actor
    public: PublicKind | None = Field(None, description="公共客户（第6条）")


class MakeupInput(BaseModel):
    actor: Actor
    person: str = Field(min_length=1, max_length=64, description="售楼员")
    reason: MakeupReason = Field(description="补接原因（第2条）")
    note: str = Field("", max_length=500, description="说明")


class VisitInput(BaseModel):
    """《客户登记本》 (第4条): one entry per customer received; a correction is a new entry."""

    actor: Actor
    customer_name: str = Field("", max_length=100, description="客户姓名")
    employer_or_address: str = Field("", max_length=200, description="工作单位或住址")
    phone: str = Field("", max_length=50, description="联络方式")
    car_brand: str = Field("", max_length=50, description="车的品牌")
    car_plate: str = Field("", max_length=20, description="车牌")
    intent: str = Field("", max_length=500, description="购楼意向")
    source: str = Field("", max_length=200, description="信息来源")
    public: PublicKind | None = Field(None, description="公共客户（第6条）")
    family_of: int | None = Field(None, ge=1, description="与第几号登记为一家人（第6、14条）")
    knowingly: bool = Field(False, description="接待时已知是他人客户")
    corrects: int | None = Field(None, ge=1, description="更正第几号登记（第21条：只增不改）")


class CallInput(BaseModel):
    """《电话咨询登记本》 (第5条): the caller belongs to whoever answered."""

    actor: Actor
    customer_name: str = Field("", max_length=100, description="来电客户姓名")
    phone: str = Field("", max_length=50, description="来电号码")
    intent: str = Field("", max_length=500, description="咨询内容")
    corrects: int | None = Field(None, ge=1, description="更正第几号登记（第21条：只增不改）")


class DealInput(BaseModel):
    """A deal (第17条: deposit paid and subscription signed) and how it was closed."""

    actor: Actor
    customer_name: str = Field("", max_length=100, description="认购方姓名（以认购书为准）")
    phone: str = Field("", max_length=50, description="联络方式")
    car_brand: str = Field("", max_length=50, description="车的品牌")
    car_plate: str = Field("", max_length=20, description="车牌")
    deposit_paid: bool = Field(description="已交定金")
    subscription_signed: bool = Field(description="已签认购书")
    way: DealWay = Field(description="成交情形")
    commission_yuan: Yuan = Field(gt=0, description="本单提成（元）")
    deal_day: date | None = Field(None, description="成交日期（默认今天）")


class GrabInput(BaseModel):
    actor: Actor
    deal_no: int = Field(ge=1, description="成交编号")
    grabber: str = Field(min_length=1, max_length=64, description="抢客户的售楼员")
    facts: str = Field(min_length=1, max_length=2000, description="经过")


class HardCaseInput(BaseModel):
    actor: Actor
    question: str = Field(min_length=2, max_length=2000, description="疑难问题")


class StatementInput(BaseModel):
    actor: Actor
    month: str = Field(pattern=r"^\d{4}-\d{2}$", description="月份（YYYY-MM）")


# ---- task outcomes ----------------------------------------------------------------------------


class FineData(TaskData):
    amount_yuan: Yuan = Field(description="罚款金额（元）")
    note: str = Field("", max_length=2000, description="说明")


class RulingData(TaskData):
    ruling: str = Field(min_length=2, max_length=5000, description="裁定")
