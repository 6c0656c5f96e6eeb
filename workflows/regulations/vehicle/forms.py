"""R10 `vehicle` — what people type: the fleet case's input (the vehicles, the drivers and their
上岗证), the policy (every number of the text: fuel standards, liability shares, fines, rewards,
and the times the text leaves open), the data of each task's outcomes and of each action.
The clauses are in clauses.py, the money rules in rules.py beside it."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from workflows.engine import CasePolicy
from workflows.model import Actor, Deadline, Form, Yuan
from workflows.regulations.vehicle.rules import (
    DEFAULT_FUEL_STANDARDS,
    DEFAULT_LIABILITY,
    BreachFines,
    BreachKind,
    FuelStandard,
    Liability,
    LiabilityShare,
    Position,
    Rewards,
)
from workflows.spec import TaskData

Km = Annotated[
    Decimal, Field(ge=0, max_digits=9, decimal_places=1, description="里程表读数（公里）")
]
ModelCode = Literal["dongnan", "wuling"]

# ---- input, policy ---------------------------------------------------------------------------


class Vehicle(Form):
    plate: str = Field(min_length=2, max_length=20, description="车牌号")
    model: ModelCode = Field(description="车型")
    driver: str = Field(min_length=1, max_length=64, description="固定驾驶员")


class Driver(Form):
    driver: str = Field(min_length=1, max_length=64, description="驾驶员")
    licence_no: str | None = Field(None, max_length=50, description="上岗证号（空：尚未考核合格）")


class VehicleInput(Form):
    """Start the vehicle safety case of one department's delivery fleet."""

    fleet_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="车队编号")
    fleet_name: str = Field(
        "客户服务部送货车队", min_length=1, max_length=100, description="车队名称"
    )
    department: str = Field("客户服务部", min_length=1, max_length=100, description="部门")
    director: str = Field(min_length=1, max_length=64, description="客户服务部主任（派车人）")
    fleet_leader: str = Field(min_length=1, max_length=64, description="车队长（车管组组长）")
    drivers: list[Driver] = Field(min_length=1, max_length=100, description="驾驶员")
    vehicles: list[Vehicle] = Field(min_length=1, max_length=100, description="车辆")

    @model_validator(mode="after")
    def _consistent(self) -> VehicleInput:
        plates = [v.plate for v in self.vehicles]
        if len(set(plates)) != len(plates):
            raise ValueError("vehicles: a plate appears twice")
        names = [d.driver for d in self.drivers]
        if len(set(names)) != len(names):
            raise ValueError("drivers: a driver appears twice")
        return self


class VehiclePolicy(CasePolicy):
    """R10's numbers. Defaults are the regulation's; a company overrides them in its policy."""

    fuel_standards: dict[str, FuelStandard] = Field(
        DEFAULT_FUEL_STANDARDS,
        description="车辆耗油标准：三.1 东南 9.5 升/百公里，允许上浮 4.5，7–9 月上浮 6.5；五菱 6.5，上浮 3.5",
    )
    liability: dict[str, LiabilityShare] = Field(
        DEFAULT_LIABILITY,
        description="事故责任赔偿：四.3 全责 70% 最高 3000 元；主责 60% 最高额原文空白（未设定则不封顶）；同责 50% 最高 1500 元；次责 30% 最高 1000 元",
    )
    fines: BreachFines = Field(BreachFines(), description="罚款金额：四.1、四.7、四.8、四.9")
    rewards: Rewards = Field(Rewards(), description="安全奖与公里补贴：四.12")
    trip_return_due: Deadline = Field(
        Deadline(end_of_day=True),
        description="回车登记时限：一.4 派车后何时登记回车里程（原文未规定，默认当天）",
    )
    designated_garages: list[str] = Field(
        ["公司指定特约维修厂"],
        description="特约维修单位：二.2 车辆只能在公司指定的特约维修单位维修保养",
    )
    emergency_form_within: Deadline = Field(
        Deadline(working_days=1),
        description="补填维修单时限：二.3 特殊情况电话报批、先送厂后补填维修单的期限（原文未规定）",
    )
    inspection_due: Deadline = Field(
        Deadline(working_days=3),
        description="旧配件审验时限：二.2 更换大配件带回的旧件由办公室（车队）审验的期限",
    )
    settlement_due: Deadline = Field(
        Deadline(working_days=5),
        description="维修费用结算时限：二.5 车队长与修理厂结算维修费用的期限（原文未规定）",
    )
    month_close_every: Deadline = Field(
        Deadline(months=1),
        description="月度核算周期：二.7 / 三.4 / 四.12 每月 1 日 9:00 核算上月油耗、考核与安全奖",
    )
    fuel_sign_due: Deadline = Field(
        Deadline(working_days=3),
        description="燃油发票签字时限：三.3 车队长签字登记燃油发票的期限（原文未规定）",
    )
    assessment_due: Deadline = Field(
        Deadline(working_days=5),
        description="月度考核时限：二.7 办公室（车队）完成上月百分量化考核的期限（原文未规定）",
    )
    accident_window: Deadline = Field(
        Deadline(days=365), description="事故累计期间：四.5 一年内两次主责以上交通事故辞退"
    )


