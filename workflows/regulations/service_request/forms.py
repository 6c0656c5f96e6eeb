"""R4 `service-request` — what people type: the case input (an owner's request, or the service
center's month), the policy (every number of the regulation, the 《有偿服务价目表》 among them)
and the data of each task's outcomes. The clauses that use them are in clauses.py beside it.

Stateless: the worker passes this module through the workflow sandbox."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from workflows.engine import CasePolicy
from workflows.model import Actor, Deadline, Form, Yuan
from workflows.spec import TaskData

Category = Literal[
    "air_conditioning", "power_lighting", "water", "fire", "security", "cleaning", "greening",
    "other",
]  # fmt: skip
Source = Literal["oral", "written", "staff_noticed"]
Emergency = Literal["outage_wide", "elevator", "flooding", "fire_alarm", "crime"]
ServiceType = Literal["engineering", "cleaning_security", "contractor"]
# 5.2.4 three working days; 5.2.5 24 hours (drains, toilets, leaking pipes) or one working
# day (lamps, door locks); 5.2.6 internal work with a deadline the department head agrees.
JobClass = Literal["standard", "urgent_24h", "working_day", "internal"]
CaseType = Literal["request", "month"]

Text = Annotated[str, Field(min_length=1, max_length=200)]


# ---- input ----------------------------------------------------------------------------------


class ServiceRequestInput(Form):
    """An owner's request as the receptionist takes it (《业主反映情况记录》), or — started by
    the schedule on the 1st — the service center's month (report, household visits)."""

    case_type: CaseType = Field("request", description="案件类型")
    room: str = Field("", max_length=50, description="业主房号")
    owner_name: str = Field("", max_length=100, description="业主姓名")
    owner_phone: str | None = Field(None, max_length=50, description="业主电话")
    content: str = Field("", max_length=2000, description="反映内容/要求")
    category: Category = Field("other", description="类别")
    source: Source = Field("oral", description="申请方式")
    emergency: Emergency | None = Field(None, description="紧急情况（5.1.3，先作业后补单）")
    director: str = Field("director", max_length=64, description="主任（用户名）")
    area_managers: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=lambda: ["area"], max_length=50, description="区域管理员（用户名）"
    )

    @model_validator(mode="after")
    def _request_complete(self) -> ServiceRequestInput:
        if self.case_type == "request":
            missing = [
                name
                for name, value in (
                    ("房号", self.room),
                    ("姓名", self.owner_name),
                    ("反映内容", self.content),
                )  # fmt: skip
                if not value.strip()
            ]
            if missing:
                raise ValueError(
                    f"《业主反映情况记录》须写明房号、姓名、反映内容（缺：{'、'.join(missing)}）"
                )
        return self


# ---- policy ---------------------------------------------------------------------------------


class PriceItem(BaseModel):
    """A line of the 《有偿服务价目表》: a material (per unit) and/or a service (labour)."""

    code: str = Field(min_length=1, max_length=40, description="编号")
    name: str = Field(min_length=1, max_length=100, description="项目")
    unit: str = Field("次", max_length=20, description="单位")
    material_yuan: Yuan = Field(Decimal(0), ge=0, description="材料费（元/单位）")
    labour_yuan: Yuan = Field(Decimal(0), ge=0, description="人工费（元/单位）")


DEFAULT_PRICES = [
    PriceItem(code="P01", name="更换水龙头", unit="个", material_yuan=Decimal("35.00"),
              labour_yuan=Decimal("20.00")),
    PriceItem(code="P02", name="疏通下水道", unit="次", labour_yuan=Decimal("50.00")),
    PriceItem(code="P03", name="更换灯管", unit="支", material_yuan=Decimal("12.50"),
              labour_yuan=Decimal("5.00")),
    PriceItem(code="P04", name="更换门锁", unit="把", material_yuan=Decimal("80.00"),
              labour_yuan=Decimal("30.00")),
    PriceItem(code="P05", name="PPR 水管", unit="米", material_yuan=Decimal("8.80")),
    PriceItem(code="P06", name="安装业主自购设备", unit="小时", labour_yuan=Decimal("40.00")),
]  # fmt: skip


