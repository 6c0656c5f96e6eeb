"""R10 `vehicle` — 烟草公司客户服务部车辆安全管理规定: its registry entry, made from this folder
(the clauses in clauses.py, the money rules in rules.py, the forms and policy in forms.py, the
words in labels.py, the roles and demo people in people.py) and its clause list."""

from __future__ import annotations

from workflows.registry import Clause, regulation
from workflows.regulations.vehicle.clauses import VehicleWorkflow
from workflows.regulations.vehicle.labels import LABELS
from workflows.regulations.vehicle.people import DEMO

CLAUSES = (
    Clause("一.1", "客户服务部主任为车辆安全管理第一责任人", "input director; case start"),
    Clause("一.2", "驾驶员经考核合格领取上岗证方可驾驶", "action grant_licence, dispatch refused without it"),
    Clause("一.3", "送货专用车，不准运送其它物品、不准外借", "guidance only (a breach is reported as private use)"),
    Clause("一.4", "主任派车并作好派车登记", "action dispatch_trip (record dispatch_order), task trip_return (record trip_log)"),
    Clause("一.5", "严禁私自用车、带客、绕道、酒后驾车、开车回家过夜", "action report_breach"),
    Clause("一.6", "按指定安全地点停放", "trip_return parked_at_designated; report_breach parked_outside"),
    Clause("二.1", "精心维护保养，按规定里程例保", "guidance only"),
    Clause("二.2", "指定特约维修单位；材料清单驾驶员签字；大配件旧件带回审验", "task garage_repair (designated garage, driver's signature), task parts_inspection"),
    Clause("二.3", "提前报告主任、填报维修单、办公室（车队）批准后送厂；特殊情况电话报批后补填", "action request_repair, approval repair, task repair_form (emergency_form_within)"),
    Clause("二.4", "自行保养采购经车管组组长确认、主任批准，否则不予报销", "action request_purchase, approval purchase"),
    Clause("二.5", "维修费用由车队长统一结算，办公室审核，经理室审批", "task garage_settlement, approval repair_bill"),
    Clause("二.6", "车队长对材料清单逐项核实，严防虚假", "garage_settlement items_checked"),
    Clause("二.7", "办公室（车队）每月百分量化考核，逐项扣分，与工资挂钩", "schedule month_close, task monthly_assessment, record assessment"),
    Clause("三.1", "耗油标准：东南 9.5+4.5（7–9 月 +6.5）、五菱 6.5+3.5", "policy fuel_standards, rules.allowance"),
    Clause("三.2", "信誉较好的加油站购油，逐台登记，定期审核", "action register_fuel, record fuel_receipt"),
    Clause("三.3", "燃油发票经车队长签字登记、经理室审批，否则不予报销", "task fuel_sign, approval fuel"),
    Clause("三.4", "车队长每月单车耗油核算，超标报办公室处罚", "schedule month_close, record fuel_account, ledger fine, notice to the office"),
    Clause("四.10", "耗油严重超标按超标数量全额处罚", "rules.fuel_account (excess litres × price)"),
    Clause("四.12", "安全行车每月奖 100 元、车管组组长 150 元，百公里补贴 4 分", "schedule month_close, record rewards, ledger reward"),
    Clause("四.13", "安全奖及公里补贴经车队审核签字、经理室审批", "approval rewards"),
    Clause("一.7–一.10", "安全教育、遵守交通法规、精心维护、途中安全防范", "guidance only"),
    Clause("四.1", "公车私用：主任/副主任 200 元、驾驶员 100 元；开车回家过夜 300 元；再犯调离或辞退", "report_breach, ledger fine, discipline proposal (approval discipline)"),
    Clause("四.2", "私自用车发生事故：费用个人承担", "report_accident private_use, ledger charge"),
    Clause("四.3", "因公事故按责任赔偿：全责 70%≤3000、主责 60%（上限空白）、同责 50%≤1500、次责 30%≤1000", "rules.compensation, ledger charge"),
    Clause("四.4", "检查不周造成发动机粘缸：大修费个人承担并辞退", "action report_engine_seizure, ledger charge, discipline proposal"),
    Clause("四.5", "一年内两次主责以上事故：辞退", "report_accident, discipline proposal"),
    Clause("四.6", "被公安机关罚款或拘留：辞退", "guidance only (not carried: no report of it in this case)"),
    Clause("四.7", "事故隐瞒不报：处罚；严重后果辞退", "report_accident concealed, ledger fine, discipline proposal"),
    Clause("四.8", "不按指定地点停放：驾驶员赔偿，追究主任责任", "report_breach parked_outside, notice to the director"),
    Clause("四.9", "酗酒或酒后驾车：罚款 200 元", "report_breach drinking"),
    Clause("四.11", "重大事故追究主任责任", "guidance only"),
)  # fmt: skip

ENTRY = regulation(
    VehicleWorkflow,
    title=("车辆安全管理规定", "Vehicle safety"),
    source="seed/000_76f73c1f8f00814b.txt lines 917–999 (第12篇)",
    start_roles=("director", "vehicle_office"),
    people={"director": "director", "fleet_leader": "fleet_leader"},
    workflow_id=lambda i: f"vehicle-{i.fleet_id}",
    labels=LABELS,
    demo=DEMO,
    clauses=CLAUSES,
)
