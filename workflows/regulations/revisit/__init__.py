"""R1 `revisit` — 公司客户回访管理规定: its registry entry, made from this folder (the clauses in
clauses.py, the forms and policy in forms.py, the words in labels.py, the roles and demo people
in people.py) and its clause list."""

from __future__ import annotations

from workflows.registry import Clause, ScheduleSpec, regulation
from workflows.regulations.revisit.clauses import CODE, RevisitWorkflow
from workflows.regulations.revisit.forms import RevisitInput
from workflows.regulations.revisit.labels import LABELS
from workflows.regulations.revisit.people import DEMO

CLAUSES = (
    Clause("3.1–3.4", "职责：计划、回访与记录、审阅、存档", "the tasks below, each for its role"),
    Clause("4.1", "调取客户资料、确定名单与目的", "case start (the customer, class, contacts)"),
    Clause("4.2(1)", "制订《客户回访计划》（目的、方式、时间、内容）", "task plan, record revisit_plan"),
    Clause("4.2(2)", "事先预约回访时间或地点", "task appointment before every visit"),
    Clause("4.2(3)", "准备回访资料、统一用语", "guidance only"),
    Clause("4.3", "实施回访（电话、书信、邮件、即时通讯或上门）", "task visit, record revisit_record"),
    Clause("4.3(1)", "中肯意见或良好建议必须上门回访", "visit onsite_suggestion"),
    Clause("4.3(2)1)", "首次电话回访：上线一个月后", "visit grid (first_phone_after), task visit"),
    Clause("4.3(2)1)", "问题不能解决→研发反馈；电话不能解决→现场", "record rd_feedback, task rd_feedback, visit onsite_problem"),
    Clause("4.3(2)2)", "常规电话回访：每半年", "visit grid (routine_phone_every)"),
    Clause("4.3(2)3)", "现场回访：大客户每年、特大或重要客户每半年，客户签字", "visit grid (onsite_every), customer signature"),
    Clause("4.3(2)3)", "必要时提交总裁办质量与技术管理专员立项", "task project_review"),
    Clause("4.3(3)", "回访行为要求", "guidance only"),
    Clause("4.3(4)", "日清日结，问题与建议原文记录", "record revisit_record (questions verbatim)"),
    Clause("4.4(1)1)", "回访次日形成《客户回访报告》", "task report (report_due)"),
    Clause("4.4(1)2)", "三天内提交资料，经主管同意一周内", "task materials (materials_due, supervisor's extension)"),
    Clause("4.4(2)", "主管审阅并提出指导意见", "task review, record revisit_review"),
    Clause("4.4(2)1)", "谁的问题谁负责，他人处理则扣费用", "ledger charge at review"),
    Clause("4.4(2)2)", "效果好：申请表扬", "task commendation (总裁办), ledger commendation"),
    Clause("4.4(2)3)", "效果不好：批评；严重者总裁办审批罚款", "event criticised, task fine_approval, ledger fine"),
    Clause("4.5(1)", "文员按客户分类汇总存档", "task archive, record revisit_archive"),
    Clause("4.5(2)", "市场部门参考资料制订《客户开发计划》", "guidance only (records exportable)"),
    Clause("4.6(1)", "报销凭证经部门主管和分管领导签字", "approval expense (sequential), record expense_claim"),
    Clause("4.6(2)", "报销额度内报销，超额自负", "task expense_pay (expense_cap_yuan)"),
    Clause("5.1(1)", "客户档案不完整：部门经费扣 1000 元/次", "breach of archive, ledger fine (department)"),
    Clause("5.1(2)", "弄虚作假：100 元/次", "task fine_approval, ledger fine"),
    Clause("5.1(3)", "情节特别严重：500 元/次，可并处降薪等", "task fine_approval, ledger fine"),
    Clause("5.2", "投诉处理后的监督调查性电话回访", "action complaint_handled (or a closed R5 complaint's message), visit supervisory"),
    Clause("5.2(1)", "未回访：当事人 500 元，部门经理 300 元", "breach of supervisory_visit, ledger fines"),
    Clause("5.2(2)", "弄虚作假：当事人辞退，部门经理 500 元", "task fine_approval, ledger dismissal and fine"),
)  # fmt: skip


def _contacts(inp: RevisitInput) -> list[str]:
    return [a for c in inp.contacts for a in (c.phone, c.email) if a]


ENTRY = regulation(
    RevisitWorkflow,
    title=("公司客户回访管理规定", "Customer revisits"),
    source="seed/000_76f73c1f8f00814b.txt lines 11–161 (第1篇)",
    start_roles=("staff", "supervisor"),
    people={"owner": "staff", "supervisor": "supervisor"},
    workflow_id=lambda i: f"revisit-{i.customer_id}",
    customer_id=lambda i: i.customer_id,
    contacts=_contacts,
    schedules=(
        ScheduleSpec(
            "revisit-monthly-report",
            "客户回访月度统计",
            "zhidu.report",
            {
                "title": "客户回访月度统计",
                "regulation": CODE,
                "period": "month",
                "recipients": ["role:supervisor", "role:president_office"],
            },
            cron="0 9 1 * *",
        ),
    ),
    labels=LABELS,
    demo=DEMO,
    clauses=CLAUSES,
)