class ServiceRequestPolicy(CasePolicy):
    """R4's numbers. Defaults are the regulation's (or, where it is silent, the docstring's
    choice in clauses.py); a company overrides them in its policy file."""

    dispatch_due: Deadline = Field(
        Deadline(minutes=30),
        description="派单时限：5.1.2 接待员登记后电话通知服务部门（原文：及时）",
    )
    decide_due: Deadline = Field(
        Deadline(hours=2),
        description="负责人确认时限：5.1.4 接待员无法确认能否满足时，物业服务中心负责人确认",
    )
    order_form_due: Deadline = Field(
        Deadline(hours=1),
        description="开单时限：5.1.3 专业部门主管接到电话后开出《业主需求处置单》",
    )
    emergency_response: Deadline = Field(
        Deadline(minutes=15), description="紧急作业时限：5.1.3 紧急情况先作业，多久内到场处理"
    )
    late_form_due: Deadline = Field(
        Deadline(hours=24), description="补单时限：5.1.3 紧急作业后补开《业主需求处置单》"
    )
    quote_due: Deadline = Field(
        Deadline(hours=4), description="告知费用时限：5.2.1 有偿服务作业前告知业主应收费用"
    )
    standard_due: Deadline = Field(
        Deadline(working_days=3), description="一般维修时限：5.2.4 三个工作日内将《维修单》处理完毕"
    )
    center_head_extend_max: Deadline = Field(
        Deadline(days=14),
        description="负责人延期上限：5.2.4 物业服务中心负责人批准延期，二周内不能修复的报主任",
    )
    urgent_due: Deadline = Field(
        Deadline(hours=24), description="24 小时时限：5.2.5.1 下水道、便池堵，水管渗漏"
    )
    working_day_due: Deadline = Field(
        Deadline(working_days=1),
        description="工作日时限：5.2.5.2/3 换灯管、门锁坏（24 小时按工作日计）",
    )
    urgent_delay_max: Deadline = Field(
        Deadline(days=7),
        description="24 小时类最长延期：5.2.5 负责人签字并经业主同意后可延至（原文未规定上限）",
    )
    agree_deadline_due: Deadline = Field(
        Deadline(working_days=1), description="内部维修定期限：5.2.6 专业部门负责人协商决定完成期限"
    )
    return_due: Deadline = Field(
        Deadline(working_days=1), description="退单时限：5.2.4 无法解决的问题由部门负责人签字退单"
    )
    followup_due: Deadline = Field(
        Deadline(working_days=1), description="电话回访时限：6.1 收到完成情况后接待员电话访问业主"
    )
    site_check_due: Deadline = Field(
        Deadline(hours=2), description="区域管理员到场时限：6.1 回访情况不符时立即前去现场"
    )
    chase_due: Deadline = Field(
        Deadline(hours=4), description="催办时限：6.2 未按时收到完成情况，接待员催问并报主管"
    )
    price_list: list[PriceItem] = Field(
        default_factory=lambda: list(DEFAULT_PRICES),
        max_length=500,
        description="有偿服务价目表：5.2.1 有偿服务按价目表计费（材料费、人工费）",
    )
    agree_service_due: Deadline = Field(
        Deadline(working_days=1),
        description="协商服务时限：5.3.1 专业部门取单后与业主协商服务时间、要求（原文未规定）",
    )
    status_report_due: Deadline = Field(
        Deadline(working_days=3),
        description="通报时限：5.3.2 部门负责人三个工作日内向接待员通报实施情况",
    )
    agreement_return_due: Deadline = Field(
        Deadline(before_month_end=2),
        description="协议回单时限：5.3.2.2 按协议完成的服务月底前二天回单（附协议复印件）",
    )
    contractor_due: Deadline = Field(
        Deadline(working_days=5),
        description="特约工程队时限：5.4 换窗帘、玻璃、家具维修等（原文未规定）",
    )
    # ---- the month (6.3, 8) ----
    energy_due: Deadline = Field(
        Deadline(working_days=3), description="能耗数据录入时限：6.3 每月初统计上月水电气能耗数据"
    )
    director_visits: int = Field(
        10, ge=0, le=1000, description="主任回访户数：8(二)2.1 每月登门回访业主"
    )
    area_manager_visits: int = Field(
        15, ge=0, le=1000, description="管理员回访户数：8(二)2.2 每月按区域回访业主"
    )
    revisit_handling_target: Decimal = Field(
        Decimal("1.00"), ge=0, le=1, description="回访处理率目标：8(二)1.4 回访处理率达 100%"
    )
    valid_complaint_max: Decimal = Field(
        Decimal("0.02"), ge=0, le=1, description="有效投诉率上限：8(二)1.4 有效投诉率力争在 2% 以下"
    )
    households: int = Field(
        500, ge=1, le=1000000, description="在住户数：8(二)1.4 计算有效投诉率的分母（原文未规定）"
    )
    complaint_investigate_due: Deadline = Field(
        Deadline(end_of_day=True),
        description="调查核实时限：8(一)3 须进行调查的必须当天进行调查、核实，结果与建议报主任",
    )
    complaint_decide_due: Deadline = Field(
        Deadline(working_days=1),
        description="主任决定时限：8(一)3 主任决定处理办法并落实责任部门（原文未规定）",
    )
    complaint_reply_due: Deadline = Field(
        Deadline(working_days=3),
        description="书面回复时限：8(一)6 责任部门处理完毕后以书面形式回复业主（原文未规定）",
    )
    settlement_due: Deadline = Field(
        Deadline(before_month_end=0),
        description="结算时限：6.5 接待员月底将处置单汇总，结算联交财务部",
    )

    def price(self, code: str) -> PriceItem | None:
        return next((p for p in self.price_list if p.code == code), None)


