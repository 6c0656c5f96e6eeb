"""R3 `shuttle-cart` — what people type: the case input (one cart and its fixed driver), the
policy (every time of the daily duties, the passenger limit), the data of each task's outcomes
and of the cart's updates (a trip, a fault, a violation, a new driver). The clauses that use
them are in clauses.py beside it. Stateless; passed through the workflow sandbox."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from workflows.engine import CasePolicy
from workflows.model import Actor, Deadline, Form, Yuan
from workflows.spec import TaskData

# 4.1–4.3 the safety rules, shown to the driver on every daily check (the task's form and its
# notice) and on the case page (the summary).
SAFETY_RULES: tuple[str, ...] = (
    "4.1 严格执行安全操作规定，禁止超载",
    "4.2 按规定路线行驶，速度不能太快，不得开出小区范围，不得转借他人驾驶",
    "4.3 禁止疲劳驾驶和酒后开车",
    "4.3 等客人坐稳后才能开车；落客时把车停稳后才让客人下车",
)
SAFETY_TEXT = "；".join(SAFETY_RULES)

ViolationRule = Literal[
    "overload", "off_route", "speeding", "off_estate", "lending", "fatigue", "drink", "unseated",
    "other",
]  # fmt: skip


class CartInput(Form):
    """Put a cart into service: the cart register's entry (定车定人)."""

    cart_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$", description="车辆编号")
    cart_name: str = Field(min_length=1, max_length=100, description="车辆名称或车牌")
    driver: str = Field(min_length=1, max_length=64, description="固定司机（用户名）")
    supervisor: str | None = Field(
        None, max_length=64, description="部门主管（用户名），空则由任一主管处理"
    )
    seats: int = Field(8, ge=1, le=60, description="核定载客人数")


class CartPolicy(CasePolicy):
    """R3's numbers and times. The text says "每天" and gives no hours: the defaults are a
    sales office's day, which a company changes in its policy."""

    pre_trip_opens_at: Deadline = Field(
        Deadline(hours=7),
        description="出车前检查开始时间：3.2 每天自零点起多久开出当天的出车前例行检查",
    )
    pre_trip_within: Deadline = Field(
        Deadline(hours=2), description="出车前检查时限：3.2 检查开出后多久内须完成（原文未规定）"
    )
    end_of_day_opens_at: Deadline = Field(
        Deadline(hours=17, minutes=30),
        description="收车保养开始时间：3.3 每天自零点起多久开出下班保养（充电、电池水、刹车、方向、清洁）",
    )
    end_of_day_within: Deadline = Field(
        Deadline(hours=3), description="收车保养时限：3.3 保养开出后多久内须完成（原文未规定）"
    )
    on_rest_days: bool = Field(
        True, description="休息日也检查保养：3.2–3.4 原文为“每天”，看楼车节假日照常服务"
    )
    check_before: Literal["first_trip", "every_trip"] = Field(
        "first_trip",
        description="出车前检查频次：3.2 每天第一次出车前（默认），或每次出车前",
    )
    repair_within: Deadline = Field(
        Deadline(days=2), description="故障修复时限：3.2 反映的故障多久内修复（原文未规定）"
    )


class CartVars(BaseModel):
    """The cart's carried state (it survives continue-as-new)."""

    driver: str = ""
    register_record: str | None = None
    checked_day: str | None = None  # the China date of the last pre-trip check passed
    check_fresh: bool = False  # every_trip: a check since the last trip
    open_faults: list[str] = Field(default_factory=list)  # fault ids; any blocks the cart
    fault_seq: int = 0
    violation_seq: int = 0
    trips: int = 0
    trips_refused: int = 0
    lendings: int = 0
    checks_missed: int = 0
    charged_yuan: str = "0.00"


# ---- what people send when completing tasks ---------------------------------------------------


class PreTripData(TaskData):
    """《出车前例行检查记录》 3.2: every item looked at; an item not in order is a fault."""

    brakes_ok: bool = Field(description="刹车正常")
    steering_ok: bool = Field(description="方向正常")
    battery_ok: bool = Field(description="电池电量正常")
    tyres_ok: bool = Field(description="轮胎正常")
    lights_ok: bool = Field(description="灯光、喇叭正常")
    fault: str = Field("", max_length=2000, description="发现的问题（有则立即反映）")
    safety_rules_read: bool = Field(description=f"已阅读安全操作规定：{SAFETY_TEXT}")


class EndOfDayData(TaskData):
    """《收车保养记录》 3.3–3.4."""

    charged: bool = Field(description="已充电")
    battery_water_ok: bool = Field(description="电池水已检查")
    brakes_ok: bool = Field(description="刹车正常")
    steering_ok: bool = Field(description="方向正常")
    cleaned: bool = Field(description="车辆已清洁")
    fault: str = Field("", max_length=2000, description="发现的问题")


class RepairData(TaskData):
    """《维修记录》: what was repaired, and its cost."""

    work: str = Field(min_length=1, max_length=2000, description="维修内容")
    cost_yuan: Yuan = Field(Decimal(0), ge=0, description="修理费用（元）")


# ---- the cart's updates -------------------------------------------------------------------------


class TripInput(BaseModel):
    """出车: whoever drives logs the trip (the fixed driver; anyone else is 转借)."""

    actor: Actor
    passengers: int = Field(ge=0, le=100, description="载客人数")
    route: str = Field("规定路线", min_length=1, max_length=200, description="路线")


class FaultInput(BaseModel):
    actor: Actor
    text: str = Field(min_length=1, max_length=2000, description="故障情况")


class ViolationInput(BaseModel):
    """A reported breach of the safety rules (4.x) and what it caused (5.1)."""

    actor: Actor
    rule: ViolationRule = Field(description="违反的规定")
    text: str = Field(min_length=1, max_length=2000, description="违章经过")
    damage: bool = Field(False, description="造成车辆破损")
    injury: bool = Field(False, description="造成人员伤害")
    cost_yuan: Yuan = Field(Decimal(0), ge=0, description="修理及赔偿费用（元），未知填 0")


class AssignDriverInput(BaseModel):
    actor: Actor
    driver: str = Field(min_length=1, max_length=64, description="新的固定司机（用户名）")
    reason: str = Field(min_length=1, max_length=500, description="理由")
