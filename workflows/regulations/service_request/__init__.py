"""R4 `service-request` — 物业客户服务部工作管理规定: its registry entry, made from this folder
(the clauses in clauses.py, the forms and policy in forms.py, the words in labels.py, the roles
and demo people in people.py) and its clause list."""

from __future__ import annotations

from workflows.registry import Clause, ScheduleSpec, regulation
from workflows.regulations.service_request.clauses import ServiceRequestWorkflow
from workflows.regulations.service_request.forms import ServiceRequestInput
from workflows.regulations.service_request.labels import LABELS
from workflows.regulations.service_request.people import DEMO

CLAUSES = (
    Clause("1–4", "办公环境、仪容、礼仪、行为规范与职责", "guidance only (4.4 roles: the tasks below)"),
    Clause("5.1.1", "空调、配电照明、给排水、消防、秩序维护、清洁、绿化申请统一由接待员受理；员工发现的问题同样", "case start: category, source (oral / written / staff noticed)"),
    Clause("5.1.2", "《业主反映情况记录》：受理时间、房号、姓名、内容；有能力则电话通知服务部门", "record intake_log; task dispatch_call"),
    Clause("5.1.3", "主管开出《业主需求处置单》；紧急情况先作业后补单", "task order_form, record order_form; emergency: task emergency_work (emergency_response) then order_form (late_form_due)"),
    Clause("5.1.4", "无法确认能否满足：转物业服务中心负责人确认", "task decide (center head)"),
    Clause("5.2.1", "尽快到场；业主设备先检查；有偿服务按《有偿服务价目表》计费，作业前告知业主", "task quote, record fee_consent (owner signs), policy price_list; repair refused before consent"),
    Clause("5.2.2", "《维修单》：作业内容、材料及数量、时间、总工时（含准备）；有偿注明材料费、人工费；业主验收签字", "record repair_order (fees in Decimal from price_list), owner's signature"),
    Clause("5.2.3", "《维修单》填写不完整、签字不全，接待员有权拒收；部门负责人审核用工用料、费用，签字后按月送回", "check on the repair tasks (incomplete), the engine's signature check (unsigned); month case: task cost_review (department head signs), record cost_review"),
    Clause("5.2.4", "三个工作日内完成；延期负责人批准，二周以上主任批准；无法解决退单并向业主解释", "task repair (standard_due; extend center_head ≤ 2 weeks, director), task return_order, record return_order"),
    Clause("5.2.5", "下水道、便池堵、水管渗漏 24 小时；换灯管、门锁（工作日）；延期须负责人签字并经业主同意", "tasks repair_24h, repair_workday; action urgent_delay, record delay_approval"),
    Clause("5.2.6", "内部设备、内部维修清洁、补漏工程：部门负责人协商决定期限，作为考核依据", "task agree_deadline, task repair_internal"),
    Clause("5.3.1", "秩序维护、清洁服务：与业主协商时间、要求；有偿签订书面协议；入住前清洁当天或约定时间", "task agree_service, record service_agreement (agreement number required when paid)"),
    Clause("5.3.2", "三个工作日内通报实施情况；业主原因延期负责人签字；协议服务月底前二天回单附协议；无法实施负责人签字退单", "task service_report (status_report_due / pre-move-in same day / agreement_return_due; extend center_head), record service_order; task cancel_service, record return_order"),
    Clause("5.4", "特约工程队：评审记录，申请人验收签字", "task contractor_job, record contractor_order (evaluation, requester's signature)"),
    Clause("6.1", "接待员电话回访；情况不符时区域管理员立即到现场", "task followup, record followup_note; task site_check"),
    Clause("6.2", "规定时间内收不到完成情况：催问部门、报主管、登记并上月报表", "breach of the repair tasks → task chase, record chase_log"),
    Clause("6.3", "每月初统计上月服务情况、业主抱怨、能耗数据、委托情况，形成月报表", "schedule (month case), task energy, record monthly_report"),
    Clause("6.5", "月底处置单汇总交财务；有偿服务费用上门回访时收取", "month case: task settlement (settlement_due, receptionist signs), record settlement; the month stays open until it is done; followup fee_collected_yuan, record fee_receipt"),
    Clause("7", "咨询接待", "guidance only"),
    Clause("8(一)2", "能解释的要做到让业主满意为止", "task complaint_investigate, outcome explained (record complaint_findings)"),
    Clause("8(一)3", "投诉当天调查核实，结果与建议报主任，由主任决定处理办法并落实责任部门", "action complaint, record complaint (valid / invalid), notice to the director; task complaint_investigate (same day), record complaint_findings; task complaint_decide (director), record complaint_decision"),
    Clause("8(一)6", "责任部门处理完毕后将结果用书面形式回复业主", "task complaint_reply (department head signs), record complaint_reply, notice to the director; the month stays open until every complaint is answered"),
    Clause("8(二)1.4", "回访处理率 100%，有效投诉率 2% 以下", "monthly_report targets, record visit_summary"),
    Clause("8(二)2", "主任每月登门回访 10 家，管理员每月 15 家", "task visit_quota (breach at month end), action household_visit, record household_visit"),
    Clause("9–11", "质量要求、督促检查、分析改进", "guidance only"),
)  # fmt: skip


def _title(inp: ServiceRequestInput) -> str:
    if inp.case_type == "month":
        return "物业服务中心月度工作"
    return f"业主服务申请：{inp.room} {inp.content[:20]}"


ENTRY = regulation(
    ServiceRequestWorkflow,
    title=("物业客户服务部工作管理规定", "Property service requests"),
    source="seed/000_76f73c1f8f00814b.txt lines 1001–1277 (第13篇 = 第4篇)",
    start_roles=("receptionist", "center_head"),
    case_title=_title,
    people={"director": "director"},
    contacts=lambda i: [i.owner_phone] if i.owner_phone else [],
    schedules=(
        ScheduleSpec(
            "service-request-month",
            "物业服务中心月度工作（月报表、登门回访）",
            "zhidu.service-request",
            {"case_type": "month"},
            cron="0 9 1 * *",
        ),
    ),
    labels=LABELS,
    demo=DEMO,
    clauses=CLAUSES,
)