# ---- task data ------------------------------------------------------------------------------


class DispatchData(TaskData):
    """5.1.2 the receptionist phones the department (within the center's ability)."""

    department: str = Field(min_length=1, max_length=100, description="服务部门")
    service_type: ServiceType = Field("engineering", description="服务类型")
    phoned_at: datetime | None = Field(None, description="电话通知时间")
    note: str = Field("", max_length=1000, description="备注")


class ReferData(TaskData):
    """5.1.4 the receptionist cannot confirm the center can do it: to the center head."""

    reason: str = Field(min_length=2, max_length=1000, description="无法确认的原因")


class DeclineData(TaskData):
    reason: str = Field(min_length=2, max_length=1000, description="原因")
    explanation: str = Field(min_length=2, max_length=2000, description="向业主的解释")


class OrderFormData(TaskData):
    """5.1.3 《业主需求处置单》 the department supervisor opens."""

    job_class: JobClass = Field("standard", description="时限类别")
    worker: str = Field(min_length=1, max_length=64, description="作业人（用户名）")
    paid: bool = Field(False, description="有偿服务")
    owner_equipment: bool = Field(False, description="业主委托安装的设施设备")
    requirement: str = Field("", max_length=2000, description="处置要求")


class PriceLine(BaseModel):
    code: str = Field(min_length=1, max_length=40, description="价目编号")
    quantity: Decimal = Field(gt=0, max_digits=10, decimal_places=2, description="数量")


class QuoteData(TaskData):
    """5.2.1 the fee from the price list, told to the owner before work starts."""

    lines: list[PriceLine] = Field(min_length=1, max_length=50, description="收费项目")
    told_at: datetime = Field(description="告知业主时间")
    note: str = Field("", max_length=1000, description="备注")


