"""R6 `renovation` — what people type: the case input (the application with its documents),
the policy (every number and list of the regulation), the data of each task's outcomes and the
updates people send. The clauses that use them are in clauses.py beside it.

A module of its own, stateless: the worker passes it through the workflow sandbox."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

from pydantic import BaseModel, Field, field_validator

from workflows.engine import CasePolicy
from workflows.model import Actor, Attachment, Deadline, Form, Yuan
from workflows.spec import TaskData

# ---- input, policy ---------------------------------------------------------------------------


class DocumentItem(Form):
    """One document of the 《二次装修管理手册》's checklist: attached, or missing."""

    name: str = Field(min_length=1, max_length=200, description="资料名称")
    file: Attachment | None = Field(None, description="附件（未附则为缺）")
    note: str = Field("", max_length=500, description="说明")


class RenovationInput(Form):
    """A customer's application for a secondary renovation (二次装修申请)."""

    customer_name: str = Field(min_length=1, max_length=200, description="客户名称")
    premises: str = Field(min_length=1, max_length=100, description="装修区域（楼层、单元）")
    contact: str = Field(min_length=1, max_length=100, description="客户联系人")
    contact_phone: str = Field("", max_length=50, description="联系电话")
    contractor: str = Field(min_length=1, max_length=200, description="装修单位")
    contractor_lead: str = Field(min_length=1, max_length=100, description="施工负责人")
    contractor_phone: str = Field("", max_length=50, description="施工负责人电话")
    work_items: list[str] = Field(
        min_length=1, max_length=30, description="申请的装修项目（如隔墙、吊顶、电气、地面）"
    )
    description: str = Field("", max_length=5000, description="装修方案说明")
    planned_start: date = Field(description="计划开工日期")
    planned_end: date = Field(description="计划完工日期")
    deposit_yuan: Yuan = Field(Decimal("0.00"), ge=0, description="装修施工抵押金（元）")
    documents: list[DocumentItem] = Field(
        default_factory=list, max_length=30, description="按《二次装修管理手册》提交的资料"
    )

    @field_validator("work_items")
    @classmethod
    def _items(cls, v: list[str]) -> list[str]:
        cleaned = [i.strip() for i in v if i.strip()]
        if not cleaned or any(len(i) > 100 for i in cleaned):
            raise ValueError("each item is a short name (1–100 characters)")
        return cleaned


class RenovationPolicy(CasePolicy):
    """R6's numbers and lists. Defaults are the regulation's (or, where it is silent, a
    property manager's); a company overrides them in its policy file."""

    documents: list[str] = Field(
        [
            "装修设计图纸（平面、天花、水电）",
            "装修单位营业执照及资质证书复印件",
            "消防报审资料",
            "施工人员名单及身份证复印件",
            "装修工程项目及材料说明",
        ],
        description="申请资料清单：第1条 《二次装修管理手册》要求提交的资料",
    )
    approve_with_missing: bool = Field(
        False, description="缺资料可否批准：第1条 资料不全时管理中心可否批准（原文未规定）"
    )
    agreements: list[str] = Field(
        ["二次装修保洁责任书", "二次装修工程协议书", "施工防火安全协议书", "施工安全管理规定"],
        description="须签署的协议：第4、5条 开工证发放前客户/装修单位签署的协议",
    )
    signers_per_agreement: int = Field(
        2, ge=1, le=3, description="每份协议签字人数：第4、5条 客户与装修单位各签一份（原文未规定）"
    )
    review_due: Deadline = Field(
        Deadline(working_days=3),
        description="审批期限：第1条 管理中心审批装修申请的期限（原文未规定）",
    )
    permit_due: Deadline = Field(
        Deadline(working_days=5),
        description="开工证办理期限：第2条 批准后签协议、办出入证、发开工证（原文未规定）",
    )
    supplement_due: Deadline = Field(
        Deadline(working_days=5), description="补交资料期限：第1条 退回补充资料的期限（原文未规定）"
    )
    waste_removal_at: time = Field(
        time(19, 0), description="垃圾清运时间：第3条 物业指定的每日清运时间（北京时间）"
    )
    waste_check_within: Deadline = Field(
        Deadline(hours=2), description="清运检查时限：第3条 清运时间后物业完成检查的时限"
    )
    extension_due: Deadline = Field(
        Deadline(working_days=3),
        description="延期办理期限：第6条 批准期满后客务部办理延期手续的期限",
    )
    inspection_apply_within: Deadline = Field(
        Deadline(working_days=7),
        description="申请验收期限：第7条 装修（含整改）完工后申请验收的期限",
    )
    inspection_due: Deadline = Field(
        Deadline(working_days=3),
        description="验收期限：第7条 管理中心收到申请后组织验收的期限（原文未规定）",
    )
    refund_due: Deadline = Field(
        Deadline(working_days=10),
        description="押金退还期限：第7条 验收通过后退还抵押金的期限（原文未规定）",
    )


# ---- what people send when completing tasks -------------------------------------------------


class ReviewApproveData(TaskData):
    """管理中心 approves in writing: the items and the period it approves."""

    approved_items: list[str] = Field(
        default_factory=list, max_length=30, description="批准的装修项目（空则按申请全部批准）"
    )
    approved_end: date | None = Field(None, description="批准的完工期限（空则按申请）")
    conditions: str = Field("", max_length=2000, description="审批意见及要求")