# ---- task outcomes ------------------------------------------------------------------------------


class TripReturnData(TaskData):
    """回车登记: the odometer when the vehicle is back."""

    odometer_in: Km
    parked_at_designated: bool = Field(True, description="已按指定地点停放、关闭电路、锁好车门")
    note: str = Field("", max_length=2000, description="备注")


class Material(TaskData):
    part: str = Field(min_length=1, max_length=200, description="材料或配件")
    quantity: Decimal = Field(gt=0, max_digits=9, decimal_places=2, description="数量")
    price_yuan: Yuan = Field(ge=0, description="金额（元）")
    big_part: bool = Field(False, description="大配件（旧件须带回审验）")


class GarageRepairData(TaskData):
    """送厂维修: the designated garage, the material list the driver signs."""

    garage: str = Field(min_length=1, max_length=200, description="维修单位")
    materials: list[Material] = Field(min_length=1, max_length=100, description="更换材料清单")
    work: str = Field(min_length=2, max_length=2000, description="维修项目")


class RepairFormData(TaskData):
    """The repair form filled in after an emergency repair (二.3)."""

    fault: str = Field(min_length=2, max_length=2000, description="故障情况")
    estimate_yuan: Yuan = Field(ge=0, description="预计费用（元）")


class InspectionData(TaskData):
    note: str = Field("", max_length=2000, description="审验意见")


class SettlementData(TaskData):
    """二.5 / 二.6 the fleet leader settles with the garage, every item checked."""

    invoice_no: str = Field(min_length=1, max_length=100, description="发票号")
    amount_yuan: Yuan = Field(ge=0, description="结算金额（元）")
    items_checked: bool = Field(description="更换材料清单已逐项核实")
    note: str = Field("", max_length=2000, description="备注")


class Deduction(TaskData):
    item: str = Field(min_length=1, max_length=200, description="扣分项目")
    points: int = Field(ge=1, le=100, description="扣分")
    note: str = Field("", max_length=500, description="说明")


class AssessmentData(TaskData):
    """二.7 the month's 100-point assessment of a driver and the vehicle, item by item."""

    deductions: list[Deduction] = Field(default_factory=list, max_length=50, description="扣分明细")
    vehicle_condition: str = Field(min_length=1, max_length=1000, description="车况检查")


# ---- actions ------------------------------------------------------------------------------------


class GrantLicenceInput(Form):
    actor: Actor
    driver: str = Field(min_length=1, max_length=64, description="驾驶员")
    score: int = Field(ge=0, le=100, description="考核成绩")
    licence_no: str = Field(min_length=1, max_length=50, description="上岗证号")


class DispatchInput(Form):
    actor: Actor
    plate: str = Field(min_length=2, max_length=20, description="车牌号")
    driver: str = Field(min_length=1, max_length=64, description="驾驶员")
    purpose: str = Field(min_length=2, max_length=200, description="用车事由")
    route: str = Field(min_length=2, max_length=500, description="行车路线")
    odometer_out: Km