class MaterialLine(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="材料名称")
    quantity: Decimal = Field(gt=0, max_digits=10, decimal_places=2, description="数量")
    code: str | None = Field(None, max_length=40, description="价目编号（有偿）")


class RepairOrderData(TaskData):
    """5.2.2 《维修单》: content, materials and quantities, time, hours incl. preparation."""

    work_content: str = Field("", max_length=2000, description="作业内容")
    materials: list[MaterialLine] = Field(
        default_factory=list, max_length=50, description="所用材料"
    )
    service_lines: list[PriceLine] = Field(
        default_factory=list, max_length=50, description="有偿服务项目（价目表）"
    )
    started_at: datetime | None = Field(None, description="作业开始时间")
    finished_at: datetime | None = Field(None, description="作业完成时间")
    total_hours: Decimal | None = Field(
        None, ge=0, max_digits=6, decimal_places=2, description="总工时"
    )
    preparation_hours: Decimal | None = Field(
        None, ge=0, max_digits=6, decimal_places=2, description="其中准备工时"
    )
    equipment_checked: bool = Field(False, description="业主设备已检查完好")


class CannotFixData(TaskData):
    reason: str = Field(min_length=2, max_length=2000, description="无法解决的原因")


class ReturnData(TaskData):
    """5.2.4 退单: the reason on the form, signed by the department head, and the owner told."""

    reason: str = Field(min_length=2, max_length=2000, description="退单原因")
    explanation: str = Field(min_length=2, max_length=2000, description="向业主的解释")


class AgreeDeadlineData(TaskData):
    due_at: datetime = Field(description="协商决定的完成期限")
    note: str = Field("", max_length=1000, description="备注")


class UrgentDelayInput(Form):
    """5.2.5 a 24-hour job that cannot be done in time: the center head signs the delay, with
    the owner's consent."""

    task_id: str = Field(min_length=1, max_length=250)
    actor: Actor
    new_due: datetime = Field(description="新完成期限")
    reason: str = Field(min_length=2, max_length=1000, description="特殊情况")
    owner_consent: bool = Field(False, description="业主已同意")
    consent_note: str = Field("", max_length=500, description="业主同意的方式（电话、书面…）")


class FollowupData(TaskData):
    """6.1 the receptionist's call to the owner, noted in 《业主反映情况记录》."""

    owner_opinion: str = Field(min_length=1, max_length=2000, description="业主意见")
    satisfied: bool = Field(True, description="业主满意")
    fee_collected_yuan: Yuan = Field(Decimal(0), ge=0, description="收取的有偿服务费（元）")


class DiffersData(TaskData):
    owner_account: str = Field(min_length=2, max_length=2000, description="业主所述情况")


class SiteCheckData(TaskData):
    finding: str = Field(min_length=2, max_length=2000, description="现场实际情况")
    action: str = Field("", max_length=2000, description="处理")


class ChaseData(TaskData):
    department_reply: str = Field(min_length=1, max_length=2000, description="部门答复")
    reported_to: str = Field("supervisor", max_length=64, description="已汇报的主管（用户名）")


class AgreeServiceData(TaskData):
    """5.3.1 time, requirements and details agreed with the owner (paid: a written agreement)."""

    agreed_at: datetime = Field(description="约定服务时间")
    requirements: str = Field(min_length=1, max_length=2000, description="服务要求、实施细节")
    pre_move_in: bool = Field(False, description="入住前清洁")
    by_agreement: bool = Field(False, description="有偿服务（书面协议）")
    agreement_no: str = Field("", max_length=100, description="书面协议编号")
    fee_agreed_yuan: Yuan = Field(Decimal(0), ge=0, description="协商的服务费用（元）")


