"""R2 `data-sharing` — 地产代理客户信息资源共享管理规定: its registry entry, made from this folder
(clauses.py, forms.py, labels.py, people.py) and its clause list."""

from __future__ import annotations

from workflows.registry import Clause, regulation
from workflows.regulations.data_sharing.clauses import DataSharingWorkflow
from workflows.regulations.data_sharing.labels import LABELS
from workflows.regulations.data_sharing.people import DEMO

CLAUSES = (
    Clause("一", "目的：整合、规范、保障客户信息资源安全", "guidance only"),
    Clause("二", "需求部门填《客户资源需求申请单》，部门领导签字", "task request_sign, record data_request (signature)"),
    Clause("二", "销售管理部审核种类并确定数量（可核减）", "task data_review, record data_review, event quantity_reduced"),
    Clause("二 a", "销售总监所辖项目之间调配：提交销售管理部备案", "record reallocation_filing, no approval"),
    Clause("二 b", "公司内部 2000 条以内：副总批准", "approval data_sharing (vice_president_up_to)"),
    Clause("二 c", "2000 条以上或集团内调配：总经理批准", "approval data_sharing (general_manager, scope group)"),
    Clause("二", "销售管理部下发，接收部门签字", "task data_issue (file digest), task data_receipt, record data_receipt"),
    Clause("二", "每周一次分类反馈跟踪情况（Excel）；有效客户按项目新客户录入", "recurring data_feedback, record data_feedback"),
    Clause("二", "反馈信息由销售管理部完善系统", "guidance only"),
    Clause("二", "部门主管负责共享资源的安全、分配与管理", "department head named on the request; action report_leak"),
    Clause("二", "无反馈或资源流失：部门领导负主要责任，严重者辞退", "breach of data_feedback, record feedback_missed, discipline proposal"),
    Clause("三", "申请单、签收确认单、反馈单见附件", "records data_request, data_receipt, data_feedback"),
    Clause("四", "自公布之日起执行", "guidance only"),
)  # fmt: skip

ENTRY = regulation(
    DataSharingWorkflow,
    title=("地产代理客户信息资源共享管理规定", "Customer data sharing"),
    source="seed/000_76f73c1f8f00814b.txt lines 163–197 (第2篇)",
    start_roles=("staff", "department_head", "sales_director", "sales_admin"),
    people={
        "department_head": "department_head",
        "requester": "staff",
        "sales_director": "sales_director",
    },
    workflow_id=lambda i: f"data-sharing-{i.request_no}",
    labels=LABELS,
    demo=DEMO,
    clauses=CLAUSES,
)