class BreachInput(Form):
    actor: Actor
    party: str = Field(min_length=1, max_length=64, description="当事人")
    position: Position = Field(description="职务")
    kind: BreachKind = Field(description="违规行为")
    occurred_on: date = Field(description="发生日期")
    plate: str | None = Field(None, max_length=20, description="车牌号")
    note: str = Field("", max_length=2000, description="情况说明")


class AccidentInput(Form):
    actor: Actor
    driver: str = Field(min_length=1, max_length=64, description="驾驶员")
    plate: str = Field(min_length=2, max_length=20, description="车牌号")
    occurred_on: date = Field(description="事故日期")
    liability: Liability = Field(description="事故责任")
    cost_yuan: Yuan = Field(ge=0, description="事故费用（元）")
    private_use: bool = Field(False, description="私自用车期间发生")
    concealed: bool = Field(False, description="隐瞒不报")
    serious: bool = Field(False, description="造成严重后果")
    description: str = Field(min_length=2, max_length=2000, description="事故经过")


class EngineSeizureInput(Form):
    actor: Actor
    driver: str = Field(min_length=1, max_length=64, description="驾驶员")
    plate: str = Field(min_length=2, max_length=20, description="车牌号")
    overhaul_cost_yuan: Yuan = Field(ge=0, description="大修费用（元）")
    cause: str = Field(
        min_length=2, max_length=2000, description="原因（检查不周、缺机油、冷却液）"
    )


class FuelReceiptInput(Form):
    """三.2 / 三.3 a fuel receipt, registered per vehicle (逐台登记)."""

    actor: Actor
    plate: str = Field(min_length=2, max_length=20, description="车牌号")
    litres: Decimal = Field(gt=0, max_digits=8, decimal_places=2, description="加油量（升）")
    amount_yuan: Yuan = Field(gt=0, description="金额（元）")
    station: str = Field(min_length=1, max_length=200, description="加油站")
    bought_on: date = Field(description="加油日期")


class RepairInput(Form):
    """二.3 a repair reported to the director in advance with the repair form; in an
    emergency approved by the director by phone, the form filled in afterwards."""

    actor: Actor
    plate: str = Field(min_length=2, max_length=20, description="车牌号")
    fault: str = Field(min_length=2, max_length=2000, description="故障情况")
    estimate_yuan: Yuan = Field(ge=0, description="预计费用（元）")
    emergency: bool = Field(False, description="特殊情况（已电话报批，先送厂）")


class PurchaseItem(Form):
    goods: str = Field(min_length=1, max_length=200, description="机油或常用小配件")
    price_yuan: Yuan = Field(ge=0, description="金额（元）")


class PurchaseInput(Form):
    """二.4 oil and small parts for self-maintenance: confirmed by the fleet leader and
    approved by the director before buying; bought on one's own, not reimbursed."""

    actor: Actor
    plate: str = Field(min_length=2, max_length=20, description="车牌号")
    purchases: list[PurchaseItem] = Field(min_length=1, max_length=50, description="采购明细")
    already_bought: bool = Field(False, description="已自行购买（未经批准）")


# ---- the case's own data --------------------------------------------------------------------------


class TripUnit(BaseModel):
    plate: str
    driver: str
    purpose: str
    route: str
    odometer_out: Decimal
    dispatched_by: str
    dispatched_at: datetime


class RepairUnit(BaseModel):
    plate: str
    driver: str
    fault: str
    estimate_yuan: Decimal
    emergency: bool
    big_parts: list[str] = Field(default_factory=list)


class VehicleVars(BaseModel):
    licensed: dict[str, str] = Field(default_factory=dict)  # driver -> 上岗证号
    out: dict[str, str] = Field(default_factory=dict)  # plate -> the open trip unit
    odometer: dict[str, str] = Field(default_factory=dict)  # plate -> the last odometer in
    trips: list[dict[str, str]] = Field(default_factory=list)  # {plate, driver, km, at}
    accidents: list[dict[str, str]] = Field(default_factory=list)  # {driver, liability, on, at}
    breaches: list[dict[str, str]] = Field(default_factory=list)  # {party, kind, at}
    fuel: list[dict[str, str]] = Field(default_factory=list)  # {plate, litres, yuan, at}
    trips_logged: int = 0
