"""R8 `satisfaction` — 物业客户满意率测量管理规定: its registry entry, made from this folder (the
clauses in clauses.py, the forms and policy in forms.py, the words in labels.py, the roles and
demo people in people.py) and its clause list."""

from __future__ import annotations

from workflows.registry import Clause, ScheduleSpec, regulation
from workflows.regulations.satisfaction.clauses import SatisfactionWorkflow
from workflows.regulations.satisfaction.labels import LABELS
from workflows.regulations.satisfaction.people import DEMO

CLAUSES = (
    Clause("一", "目的及范围", "guidance only"),
    Clause("三、1", "客户服务中心负责满意度调查、分析，编制《经理服务卡》和分析报告", "the tasks below, each for its role"),
    Clause("三、2", "管业经理审批征询表和调查方案", "approval plan (property_business_manager) before the sample and delivery"),
    Clause("三、3", "客户投诉由投诉中心主任审批处理", "task complaint_classify (complaint_director)"),
    Clause("四(一)", "《经理服务卡》：姓名、电话、传呼、电子邮件，随《业主公约》发放", "case kind manager_card, record manager_card"),
    Clause("四(二)1", "每半年一次，随机抽样，上门分发《顾客满意度征询表》", "schedule satisfaction-survey, sample (seeded), task survey_delivery"),
    Clause("四(二)2", "新增服务项目实施后三个月内可调查", "occasion new_item, policy new_item_window"),
    Clause("四(二)3", "重大服务质量问题后针对特定对象调查", "occasion quality_problem"),
    Clause("四(三)", "征询表设计：顾客类型、服务项目、满意程度、意见建议与期望", "task survey_plan, action enter_return (from paper), or the household's one-time link (starter/survey_links.py, update household_return), record survey_return"),
    Clause("四(三)1", "征询表和调查方案", "task survey_plan, record survey_plan"),
    Clause("四(四)", "一周内回收，回收率超过 85% 才有效", "task survey_collection, wake-up collection_closes, policy valid_return_rate"),
    Clause("四(五)", "每项服务的满意率 = 满意等级数量 / 总评定数量", "record survey_result (Decimal, exact)"),
    Clause("四(六)1", "重点分析：最低、最不满意、意见、期望、与前次相比降低的项目", "record survey_result, task survey_analysis"),
    Clause("四(六)2", "每年《顾客满意度调查结果及分析报告》", "schedule satisfaction-yearly-report, task yearly_report_write"),
    Clause("四(六)3", "组织相关部门回访、分析原因、纠正或改进", "tasks corrective_action, measure_revisit"),
    Clause("四(七)1", "客户服务中心负责人办公室主任负责投诉处理", "guidance only (roles of the complaint tasks)"),
    Clause("四(七)2", "填写《顾客投诉记录》，分析原因，确定有效或无效投诉", "record complaint_register, task complaint_classify"),
    Clause("四(八)1", "所有投诉统一由客户服务中心登记管理", "case kind complaint (started by the center), record complaint_register"),
    Clause("四(八)2", "《服务投诉单》一式二份，当天与投诉人联系", "records service_complaint_form ×2, task complaint_contact (end of day)"),
    Clause("四(八)3", "相关部门分析原因，避免类似问题", "task complaint_handling (cause)"),
    Clause("四(八)4", "三个工作日内回单，否则说明情况并记录", "task complaint_handling (handle_within), record complaint_explanation"),
    Clause("四(八)5", "无法解决的问题由服务中心向顾客解释", "task complaint_explain"),
    Clause("四(八)6", "每月前 5 天汇总上月投诉，提出改进建议，办公室主任审阅后发往各部门", "schedule satisfaction-complaint-summary, tasks complaint_summary_write, complaint_summary_review"),
)  # fmt: skip


ENTRY = regulation(
    SatisfactionWorkflow,
    title=("物业客户满意率测量管理规定", "Customer satisfaction measurement"),
    source="seed/000_76f73c1f8f00814b.txt lines 635–729 (第8篇)",
    start_roles=("customer_service", "complaint_director"),
    schedules=(
        ScheduleSpec(
            "satisfaction-survey",
            "顾客满意度调查（每半年）",
            "zhidu.satisfaction",
            {"kind": "survey", "occasion": "periodic", "estate": "全部管理处"},
            cron="0 9 1 1,7 *",
        ),
        ScheduleSpec(
            "satisfaction-complaint-summary",
            "上月投诉汇总分析",
            "zhidu.satisfaction",
            {"kind": "complaint_summary", "estate": "全部管理处"},
            cron="0 9 1 * *",
        ),
        ScheduleSpec(
            "satisfaction-yearly-report",
            "顾客满意度调查结果及分析报告",
            "zhidu.satisfaction",
            {"kind": "yearly_report", "estate": "全部管理处"},
            cron="0 9 2 1 *",
        ),
    ),
    labels=LABELS,
    demo=DEMO,
    clauses=CLAUSES,
)
