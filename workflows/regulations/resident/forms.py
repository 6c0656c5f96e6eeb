"""R12 `resident` — what people type: the case input (a customer's complaint or need, a flat's
archive, or what a schedule / an office worker starts: the complaint revisit sampling and a
building's archive view), the policy (every number), and the data of each task's outcomes.

Stateless: the worker passes it through the workflow sandbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field, field_validator, model_validator

from workflows.engine import CasePolicy
from workflows.model import Attachment, Deadline, Form
from workflows.spec import TaskData

# 一 the documents of a resident archive, in the order the text lists them.
DOCUMENTS: dict[str, str] = {
    "move_in_sign_off": "《入伙会签单》",
    "interim_rules": "《临时管理规约》",
    "preliminary_service_agreement": "《前期物业管理服务协议》",
    "move_in_payment": "《入伙交费单》",
    "takeover_inspection": "《接管验收记录》",
    "household_members": "《住户成员情况登记表》",
    "decoration_agreement": "《房屋装饰装修管理协议》",
    "decoration_start_application": "《装修开工申请表》",
    "decoration_workers": "《装修人员登记表》",
    "decoration_pledge": "《装修承诺书》",
    "decoration_fee_notice": "《装修缴费通知单》",
    "fire_responsibility": "《防火责任书》",
    "owner_id_copy": "业主身份证复印件",
    "floor_plan": "房屋结构图",
}
Document = Literal[
    "move_in_sign_off", "interim_rules", "preliminary_service_agreement", "move_in_payment",
    "takeover_inspection", "household_members", "decoration_agreement",
    "decoration_start_application", "decoration_workers", "decoration_pledge",
    "decoration_fee_notice", "fire_responsibility", "owner_id_copy", "floor_plan",
]  # fmt: skip
CaseKind = Literal["customer_contact", "archive", "revisit_sampling", "archive_view"]


# ---- input, policy ---------------------------------------------------------------------------


class ResidentInput(Form):
    """A customer's complaint or need received by any staff member (二, 三), a flat's archive
    (一), the monthly complaint revisit sampling (四, the schedule) or one building's archive
    completeness (一)."""

    case_kind: CaseKind = Field("customer_contact", description="案件类型")
    building: str = Field("", max_length=20, description="栋")
    unit_no: str = Field("", max_length=20, description="单元（房号）")
    customer_name: str = Field("", max_length=100, description="客户（业主）姓名")
    phone: str = Field("", max_length=50, description="联系电话")
    request_type: Literal["complaint", "need"] = Field("complaint", description="投诉或需求")
    content: str = Field("", max_length=5000, description="客户的投诉或需求")
    place: str = Field("", max_length=200, description="客户指定的地点（空 = 无需到场）")
    double_archive: bool = Field(False, description="双档案（另存一份副本）")

    @model_validator(mode="after")
    def _says_what(self) -> ResidentInput:
        if self.case_kind == "customer_contact" and not (self.customer_name and self.content):
            raise ValueError("须写明客户姓名及其投诉或需求")
        if self.case_kind == "archive" and not (self.building and self.unit_no):
            raise ValueError("住户档案须写明栋和单元（房号）")
        if self.case_kind == "archive_view" and not self.building:
            raise ValueError("须写明查看哪一栋")
        return self

    @computed_field(description="标题")  # type: ignore[prop-decorator]
    @property
    def case_title(self) -> str:
        if self.case_kind == "archive":
            return f"住户档案：{self.building}栋 {self.unit_no}"
        if self.case_kind == "archive_view":
            return f"住户档案完整性：{self.building}栋"
        if self.case_kind == "revisit_sampling":
            return "客户投诉回访抽样"
        kind = "投诉" if self.request_type == "complaint" else "需求"
        where = f"{self.building}栋{self.unit_no} " if self.building else ""
        return f"客户{kind}：{where}{self.customer_name}"


class ResidentPolicy(CasePolicy):
    """R12's numbers. Defaults are the regulation's (or, where it is silent, a manager's)."""

    dispatch_within: Deadline = Field(
        Deadline(minutes=3),
        description="三分钟服务：二.2 办公室安排人员到客户指定地点的时限",
    )
    register_within: Deadline = Field(
        Deadline(minutes=10),
        description="登记时限：二.7 第一时间登记《客户沟通登记表》并复述确认（原文未规定分钟数）",
    )
    archive_due: Deadline = Field(
        Deadline(working_days=5), description="建档时限：一 建立住户档案的期限（原文未规定）"
    )
    supplement_due: Deadline = Field(
        Deadline(days=30), description="补档时限：一 缺少的档案资料补齐的期限（原文未规定）"
    )
    sample_rate: float = Field(
        0.1, gt=0, le=1, description="投诉回访抽样比例：四.2 从客户投诉中抽取 10% 回访"
    )
    onsite_rate: float = Field(
        0.3, gt=0, le=1, description="上门回访比例：四.2 抽样中至少 30% 上门回访并有客户签字"
    )
    revisit_due: Deadline = Field(
        Deadline(working_days=5),
        description="投诉回访时限：四.2 抽中后完成回访的期限（原文未规定）",
    )


# ---- what people send when completing tasks -----------------------------------------------------


class RegisterData(TaskData):
    """二.7 《客户沟通登记表》: written at once and read back to the customer."""

    content: str = Field(min_length=2, max_length=5000, description="客户的投诉或需求（原话）")
    read_back_confirmed: bool = Field(description="已复述一遍，客户确认无误")
    solved_at_once: bool = Field(description="当场解决")
    solution: str = Field("", max_length=5000, description="当场解决的办法")
    promised_at: datetime | None = Field(None, description="承诺的服务（处理）时间")
    explanation: str = Field("", max_length=2000, description="向客户所做的解释")

    @field_validator("promised_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("promised_at needs a time zone, e.g. 2026-12-01T10:00:00+08:00")
        return v


class DispatchData(TaskData):
    """二.2 the office sends someone to the place the customer named."""

    sent: str = Field(min_length=1, max_length=64, description="派往的人员")
    note: str = Field("", max_length=2000, description="备注")


class HandleData(TaskData):
    """三.2, 三.4 handled by the promised time, recorded in the 《客户沟通登记表》."""

    result: str = Field(min_length=2, max_length=5000, description="处理结果")
    customer_satisfied: bool = Field(True, description="客户满意")


class DocumentEntry(TaskData):
    document: Document = Field(description="资料")
    file: Attachment | None = Field(None, description="文件（扫描件或照片）")
    missing: bool = Field(False, description="缺失")
    note: str = Field("", max_length=500, description="备注")


class ArchiveData(TaskData):
    """一 the archive of one flat: each listed document attached or marked missing."""

    documents: list[DocumentEntry] = Field(max_length=14, description="档案资料")
    second_copy_kept: bool = Field(False, description="已另存副本（双档案）")


class RevisitData(TaskData):
    """四 the complaint revisit: what the customer says of the handling."""

    contact_person: str = Field(min_length=1, max_length=100, description="受访人")
    satisfied: bool = Field(description="客户满意")
    opinion: str = Field("", max_length=5000, description="客户意见")


class ResidentVars(BaseModel):
    # a request
    registered: bool = False
    solved_at_once: bool = False
    promised_at: datetime | None = None
    dispatched_to: str | None = None
    dispatched_late: bool = False
    handled: bool = False
    # an archive
    present: list[str] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)
    second_copy_kept: bool = False
    # the revisit sampling
    seed: int | None = None
    sampled: list[str] = Field(default_factory=list)
    onsite: list[str] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)
