"""R5 `complaint` — 物业客户投诉处理工作管理规定: its registry entry, made from this folder (the
clauses in clauses.py, the forms and policy in forms.py, the words in labels.py, the roles and
demo people in people.py) and its clause list."""

from __future__ import annotations

from workflows.registry import Clause, ScheduleSpec, regulation
from workflows.regulations.complaint.clauses import ComplaintWorkflow
from workflows.regulations.complaint.labels import LABELS
from workflows.regulations.complaint.people import DEMO

CLAUSES = (
    Clause("第1条", "员工接到投诉：记录时间、姓名、住址、电话、主题，24 小时内反馈前台；接报人即首问人",
           "case start, record complaint_intake (late intake on the timeline)"),
    Clause("第2条", "前台汇总、核实、分析，12 小时内向相关部门传递并限期处理和回复",
           "task complaint_dispatch, record complaint_dispatch_note"),
    Clause("第3条", "非合理投诉：耐心解释；难以说服的由部门负责人出面协调",
           "outcome unreasonable, record complaint_explanation, task complaint_coordinate"),
    Clause("第4条", "责任部门核实落实；不能按时完成须在调度后 2 小时内回应前台",
           "task complaint_handle (outcome cannot_finish, record complaint_cannot_finish)"),
    Clause("第5条", "处理妥善后 2 小时内反馈客户中心；2 个工作日内回访；不满意重新处理",
           "tasks complaint_report_back, complaint_revisit"),
    Clause("第6条", "紧急/重大/需开发商解决：3 分钟内知会部门；管理处负责人 5 分钟内上报主管领导，24 小时书面报告",
           "ladder emergency (levels 1–3), task em_report_24h"),
    Clause("第7条", "主管领导 10 分钟内电话上报董事领导，48 小时书面报告；8 小时内跟进验证，2 个工作日内回访",
           "ladder emergency (level 4), task em_report_48h, verify tasks, complaint_revisit"),
    Clause("第8条", "首问人跟进处理进度；处理完毕 2 小时内反馈首问人",
           "tasks complaint_follow, complaint_tell_first"),
    Clause("第9条", "每周每月统计评估分析报告，反馈董事办、总经办和开发商客户服务部",
           "schedules complaint-weekly-report, complaint-monthly-report (report case_overview)"),
    Clause("第10条", "不按规定配合：书面警告、记过、记大过、降级或开除；表现出色：嘉奖、记小功、记大功或奖金",
           "a breach proposes a sanction, action propose_complaint_discipline; approval complaint_discipline, discipline register"),
    Clause("R1 5.2", "结案投诉的客户有回访档案：该案件进行监督调查性电话回访",
           "message complaint_handled to the customer's revisit case"),
)  # fmt: skip


def _statistics(period: str, title: str, cron: str) -> ScheduleSpec:
    """第9条: the customer center's statistics and evaluation, to 董事办, 总经办, 发展商客服部."""
    return ScheduleSpec(
        f"complaint-{period}ly-report",
        title,
        "zhidu.report",
        {
            "title": title,
            "report": "case_overview",
            "regulation": "complaint",
            "period": period,
            "recipients": ["role:board", "role:general_manager", "role:developer_cs"],
        },
        cron=cron,
    )


ENTRY = regulation(
    ComplaintWorkflow,
    title=("物业客户投诉处理", "Property complaints"),
    source="seed/000_76f73c1f8f00814b.txt lines 559–593 (第5篇)",
    start_roles=("staff", "front_desk", "department_head", "center_head", "company_leader"),
    customer_id=lambda i: i.customer_id,
    contacts=lambda i: [i.phone],
    schedules=(
        _statistics("week", "物业客户投诉周统计评估", "0 9 * * 1"),  # Mondays 09:00
        _statistics("month", "物业客户投诉月统计评估", "0 9 1 * *"),  # the 1st, 09:00
    ),
    labels=LABELS,
    demo=DEMO,
    clauses=CLAUSES,
)
