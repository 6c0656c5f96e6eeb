"""R5 `complaint` — what people type: the intake (第1条: time, name, address, phone, subject),
the policy (every number of the text, and the reading of 接报后), and the data of each task's
outcomes. The clauses that use them are in clauses.py beside it.

Stateless: the worker passes it through the workflow sandbox."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from workflows.engine import CasePolicy
from workflows.model import Actor, Deadline, DisciplineKind, Form, Yuan
from workflows.spec import TaskData

Category = Literal["ordinary", "emergency", "major", "developer"]
EMERGENCY_CATEGORIES = ("emergency", "major", "developer")


class ComplaintInput(Form):
    """第1条: any employee who receives a complaint records it (they are its 首问人)."""

    customer_name: str = Field(min_length=1, max_length=100, description="顾客姓名")
    address: str = Field(min_length=1, max_length=200, description="住址")
    phone: str = Field(min_length=3, max_length=50, description="联系电话")
    subject: str = Field(min_length=2, max_length=500, description="投诉主题")
    category: Category = Field(
        "ordinary", description="投诉性质：日常 / 紧急抢险抢修 / 重要重大 / 需开发商解决"
    )
    received_at: datetime | None = Field(None, description="接到投诉的时间（空 = 现在）")
    customer_id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="客户编号（有客户回访档案的客户）",
    )


class ComplaintPolicy(CasePolicy):
    pass_on_within: Deadline = Field(
        Deadline(hours=24),
        description="反馈前台时限：第1条 接到投诉后一般 24 小时内反馈客户中心前台",
    )
    dispatch_within: Deadline = Field(
        Deadline(hours=12), description="传递时限：第2条 前台 12 小时内向相关部门传递"
    )
    coordinate_within: Deadline = Field(
        Deadline(hours=24),
        description="协调时限：第3条 部门负责人出面协调（原文未定，默认 24 小时）",
    )
    cannot_finish_within: Deadline = Field(
        Deadline(hours=2), description="不能按时完成的回应时限：第4条 接到调度后 2 小时内回应前台"
    )
    report_back_within: Deadline = Field(
        Deadline(hours=2), description="处理结果反馈时限：第5条 处理妥善后 2 小时内反馈客户中心"
    )
    revisit_within: Deadline = Field(
        Deadline(working_days=2), description="回访时限：第5条、第7条 2 个工作日内回访顾客"
    )
    tell_first_receiver_within: Deadline = Field(
        Deadline(hours=2), description="反馈首问人时限：第8条 处理完毕后 2 小时内反馈首问责任人"
    )
    department_within: Deadline = Field(
        Deadline(minutes=3), description="知会部门时限：第6条 3 分钟内知会相关部门作应急处理"
    )
    center_head_within: Deadline = Field(
        Deadline(minutes=5), description="上报主管领导时限：第6条 管理处负责人接报后 5 分钟内"
    )
    leader_within: Deadline = Field(
        Deadline(minutes=10), description="上报董事领导时限：第7条 主管领导接报后 10 分钟内"
    )
    board_within: Deadline = Field(
        Deadline(hours=2), description="董事领导决策时限：第7条（原文未定，默认 2 小时）"
    )
    report_24h_within: Deadline = Field(
        Deadline(hours=24), description="书面报告时限：第6条 管理处负责人 24 小时内提交"
    )
    report_48h_within: Deadline = Field(
        Deadline(hours=48), description="书面报告时限：第7条 主管领导 48 小时内提交"
    )
    verify_within: Deadline = Field(
        Deadline(hours=8), description="跟进验证时限：第7条 处理完毕后 8 小时内"
    )
    sanction_on_breach: DisciplineKind | None = Field(
        "warning",
        description="超时处分建议：第10条 每次超时建议的处分（空 = 不建议），经部门负责人和董事领导审批",
    )
    emergency_clock: Literal["told", "intake"] = Field(
        "told",
        description="接报后的读法：第6–7条 told = 从该级被告知时起算；intake = 每级都从接报时起算",
    )


# ---- task outcomes -----------------------------------------------------------------------------


class DispatchData(TaskData):
    """第2条: the front desk decides the handling and dispatches with a deadline."""

    department: str = Field(min_length=1, max_length=100, description="责任部门")
    handling: str = Field(min_length=2, max_length=2000, description="处理办法")
    due_at: datetime = Field(description="限期处理和回复时间")


class ExplainData(TaskData):
    """第3条: an unreasonable complaint explained to the customer."""

    explanation: str = Field(min_length=2, max_length=2000, description="解释内容")
    persuaded: bool = Field(description="顾客已谅解")


class EmergencyData(TaskData):
    """第6条: the front desk finds the complaint urgent, major or the developer's."""

    category: Literal["emergency", "major", "developer"] = Field(description="投诉性质")
    department: str = Field(min_length=1, max_length=100, description="责任部门")
    note: str = Field("", max_length=2000, description="说明")


class CannotFinishData(TaskData):
    """第4条: the department cannot finish in time: the reason and a new promised time."""

    reason: str = Field(min_length=2, max_length=2000, description="原因")
    promised_at: datetime = Field(description="新的承诺完成时间")


class HandledData(TaskData):
    """第5条: the department's report to the front desk."""

    result: str = Field(min_length=2, max_length=2000, description="处理结果")


class RevisitData(TaskData):
    """第5条、第7条: the revisit record: satisfied or not."""

    opinion: str = Field(min_length=1, max_length=2000, description="顾客意见")


class VerifyData(TaskData):
    """第7条: the developer's customer service and the property company verify."""

    findings: str = Field(min_length=2, max_length=2000, description="验证情况")


class TellData(TaskData):
    """第8条: what the first receiver is told."""

    message: str = Field(min_length=2, max_length=2000, description="反馈内容")


class DisciplineInput(Form):
    """第10条: a sanction or reward proposed by a person (a breach proposes one by itself)."""

    actor: Actor
    party: str = Field(min_length=1, max_length=100, description="对象（人员或部门）")
    party_kind: Literal["person", "department"] = Field("person", description="对象类别")
    kind: DisciplineKind = Field(description="奖惩")
    rule: str = Field(min_length=2, max_length=500, description="事由")
    amount_yuan: Yuan = Field(Decimal("0.00"), ge=0, description="奖金（元）")


class ComplaintVars(BaseModel):
    """What the case keeps besides its tasks (its summary reads it)."""

    phase: str = "intake"
    department: str | None = None
    category: str = "ordinary"
    level: int = 0
    breaches: int = 0
    breached_kinds: list[str] = Field(default_factory=list)
    breaches_by_department: dict[str, int] = Field(default_factory=dict)
    tagged: list[Any] = Field(default_factory=list)  # the search attributes last set
    reopened: int = 0
    rounds: int = 0
    received_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    satisfied: bool | None = None


class ActorOnly(Form):
    actor: Actor
