"""R10 `vehicle` — 烟草公司客户服务部车辆安全管理规定 (seed 第12篇, lines 917–999).

One long-lived case per delivery fleet (`vehicle-<fleet id>`): its vehicles (each with a fixed
driver), its drivers and their 上岗证, the trip log (派车登记), the accident register, the
breaches reported. Every yuan is computed by rules.py (pure, `Decimal`) from a policy value and
booked in the ledger with the rule written out; every sanction the text orders is a proposal
in the discipline register that 经理室 approves.

Choices where the text is silent (a fleet captain's reading):
- 一.2 a driver without a 上岗证 cannot be dispatched: the input may give a licence number for a
  driver who already holds one; otherwise 办公室（车队） records the passed assessment
  (`grant_licence`, a score and the licence number), and only then the director may dispatch.
- 一.4 the director dispatches (`dispatch_trip`: vehicle, driver, purpose, route, odometer out);
  the 《派车单》 is written at once and the driver logs the return (odometer in, parked at the
  designated place) by the end of the day (`trip_return_due`), which writes the complete line
  of the 《派车登记簿》. A vehicle on a trip cannot be dispatched again; a driver may drive
  another vehicle of the fleet (the text fixes no vehicle to a driver), each vehicle's fixed
  driver is the one its fuel and rewards are counted for.
- 一.5 / 四.1 carrying passengers and detours on others' private errands are private use
  (公车私用: 主任、副主任 200 元, 驾驶员 100 元); overnight at home 300 元. "再犯不改": the second
  private-use-type breach (private use, passengers, detour, overnight at home) of the same
  person in the case is a repeat: a proposal to 调离岗位 (the register's demotion) for a
  director / deputy, to dismiss (dismissal) a driver; 经理室 approves it.
- 四.8 parked outside the designated place: the text names no amount; a policy value (default
  100 元, a driver's private-use fine), and the director is told (追究主任的责任).
- 四.3 a liability's cap of None means no cap: 主要责任's cap is blank in the text (××××), so it
  stays None until a company sets one, and the accident record says so. The compensation is a
  `charge` in the ledger. 四.2 an accident while using the vehicle privately: the whole cost.
- 四.5 main liability or worse (全责、主责) twice within `accident_window` (365 days, by the
  dates of the accidents): a dismissal proposal, once per accident that makes it two or more.
- 四.4 engine seizure from neglect: the overhaul cost charged and a dismissal proposal.
- 四.7 an accident concealed (reported by someone else than the driver, ticked 隐瞒不报): a fine
  (`unreported_accident_yuan`, 200 元: "视情节轻重" gives no figure); with serious consequences
  a dismissal proposal besides.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.calendar import add_months
    from workflows.engine import CaseWorkflow, refuse
    from workflows.engine.blocks.recurrence import Grid
    from workflows.model import CHINA_TZ, CaseStart, TaskState, UnitState
    from workflows.regulations.vehicle import rules
    from workflows.regulations.vehicle.forms import (
        AccidentInput,
        AssessmentData,
        BreachInput,
        DispatchInput,
        EngineSeizureInput,
        FuelReceiptInput,
        GarageRepairData,
        GrantLicenceInput,
        InspectionData,
        PurchaseInput,
        RepairFormData,
        RepairInput,
        RepairUnit,
        SettlementData,
        TripReturnData,
        TripUnit,
        VehicleInput,
        VehiclePolicy,
        VehicleVars,
    )
    from workflows.regulations.vehicle.people import ROLES
    from workflows.spec import (
        ActionSpec,
        ApprovalSpec,
        Breach,
        NoteData,
        RecordSpec,
        Sign,
        TaskSpec,
        Tier,
        after,
        after_approval,
        at,
        check,
    )

CODE = "vehicle"

LIABILITY_ZH = {"full": "全部责任", "main": "主要责任", "equal": "同等责任", "minor": "次要责任",
                "none": "无责任"}  # fmt: skip
BREACH_ZH = {
    "private_use": "公车私用",
    "passengers": "途中随意带客",
    "detour": "绕道为他人办私事",
    "overnight_home": "私自将车开回家过夜",
    "parked_outside": "未按指定地点停放",
    "drinking": "工作时间酗酒或酒后驾车",
}
BREACH_CLAUSE = {
    "private_use": "四.1",
    "passengers": "四.1",
    "detour": "四.1",
    "overnight_home": "四.1",
    "parked_outside": "四.8",
    "drinking": "四.9",
}
SANCTION_ZH = {"demotion": "调离岗位", "dismissal": "辞退"}

_TOLD = ("input.director", "input.fleet_leader")
TASKS = (
    # 一.4 the trip's line in the 《派车登记簿》: the driver logs the return.
    TaskSpec("trip_return", "回车登记：{plate}（{purpose}）", "R10 一.4", "driver",
             assignee="unit.driver", deadline="trip_return_due",
             outcomes={"returned": TripReturnData},
             record=RecordSpec("trip_log", "《派车登记簿》", ("returned",)),
             breach=Breach(notify=_TOLD)),
    # 二.3 an emergency repair went to the garage on the director's phone approval: the
    # repair form follows within `emergency_form_within`.
    TaskSpec("repair_form", "补填车辆维修单：{plate}", "R10 二.3", "driver", assignee="unit.driver",
             deadline="emergency_form_within", outcomes={"done": RepairFormData},
             record=RecordSpec("repair_form", "《车辆维修单》（补填）"),
             breach=Breach(notify=("input.director", "role:vehicle_office"))),
    # 二.2 only the designated garage; the material list signed by the driver.
    TaskSpec("garage_repair", "送厂维修：{plate}", "R10 二.2", "driver", assignee="unit.driver",
             outcomes={"done": GarageRepairData},
             record=RecordSpec("repair_materials", "《维修更换材料清单》"),
             signatures=(Sign("actor", "driver"),)),
    # 二.2 the replaced big parts brought back and inspected by the office (fleet).
    TaskSpec("parts_inspection", "旧配件审验：{plate}", "R10 二.2", "vehicle_office",
             deadline="inspection_due",
             outcomes={"parts_returned": InspectionData, "parts_missing": InspectionData},
             record=RecordSpec("parts_inspection", "《旧配件审验记录》",
                               ("parts_returned", "parts_missing"))),
    # 二.5 / 二.6 the fleet leader settles with the garage, every item checked.
    TaskSpec("garage_settlement", "维修费用结算：{plate}", "R10 二.5", "fleet_leader",
             assignee="input.fleet_leader", deadline="settlement_due",
             outcomes={"done": SettlementData},
             record=RecordSpec("repair_settlement", "《车辆维修费用结算单》"),
             signatures=(Sign("actor", "fleet_leader"),)),
    # 三.3 each fuel receipt signed and registered by the fleet leader, else not reimbursed.
    TaskSpec("fuel_sign", "燃油发票签字登记：{plate}（{litres} 升）", "R10 三.3", "fleet_leader",
             assignee="input.fleet_leader", deadline="fuel_sign_due",
             outcomes={"fuel_signed": NoteData, "fuel_refused": NoteData}),
    # 二.7 the month's 100-point assessment of each driver and the vehicle.
    TaskSpec("monthly_assessment", "月度百分考核：{month}（{plates}）", "R10 二.7",
             "vehicle_office", deadline="assessment_due", outcomes={"done": AssessmentData}),
)  # fmt: skip

REPAIR = ApprovalSpec(  # 二.3 reported to the director, approved by the office (fleet)
    "repair", "repair_approval", "车辆维修审批：{plate}", "R10 二.3",
    tiers=(Tier(None, ("director", "vehicle_office")),
           Tier(None, ("vehicle_office",), scopes=("emergency",))),
)  # fmt: skip
REPAIR_BILL = ApprovalSpec(  # 二.5 checked by the office, approved by the manager's office
    "repair_bill", "repair_bill_approval", "维修费用审批：{plate}", "R10 二.5",
    tiers=(Tier(None, ("vehicle_office", "vehicle_mgr_office")),),
)  # fmt: skip
FUEL = ApprovalSpec(  # 三.3 signed by the fleet leader, approved by 经理室
    "fuel", "fuel_approval", "燃油发票报销审批：{plate}", "R10 三.3",
    tiers=(Tier(None, ("vehicle_mgr_office",)),),
)  # fmt: skip
REWARDS = ApprovalSpec(  # 四.13 checked and signed by the fleet, approved by 经理室
    "rewards", "rewards_approval", "安全奖及公里补贴审批：{month}", "R10 四.13",
    tiers=(Tier(None, ("fleet_leader", "vehicle_mgr_office")),),
)  # fmt: skip
PURCHASE = ApprovalSpec(  # 二.4 confirmed by the fleet leader, approved by the director
    "purchase", "purchase_approval", "自行保养采购审批：{plate}", "R10 二.4",
    tiers=(Tier(None, ("fleet_leader", "director")),),
)  # fmt: skip

DISCIPLINE = ApprovalSpec(  # 四.1 / 四.4 / 四.5 / 四.7: 调离岗位 or 辞退, approved by 经理室
    "discipline", "discipline_approval", "奖惩审批：{sanction_zh}（{clause}）", "R10 四.1",
    tiers=(Tier(None, ("vehicle_mgr_office",)),),
)  # fmt: skip

_REPORTERS = ("director", "fleet_leader", "vehicle_office")


@workflow.defn(name="zhidu.vehicle")
class VehicleWorkflow(CaseWorkflow):
    REGULATION = CODE
    TITLE = "车辆安全管理：{fleet_name}（{fleet_id}）"
    INPUT = VehicleInput
    POLICY = VehiclePolicy
    VARS = VehicleVars
    CUSTOMER_FIELD = None
    TASKS = TASKS
    APPROVALS = (DISCIPLINE, REPAIR, REPAIR_BILL, PURCHASE, FUEL, REWARDS)
    ROLES = ROLES
    # The named director dispatches; the named fleet leader is the case's 车队长.
    ROLE_HOLDERS = {"director": "input.director", "fleet_leader": "input.fleet_leader"}
    ACTIONS = (
        ActionSpec("grant_licence", GrantLicenceInput, ("vehicle_office",), "update",
                   "登记考核合格（上岗证）", "Record a passed assessment",
                   people={"driver": "driver"}),
        ActionSpec("dispatch_trip", DispatchInput, ("director",), "update", "派车",
                   "Dispatch a trip", people={"driver": "driver"}),
        ActionSpec("report_breach", BreachInput, _REPORTERS, "update", "报告违规用车",
                   "Report a breach"),
        ActionSpec("report_accident", AccidentInput, _REPORTERS, "update", "登记交通事故",
                   "Register an accident", people={"driver": "driver"}),
        ActionSpec("report_engine_seizure", EngineSeizureInput, ("fleet_leader", "vehicle_office"),
                   "update", "报告发动机粘缸事故", "Report an engine seizure",
                   people={"driver": "driver"}),
        ActionSpec("request_repair", RepairInput, ("driver",), "update", "报修（填报车辆维修单）",
                   "Report a repair"),
        ActionSpec("register_fuel", FuelReceiptInput, ("driver",), "update", "登记燃油发票",
                   "Register a fuel receipt"),
        ActionSpec("request_purchase", PurchaseInput, ("driver",), "update",
                   "申请自行保养采购", "Ask to buy maintenance supplies"),
    )  # fmt: skip
    inp: VehicleInput
    policy: VehiclePolicy
    v: VehicleVars

    @workflow.run
    async def run(self, start: CaseStart) -> str:
        return await self.run_case()

    def begin(self) -> None:
        for d in self.inp.drivers:
            if d.licence_no:
                self.v.licensed[d.driver] = d.licence_no
        self.event("fleet_started", "R10 一.1", self.started_by, vehicles=len(self.inp.vehicles),
                   drivers=len(self.inp.drivers))  # fmt: skip
        # 二.7 / 三.4 / 四.12 every month, 09:00 on the 1st: last month's accounts. (A fleet case
        # started before the monthly close existed keeps running without it.)
        if not workflow.patched("vehicle-month-close"):
            return
        today = self.now.astimezone(CHINA_TZ).date().replace(day=1)
        first = add_months(datetime.combine(today, time(9), CHINA_TZ), 1)
        self.recur("month_close", Grid(first, self.policy.month_close_every), "month_close")

    def summarize(self) -> dict[str, Any]:
        return {"vehicles": len(self.inp.vehicles), "licensed": sorted(self.v.licensed),
                "on_trip": sorted(self.v.out), "trips_logged": self.v.trips_logged,
                "accidents": len(self.v.accidents), "breaches": len(self.v.breaches)}  # fmt: skip

    def record_context(self, task: TaskState) -> dict[str, Any]:
        unit = self.unit(task.unit)
        if unit is not None and unit.kind == "repair":
            return {"fleet_name": self.inp.fleet_name, "plate": unit.data["plate"],
                    "driver": unit.data["driver"]}  # fmt: skip
        if task.kind == "trip_return" and unit is not None:
            trip = self.unit_data(unit, TripUnit)
            return {"fleet_name": self.inp.fleet_name, **trip.model_dump(mode="json"),
                    "returned_at": self.now.isoformat()}  # fmt: skip
        return {"fleet_name": self.inp.fleet_name}

    # ---- helpers ---------------------------------------------------------------------------

    def _vehicle(self, plate: str) -> Any:
        return next((v for v in self.inp.vehicles if v.plate == plate), None)

    def _drivers(self) -> set[str]:
        return {d.driver for d in self.inp.drivers}

    def _propose(self, key: str, party: str, sanction: str, clause: str, rule: str,
                 by: str | None) -> None:  # fmt: skip
        unit = self.open_unit("discipline", f"奖惩：{SANCTION_ZH[sanction]}",
                              sanction_zh=SANCTION_ZH[sanction], clause=clause)  # fmt: skip
        self.propose_discipline(key, unit, approval="discipline", party=party, kind=sanction,
                                clause=f"R10 {clause}", rule=rule, proposed_by=by)  # fmt: skip

    @after_approval("discipline")
    def _sanction_decided(self, unit: UnitState, approved: bool, record_id: str) -> None:
        self.close_unit(unit, "done", approved=approved)

    # ---- 一.2 上岗证 -----------------------------------------------------------------------

    @workflow.update(name="grant_licence")
    def grant_licence(self, inp: GrantLicenceInput) -> str:
        self.v.licensed[inp.driver] = inp.licence_no
        return self.record("licence", "《驾驶员考核合格登记（上岗证）》", {
            "fleet_name": self.inp.fleet_name, "driver": inp.driver, "score": inp.score,
            "licence_no": inp.licence_no}, created_by=inp.actor.id, clause="R10 一.2")  # fmt: skip

    @grant_licence.validator
    def _check_licence(self, inp: GrantLicenceInput) -> None:
        self.check_action("grant_licence", inp.actor)
        if inp.driver not in self._drivers():
            raise refuse("Invalid", f"driver: {inp.driver} is not a driver of this fleet",
                         f"{inp.driver} 不是本车队的驾驶员")  # fmt: skip

    # ---- 一.4 dispatch and the trip log --------------------------------------------------------

    @workflow.update(name="dispatch_trip")
    def dispatch_trip(self, inp: DispatchInput) -> str:
        trip = TripUnit(plate=inp.plate, driver=inp.driver, purpose=inp.purpose, route=inp.route,
                        odometer_out=inp.odometer_out, dispatched_by=inp.actor.id,
                        dispatched_at=self.now)  # fmt: skip
        unit = self.open_unit("trip", f"出车：{inp.plate}（{inp.purpose}）", trip)
        self.v.out[inp.plate] = unit.id
        self.record("dispatch_order", "《派车单》", {
            "fleet_name": self.inp.fleet_name, **trip.model_dump(mode="json"),
            "licence_no": self.v.licensed[inp.driver]}, created_by=inp.actor.id,
            clause="R10 一.4")  # fmt: skip
        return self.open("trip_return", unit, data={"plate": inp.plate, "purpose": inp.purpose}).id

    @dispatch_trip.validator
    def _check_dispatch(self, inp: DispatchInput) -> None:
        self.check_action("dispatch_trip", inp.actor)
        if self._vehicle(inp.plate) is None:
            raise refuse("Invalid", f"plate: {inp.plate} is not a vehicle of this fleet",
                         f"{inp.plate} 不是本车队的车辆")  # fmt: skip
        if inp.driver not in self._drivers():
            raise refuse("Invalid", f"driver: {inp.driver} is not a driver of this fleet",
                         f"{inp.driver} 不是本车队的驾驶员")  # fmt: skip
        if inp.driver not in self.v.licensed:
            raise refuse("Forbidden", f"driver: {inp.driver} holds no 上岗证 (R10 一.2)",
                         f"{inp.driver} 未经考核合格、没有上岗证，不能派车（一.2）")  # fmt: skip
        if inp.plate in self.v.out:
            raise refuse("Conflict", f"plate: {inp.plate} is out on a trip",
                         f"{inp.plate} 正在出车，尚未回车登记")  # fmt: skip
        last = self.v.odometer.get(inp.plate)
        if last is not None and inp.odometer_out < Decimal(last):
            raise refuse("Invalid", f"odometer_out: below the last reading {last}",
                         f"出车里程小于上次回车里程 {last}")  # fmt: skip

    @check("trip_return")
    def _check_return(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        unit = self.unit(task.unit)
        if unit is None or not isinstance(data, TripReturnData):
            return None
        out = Decimal(str(unit.data["odometer_out"]))
        if data.odometer_in < out:
            return (f"data.odometer_in: below the odometer out {out}",
                    f"回车里程小于出车里程 {out}")  # fmt: skip
        return None

    @after("trip_return")
    def _returned(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        if unit is None:
            return
        trip = self.unit_data(unit, TripUnit)
        self.v.out.pop(trip.plate, None)
        if task.status != "done":
            self.event("trip_unlogged", "R10 一.4", None, plate=trip.plate, driver=trip.driver)
            self.close_unit(unit, "done", logged=False)
            return
        data = self.given(TripReturnData, task)
        km = data.odometer_in - trip.odometer_out
        self.v.odometer[trip.plate] = str(data.odometer_in)
        self.v.trips.append({"plate": trip.plate, "driver": trip.driver, "km": str(km),
                             "at": self.now.isoformat()})  # fmt: skip
        self.v.trips_logged += 1
        self.event("trip_logged", "R10 一.4", task.closed_by, plate=trip.plate, km=str(km))
        self.close_unit(unit, "done", km=str(km))

    # ---- 一.5 / 四.1 / 四.8 / 四.9 breaches --------------------------------------------------

    @workflow.update(name="report_breach")
    def report_breach(self, inp: BreachInput) -> str:
        clause, what = BREACH_CLAUSE[inp.kind], BREACH_ZH[inp.kind]
        fine = rules.breach_fine(inp.kind, inp.position, self.policy.fines)
        n = len(self.v.breaches) + 1
        rid = self.record("breach_report", "《违规用车处理单》", {
            "fleet_name": self.inp.fleet_name, "party": inp.party, "position": inp.position,
            "kind": inp.kind, "occurred_on": inp.occurred_on.isoformat(), "plate": inp.plate,
            "note": inp.note, "fine_yuan": str(fine)}, created_by=inp.actor.id,
            clause=f"R10 {clause}")  # fmt: skip
        self.book(f"breach/{n}", clause=f"R10 {clause}", party=inp.party, amount=fine,
                  rule=f"{what}（{inp.occurred_on.isoformat()}）：罚款 {fine} 元")  # fmt: skip
        earlier = [b for b in self.v.breaches
                   if b["party"] == inp.party and b["kind"] in rules.REPEAT_SANCTIONED]  # fmt: skip
        self.v.breaches.append({"party": inp.party, "kind": inp.kind, "at": self.now.isoformat(),
                                "on": inp.occurred_on.isoformat()})  # fmt: skip
        if inp.kind == "parked_outside":  # 四.8 追究服务部主任的责任
            self.notify(f"breach/{n}/director", self.inp.director, "【车辆】未按指定地点停放",
                        f"{what}（{inp.plate or ''}，{inp.occurred_on}）：按四.8 追究主任责任。")  # fmt: skip
        if inp.kind in rules.REPEAT_SANCTIONED and earlier:
            sanction = rules.repeat_sanction(inp.position)
            self._propose(f"repeat/{n}", inp.party, sanction, "四.1",
                          f"再犯不改（第 {len(earlier) + 1} 次违规用车：{what}）：{SANCTION_ZH[sanction]}",
                          inp.actor.id)  # fmt: skip
        return rid

    @report_breach.validator
    def _check_breach(self, inp: BreachInput) -> None:
        self.check_action("report_breach", inp.actor)
        if inp.position == "driver" and inp.party not in self._drivers():
            raise refuse("Invalid", f"party: {inp.party} is not a driver of this fleet",
                         f"{inp.party} 不是本车队的驾驶员")  # fmt: skip

    # ---- 四.2–四.7 accidents --------------------------------------------------------------------

    @workflow.update(name="report_accident")
    def report_accident(self, inp: AccidentInput) -> str:
        n = len(self.v.accidents) + 1
        key, who = f"accident/{n}", inp.actor.id
        comp = rules.compensation(inp.liability, inp.cost_yuan, self.policy.liability)
        main_cap = self.policy.liability["main"].cap_yuan
        rid = self.record("accident_report", "《交通事故登记表》", {
            "fleet_name": self.inp.fleet_name, "driver": inp.driver, "plate": inp.plate,
            "occurred_on": inp.occurred_on.isoformat(), "liability": inp.liability,
            "cost_yuan": str(comp.cost_yuan), "private_use": inp.private_use,
            "concealed": inp.concealed, "serious": inp.serious, "description": inp.description,
            "share": rules.percent(comp.share),
            "cap_yuan": str(comp.cap_yuan) if comp.cap_yuan is not None else "未设定（原文空白）",
            "main_cap_yuan": str(main_cap) if main_cap is not None else "未设定（原文空白，公司尚未设定）",
            "driver_pays_yuan": str(comp.cost_yuan if inp.private_use else comp.amount_yuan)},
            created_by=who, clause="R10 四.3")  # fmt: skip
        if inp.private_use:  # 四.2 all costs personal
            self.book(f"{key}/private", clause="R10 四.2", party=inp.driver, kind="charge",
                      amount=comp.cost_yuan,
                      rule=f"私自用车发生交通事故：所有费用 {comp.cost_yuan} 元由个人承担")  # fmt: skip
        elif comp.amount_yuan > 0:  # 四.3
            self.book(f"{key}/liability", clause="R10 四.3", party=inp.driver, kind="charge",
                      amount=comp.amount_yuan, rule=comp.rule_zh(LIABILITY_ZH))  # fmt: skip
        self.v.accidents.append({"driver": inp.driver, "liability": inp.liability,
                                 "on": inp.occurred_on.isoformat(), "at": self.now.isoformat()})  # fmt: skip
        self.event("accident_registered", "R10 四.3", who, driver=inp.driver,
                   liability=inp.liability, amount_yuan=str(comp.amount_yuan))  # fmt: skip
        if inp.concealed:  # 四.7
            fine = rules.money(self.policy.fines.unreported_accident_yuan)
            self.book(f"{key}/concealed", clause="R10 四.7", party=inp.driver, amount=fine,
                      rule=f"交通事故隐瞒不报（{inp.occurred_on.isoformat()}）：罚款 {fine} 元")  # fmt: skip
            if inp.serious:
                self._propose(f"{key}/concealed", inp.driver, "dismissal", "四.7",
                              "交通事故隐瞒不报，造成严重后果：辞退", who)  # fmt: skip
        if inp.liability in rules.MAIN_OR_WORSE:  # 四.5
            days = self.policy.accident_window.wall.days
            recent = [a for a in self.v.accidents
                      if a["driver"] == inp.driver and a["liability"] in rules.MAIN_OR_WORSE
                      and abs((inp.occurred_on - date.fromisoformat(a["on"])).days) < days]  # fmt: skip
            if len(recent) >= 2:
                self._propose(f"{key}/twice", inp.driver, "dismissal", "四.5",
                              f"一年内发生 {len(recent)} 次主责以上交通事故：辞退", who)  # fmt: skip
        return rid

    @report_accident.validator
    def _check_accident(self, inp: AccidentInput) -> None:
        self.check_action("report_accident", inp.actor)
        if inp.driver not in self._drivers():
            raise refuse("Invalid", f"driver: {inp.driver} is not a driver of this fleet",
                         f"{inp.driver} 不是本车队的驾驶员")  # fmt: skip

    @workflow.update(name="report_engine_seizure")
    def report_engine_seizure(self, inp: EngineSeizureInput) -> str:
        """四.4 neglect (no oil, no coolant): the overhaul cost is the driver's, and dismissal."""
        n = len(self.v.accidents) + 1
        cost = rules.money(inp.overhaul_cost_yuan)
        rid = self.record("engine_seizure", "《发动机粘缸事故报告》", {
            "fleet_name": self.inp.fleet_name, "driver": inp.driver, "plate": inp.plate,
            "cause": inp.cause, "overhaul_cost_yuan": str(cost)}, created_by=inp.actor.id,
            clause="R10 四.4")  # fmt: skip
        self.book(f"seizure/{n}", clause="R10 四.4", party=inp.driver, kind="charge", amount=cost,
                  rule=f"检查不周造成发动机粘缸：大修费用 {cost} 元由个人承担")  # fmt: skip
        self._propose(f"seizure/{n}", inp.driver, "dismissal", "四.4",
                      "检查不周、缺机油或冷却液造成发动机粘缸：辞退", inp.actor.id)  # fmt: skip
        self.v.accidents.append({"driver": inp.driver, "liability": "seizure",
                                 "on": self.now.date().isoformat(), "at": self.now.isoformat()})  # fmt: skip
        return rid

    @report_engine_seizure.validator
    def _check_seizure(self, inp: EngineSeizureInput) -> None:
        self.check_action("report_engine_seizure", inp.actor)
        if inp.driver not in self._drivers():
            raise refuse("Invalid", f"driver: {inp.driver} is not a driver of this fleet",
                         f"{inp.driver} 不是本车队的驾驶员")  # fmt: skip

    # ---- 二.2–二.6 maintenance ---------------------------------------------------------------

    @workflow.update(name="request_repair")
    def request_repair(self, inp: RepairInput) -> str:
        repair = RepairUnit(plate=inp.plate, driver=inp.actor.id, fault=inp.fault,
                            estimate_yuan=inp.estimate_yuan, emergency=inp.emergency)  # fmt: skip
        unit = self.open_unit("repair", f"维修：{inp.plate}", repair)
        if inp.emergency:  # 二.3 特殊情况可电话报批，先送厂后填报维修单
            self.event("repair_phone_approved", "R10 二.3", inp.actor.id, plate=inp.plate,
                       director=self.inp.director)  # fmt: skip
            self.open("garage_repair", unit, data={"plate": inp.plate})
            return self.open("repair_form", unit, data={"plate": inp.plate}).id
        rid = self.record("repair_request", "《车辆维修单》", {
            "fleet_name": self.inp.fleet_name, "plate": inp.plate, "driver": inp.actor.id,
            "fault": inp.fault, "estimate_yuan": str(inp.estimate_yuan)},
            created_by=inp.actor.id, clause="R10 二.3")  # fmt: skip
        self.notify(f"{unit.id}/reported", self.inp.director, f"【车辆】报修：{inp.plate}",
                    f"{inp.fault}（预计 {inp.estimate_yuan} 元），请审批维修单。")  # fmt: skip
        self.request_approval("repair", unit, rid, measure=inp.estimate_yuan)
        return rid

    @request_repair.validator
    def _check_repair(self, inp: RepairInput) -> None:
        self.check_action("request_repair", inp.actor)
        if self._vehicle(inp.plate) is None:
            raise refuse("Invalid", f"plate: {inp.plate} is not a vehicle of this fleet",
                         f"{inp.plate} 不是本车队的车辆")  # fmt: skip

    @after("repair_form")
    def _form_filled(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        if unit is not None and task.status == "done" and task.data.get("record_id"):
            self.request_approval("repair", unit, task.data["record_id"], scope="emergency")

    @after_approval("repair")
    def _repair_decided(self, unit: UnitState, approved: bool, record_id: str) -> None:
        repair = self.unit_data(unit, RepairUnit)
        if repair.emergency:
            self.event("repair_form_checked", "R10 二.3", None, plate=repair.plate,
                       approved=approved)  # fmt: skip
        elif approved:  # only now to the garage
            self.open("garage_repair", unit, data={"plate": repair.plate})
        else:
            self.close_unit(unit, "done", approved=False)

    @check("garage_repair")
    def _check_garage(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        garages = self.policy.designated_garages
        if isinstance(data, GarageRepairData) and data.garage not in garages:
            return (f"data.garage: not a designated garage ({', '.join(garages)})",
                    f"只能在公司指定的特约维修单位维修：{'、'.join(garages)}（二.2）")  # fmt: skip
        return None

    @after("garage_repair")
    def _repaired(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        if unit is None or task.status != "done":
            return
        data = self.given(GarageRepairData, task)
        total = sum((m.price_yuan for m in data.materials), Decimal(0))
        big = [m.part for m in data.materials if m.big_part]
        unit.data["big_parts"] = big
        plate = unit.data["plate"]
        if big:
            self.open("parts_inspection", unit, data={"plate": plate, "big_parts": big})
        self.open("garage_settlement", unit, data={"plate": plate, "materials_yuan": str(total)})

    @after("garage_settlement")
    def _settled(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        if unit is not None and task.status == "done" and task.data.get("record_id"):
            data = self.given(SettlementData, task)
            self.request_approval("repair_bill", unit, task.data["record_id"],
                                  measure=data.amount_yuan)  # fmt: skip

    @after_approval("repair_bill")
    def _bill_decided(self, unit: UnitState, approved: bool, record_id: str) -> None:
        unit.data["bill"] = "approved" if approved else "rejected"
        self.event("repair_settled", "R10 二.5", None, plate=unit.data["plate"], approved=approved)
        if not self.open_tasks("parts_inspection", unit):
            self.close_unit(unit, "done", approved=approved)

    @after("parts_inspection")
    def _inspected(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        if unit is None:
            return
        if task.outcome == "parts_missing":
            self.event("parts_missing", "R10 二.2", task.closed_by, plate=unit.data["plate"])
            self.notify(f"{task.id}/missing", self.inp.fleet_leader,
                        f"【车辆】旧配件未带回：{unit.data['plate']}",
                        "更换的大配件旧件未交办公室（车队）审验，结算时从严核实。")  # fmt: skip
        if unit.data.get("bill"):
            self.close_unit(unit, "done", approved=unit.data["bill"] == "approved")

    @workflow.update(name="request_purchase")
    def request_purchase(self, inp: PurchaseInput) -> str:
        total = sum((p.price_yuan for p in inp.purchases), Decimal(0))
        reimbursable = not inp.already_bought
        rid = self.record("purchase_request", "《自行保养采购申请》", {
            "fleet_name": self.inp.fleet_name, "plate": inp.plate, "driver": inp.actor.id,
            "purchases": [p.model_dump(mode="json") for p in inp.purchases],
            "total_yuan": str(total), "already_bought": inp.already_bought,
            "reimbursable": "待车管组组长确认、主任批准" if reimbursable
            else "未经确认和批准自行购买：不予报销，由驾驶员自负"},
            created_by=inp.actor.id, clause="R10 二.4")  # fmt: skip
        if not reimbursable:
            self.event("purchase_not_reimbursed", "R10 二.4", inp.actor.id, plate=inp.plate,
                       total_yuan=str(total))  # fmt: skip
            return rid
        unit = self.open_unit("purchase", f"自行保养采购：{inp.plate}", plate=inp.plate,
                              driver=inp.actor.id, total_yuan=str(total))  # fmt: skip
        self.request_approval("purchase", unit, rid, measure=total)
        return rid

    @request_purchase.validator
    def _check_purchase(self, inp: PurchaseInput) -> None:
        self.check_action("request_purchase", inp.actor)
        if self._vehicle(inp.plate) is None:
            raise refuse("Invalid", f"plate: {inp.plate} is not a vehicle of this fleet",
                         f"{inp.plate} 不是本车队的车辆")  # fmt: skip

    @after_approval("purchase")
    def _purchase_decided(self, unit: UnitState, approved: bool, record_id: str) -> None:
        self.event("purchase_decided", "R10 二.4", None, plate=unit.data["plate"],
                   approved=approved, total_yuan=unit.data["total_yuan"])  # fmt: skip
        self.close_unit(unit, "done", approved=approved)

    # ---- 三.2 / 三.3 fuel receipts -----------------------------------------------------------

    @workflow.update(name="register_fuel")
    def register_fuel(self, inp: FuelReceiptInput) -> str:
        rid = self.record("fuel_receipt", "《燃油发票登记》", {
            "fleet_name": self.inp.fleet_name, "plate": inp.plate, "driver": inp.actor.id,
            "litres": str(inp.litres), "amount_yuan": str(inp.amount_yuan),
            "station": inp.station, "bought_on": inp.bought_on.isoformat()},
            created_by=inp.actor.id, clause="R10 三.2")  # fmt: skip
        self.v.fuel.append({"plate": inp.plate, "litres": str(inp.litres),
                            "yuan": str(inp.amount_yuan), "on": inp.bought_on.isoformat()})  # fmt: skip
        unit = self.open_unit("fuel", f"燃油发票：{inp.plate}", plate=inp.plate,
                              litres=str(inp.litres), record_id=rid)  # fmt: skip
        self.open("fuel_sign", unit, data={"plate": inp.plate, "litres": str(inp.litres),
                                           "amount_yuan": str(inp.amount_yuan)})  # fmt: skip
        return rid

    @register_fuel.validator
    def _check_fuel(self, inp: FuelReceiptInput) -> None:
        self.check_action("register_fuel", inp.actor)
        if self._vehicle(inp.plate) is None:
            raise refuse("Invalid", f"plate: {inp.plate} is not a vehicle of this fleet",
                         f"{inp.plate} 不是本车队的车辆")  # fmt: skip

    @after("fuel_sign")
    def _fuel_signed(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        if unit is None:
            return
        if task.status == "done" and task.outcome == "fuel_signed":
            self.request_approval("fuel", unit, unit.data["record_id"])
            return
        self.event("fuel_not_reimbursed", "R10 三.3", task.closed_by, plate=unit.data["plate"],
                   litres=unit.data["litres"])  # fmt: skip
        self.close_unit(unit, "done", reimbursed=False)

    @after_approval("fuel")
    def _fuel_decided(self, unit: UnitState, approved: bool, record_id: str) -> None:
        self.event("fuel_reimbursement", "R10 三.3", None, plate=unit.data["plate"],
                   litres=unit.data["litres"], approved=approved)  # fmt: skip
        self.close_unit(unit, "done", reimbursed=approved)

    # ---- the month: 三.4 fuel account, 二.7 assessment, 四.12 rewards --------------------------

    @at("month_close")
    def _month_close(self, data: dict[str, Any]) -> None:
        planned = data["planned_at"]
        planned = planned if isinstance(planned, datetime) else datetime.fromisoformat(planned)
        end = planned.astimezone(CHINA_TZ).date()
        start = add_months(datetime.combine(end, time(0), CHINA_TZ), -1).date()
        month = f"{start.year}-{start.month:02d}"
        self._fuel_account(month, start, end)
        for d in self.inp.drivers:
            plates = [v.plate for v in self.inp.vehicles if v.driver == d.driver]
            self.open("monthly_assessment", data={
                "month": month, "driver": d.driver, "plates": "、".join(plates) or "—",
                "breaches": [b["kind"] for b in self.v.breaches
                             if b["party"] == d.driver and start <= _day(b) < end]})  # fmt: skip
        self._rewards(month, start, end)

    def _fuel_account(self, month: str, start: date, end: date) -> None:
        rows = []
        for v in self.inp.vehicles:
            fuel = [f for f in self.v.fuel if f["plate"] == v.plate and start <= _day(f) < end]
            bought = sum((Decimal(f["litres"]) for f in fuel), Decimal(0))
            paid = sum((Decimal(f["yuan"]) for f in fuel), Decimal(0))
            km = sum((Decimal(t["km"]) for t in self.v.trips
                      if t["plate"] == v.plate and start <= _day(t) < end), Decimal(0))  # fmt: skip
            standard = self.policy.fuel_standards[v.model]
            allowed = rules.allowance(standard, start.month)
            acc = rules.fuel_account(bought, km, allowed, rules.average_price(paid, bought))
            rows.append({"plate": v.plate, "model": v.model, "driver": v.driver,
                         "litres": str(acc.litres), "km": str(km),
                         "consumption": str(acc.consumption) if acc.consumption is not None else "—",
                         "allowed_per_100km": str(allowed), "allowed_litres": str(acc.allowed_litres),
                         "excess_litres": str(acc.excess_litres), "price_per_litre_yuan": str(acc.price_yuan),
                         "fine_yuan": str(acc.fine_yuan)})  # fmt: skip
            if acc.over:  # 三.4 报办公室，严格按规定处罚; 四.10 按超标数量全额处罚
                self.book(f"fuel/{month}/{v.plate}", clause="R10 三.4", party=v.driver,
                          amount=acc.fine_yuan,
                          rule=(f"{month} {v.plate} 耗油 {acc.litres} 升 / {km} 公里，标准 {allowed} "
                                f"升/百公里（{acc.allowed_litres} 升），超标 {acc.excess_litres} 升 × "
                                f"{acc.price_yuan} 元/升，按超标数量全额处罚"))  # fmt: skip
                self.notify(f"fuel/{month}/{v.plate}", "role:vehicle_office",
                            f"【车辆】{month} {v.plate} 耗油超标",
                            f"超标 {acc.excess_litres} 升，罚款 {acc.fine_yuan} 元（三.4、四.10）。")  # fmt: skip
        self.record("fuel_account", "《单车油耗核算表》", {
            "fleet_name": self.inp.fleet_name, "month": month, "vehicles": rows},
            created_by=None, clause="R10 三.4")  # fmt: skip

    def _rewards(self, month: str, start: date, end: date) -> None:
        people = [d.driver for d in self.inp.drivers]
        if self.inp.fleet_leader not in people:
            people.append(self.inp.fleet_leader)
        rows, total = [], Decimal(0)
        for who in people:
            km = sum((Decimal(t["km"]) for t in self.v.trips
                      if t["driver"] == who and start <= _day(t) < end), Decimal(0))  # fmt: skip
            accidents = [a for a in self.v.accidents if a["driver"] == who
                         and a["liability"] != "none" and start <= _day(a) < end]  # fmt: skip
            breaches = [b for b in self.v.breaches if b["party"] == who and start <= _day(b) < end]
            safe = not accidents and not breaches
            leader = who == self.inp.fleet_leader
            award = rules.safe_driving_reward(leader, safe, self.policy.rewards)
            subsidy = rules.mileage_subsidy(km, self.policy.rewards) if safe else Decimal("0.00")
            why = "安全行车" if safe else f"事故 {len(accidents)} 次、违规 {len(breaches)} 次"
            rows.append({"person": who, "group_leader": leader, "km": str(km), "safe": safe,
                         "reason": why, "award_yuan": str(award), "subsidy_yuan": str(subsidy),
                         "total_yuan": str(award + subsidy)})  # fmt: skip
            total += award + subsidy
        rid = self.record("rewards", "《安全奖及公里补贴发放表》", {
            "fleet_name": self.inp.fleet_name, "month": month, "people": rows,
            "total_yuan": str(total)}, created_by=None, clause="R10 四.12")  # fmt: skip
        unit = self.open_unit("rewards", f"安全奖及公里补贴：{month}", month=month, rows=rows)
        self.request_approval("rewards", unit, rid, measure=total)

    @after_approval("rewards")
    def _rewards_decided(self, unit: UnitState, approved: bool, record_id: str) -> None:
        month = unit.data["month"]
        if approved:
            for row in unit.data["rows"]:
                who = row["person"]
                if Decimal(row["award_yuan"]) > 0:
                    self.book(f"reward/{month}/{who}/safe", clause="R10 四.12", party=who,
                              kind="reward", amount=row["award_yuan"],
                              rule=f"{month} 安全行车奖" + ("（车管组组长）" if row["group_leader"] else ""))  # fmt: skip
                if Decimal(row["subsidy_yuan"]) > 0:
                    self.book(f"reward/{month}/{who}/km", clause="R10 四.12", party=who,
                              kind="reward", amount=row["subsidy_yuan"],
                              rule=f"{month} 安全行驶公里补贴：{row['km']} 公里，按百公里 "
                                   f"{self.policy.rewards.subsidy_fen_per_100km} 分")  # fmt: skip
        self.close_unit(unit, "done", approved=approved)

    @after("monthly_assessment")
    def _assessed(self, task: TaskState) -> None:
        """二.7 百分量化考核: 100 less the deductions, item by item; the score goes to pay."""
        if task.status != "done":
            return
        data = self.given(AssessmentData, task)
        lost = sum(d.points for d in data.deductions)
        score = max(0, 100 - lost)
        self.record("assessment", "《驾驶员及车辆月度百分考核表》", {
            "fleet_name": self.inp.fleet_name, "month": task.data["month"],
            "driver": task.data["driver"], "plates": task.data["plates"],
            "vehicle_condition": data.vehicle_condition,
            "deductions": [d.model_dump(mode="json") for d in data.deductions],
            "points_lost": lost, "score": score,
            "pay_note": f"得分 {score}，与当月工资兑现挂钩"}, created_by=task.closed_by,
            clause="R10 二.7")  # fmt: skip


def _day(entry: dict[str, str]) -> date:
    """The China-time day of a logged entry (its own date when it has one)."""
    if "on" in entry:
        return date.fromisoformat(entry["on"])
    return datetime.fromisoformat(entry["at"]).astimezone(CHINA_TZ).date()
