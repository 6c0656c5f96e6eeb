"""R3 `shuttle-cart` — 客户看楼车（电瓶车）管理规定 (seed 第3篇, lines 199–236).

One long-lived case per cart (`shuttle-cart-<cart id>`), running for as long as the cart is in
service; continue-as-new carries its state (the driver, the open faults, the counters) into the
next run. Its daily duties are two recurring grids (workflows/engine/blocks/recurrence.py), so a
worker that was down makes the latest overdue day's duty and says which it skipped.

Choices where the text is silent (a fleet captain's reading):
- 3.1 定车定人: the case input is the cart register's first entry (the cart and its one fixed
  driver); a supervisor may assign another driver, which is a new register entry (the old one
  stays). A trip logged by anyone but the register's driver is refused and recorded as 转借
  (4.2): a 《违章转借记录》 and a row in the ledger on the driver's account (kind criticism, 0 元),
  since 5.2 makes every consequence the driver's; the driver and the supervisor are told.
- 3.2 出车前: read as **before the first trip of each day** (the 例行检查 is the day's routine
  check); the policy's `check_before="every_trip"` makes it before every trip instead (after
  each trip a new check opens). While a pre-trip check is open, the driver's trip is refused.
  An item not in order (or a fault written) is a fault reported at once: the cart is blocked
  — no trip — until a maintenance worker records the repair. A fault may also be reported at
  any time (`report_fault`).
- 3.3/3.4 每天下班: the end-of-day care (charging, battery water, brakes, steering, cleanliness)
  opens at `end_of_day_opens_at` each day and is due `end_of_day_within` later.
- 每天: both duties run on working and rest days alike (`on_rest_days`, the statutory calendar
  carried in the case decides which is which); a day's unfinished duty is cancelled when the
  next day's opens, after its breach was reported.
- A missed check: the task's breach notifies the supervisor (and the driver), and the timeline
  says `check_missed`; the text sets no fine for it, so none is booked.
- 4.x safety rules: shown on every pre-trip check (the driver confirms having read them) and on
  the case page; a trip over the cart's seats is refused (4.1 禁止超载). A reported violation
  (supervisor) is recorded in a 《违章记录》; damage or injury from it books the cost to the
  on-duty driver (5.1: kind charge, never reimbursed), from the report or, when the cost is
  not yet known, from the repair of the damage. A violation of 4.2 转借 is the driver's too
  (5.2).
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.calendar import china_date, is_working_day
    from workflows.engine import CaseWorkflow, refuse
    from workflows.engine.blocks.recurrence import Grid
    from workflows.model import CHINA_TZ, CaseStart, Deadline, TaskState
    from workflows.regulations.shuttle_cart.forms import (
        SAFETY_RULES,
        SAFETY_TEXT,
        AssignDriverInput,
        CartInput,
        CartPolicy,
        CartVars,
        EndOfDayData,
        FaultInput,
        PreTripData,
        RepairData,
        TripInput,
        ViolationInput,
    )
    from workflows.regulations.shuttle_cart.people import ROLES
    from workflows.spec import ActionSpec, Breach, RecordSpec, TaskSpec, after, at, check, on_breach

CODE = "shuttle-cart"
_SUPERVISOR = "input.supervisor|role:supervisor"
RULE_ZH = {
    "overload": "超载",
    "off_route": "未按规定路线行驶",
    "speeding": "车速过快",
    "off_estate": "开出小区范围",
    "lending": "转借他人驾驶",
    "fatigue": "疲劳驾驶",
    "drink": "酒后开车",
    "unseated": "客人未坐稳即开车或未停稳即落客",
    "other": "其他违反操作规定",
}

TASKS = (
    TaskSpec("pre_trip_check", "出车前例行检查：{cart_name}（{day}）", "R3 3.2", "driver",
             outcomes={"done": PreTripData},
             record=RecordSpec("pre_trip_record", "《出车前例行检查记录》"),
             lapse=None, breach=Breach(notify=(_SUPERVISOR, "task.holder"))),
    TaskSpec("end_of_day_care", "收车保养：{cart_name}（{day}）", "R3 3.3", "driver",
             outcomes={"done": EndOfDayData},
             record=RecordSpec("end_of_day_record", "《收车保养记录》"),
             lapse=None, breach=Breach(notify=(_SUPERVISOR, "task.holder"))),
    TaskSpec("repair", "故障修复：{cart_name}：{fault}", "R3 3.2", "technician",
             deadline="repair_within", outcomes={"repaired": RepairData},
             record=RecordSpec("repair_record", "《维修记录》", ("repaired",)),
             lapse=None, breach=Breach(notify=(_SUPERVISOR,))),
)  # fmt: skip


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), CHINA_TZ)


@workflow.defn(name="zhidu.shuttle-cart")
class ShuttleCartWorkflow(CaseWorkflow):
    REGULATION = CODE
    TITLE = "看楼车：{cart_name}（{cart_id}）"
    INPUT = CartInput
    POLICY = CartPolicy
    VARS = CartVars
    CUSTOMER_FIELD = None
    TASKS = TASKS
    ROLES = ROLES
    ROLE_HOLDERS = {"supervisor": "input.supervisor"}
    ACTIONS = (
        # Anyone may try to take the cart out: a trip by another than its driver is 转借.
        ActionSpec("trip", TripInput, (), "update", "出车登记", "Log a trip"),
        ActionSpec("report_fault", FaultInput, ("driver", "supervisor", "technician"), "update",
                   "反映故障", "Report a fault"),
        ActionSpec("report_violation", ViolationInput, ("supervisor",), "update",
                   "登记违章", "Report a violation"),
        ActionSpec("assign_driver", AssignDriverInput, ("supervisor",), "update",
                   "更换固定司机", "Assign the driver", people={"driver": "driver"}),
    )  # fmt: skip
    inp: CartInput
    policy: CartPolicy
    v: CartVars

    @workflow.run
    async def run(self, start: CaseStart) -> str:
        return await self.run_case()

    def begin(self) -> None:
        self.v.driver = self.inp.driver
        self._enter_register(self.inp.driver, self.started_by, "投入使用")
        today = midnight(china_date(self.now))
        day = Deadline(days=1)
        self.recur(
            "pre_trip", Grid(today + self.policy.pre_trip_opens_at.wall, day), "pre_trip_day"
        )
        self.recur("end_of_day", Grid(today + self.policy.end_of_day_opens_at.wall, day),
                   "end_of_day")  # fmt: skip

    def summarize(self) -> dict[str, Any]:
        return {"cart_id": self.inp.cart_id, "driver": self.v.driver,
                "blocked": bool(self.v.open_faults), "open_faults": list(self.v.open_faults),
                "checked_day": self.v.checked_day, "trips": self.v.trips,
                "trips_refused": self.v.trips_refused, "lendings": self.v.lendings,
                "checks_missed": self.v.checks_missed, "charged_yuan": self.v.charged_yuan,
                "safety_rules": list(SAFETY_RULES)}  # fmt: skip

    def record_context(self, task: TaskState) -> dict[str, Any]:
        base = {"cart_id": self.inp.cart_id, "cart_name": self.inp.cart_name,
                "driver": self.v.driver}  # fmt: skip
        if "day" in task.data:
            base["day"] = task.data["day"]
        return base

    # ---- 3.1 定车定人: the cart register -------------------------------------------------------

    def _enter_register(self, driver: str, by: str | None, reason: str) -> None:
        self.v.register_record = self.record(
            "cart_register", "《电瓶车定车定人登记表》",
            {"cart_id": self.inp.cart_id, "cart_name": self.inp.cart_name, "driver": driver,
             "seats": self.inp.seats, "since": self.now.isoformat(), "reason": reason,
             "previous": self.v.register_record},
            created_by=by, clause="R3 3.1")  # fmt: skip
        self.event("driver_assigned", "R3 3.1", by, driver=driver, reason=reason)

    @workflow.update(name="assign_driver")
    def assign_driver(self, inp: AssignDriverInput) -> str:
        self.v.driver = inp.driver
        self._enter_register(inp.driver, inp.actor.id, inp.reason)
        for task in self.open_tasks():  # the daily duties pass to the new driver
            if task.kind in ("pre_trip_check", "end_of_day_care"):
                self.cancel(task, "更换固定司机", inp.actor.id)
                self.open(task.kind, due=task.due_at, data=task.data, assignee=inp.driver)
        return inp.driver

    @assign_driver.validator
    def _check_assign(self, inp: AssignDriverInput) -> None:
        self.check_action("assign_driver", inp.actor)

    # ---- 3.2–3.4 the daily duties --------------------------------------------------------------

    def _duty_day(self, day: date) -> bool:
        return self.policy.on_rest_days or is_working_day(self.s.calendar, day)[0]

    def _open_duty(self, kind: str, planned: datetime, within: Deadline) -> None:
        for old in self.open_tasks(kind):
            self.cancel(old, "已到次日")
        day = china_date(planned)
        if not self._duty_day(day):
            self.event("rest_day", "R3 3.2", None, day=day.isoformat())
            return
        due = planned + within.wall
        if due <= self.now:  # a late start or a worker that was down: the full time from now
            due = self.now + within.wall
        self.open(kind, due=due, assignee=self.v.driver,
                  data={"day": day.isoformat(), "safety_rules": SAFETY_TEXT})  # fmt: skip

    @at("pre_trip_day")
    def _pre_trip_day(self, info: dict[str, Any]) -> None:
        self.v.check_fresh = False
        self._open_duty("pre_trip_check", info["planned_at"], self.policy.pre_trip_within)

    @at("end_of_day")
    def _end_of_day(self, info: dict[str, Any]) -> None:
        self._open_duty("end_of_day_care", info["planned_at"], self.policy.end_of_day_within)

    @check("pre_trip_check")
    def _check_pre_trip(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        if isinstance(data, PreTripData) and not data.safety_rules_read:
            return ("data.safety_rules_read: the driver confirms the safety rules",
                    "须确认已阅读安全操作规定")  # fmt: skip
        return None

    @after("pre_trip_check")
    def _pre_trip_done(self, task: TaskState) -> None:
        if task.status != "done":
            return
        data = self.given(PreTripData, task)
        self.v.checked_day, self.v.check_fresh = task.data["day"], True
        bad = [name for name, ok in (("刹车", data.brakes_ok), ("方向", data.steering_ok),
               ("电池", data.battery_ok), ("轮胎", data.tyres_ok), ("灯光", data.lights_ok)) if not ok]  # fmt: skip
        if bad or data.fault:
            text = "、".join(bad) + ("：" if bad and data.fault else "") + data.fault
            self._fault(text, task.closed_by, "R3 3.2")
        else:
            self.event("pre_trip_passed", "R3 3.2", task.closed_by, day=task.data["day"])

    @after("end_of_day_care")
    def _end_of_day_done(self, task: TaskState) -> None:
        if task.status != "done":
            return
        data = self.given(EndOfDayData, task)
        bad = [name for name, ok in (("刹车", data.brakes_ok), ("方向", data.steering_ok),
               ("电池水", data.battery_water_ok)) if not ok]  # fmt: skip
        if bad or data.fault:
            text = "、".join(bad) + ("：" if bad and data.fault else "") + data.fault
            self._fault(text, task.closed_by, "R3 3.3")

    @on_breach("pre_trip_check", "end_of_day_care")
    def _missed(self, task: TaskState) -> None:
        self.v.checks_missed += 1
        self.event("check_missed", task.clause, None, driver=self.v.driver,
                   day=task.data.get("day"), title=task.title)  # fmt: skip

    # ---- 3.2 faults: the cart is blocked until repaired -------------------------------------

    def _fault(
        self, text: str, actor: str | None, clause: str, violation: str | None = None
    ) -> str:
        self.v.fault_seq += 1
        fid = f"F{self.v.fault_seq}"
        self.v.open_faults.append(fid)
        unit = self.open_unit("fault", f"故障 {fid}：{text[:40]}", fault_id=fid, fault=text[:40],
                              violation=violation, cost_booked=False)  # fmt: skip
        self.record("fault_report", "《故障报告》",
                    {"cart_id": self.inp.cart_id, "cart_name": self.inp.cart_name, "fault_id": fid,
                     "fault": text, "reported_by": actor, "driver": self.v.driver,
                     "violation": violation}, created_by=actor, clause=clause)  # fmt: skip
        self.event("cart_blocked", clause, actor, fault_id=fid, fault=text)
        self.notify(f"{fid}/blocked", self.inp.supervisor or "role:supervisor",
                    f"【停用】{self.inp.cart_name} 故障待修", f"{text}\n修复前不得出车。")  # fmt: skip
        self.open("repair", unit, data={"fault": text[:40], "fault_id": fid})
        return fid

    @workflow.update(name="report_fault")
    def report_fault(self, inp: FaultInput) -> str:
        return self._fault(inp.text, inp.actor.id, "R3 3.2")

    @report_fault.validator
    def _check_fault(self, inp: FaultInput) -> None:
        self.check_action("report_fault", inp.actor)

    @after("repair")
    def _repaired(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        if unit is None or task.status != "done":
            return
        fid = unit.data["fault_id"]
        if fid in self.v.open_faults:
            self.v.open_faults.remove(fid)
        self.event("cart_released", "R3 3.2", task.closed_by, fault_id=fid,
                   blocked=bool(self.v.open_faults))  # fmt: skip
        cost = self.given(RepairData, task).cost_yuan
        if unit.data.get("violation") and not unit.data.get("cost_booked") and cost > 0:
            self._charge(unit.data["violation"], cost)
        self.close_unit(unit)

    # ---- 4.x trips and the safety rules; 5.x violations -----------------------------------------

    @workflow.update(name="trip")
    def trip(self, inp: TripInput) -> str:
        if inp.actor.id != self.v.driver:  # 4.2 不得转借他人驾驶; 5.2 the driver's account
            self.v.trips_refused += 1
            self.v.lendings += 1
            n = self.v.lendings
            rid = self.record("lending_record", "《违章转借记录》",
                              {"cart_id": self.inp.cart_id, "cart_name": self.inp.cart_name,
                               "driver": self.v.driver, "taken_by": inp.actor.id,
                               "passengers": inp.passengers, "route": inp.route,
                               "at": self.now.isoformat()},
                              created_by=inp.actor.id, clause="R3 4.2")  # fmt: skip
            self.book(f"lending/{n}", clause="R3 5.2", party=self.v.driver, kind="criticism",
                      rule=f"看楼车 {self.inp.cart_name} 转借 {inp.actor.id} 驾驶（已拒绝出车）："
                           "违章转借引起的一切后果由当班司机负责")  # fmt: skip
            self.event("lending_refused", "R3 4.2", inp.actor.id, driver=self.v.driver,
                       record_id=rid)  # fmt: skip
            for who in (self.v.driver, self.inp.supervisor or "role:supervisor"):
                self.notify(f"lending/{n}/{who}", who, f"【转借】{self.inp.cart_name}",
                            f"{inp.actor.id} 试图驾驶固定司机 {self.v.driver} 的看楼车，已拒绝并记录在司机名下（R3 4.2、5.2）。")  # fmt: skip
            return "refused"
        self.v.trips += 1
        self.v.check_fresh = False
        self.event("trip", "R3 4.2", inp.actor.id, passengers=inp.passengers, route=inp.route)
        if self.policy.check_before == "every_trip":  # the next trip needs its own check
            self.open("pre_trip_check", due=self.now + self.policy.pre_trip_within.wall,
                      assignee=self.v.driver,
                      data={"day": china_date(self.now).isoformat(), "safety_rules": SAFETY_TEXT})  # fmt: skip
        return "ok"

    @trip.validator
    def _check_trip(self, inp: TripInput) -> None:
        self.check_action("trip", inp.actor)
        if inp.actor.id != self.v.driver:
            return  # recorded as 转借 by the update
        if self.v.open_faults:
            raise refuse("Conflict", f"the cart has an open fault {self.v.open_faults}",
                         f"车辆有未修复的故障（{'、'.join(self.v.open_faults)}），修复前不得出车（R3 3.2）")  # fmt: skip
        if self.open_tasks("pre_trip_check"):
            raise refuse("Conflict", "the pre-trip check is not done",
                         "出车前例行检查尚未完成，不得出车（R3 3.2）")  # fmt: skip
        if inp.passengers > self.inp.seats:
            raise refuse("Invalid", f"passengers: more than {self.inp.seats} seats",
                         f"载客 {inp.passengers} 人超过核定 {self.inp.seats} 人，禁止超载（R3 4.1）")  # fmt: skip

    @workflow.update(name="report_violation")
    def report_violation(self, inp: ViolationInput) -> str:
        self.v.violation_seq += 1
        vid = f"V{self.v.violation_seq}"
        clause = "R3 5.2" if inp.rule == "lending" else "R3 5.1"
        self.record("violation_record", "《违章记录》",
                    {"cart_id": self.inp.cart_id, "cart_name": self.inp.cart_name,
                     "violation_id": vid, "driver": self.v.driver, "rule": inp.rule,
                     "text": inp.text, "damage": inp.damage, "injury": inp.injury,
                     "cost_yuan": str(inp.cost_yuan)},
                    created_by=inp.actor.id, clause=clause)  # fmt: skip
        self.event("violation_reported", clause, inp.actor.id, driver=self.v.driver,
                   rule=inp.rule, text=inp.text)  # fmt: skip
        if (inp.damage or inp.injury) and inp.cost_yuan > 0:
            self._charge(vid, inp.cost_yuan, inp.rule)
        if inp.damage:
            fid = self._fault(f"违章造成车辆破损：{inp.text}", inp.actor.id, clause, vid)
            if inp.cost_yuan > 0:
                unit = next(u for u in self.s.units if u.data.get("fault_id") == fid)
                unit.data["cost_booked"] = True
        return vid

    @report_violation.validator
    def _check_violation(self, inp: ViolationInput) -> None:
        self.check_action("report_violation", inp.actor)

    def _charge(self, vid: str, cost: Decimal, rule: str = "") -> None:
        """5.1: the damage or injury is the on-duty driver's; never reimbursed."""
        what = RULE_ZH.get(rule, "违反操作规定")
        if self.book(f"{vid}/5.1", clause="R3 5.1", party=self.v.driver, kind="charge",
                     amount=cost,
                     rule=f"{what}造成车辆破损或人员伤害：责任由当班司机负责，费用一律不得报销，"
                          "并赔偿车辆修理费用"):  # fmt: skip
            self.v.charged_yuan = str(Decimal(self.v.charged_yuan) + cost)