class ReturnData(TaskData):
    reason: str = Field(min_length=2, max_length=2000, description="退回理由（须补充的资料）")


class SupplementData(TaskData):
    documents: list[DocumentItem] = Field(min_length=1, max_length=30, description="补交的资料")


class AgreementData(TaskData):
    """One of the four agreements, signed by the customer and the contractor."""

    file: Attachment | None = Field(None, description="签署的协议（扫描件）")
    note: str = Field("", max_length=1000, description="备注")


class Worker(TaskData):
    name: str = Field(min_length=1, max_length=100, description="姓名")
    id_no: str = Field(pattern=r"^[0-9]{17}[0-9Xx]$", description="身份证号")
    pass_no: str = Field(min_length=1, max_length=50, description="出入证号")
    valid_until: date = Field(description="有效期至")


class PassesData(TaskData):
    """《施工人员出入证登记表》: each worker's ID and the validity of their pass."""

    workers: list[Worker] = Field(min_length=1, max_length=200, description="施工人员")


class PermitData(TaskData):
    permit_no: str = Field(min_length=1, max_length=50, description="开工证编号")
    posted_at: str = Field(min_length=1, max_length=200, description="张贴位置（施工区域醒目处）")


class WasteCheckData(TaskData):
    sealed: bool = Field(True, description="废料、垃圾已密封")
    route_ok: bool = Field(True, description="按指定时间、位置、路线清运")
    common_area_clear: bool = Field(True, description="未占用公共区域")
    findings: str = Field("", max_length=2000, description="检查情况")


class ExtensionData(TaskData):
    new_end: date = Field(description="延期至")
    reason: str = Field(min_length=2, max_length=2000, description="延期原因")


class InspectionApplyData(TaskData):
    applied_on: date | None = Field(None, description="客户申请日期（空则为今天）")
    note: str = Field("", max_length=1000, description="备注")


class Defect(TaskData):
    item: str = Field(min_length=1, max_length=200, description="不合格项目")
    requirement: str = Field("", max_length=1000, description="整改要求")


class InspectionData(TaskData):
    """《装修验收记录》: passed, or the defects that reopen rectification."""

    defects: list[Defect] = Field(default_factory=list, max_length=100, description="不合格项目")
    note: str = Field("", max_length=2000, description="验收意见")


class RefundData(TaskData):
    paid_on: date = Field(description="退款日期")
    method: str = Field("银行转账", min_length=1, max_length=100, description="退款方式")
    note: str = Field("", max_length=1000, description="备注")


# ---- updates people send --------------------------------------------------------------------


class WorkLogInput(Form):
    """Work on site, as the property's patrol records it (施工登记 / 巡查)."""

    actor: Actor
    work_items: list[str] = Field(min_length=1, max_length=30, description="当日施工项目")
    workers: int = Field(1, ge=0, le=1000, description="施工人数")
    note: str = Field("", max_length=2000, description="巡查情况")


class ChangeInput(Form):
    """A change of the approved scope: a new application, approved the same way."""

    actor: Actor
    work_items: list[str] = Field(min_length=1, max_length=30, description="变更后的装修项目")
    description: str = Field(min_length=2, max_length=5000, description="变更说明")
    planned_end: date | None = Field(None, description="计划完工日期（空则不变）")
    documents: list[DocumentItem] = Field(default_factory=list, max_length=30, description="资料")


class StopInput(Form):
    actor: Actor
    reason: str = Field(min_length=2, max_length=2000, description="停工原因")
    work_items: list[str] = Field(
        default_factory=list, max_length=30, description="未经批准的施工项目"
    )


class CompletedInput(Form):
    actor: Actor
    note: str = Field("", max_length=2000, description="完工说明")


class MovedInInput(Form):
    actor: Actor
    moved_in_on: date = Field(description="迁入日期")
    note: str = Field("", max_length=2000, description="情况说明")


class SuspendInput(Form):
    actor: Actor
    services: str = Field(min_length=1, max_length=500, description="暂停的服务")
    reason: str = Field(min_length=2, max_length=2000, description="原因")


class DepositUseInput(Form):
    actor: Actor
    amount_yuan: Yuan = Field(gt=0, description="动用金额（元）")
    defects: str = Field(min_length=2, max_length=2000, description="整改的不合格工程")


# ---- carried state --------------------------------------------------------------------------


class RenovationVars(BaseModel):
    stage: str = "applying"  # see labels.py enums: the stages of a renovation
    approved_items: list[str] = Field(default_factory=list)
    approved_end: date | None = None
    applications: int = 0
    approvals: int = 0
    permit_record: str | None = None
    agreements_signed: list[str] = Field(default_factory=list)
    passes_record: str | None = None
    stop_orders: int = 0
    moved_in_early: bool = False
    services_suspended: bool = False
    suspended: list[str] = Field(default_factory=list)  # the services suspended, in order
    inspection_passed: bool = False
    deductions: list[str] = Field(default_factory=list)  # yuan, as text
    waste_checks: int = 0
    waste_missed: int = 0
    waste_failed: int = 0
    extensions: int = 0
    deposit_account: str | None = None
    period_seq: int = 0
    waste_seq: int = 0
    resume_stage: str | None = None  # the stage to return to when an extension is approved


class ApplicationUnit(BaseModel):
    """One application (the first, or a change of scope)."""

    n: int
    work_items: list[str]
    description: str
    planned_end: date
    documents: list[DocumentItem] = Field(default_factory=list)
    record_id: str = ""
    change: bool = False