class ServiceReportData(TaskData):
    """5.3.2 the returned form: content, completion, total hours, workers."""

    work_content: str = Field(min_length=1, max_length=2000, description="服务内容")
    completed: bool = Field(True, description="已完成")
    total_hours: Decimal = Field(gt=0, max_digits=6, decimal_places=2, description="总工时")
    workers: str = Field(min_length=1, max_length=200, description="作业人")
    agreement_copy_attached: bool = Field(False, description="已附协议复印件")


class ContractorData(TaskData):
    """5.4 a special contractor's job: its evaluation kept, the requester's acceptance."""

    contractor: str = Field(min_length=1, max_length=200, description="特约工程队")
    evaluation: str = Field(min_length=2, max_length=2000, description="评审记录")
    work_content: str = Field(min_length=1, max_length=2000, description="作业内容")


class EnergyRow(BaseModel):
    meter: Text = Field(description="表计")
    kind: Literal["water", "power", "gas"] = Field(description="能耗类别")
    usage: Decimal = Field(ge=0, max_digits=14, decimal_places=2, description="用量")
    unit: str = Field("", max_length=20, description="单位")


class EnergyData(TaskData):
    """6.3 the month's energy data, entered as a table."""

    rows: list[EnergyRow] = Field(min_length=1, max_length=200, description="能耗数据")
    commissions: str = Field("", max_length=2000, description="委托情况")


class VisitTallyData(TaskData):
    note: str = Field("", max_length=1000, description="备注")


class HouseholdVisitInput(Form):
    """8(二) a household visit by the director or an area manager."""

    actor: Actor
    room: str = Field(min_length=1, max_length=50, description="业主房号")
    owner_name: str = Field(min_length=1, max_length=100, description="业主姓名")
    visited_on: date = Field(description="回访日期")
    opinions: str = Field("", max_length=2000, description="业主意见、建议")
    answered: bool = Field(True, description="当场答复")
    reply_by: datetime | None = Field(None, description="预计回复时间")
    handled: bool = Field(True, description="反馈已处理")

    @model_validator(mode="after")
    def _reply_time(self) -> HouseholdVisitInput:
        if not self.answered and self.reply_by is None:
            raise ValueError("不能当即答复的询问须告知预计回复时间（8(二)1.3）")
        return self


class ComplaintInput(Form):
    """8(一) a complaint taken on the hotline, on the month's register."""

    actor: Actor
    room: str = Field(min_length=1, max_length=50, description="业主房号")
    content: str = Field(min_length=2, max_length=2000, description="投诉内容")
    valid: bool = Field(description="有效投诉")


class ComplaintFindingsData(TaskData):
    """8(一)3 investigated and verified the same day: the result and a proposal for the director."""

    findings: str = Field(min_length=2, max_length=2000, description="调查核实结果")
    proposal: str = Field(min_length=2, max_length=2000, description="处理建议")


class ComplaintExplainedData(TaskData):
    """8(一)3 explained to the owner's satisfaction: nothing to investigate."""

    explanation: str = Field(min_length=2, max_length=2000, description="解释说明")


class ComplaintDecisionData(TaskData):
    """8(一)3 the director decides how it is handled and which department answers for it."""

    decision: str = Field(min_length=2, max_length=2000, description="处理办法")
    department: str = Field(min_length=1, max_length=100, description="责任部门")


class ComplaintReplyData(TaskData):
    """8(一)6 handled, and the result replied to the owner in writing."""

    result: str = Field(min_length=2, max_length=2000, description="处理结果")
    reply: str = Field(min_length=2, max_length=4000, description="书面回复内容")
    replied_on: date = Field(description="回复日期")


class SettlementData(TaskData):
    """6.5 the month's 处置单 summarised, the settlement copies handed to finance."""

    forms: int = Field(ge=0, le=100000, description="处置单份数")
    fees_yuan: Yuan = Field(Decimal(0), ge=0, description="有偿服务费合计（元）")
    received_by: str = Field(min_length=1, max_length=100, description="财务部接收人")
    note: str = Field("", max_length=1000, description="备注")
